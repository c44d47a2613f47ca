-- The directory's substring search on lower-cased text with LIKE instead of ILIKE on the
-- original text. The trigram index finds the candidates either way; what a broad term costs
-- is rechecking each candidate row, and ILIKE folds the case of every row's text on every
-- search, LIKE on text folded once at write time does not. Measured on 1,000,000 rows with
-- 10,000 matches: 39 ms against 20 ms for the same bitmap scan (docs/benchmarks.md).
--
-- A generated column cannot read another generated column, so the expressions repeat
-- migration 10's `search_text`, which nothing reads any more and is dropped (contract).

alter table end_users add column search_key text
  generated always as (lower(first_name || ' ' || last_name || ' ' || email || ' ' || login || ' '
    || coalesce(phone, '') || ' ' || coalesce(mobile, '') || ' '
    || jsonb_path_query_array(custom, '$.*')::text)) stored;
alter table organizations add column search_key text
  generated always as (lower(name || ' ' || coalesce(customer_code, '') || ' '
    || coalesce(phone, '') || ' ' || coalesce(city, '') || ' '
    || jsonb_path_query_array(custom, '$.*')::text)) stored;

create index end_users_search_key_idx on end_users using gin (tenant_id, search_key gin_trgm_ops);
create index organizations_search_key_idx on organizations using gin (tenant_id, search_key gin_trgm_ops);
drop index end_users_search_idx;
drop index organizations_search_idx;

-- Same signatures and results as migration 10's; `pattern` is still an ILIKE-style pattern
-- (store::search::like_pattern), lower-cased here so it meets the folded text.
create or replace function directory.end_user_ids_matching(pattern text)
returns table (id uuid, name_key text, email_key text, created_at timestamptz, validity text)
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare t uuid := directory.current_tenant();
begin
  return query execute format(
    'select u.id, u.name_key, u.email_key, u.created_at, u.validity
       from public.end_users u where u.tenant_id = %1$L and u.search_key like $1
     union
     select u.id, u.name_key, u.email_key, u.created_at, u.validity
       from public.organizations o
       join public.organization_members m on m.tenant_id = o.tenant_id and m.organization_id = o.id
       join public.end_users u on u.tenant_id = m.tenant_id and u.id = m.end_user_id
      where o.tenant_id = %1$L and o.search_key like $1', t)
  using lower(pattern);
end
$$;

create or replace function directory.organization_ids_matching(pattern text) returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare t uuid := directory.current_tenant();
begin
  return query execute format(
    'select o.id from public.organizations o where o.tenant_id = %L and o.search_key like $1', t)
  using lower(pattern);
end
$$;

alter table end_users drop column search_text;
alter table organizations drop column search_text;
