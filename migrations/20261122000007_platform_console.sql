-- The platform console (issue 9): operators create, suspend and resume tenants from the base
-- domain, see every tenant's size and activity, and every action they take is recorded with
-- who, when and why in `platform_audit`.
--
-- Why functions: the runtime role tenantdesk_app may only read `tenants` (GUIDE.md section 3),
-- and the console is the one web path that writes platform rows and reads across tenants. It
-- gets the narrowest path there is: the SECURITY DEFINER functions below, owned by the
-- migrating role, with a fixed search_path, EXECUTE granted to tenantdesk_app and nobody else.
-- The runtime role gets no grant on platform_audit and still cannot update tenants directly, so
-- a status change cannot happen without its audit row (tests/suite/console.rs proves both).
--
-- Counts in the overview: counted for the listed page's tenants only (at most 200 per call),
-- each through an index led by tenant_id (agents_pkey, end_users_pkey,
-- outbound_emails_tenant_recent_idx, and the two sign-in indexes added here for last
-- activity), never by scanning every tenant's rows. A per-tenant counter table maintained by
-- triggers would make each count O(1), but it puts a hot row under every sign-up and mail of a
-- tenant and is one more tenant table to keep exact; with a page of 50 tenants, index-only
-- counts are cheap enough. If one tenant grows to millions of end users, that is the point to
-- switch `end_users` to a counter row.
--
-- The functions set app.tenant_id per tenant before touching tenant tables, so when the owner is
-- not a superuser (forced RLS binds table owners too) the tenant policies still admit exactly
-- that tenant's rows. A function-level `set app.tenant_id` clause restores the caller's value on
-- exit, so a call never leaves a transaction pointed at another tenant.

create table platform_audit (
  id uuid primary key,
  operator_id uuid not null references operators (id),
  action text not null
    constraint platform_audit_action_known check (action in ('tenant_created', 'tenant_suspended', 'tenant_resumed')),
  tenant_id uuid not null references tenants (id),
  reason text constraint platform_audit_reason_length check (char_length(reason) <= 500),
  created_at timestamptz not null default now(),
  -- Suspending and resuming are always explained.
  constraint platform_audit_reason_required
    check (action = 'tenant_created' or char_length(btrim(coalesce(reason, ''))) > 0)
);
create index platform_audit_recent_idx on platform_audit (created_at desc);
create index platform_audit_tenant_idx on platform_audit (tenant_id, created_at desc);

-- Last activity per tenant without reading the tenant's rows: max() over these is one index probe.
create index agents_last_sign_in_idx on agents (tenant_id, last_sign_in_at);
create index end_users_last_sign_in_idx on end_users (tenant_id, last_sign_in_at);

-- Creates a tenant with its settings and built-in roles (as store::tenancy::begin_new_tenant
-- does for the CLI) and records who did it. A taken slug fails on tenants_slug_key, an invalid
-- one on tenants_slug_is_dns_label: the caller maps both.
create function platform_create_tenant(p_id uuid, p_slug text, p_name text, p_operator uuid)
returns void
language plpgsql volatile security definer
set search_path = pg_catalog, public
set app.tenant_id = ''
as $$
begin
  perform set_config('app.tenant_id', p_id::text, true);
  insert into public.tenants (id, slug, name) values (p_id, p_slug, p_name);
  insert into public.tenant_settings (tenant_id, display_name) values (p_id, p_name);
  insert into public.roles (tenant_id, id, name, builtin)
  values (p_id, gen_random_uuid(), 'Admin', 'admin'),
         (p_id, gen_random_uuid(), 'Manager', 'manager'),
         (p_id, gen_random_uuid(), 'Agent', 'agent');
  insert into public.platform_audit (id, operator_id, action, tenant_id, reason)
  values (gen_random_uuid(), p_operator, 'tenant_created', p_id, null);
end
$$;

-- Suspends ('suspended') or resumes ('active') a tenant with a reason; false when no tenant has
-- the slug. Nothing else about a tenant can be changed through it.
create function platform_set_tenant_status(p_slug text, p_status text, p_operator uuid, p_reason text)
returns boolean
language plpgsql volatile security definer
set search_path = pg_catalog, public
as $$
declare
  v_tenant uuid;
begin
  if p_status not in ('active', 'suspended') then
    raise exception 'unknown tenant status %', p_status using errcode = '22023';
  end if;
  update public.tenants set status = p_status, updated_at = now()
   where slug = p_slug
  returning id into v_tenant;
  if v_tenant is null then
    return false;
  end if;
  insert into public.platform_audit (id, operator_id, action, tenant_id, reason)
  values (gen_random_uuid(), p_operator,
          case p_status when 'suspended' then 'tenant_suspended' else 'tenant_resumed' end,
          v_tenant, btrim(p_reason));
  return true;
end
$$;

-- One page of tenants, by slug after `p_after` (keyset), optionally filtered by a
-- case-insensitive substring of slug or name, with each listed tenant's counts and activity.
create function platform_tenant_overview(p_search text, p_limit integer, p_after text)
returns table (
  id uuid, slug text, name text, status text, created_at timestamptz,
  agents bigint, end_users bigint, mail_last_30_days bigint, last_activity timestamptz
)
language plpgsql volatile security definer
set search_path = pg_catalog, public
set app.tenant_id = ''
as $$
declare
  t record;
  v_needle text := lower(btrim(coalesce(p_search, '')));
  v_agents_seen timestamptz;
  v_users_seen timestamptz;
  v_mail_seen timestamptz;
begin
  for t in
    select tn.id, tn.slug, tn.name, tn.status, tn.created_at
      from public.tenants tn
     where (p_after is null or tn.slug > p_after)
       and (v_needle = '' or strpos(tn.slug, v_needle) > 0 or strpos(lower(tn.name), v_needle) > 0)
     order by tn.slug
     limit least(greatest(coalesce(p_limit, 50), 1), 200)
  loop
    -- Each statement below re-reads the setting, so RLS admits this tenant's rows only.
    perform set_config('app.tenant_id', t.id::text, true);
    id := t.id;
    slug := t.slug;
    name := t.name;
    status := t.status;
    created_at := t.created_at;
    select count(*) into agents from public.agents a where a.tenant_id = t.id;
    select count(*) into end_users from public.end_users u where u.tenant_id = t.id;
    select count(*) into mail_last_30_days from public.outbound_emails o
     where o.tenant_id = t.id and o.created_at >= now() - interval '30 days';
    select max(a.last_sign_in_at) into v_agents_seen from public.agents a where a.tenant_id = t.id;
    select max(u.last_sign_in_at) into v_users_seen from public.end_users u where u.tenant_id = t.id;
    select max(o.created_at) into v_mail_seen from public.outbound_emails o where o.tenant_id = t.id;
    last_activity := greatest(v_agents_seen, v_users_seen, v_mail_seen);
    return next;
  end loop;
end
$$;

-- The newest operator actions, with the operator's name and the tenant's slug.
create function platform_audit_log(p_limit integer)
returns table (
  id uuid, created_at timestamptz, operator_name text, operator_email text, action text,
  tenant_slug text, reason text
)
language sql stable security definer
set search_path = pg_catalog, public
as $$
  select a.id, a.created_at, o.name, o.email, a.action, t.slug, a.reason
    from public.platform_audit a
    join public.operators o on o.id = a.operator_id
    join public.tenants t on t.id = a.tenant_id
   order by a.created_at desc, a.id desc
   limit least(greatest(coalesce(p_limit, 100), 1), 500)
$$;

revoke all on table platform_audit from public;
revoke all on function platform_create_tenant(uuid, text, text, uuid) from public;
revoke all on function platform_set_tenant_status(text, text, uuid, text) from public;
revoke all on function platform_tenant_overview(text, integer, text) from public;
revoke all on function platform_audit_log(integer) from public;
grant execute on function platform_create_tenant(uuid, text, text, uuid) to tenantdesk_app;
grant execute on function platform_set_tenant_status(text, text, uuid, text) to tenantdesk_app;
grant execute on function platform_tenant_overview(text, integer, text) to tenantdesk_app;
grant execute on function platform_audit_log(integer) to tenantdesk_app;
