-- Sign-in providers (issue #8): per tenant OpenID Connect, LDAP and trusted-header providers,
-- the identities linked through them, and the per audience switch for the built-in password.
-- The provider's client secret or bind password is sealed with AES-256-GCM by the web layer
-- (key from TENANTDESK_SECRET_KEY, the provider id as associated data); the database only ever
-- sees ciphertext.

create table sign_in_providers (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint sign_in_providers_name_length check (char_length(name) between 1 and 80),
  kind text not null constraint sign_in_providers_kind_known check (kind in ('oidc', 'ldap', 'trusted_header')),
  enabled boolean not null default false,
  audience text not null default 'agents'
    constraint sign_in_providers_audience_known check (audience in ('agents', 'end_users', 'both')),
  position integer not null default 0,
  -- Lower-case email domains whose users this provider serves; empty: any domain.
  allowed_domains text[] not null default '{}'
    constraint sign_in_providers_allowed_domains_lower check (allowed_domains::text = lower(allowed_domains::text)),
  jit_provisioning boolean not null default false,
  jit_role_id uuid,
  jit_organization_id uuid,
  jit_group_ids uuid[] not null default '{}',
  attribute_map jsonb not null default '{}'
    constraint sign_in_providers_attribute_map_object check (jsonb_typeof(attribute_map) = 'object'),
  update_on_sign_in boolean not null default false,
  settings jsonb not null default '{}'
    constraint sign_in_providers_settings_object check (jsonb_typeof(settings) = 'object'),
  -- Nonce (12 bytes) followed by the AES-256-GCM ciphertext and tag.
  secret bytea constraint sign_in_providers_secret_sealed check (octet_length(secret) >= 28),
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint sign_in_providers_pkey primary key (tenant_id, id),
  constraint sign_in_providers_jit_role_fkey foreign key (tenant_id, jit_role_id) references roles (tenant_id, id),
  constraint sign_in_providers_jit_organization_fkey foreign key (tenant_id, jit_organization_id)
    references organizations (tenant_id, id)
);
create unique index sign_in_providers_name_key on sign_in_providers (tenant_id, lower(name));
create index sign_in_providers_position_idx on sign_in_providers (tenant_id, position, id);

-- Who signed in through which provider: the provider's stable subject (OIDC `sub`, LDAP DN,
-- the header value) linked to exactly one agent or end user of the same tenant.
create table sign_in_identities (
  tenant_id uuid not null references tenants (id),
  provider_id uuid not null,
  subject text not null constraint sign_in_identities_subject_length check (char_length(subject) between 1 and 1000),
  agent_id uuid,
  end_user_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_sign_in_at timestamptz,
  constraint sign_in_identities_pkey primary key (tenant_id, provider_id, subject),
  constraint sign_in_identities_provider_fkey foreign key (tenant_id, provider_id)
    references sign_in_providers (tenant_id, id) on delete cascade,
  constraint sign_in_identities_agent_fkey foreign key (tenant_id, agent_id) references agents (tenant_id, id),
  constraint sign_in_identities_end_user_fkey foreign key (tenant_id, end_user_id) references end_users (tenant_id, id),
  constraint sign_in_identities_one_account check (num_nonnulls(agent_id, end_user_id) = 1)
);
create index sign_in_identities_agent_idx on sign_in_identities (tenant_id, agent_id) where agent_id is not null;
create index sign_in_identities_end_user_idx on sign_in_identities (tenant_id, end_user_id) where end_user_id is not null;

-- "Agents must use SSO": the built-in password per audience.
alter table tenant_settings
  add column password_sign_in_agents boolean not null default true,
  add column password_sign_in_end_users boolean not null default true;

do $$
declare t text;
begin
  foreach t in array array['sign_in_providers', 'sign_in_identities'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
      with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))$p$, t);
    execute format('grant select, insert, update, delete on %I to tenantdesk_app', t);
  end loop;
end
$$;
