-- The directory: the full customer record of end users (OTRS customer users), organizations
-- (OTRS customers) with their email domains and members, custom field definitions, and
-- customer groups with grants to users and organizations.
--
-- Substring search and custom-field filters cannot use an index under RLS (ILIKE, trigram and
-- jsonb containment are not leakproof; GUIDE.md section 3), so they run in the `directory`
-- schema's SECURITY DEFINER functions, owned by the NOLOGIN role tenantdesk_directory, which
-- reads the tenant from app.tenant_id itself and may only SELECT the tables searched.

create extension if not exists pg_trgm;
create extension if not exists btree_gin;

-- End users: the rest of the customer record. The display name becomes first + last name.
alter table end_users
  add column title text constraint end_users_title_length check (char_length(title) <= 50),
  add column first_name text,
  add column last_name text,
  add column phone text constraint end_users_phone_format check (phone ~ '^\+?[0-9 ()./-]{3,40}$'),
  add column fax text constraint end_users_fax_format check (fax ~ '^\+?[0-9 ()./-]{3,40}$'),
  add column mobile text constraint end_users_mobile_format check (mobile ~ '^\+?[0-9 ()./-]{3,40}$'),
  add column street text constraint end_users_street_length check (char_length(street) <= 200),
  add column zip text constraint end_users_zip_length check (char_length(zip) <= 20),
  add column city text constraint end_users_city_length check (char_length(city) <= 100),
  add column country text constraint end_users_country_format check (country ~ '^[A-Z]{2}$'),
  add column comment text constraint end_users_comment_length check (char_length(comment) <= 2000),
  add column validity text not null default 'valid'
    constraint end_users_validity_known check (validity in ('valid', 'invalid', 'invalid_temporarily')),
  add column custom jsonb not null default '{}'
    constraint end_users_custom_object check (jsonb_typeof(custom) = 'object'),
  add column created_by uuid,
  add column updated_by uuid,
  add column erased_at timestamptz,
  add column erased_by uuid,
  -- An erasure through the API names the token (its agent may have left since).
  add column erased_by_token uuid,
  add column version bigint not null default 1,
  add constraint end_users_created_by_fkey foreign key (tenant_id, created_by) references agents (tenant_id, id),
  add constraint end_users_updated_by_fkey foreign key (tenant_id, updated_by) references agents (tenant_id, id),
  add constraint end_users_erased_by_fkey foreign key (tenant_id, erased_by) references agents (tenant_id, id),
  add constraint end_users_erased_by_token_fkey foreign key (tenant_id, erased_by_token) references api_tokens (tenant_id, id);

-- Existing names split at their last space: "Ada King Lovelace" -> "Ada King" + "Lovelace".
update end_users set
  first_name = case when position(' ' in btrim(name)) > 0
                    then btrim(regexp_replace(btrim(name), '\s+\S+$', '')) else btrim(name) end,
  last_name = case when position(' ' in btrim(name)) > 0
                   then substring(btrim(name) from '(\S+)$') else '' end;
alter table end_users
  alter column first_name set not null,
  alter column last_name set not null,
  add constraint end_users_first_name_length check (char_length(first_name) between 1 and 100),
  add constraint end_users_last_name_length check (char_length(last_name) <= 100);
alter table end_users drop column name;
alter table end_users add column name text
  generated always as (btrim(first_name || ' ' || last_name)) stored;
-- What the directory's substring search looks in (the user's own fields and custom values;
-- organization names are matched through memberships).
alter table end_users add column search_text text
  generated always as (first_name || ' ' || last_name || ' ' || email || ' ' || login || ' '
    || coalesce(phone, '') || ' ' || coalesce(mobile, '') || ' '
    || jsonb_path_query_array(custom, '$.*')::text) stored;

-- Lower-case keys for lookups and orders. Under RLS a condition may only become an index
-- condition when its functions are leakproof, and lower() is not: `lower(email) = $1` scans
-- the whole tenant, `email_key = $1` is one index probe (measured in docs/benchmarks.md).
alter table end_users
  add column email_key text generated always as (lower(email)) stored,
  add column login_key text generated always as (lower(login)) stored,
  add column name_key text generated always as (lower(btrim(first_name || ' ' || last_name))) stored;
drop index end_users_email_key;
create unique index end_users_email_key on end_users (tenant_id, email_key);
drop index end_users_login_key;
create unique index end_users_login_key on end_users (tenant_id, login_key);

create index end_users_search_idx on end_users using gin (tenant_id, search_text gin_trgm_ops);
create index end_users_custom_idx on end_users using gin (tenant_id, custom jsonb_path_ops);
-- Keyset orders of the directory list (email's is the unique index above).
create index end_users_name_order_idx on end_users (tenant_id, name_key, id);
create index end_users_created_order_idx on end_users (tenant_id, created_at, id);

create table organizations (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint organizations_name_length check (char_length(name) between 1 and 200),
  customer_code text constraint organizations_customer_code_length check (char_length(customer_code) between 1 and 100),
  street text constraint organizations_street_length check (char_length(street) <= 200),
  zip text constraint organizations_zip_length check (char_length(zip) <= 20),
  city text constraint organizations_city_length check (char_length(city) <= 100),
  country text constraint organizations_country_format check (country ~ '^[A-Z]{2}$'),
  phone text constraint organizations_phone_format check (phone ~ '^\+?[0-9 ()./-]{3,40}$'),
  website text constraint organizations_website_format check (website ~ '^https?://' and char_length(website) <= 500),
  comment text constraint organizations_comment_length check (char_length(comment) <= 2000),
  validity text not null default 'valid'
    constraint organizations_validity_known check (validity in ('valid', 'invalid', 'invalid_temporarily')),
  custom jsonb not null default '{}'
    constraint organizations_custom_object check (jsonb_typeof(custom) = 'object'),
  -- Who besides the requester sees a member's tickets in the portal.
  ticket_sharing text not null default 'none'
    constraint organizations_ticket_sharing_known check (ticket_sharing in ('none', 'primary_contacts', 'all_members')),
  auto_collaborate_primary_contacts boolean not null default false,
  -- The account manager: an agent or a team (the tickets issue adds teams and this key's
  -- foreign key), never both.
  account_manager_agent_id uuid,
  account_manager_team_id uuid,
  assign_to_account_manager boolean not null default false,
  alert_account_manager boolean not null default false,
  created_by uuid,
  updated_by uuid,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  name_key text generated always as (lower(name)) stored,
  customer_code_key text generated always as (lower(customer_code)) stored,
  search_text text generated always as (name || ' ' || coalesce(customer_code, '') || ' '
    || coalesce(phone, '') || ' ' || coalesce(city, '') || ' '
    || jsonb_path_query_array(custom, '$.*')::text) stored,
  constraint organizations_pkey primary key (tenant_id, id),
  constraint organizations_one_account_manager
    check (account_manager_agent_id is null or account_manager_team_id is null),
  constraint organizations_account_manager_agent_fkey foreign key (tenant_id, account_manager_agent_id)
    references agents (tenant_id, id),
  constraint organizations_created_by_fkey foreign key (tenant_id, created_by) references agents (tenant_id, id),
  constraint organizations_updated_by_fkey foreign key (tenant_id, updated_by) references agents (tenant_id, id)
);
create unique index organizations_name_key on organizations (tenant_id, name_key);
create index organizations_name_order_idx on organizations (tenant_id, name_key, id);
create unique index organizations_customer_code_key on organizations (tenant_id, customer_code_key);
create index organizations_search_idx on organizations using gin (tenant_id, search_text gin_trgm_ops);
create index organizations_custom_idx on organizations using gin (tenant_id, custom jsonb_path_ops);
create index organizations_created_order_idx on organizations (tenant_id, created_at, id);

-- An email domain makes every new end user with an address there a member. Stored lower case;
-- subdomains match only when listed themselves.
create table organization_domains (
  tenant_id uuid not null references tenants (id),
  domain text not null constraint organization_domains_domain_format
    check (domain = lower(domain) and domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'
           and char_length(domain) <= 253),
  organization_id uuid not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint organization_domains_pkey primary key (tenant_id, domain),
  constraint organization_domains_organization_fkey foreign key (tenant_id, organization_id)
    references organizations (tenant_id, id) on delete cascade
);
create index organization_domains_organization_idx on organization_domains (tenant_id, organization_id);

-- Memberships: one primary organization per user (osTicket) and any further ones (OTRS).
create table organization_members (
  tenant_id uuid not null references tenants (id),
  end_user_id uuid not null,
  organization_id uuid not null,
  is_primary boolean not null default false,
  primary_contact boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint organization_members_pkey primary key (tenant_id, end_user_id, organization_id),
  constraint organization_members_end_user_fkey foreign key (tenant_id, end_user_id)
    references end_users (tenant_id, id),
  constraint organization_members_organization_fkey foreign key (tenant_id, organization_id)
    references organizations (tenant_id, id)
);
create unique index organization_members_one_primary_key on organization_members (tenant_id, end_user_id)
  where is_primary;
create index organization_members_organization_idx on organization_members (tenant_id, organization_id, end_user_id);

-- Custom field definitions per entity (osTicket forms, OTRS dynamic fields). Values live in the
-- entity's `custom` column under the field's key; archiving hides them without deleting them.
create table custom_fields (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  entity text not null constraint custom_fields_entity_known check (entity in ('user', 'organization', 'ticket')),
  key text not null constraint custom_fields_key_format check (key ~ '^[a-z][a-z0-9_]{0,49}$'),
  label text not null constraint custom_fields_label_length check (char_length(label) between 1 and 100),
  field_type text not null constraint custom_fields_type_known check (field_type in
    ('text', 'long_text', 'number', 'decimal', 'date', 'boolean', 'choice', 'multi_choice', 'email', 'phone', 'url')),
  required boolean not null default false,
  options text[] not null default '{}',
  help_text text not null default '' constraint custom_fields_help_text_length check (char_length(help_text) <= 500),
  position integer not null default 0,
  end_user_visible boolean not null default false,
  end_user_editable boolean not null default false,
  directory_column boolean not null default false,
  archived_at timestamptz,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint custom_fields_pkey primary key (tenant_id, id),
  constraint custom_fields_key_key unique (tenant_id, entity, key),
  constraint custom_fields_options_only_for_choices
    check (field_type in ('choice', 'multi_choice') or cardinality(options) = 0),
  constraint custom_fields_editable_is_visible check (end_user_visible or not end_user_editable)
);

-- Customer groups (OTRS customer groups). A default permission applies to every end user
-- (CustomerGroupAlwaysGroups); grants give a user or an organization ro or rw.
create table customer_groups (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint customer_groups_name_length check (char_length(name) between 1 and 100),
  description text not null default '' constraint customer_groups_description_length check (char_length(description) <= 500),
  default_permission text constraint customer_groups_default_permission_known check (default_permission in ('ro', 'rw')),
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint customer_groups_pkey primary key (tenant_id, id)
);
create unique index customer_groups_name_key on customer_groups (tenant_id, lower(name));

create table customer_group_user_grants (
  tenant_id uuid not null references tenants (id),
  group_id uuid not null,
  end_user_id uuid not null,
  permission text not null constraint customer_group_user_grants_permission_known check (permission in ('ro', 'rw')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint customer_group_user_grants_pkey primary key (tenant_id, group_id, end_user_id),
  constraint customer_group_user_grants_group_fkey foreign key (tenant_id, group_id)
    references customer_groups (tenant_id, id) on delete cascade,
  constraint customer_group_user_grants_end_user_fkey foreign key (tenant_id, end_user_id)
    references end_users (tenant_id, id)
);
create index customer_group_user_grants_user_idx on customer_group_user_grants (tenant_id, end_user_id);

create table customer_group_organization_grants (
  tenant_id uuid not null references tenants (id),
  group_id uuid not null,
  organization_id uuid not null,
  permission text not null constraint customer_group_organization_grants_permission_known check (permission in ('ro', 'rw')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint customer_group_organization_grants_pkey primary key (tenant_id, group_id, organization_id),
  constraint customer_group_organization_grants_group_fkey foreign key (tenant_id, group_id)
    references customer_groups (tenant_id, id) on delete cascade,
  constraint customer_group_organization_grants_organization_fkey foreign key (tenant_id, organization_id)
    references organizations (tenant_id, id)
);
create index customer_group_organization_grants_organization_idx
  on customer_group_organization_grants (tenant_id, organization_id);

do $$
declare t text;
begin
  foreach t in array array['organizations', 'organization_domains', 'organization_members', 'custom_fields',
                           'customer_groups', 'customer_group_user_grants', 'customer_group_organization_grants'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
      with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))$p$, t);
    execute format('grant select, insert, update, delete on %I to tenantdesk_app', t);
  end loop;
end
$$;

-- The directory search role: cannot log in, only SELECTs the searched tables, through the
-- functions below, which filter on the tenant of app.tenant_id themselves.
do $$
begin
  if not exists (select from pg_roles where rolname = 'tenantdesk_directory') then
    create role tenantdesk_directory nologin nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
end
$$;
create schema directory;
grant usage on schema directory to tenantdesk_directory, tenantdesk_app;
grant usage on schema public to tenantdesk_directory;
grant select on end_users, organizations, organization_members to tenantdesk_directory;
create policy directory_search on end_users for select to tenantdesk_directory using (true);
create policy directory_search on organizations for select to tenantdesk_directory using (true);
create policy directory_search on organization_members for select to tenantdesk_directory using (true);

-- The tenant of the current transaction; an error when none is set, so a search without a
-- tenant fails closed instead of reading everyone.
create function directory.current_tenant() returns uuid
language plpgsql stable set search_path = pg_catalog
as $$
declare t uuid := nullif(current_setting('app.tenant_id', true), '')::uuid;
begin
  if t is null then
    raise exception 'app.tenant_id is not set' using errcode = '42501';
  end if;
  return t;
end
$$;

-- The current tenant's end users whose name, email, login, phones or custom values contain
-- `pattern` (an ILIKE pattern), or who belong to an organization whose name, code, phone, city
-- or custom values do: their ids with the sort keys and validity, so the caller can order,
-- filter and cut a page before reading any row. The tenant id goes into the statement text, so
-- the planner sees a constant and uses the (tenant_id, search_text) trigram indexes.
create function directory.end_user_ids_matching(pattern text)
returns table (id uuid, name_key text, email_key text, created_at timestamptz, validity text)
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare t uuid := directory.current_tenant();
begin
  return query execute format(
    'select u.id, u.name_key, u.email_key, u.created_at, u.validity
       from public.end_users u where u.tenant_id = %1$L and u.search_text ilike $1
     union
     select u.id, u.name_key, u.email_key, u.created_at, u.validity
       from public.organizations o
       join public.organization_members m on m.tenant_id = o.tenant_id and m.organization_id = o.id
       join public.end_users u on u.tenant_id = m.tenant_id and u.id = m.end_user_id
      where o.tenant_id = %1$L and o.search_text ilike $1', t)
  using pattern;
end
$$;

-- The current tenant's end users whose custom data contains `filter` (jsonb @>), with the
-- same columns as end_user_ids_matching.
create function directory.end_user_ids_with_custom(filter jsonb)
returns table (id uuid, name_key text, email_key text, created_at timestamptz, validity text)
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare t uuid := directory.current_tenant();
begin
  return query execute format(
    'select u.id, u.name_key, u.email_key, u.created_at, u.validity
       from public.end_users u where u.tenant_id = %L and u.custom @> $1', t)
  using filter;
end
$$;

-- Ids of the current tenant's organizations whose name, code, phone or city contain `pattern`.
create function directory.organization_ids_matching(pattern text) returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare t uuid := directory.current_tenant();
begin
  return query execute format(
    'select o.id from public.organizations o where o.tenant_id = %L and o.search_text ilike $1', t)
  using pattern;
end
$$;

-- Ids of the current tenant's organizations whose custom data contains `filter`.
create function directory.organization_ids_with_custom(filter jsonb) returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, public
as $$
declare t uuid := directory.current_tenant();
begin
  return query execute format(
    'select o.id from public.organizations o where o.tenant_id = %L and o.custom @> $1', t)
  using filter;
end
$$;

-- A function's new owner needs CREATE on its schema (and the migrating role membership in it).
grant create on schema directory to tenantdesk_directory;
alter function directory.end_user_ids_matching(text) owner to tenantdesk_directory;
alter function directory.end_user_ids_with_custom(jsonb) owner to tenantdesk_directory;
alter function directory.organization_ids_matching(text) owner to tenantdesk_directory;
alter function directory.organization_ids_with_custom(jsonb) owner to tenantdesk_directory;
revoke all on function directory.end_user_ids_matching(text) from public;
revoke all on function directory.end_user_ids_with_custom(jsonb) from public;
revoke all on function directory.organization_ids_matching(text) from public;
revoke all on function directory.organization_ids_with_custom(jsonb) from public;
grant execute on function directory.end_user_ids_matching(text) to tenantdesk_app;
grant execute on function directory.end_user_ids_with_custom(jsonb) to tenantdesk_app;
grant execute on function directory.organization_ids_matching(text) to tenantdesk_app;
grant execute on function directory.organization_ids_with_custom(jsonb) to tenantdesk_app;
