-- Ticket search under RLS: full text over subjects and thread entries (messages and notes), and
-- custom ticket field filters. Full-text `@@` and jsonb `@>` are not LEAKPROOF, so under the
-- tenant policy they cannot be index conditions (GUIDE.md section 3); as for the directory, a
-- NOLOGIN role reads the two tables through SECURITY DEFINER functions that put the tenant of
-- app.tenant_id into the statement themselves.
--
-- The 'simple' configuration (lower-cased words, no stemming, no stop words): tenants write in
-- every language, and a wrong stemmer loses matches; prefix queries (`print*`) make up for the
-- missing stemming.

alter table tickets add column subject_vector tsvector
  generated always as (to_tsvector('simple'::regconfig, subject)) stored;
alter table ticket_entries add column body_vector tsvector
  generated always as (to_tsvector('simple'::regconfig, coalesce(body_text, ''))) stored;

create index tickets_subject_search_idx on tickets using gin (tenant_id, subject_vector);
create index ticket_entries_body_search_idx on ticket_entries using gin (tenant_id, body_vector)
  where kind in ('message', 'note');
create index tickets_custom_idx on tickets using gin (tenant_id, custom jsonb_path_ops);

do $$
begin
  if not exists (select from pg_roles where rolname = 'tenantdesk_ticket_search') then
    create role tenantdesk_ticket_search nologin nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
end
$$;
create schema ticket_search;
grant usage on schema ticket_search to tenantdesk_ticket_search, tenantdesk_app;
grant usage on schema public to tenantdesk_ticket_search;
grant usage on schema directory to tenantdesk_ticket_search;
grant select (tenant_id, id, subject_vector, custom) on tickets to tenantdesk_ticket_search;
grant select (tenant_id, ticket_id, kind, body_vector) on ticket_entries to tenantdesk_ticket_search;
create policy ticket_search on tickets for select to tenantdesk_ticket_search using (true);
create policy ticket_search on ticket_entries for select to tenantdesk_ticket_search using (true);

-- Ids of the current tenant's tickets whose subject or any message or note matches `query`
-- (web search syntax: words, "phrases", -excluded, or; a trailing * on a word matches prefixes).
create function ticket_search.ticket_ids_matching(query text) returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare
  t uuid := directory.current_tenant();
  q tsquery := ticket_search.parse_query(query);
begin
  if q is null or numnode(q) = 0 then
    return;
  end if;
  return query execute format(
    'select t.id from public.tickets t where t.tenant_id = %1$L and t.subject_vector @@ $1
     union
     select e.ticket_id from public.ticket_entries e
      where e.tenant_id = %1$L and e.kind in (''message'', ''note'') and e.body_vector @@ $1', t)
  using q;
end
$$;

-- Ids of the current tenant's tickets whose custom values contain `filter` (jsonb @>).
create function ticket_search.ticket_ids_with_custom(filter jsonb) returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare t uuid := directory.current_tenant();
begin
  return query execute format(
    'select t.id from public.tickets t where t.tenant_id = %L and t.custom @> $1', t)
  using filter;
end
$$;

-- websearch_to_tsquery, plus prefix matching for words written with a trailing `*`
-- (websearch syntax has no prefix operator of its own). Null when nothing searchable is left.
create function ticket_search.parse_query(query text) returns tsquery
language sql immutable set search_path = pg_catalog
as $$
  select case
    when query ~ '\*' then
      -- Each word as a quoted lexeme (quotes and backslashes dropped), `:*` where it ended in *.
      to_tsquery('simple'::regconfig, (
        select string_agg('''' || rtrim(clean, '*') || ''''
                          || case when clean ~ '\*$' then ':*' else '' end, ' & ')
          from (select regexp_replace(word, '[\\'']', '', 'g') as clean
                  from regexp_split_to_table(query, '\s+') as word) as words
         where rtrim(clean, '*') <> ''))
    else websearch_to_tsquery('simple'::regconfig, query)
  end
$$;

grant create on schema ticket_search to tenantdesk_ticket_search;
alter function ticket_search.ticket_ids_matching(text) owner to tenantdesk_ticket_search;
alter function ticket_search.ticket_ids_with_custom(jsonb) owner to tenantdesk_ticket_search;
revoke all on function ticket_search.ticket_ids_matching(text) from public;
revoke all on function ticket_search.ticket_ids_with_custom(jsonb) from public;
grant execute on function ticket_search.ticket_ids_matching(text) to tenantdesk_app;
grant execute on function ticket_search.ticket_ids_with_custom(jsonb) to tenantdesk_app;
grant execute on function ticket_search.parse_query(text) to tenantdesk_ticket_search, tenantdesk_app;
