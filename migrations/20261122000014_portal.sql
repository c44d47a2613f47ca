-- The customer portal (issue 7, first half): guest links and the portal options.
--
-- A guest link lets one end user open one ticket without signing in (osTicket's guest link).
-- The link is the grant (one live link per ticket and recipient, revocable by an agent); each
-- mail that carries it gets a fresh secret of that link, because only SHA-256 hashes of
-- secrets are stored and a stored hash cannot be put into the next mail. Revoking the link
-- ends all of its secrets at once. Every table follows GUIDE.md section 3.

create table guest_links (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  ticket_id uuid not null,
  end_user_id uuid not null,
  -- Who made it by hand (the API); null when a mail minted it.
  created_by_agent_id uuid,
  revoked_at timestamptz,
  revoked_by_agent_id uuid,
  last_used_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint guest_links_pkey primary key (tenant_id, id),
  constraint guest_links_ticket_fkey foreign key (tenant_id, ticket_id) references tickets (tenant_id, id),
  constraint guest_links_end_user_fkey foreign key (tenant_id, end_user_id) references end_users (tenant_id, id),
  constraint guest_links_created_by_fkey foreign key (tenant_id, created_by_agent_id) references agents (tenant_id, id),
  constraint guest_links_revoked_by_fkey foreign key (tenant_id, revoked_by_agent_id) references agents (tenant_id, id)
);
-- One live link per ticket and recipient.
create unique index guest_links_live_key on guest_links (tenant_id, ticket_id, end_user_id) where revoked_at is null;
create index guest_links_ticket_idx on guest_links (tenant_id, ticket_id, created_at);

-- The secrets of a link: 256 random bits each, stored only as their SHA-256.
create table guest_link_secrets (
  tenant_id uuid not null references tenants (id),
  secret_hash bytea not null constraint guest_link_secrets_hash_length check (octet_length(secret_hash) = 32),
  link_id uuid not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint guest_link_secrets_pkey primary key (tenant_id, secret_hash),
  constraint guest_link_secrets_link_fkey foreign key (tenant_id, link_id)
    references guest_links (tenant_id, id) on delete cascade
);
create index guest_link_secrets_link_idx on guest_link_secrets (tenant_id, link_id);

-- Portal options. The new-ticket autoresponse can also be turned off per help topic
-- (help_topics.autoresponse, migration 12).
alter table tenant_settings
  add column portal_autoresponse boolean not null default true,
  add column portal_users_may_close boolean not null default true,
  -- Days after closing in which an end user may reopen; 0: never.
  add column portal_reopen_days integer not null default 14
    constraint tenant_settings_portal_reopen_days_range check (portal_reopen_days between 0 and 3650),
  -- Days after closing that guest links keep working.
  add column guest_link_days_after_close integer not null default 30
    constraint tenant_settings_guest_link_days_range check (guest_link_days_after_close between 0 and 3650);

do $$
declare t text;
begin
  foreach t in array array['guest_links', 'guest_link_secrets'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
      with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))$p$, t);
    execute format('grant select, insert, update, delete on %I to tenantdesk_app', t);
  end loop;
end
$$;
