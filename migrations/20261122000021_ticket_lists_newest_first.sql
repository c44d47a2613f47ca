-- Ticket lists newest update first without reading the whole queue or every search match.
--
-- 1. The queues and the search order tickets by (updated_at, id). The existing queue indexes
--    put `state` before `updated_at`, so "open and pending, newest first" read every active
--    ticket and sorted them (tens of thousands in a large tenant). The partial index holds only
--    the active tickets (a few percent of a tenant's history) in list order, so a page is a
--    backward walk of 51 entries; the full one serves lists over every state (search results).
-- 2. Full-text search collected every matching ticket id before ordering: a word in half of a
--    million tickets meant half a million ids. `ticket_ids_matching_up_to` stops at `cap`
--    matches and answers null when there are more; the store then tests each row of the list
--    in its order instead (a common word fills a page after about a page's worth of rows).
--    The one-argument `ticket_ids_matching` stays for replicas of the previous release
--    (expand/contract) and goes in a later migration.

create index tickets_updated_idx on tickets (tenant_id, updated_at, id);
create index tickets_active_updated_idx on tickets (tenant_id, updated_at, id)
  where state in ('open', 'pending');

-- The current tenant's ticket ids whose subject or any message or note matches `query`, when
-- at most `cap` tickets match; null when more do. Each index is read with a limit, so a common
-- word costs its posting list and `cap`-sized heap reads, not every match. More than `cap`
-- matching messages and notes also answer null, even when they belong to fewer tickets: the
-- caller's per-row test is right either way, and counting distinct tickets would mean reading
-- every match.
create function ticket_search.ticket_ids_matching_up_to(query text, cap integer) returns uuid[]
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare
  t uuid := directory.current_tenant();
  q tsquery := ticket_search.parse_query(query);
  by_subject uuid[];
  by_entry uuid[];
  ids uuid[];
begin
  if cap is null or cap < 0 then
    raise exception 'cap must be a non-negative integer';
  end if;
  if q is null or numnode(q) = 0 then
    return '{}';
  end if;
  execute format(
    'select array(select t.id from public.tickets t
                   where t.tenant_id = %L and t.subject_vector @@ $1 limit $2)', t)
    into by_subject using q, cap + 1;
  if cardinality(by_subject) > cap then
    return null;
  end if;
  execute format(
    'select array(select e.ticket_id from public.ticket_entries e
                   where e.tenant_id = %L and e.kind in (''message'', ''note'')
                     and e.body_vector @@ $1 limit $2)', t)
    into by_entry using q, cap + 1;
  if cardinality(by_entry) > cap then
    return null;
  end if;
  ids := array(select distinct id from unnest(by_subject || by_entry) as id);
  if cardinality(ids) > cap then
    return null;
  end if;
  return ids;
end
$$;

alter function ticket_search.ticket_ids_matching_up_to(text, integer) owner to tenantdesk_ticket_search;
revoke all on function ticket_search.ticket_ids_matching_up_to(text, integer) from public;
grant execute on function ticket_search.ticket_ids_matching_up_to(text, integer) to tenantdesk_app;
