#!/usr/bin/env bash
# What the tenant_isolation policy itself costs on the ticket page: pgbench runs the page's three
# statements under RLS (the runtime role in a tenant transaction) and with the tenant written
# out (the owner, a superuser, so RLS does not apply), the two mixed in one run, with the policy
# in the guide's sub-select form ("init-plan", what the migrations write) and as the bare
# expression ("bare", measured and rejected: docs/architecture.md "Tenant tables"), in turn;
# prints a Markdown table of the mean statement latencies (BEGIN, set_config, SET ROLE and
# COMMIT not counted).
#
# Usage: bench/policy_cost/run.sh OWNER_URL [SECONDS_PER_RUN] [ROUNDS]
# against the tickets benchmark's cluster kept with --hold-seconds (its stderr prints the
# owner URL). Takes the biggest tenant and one of its tickets; leaves the policies as the
# migrations write them.
set -euo pipefail
owner=$1 seconds=${2:-20} rounds=${3:-3}
here=$(dirname "$0")
command -v pgbench >/dev/null || { echo "pgbench is missing: apt-get install postgresql-client" >&2; exit 1; }

tenant=$(psql "$owner" -Atc "select tenant_id from tickets group by 1 order by count(*) desc limit 1")
ticket=$(psql "$owner" -Atc "select id from tickets where tenant_id = '$tenant' order by updated_at desc limit 1")
tables="tickets end_users departments organizations help_topics agents teams sla_plans ticket_statuses ticket_entries ticket_collaborators"

set_policy() { # bare | init-plan
  local setting="nullif(current_setting('app.tenant_id', true), '')::uuid"
  [ "$1" = init-plan ] && setting="(select $setting)"
  for table in $tables; do
    psql "$owner" -qc "alter policy tenant_isolation on $table
      using (tenant_id = $setting) with check (tenant_id = $setting)"
  done
}

# The mean latencies of the page's statements (ms), RLS script first: one pgbench run picks
# either script at random for each transaction, so both sides share every moment of the run.
statement_ms() {
  pgbench -n -M prepared -c 1 -T "$seconds" -r -D tenant="$tenant" -D id="$ticket" \
      -f "$here/ticket_page_rls.sql" -f "$here/ticket_page_explicit.sql" "$owner" 2>/dev/null |
    awk '/^ +[0-9.]+ +[0-9]+ +select/ && !/set_config/ { printf "%s ", $1 }'
}

echo "| round | policy | page RLS | page explicit | thread RLS | thread explicit | collaborators RLS | collaborators explicit | sum RLS | sum explicit | ratio |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$rounds"); do
  for form in init-plan bare; do
    set_policy "$form"
    read -r -a ms <<<"$(statement_ms)"
    awk -v round="$round" -v form="$form" \
        -v a="${ms[0]}" -v c="${ms[1]}" -v e="${ms[2]}" \
        -v b="${ms[3]}" -v d="${ms[4]}" -v f="${ms[5]}" 'BEGIN {
      r = a + c + e; x = b + d + f
      printf "| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f |\n",
             round, form, a, b, c, d, e, f, r, x, r / x }'
  done
done
set_policy init-plan
