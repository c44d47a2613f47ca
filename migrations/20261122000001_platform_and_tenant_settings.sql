-- The platform tables (tenants, tenant_domains), the runtime role, and the first tenant tables
-- (tenant_settings, api_tokens). Every tenant table follows GUIDE.md section 3: tenant_id first
-- in every key, composite foreign keys, RLS enabled and forced with the one tenant_isolation policy.

-- The runtime role. A managed service may have created it already (with a password); otherwise
-- the migrating role needs CREATEROLE. It logs in, is no superuser, cannot bypass RLS, owns nothing.
do $$
begin
  if not exists (select from pg_roles where rolname = 'tenantdesk_app') then
    create role tenantdesk_app login nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
end
$$;

grant usage on schema public to tenantdesk_app;
-- /readyz compares the applied migrations with the ones the binary carries.
grant select on _sqlx_migrations to tenantdesk_app;

-- Platform table: one row per tenant. No tenant policy; the runtime role may only read it,
-- which host resolution needs. Changes go through the owner (CLI) or, later, narrow functions.
create table tenants (
  id uuid primary key,
  slug text not null constraint tenants_slug_key unique
    constraint tenants_slug_is_dns_label check (slug ~ '^[a-z0-9]([a-z0-9-]{1,61})[a-z0-9]$'),
  name text not null constraint tenants_name_length check (char_length(name) between 1 and 100),
  status text not null default 'active'
    constraint tenants_status_known check (status in ('active', 'suspended')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Platform table: custom domains (help.acme.com) that resolve to a tenant once verified.
-- It carries tenant_id but is read before any tenant is known, so it has no tenant policy.
create table tenant_domains (
  host text primary key constraint tenant_domains_host_lowercase check (host = lower(host)),
  tenant_id uuid not null references tenants (id),
  verified boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index tenant_domains_tenant_idx on tenant_domains (tenant_id);

grant select on tenants, tenant_domains to tenantdesk_app;

-- Tenant table: the workspace's configuration, one row per tenant.
-- The registration columns hold osTicket's six modes; the identity issue gives them behaviour.
create table tenant_settings (
  tenant_id uuid not null references tenants (id),
  display_name text not null
    constraint tenant_settings_display_name_length check (char_length(display_name) between 1 and 100),
  primary_colour text not null default '#1f6feb'
    constraint tenant_settings_primary_colour_hex check (primary_colour ~ '^#[0-9a-f]{6}$'),
  accent_colour text not null default '#0b3d91'
    constraint tenant_settings_accent_colour_hex check (accent_colour ~ '^#[0-9a-f]{6}$'),
  logo_url text constraint tenant_settings_logo_url_http check (logo_url ~ '^https?://'),
  locale text not null default 'en',
  timezone text not null default 'UTC',
  registration_required boolean not null default false,
  registration_method text not null default 'public'
    constraint tenant_settings_registration_method_known
    check (registration_method in ('public', 'private', 'disabled')),
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tenant_settings_pkey primary key (tenant_id)
);

alter table tenant_settings enable row level security;
alter table tenant_settings force row level security;
create policy tenant_isolation on tenant_settings
  using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
  with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));

grant select, update on tenant_settings to tenantdesk_app;

-- Tenant table: API tokens. Only the SHA-256 of the secret is stored.
create table api_tokens (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint api_tokens_name_length check (char_length(name) between 1 and 80),
  token_hash bytea not null constraint api_tokens_token_hash_sha256 check (octet_length(token_hash) = 32),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  constraint api_tokens_pkey primary key (tenant_id, id),
  constraint api_tokens_token_hash_key unique (tenant_id, token_hash)
);
create unique index api_tokens_name_key on api_tokens (tenant_id, lower(name));

alter table api_tokens enable row level security;
alter table api_tokens force row level security;
create policy tenant_isolation on api_tokens
  using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
  with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));

grant select, insert, update on api_tokens to tenantdesk_app;
