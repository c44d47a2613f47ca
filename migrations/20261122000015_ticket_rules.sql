-- The rules every new ticket passes (issue 7): ticket filters (osTicket filters: ordered rules
-- of conditions and actions) and the mapping of customer data to ticket custom fields (OTRS
-- DynamicFieldFromCustomerUser). Conditions and actions are JSON lists parsed by
-- domain::ticket_filter; the ids an action names are checked when the rule is saved and again
-- when it runs (a record deleted since is skipped, and the history says so). Every table
-- follows GUIDE.md section 3.

create table ticket_filters (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint ticket_filters_name_length check (char_length(name) between 1 and 100),
  enabled boolean not null default true,
  -- Rules run by position, then creation; equal positions are allowed, so reordering never
  -- conflicts with another rule's position.
  position integer not null default 0,
  -- true: every condition must match; false: any one of them.
  match_all boolean not null default true,
  conditions jsonb not null default '[]'
    constraint ticket_filters_conditions_list check (jsonb_typeof(conditions) = 'array'),
  actions jsonb not null default '[]'
    constraint ticket_filters_actions_list check (jsonb_typeof(actions) = 'array'),
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ticket_filters_pkey primary key (tenant_id, id)
);
create unique index ticket_filters_name_key on ticket_filters (tenant_id, lower(name));
create index ticket_filters_order_idx on ticket_filters (tenant_id, position, created_at, id);

-- One source per ticket custom field: a built-in or custom field of the requester
-- (`source_entity` user) or of their primary organization (organization).
create table ticket_field_mappings (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  source_entity text not null
    constraint ticket_field_mappings_source_entity_known check (source_entity in ('user', 'organization')),
  -- A built-in field name (`email`, `city`, ...) or `custom.<key>`.
  source_field text not null
    constraint ticket_field_mappings_source_field_length check (char_length(source_field) between 1 and 60),
  -- The key of a ticket custom field.
  target_key text not null
    constraint ticket_field_mappings_target_key_length check (char_length(target_key) between 1 and 50),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ticket_field_mappings_pkey primary key (tenant_id, id)
);
create unique index ticket_field_mappings_target_key on ticket_field_mappings (tenant_id, target_key);

do $$
declare t text;
begin
  foreach t in array array['ticket_filters', 'ticket_field_mappings'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
      with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))$p$, t);
    execute format('grant select, insert, update, delete on %I to tenantdesk_app', t);
  end loop;
end
$$;
