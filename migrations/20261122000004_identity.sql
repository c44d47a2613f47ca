-- Identity: roles and agents per tenant, end-user accounts, platform operators, single-use
-- authentication tokens (invitations, password resets, confirmations) and API token scopes.
-- Sessions live in Redis or in process, not here; `sessions_valid_after` revokes them all.

-- Roles: the built-in Admin, Manager and Agent (builtin set), and tenant-defined ones.
create table roles (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint roles_name_length check (char_length(name) between 1 and 80),
  builtin text constraint roles_builtin_known check (builtin in ('admin', 'manager', 'agent')),
  permissions text[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint roles_pkey primary key (tenant_id, id)
);
create unique index roles_name_key on roles (tenant_id, lower(name));
create unique index roles_builtin_key on roles (tenant_id, builtin) where builtin is not null;

create table agents (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint agents_name_length check (char_length(name) between 1 and 100),
  email text not null constraint agents_email_length check (char_length(email) between 3 and 254),
  role_id uuid not null,
  status text not null default 'invited'
    constraint agents_status_known check (status in ('invited', 'active', 'disabled')),
  password_hash text,
  must_change_password boolean not null default false,
  timezone text,
  signature text not null default '' constraint agents_signature_length check (char_length(signature) <= 5000),
  last_sign_in_at timestamptz,
  -- Sessions created before this instant are no longer valid (password change, disable, sign out everywhere).
  sessions_valid_after timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint agents_pkey primary key (tenant_id, id),
  constraint agents_role_fkey foreign key (tenant_id, role_id) references roles (tenant_id, id)
);
create unique index agents_email_key on agents (tenant_id, lower(email));

-- End users with accounts; the directory issue adds the rest of the customer record.
create table end_users (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint end_users_name_length check (char_length(name) between 1 and 200),
  email text not null constraint end_users_email_length check (char_length(email) between 3 and 254),
  status text not null default 'guest'
    constraint end_users_status_known check (status in ('guest', 'pending', 'active', 'locked')),
  password_hash text,
  must_change_password boolean not null default false,
  last_sign_in_at timestamptz,
  sessions_valid_after timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint end_users_pkey primary key (tenant_id, id)
);
create unique index end_users_email_key on end_users (tenant_id, lower(email));

-- Single-use tokens sent by mail; only their SHA-256 is stored.
create table auth_tokens (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  purpose text not null
    constraint auth_tokens_purpose_known check (purpose in ('agent_invitation', 'agent_password_reset',
      'user_invitation', 'user_password_reset', 'user_registration_confirm', 'support_email_verification')),
  agent_id uuid,
  end_user_id uuid,
  token_hash bytea not null constraint auth_tokens_hash_sha256 check (octet_length(token_hash) = 32),
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint auth_tokens_pkey primary key (tenant_id, id),
  constraint auth_tokens_hash_key unique (tenant_id, token_hash),
  constraint auth_tokens_agent_fkey foreign key (tenant_id, agent_id) references agents (tenant_id, id),
  constraint auth_tokens_end_user_fkey foreign key (tenant_id, end_user_id) references end_users (tenant_id, id)
);

do $$
declare t text;
begin
  foreach t in array array['roles', 'agents', 'end_users', 'auth_tokens'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
      with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))$p$, t);
    execute format('grant select, insert, update, delete on %I to tenantdesk_app', t);
  end loop;
end
$$;

-- API tokens gain what the identity issue asks: a permission scope, an expiry, who made them.
alter table api_tokens
  add column permissions text[],
  add column expires_at timestamptz,
  add column created_by_agent uuid,
  add constraint api_tokens_created_by_fkey foreign key (tenant_id, created_by_agent) references agents (tenant_id, id);

-- Platform operators: global accounts of the base-domain console. Not a tenant table; the
-- runtime role reads and updates them for sign-in, and the CLI (owner) creates them.
create table operators (
  id uuid primary key,
  name text not null constraint operators_name_length check (char_length(name) between 1 and 100),
  email text not null,
  password_hash text not null,
  last_sign_in_at timestamptz,
  sessions_valid_after timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index operators_email_key on operators (lower(email));
grant select, update (last_sign_in_at, password_hash, sessions_valid_after, updated_at) on operators to tenantdesk_app;

-- Existing tenants get the built-in roles (new tenants get them at creation).
insert into roles (tenant_id, id, name, builtin, permissions)
select t.id, gen_random_uuid(), r.name, r.builtin, '{}'
  from tenants t
  cross join (values ('Admin', 'admin'), ('Manager', 'manager'), ('Agent', 'agent')) as r (name, builtin);
