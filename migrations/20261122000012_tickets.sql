-- Tickets: departments (queues), teams, business hours, SLA plans, help topics, tenant-defined
-- statuses, the tickets themselves with a per-tenant number, their thread (messages, internal
-- notes, events), collaborators and attachments. Every table follows GUIDE.md section 3.

create table departments (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint departments_name_length check (char_length(name) between 1 and 100),
  description text not null default '' constraint departments_description_length check (char_length(description) <= 2000),
  -- The address inbound mail will arrive at (a later issue reads mail); unique per tenant.
  email_alias text constraint departments_email_alias_length check (char_length(email_alias) between 3 and 254),
  default_priority text not null default 'normal'
    constraint departments_default_priority_known check (default_priority in ('low', 'normal', 'high', 'urgent')),
  -- End users need rw on this group to open tickets here and ro to see them (null: everyone).
  customer_group_id uuid,
  manager_agent_id uuid,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint departments_pkey primary key (tenant_id, id),
  constraint departments_customer_group_fkey foreign key (tenant_id, customer_group_id)
    references customer_groups (tenant_id, id),
  constraint departments_manager_fkey foreign key (tenant_id, manager_agent_id) references agents (tenant_id, id)
);
create unique index departments_name_key on departments (tenant_id, lower(name));
create unique index departments_email_alias_key on departments (tenant_id, lower(email_alias));

-- The agents who belong to a department (Agents see its tickets).
create table department_agents (
  tenant_id uuid not null references tenants (id),
  department_id uuid not null,
  agent_id uuid not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint department_agents_pkey primary key (tenant_id, department_id, agent_id),
  constraint department_agents_department_fkey foreign key (tenant_id, department_id)
    references departments (tenant_id, id) on delete cascade,
  constraint department_agents_agent_fkey foreign key (tenant_id, agent_id) references agents (tenant_id, id)
);
create index department_agents_agent_idx on department_agents (tenant_id, agent_id);

create table teams (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint teams_name_length check (char_length(name) between 1 and 100),
  lead_agent_id uuid,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint teams_pkey primary key (tenant_id, id),
  constraint teams_lead_fkey foreign key (tenant_id, lead_agent_id) references agents (tenant_id, id)
);
create unique index teams_name_key on teams (tenant_id, lower(name));

create table team_members (
  tenant_id uuid not null references tenants (id),
  team_id uuid not null,
  agent_id uuid not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint team_members_pkey primary key (tenant_id, team_id, agent_id),
  constraint team_members_team_fkey foreign key (tenant_id, team_id) references teams (tenant_id, id) on delete cascade,
  constraint team_members_agent_fkey foreign key (tenant_id, agent_id) references agents (tenant_id, id)
);
create index team_members_agent_idx on team_members (tenant_id, agent_id);

-- The organization's account manager may now be a team.
alter table organizations add constraint organizations_account_manager_team_fkey
  foreign key (tenant_id, account_manager_team_id) references teams (tenant_id, id);

-- The tenant's business hours calendar: a time zone, weekly opening hours, holidays. SLA
-- targets count only open hours when the plan says so.
create table business_calendars (
  tenant_id uuid not null references tenants (id),
  timezone text not null default 'UTC',
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint business_calendars_pkey primary key (tenant_id)
);

-- Opening hours per weekday (ISO: 1 Monday .. 7 Sunday); several spans a day are allowed.
create table business_hours (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  weekday smallint not null constraint business_hours_weekday_range check (weekday between 1 and 7),
  opens time not null,
  closes time not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint business_hours_pkey primary key (tenant_id, id),
  constraint business_hours_span check (opens < closes)
);
create index business_hours_weekday_idx on business_hours (tenant_id, weekday);

create table business_holidays (
  tenant_id uuid not null references tenants (id),
  day date not null,
  name text not null default '' constraint business_holidays_name_length check (char_length(name) <= 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint business_holidays_pkey primary key (tenant_id, day)
);

create table sla_plans (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint sla_plans_name_length check (char_length(name) between 1 and 100),
  first_response_hours integer constraint sla_plans_first_response_positive check (first_response_hours > 0),
  resolution_hours integer constraint sla_plans_resolution_positive check (resolution_hours > 0),
  -- Count only the business calendar's open hours (false: around the clock).
  business_hours_only boolean not null default true,
  -- Stop the clock while a ticket is pending on the customer.
  pause_while_pending boolean not null default true,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint sla_plans_pkey primary key (tenant_id, id)
);
create unique index sla_plans_name_key on sla_plans (tenant_id, lower(name));

-- Help topics (OTRS services), nested; a new ticket of a topic goes to its department with its
-- defaults, and may be assigned at once.
create table help_topics (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint help_topics_name_length check (char_length(name) between 1 and 100),
  parent_id uuid,
  department_id uuid not null,
  default_priority text constraint help_topics_default_priority_known check (default_priority in ('low', 'normal', 'high', 'urgent')),
  sla_plan_id uuid,
  auto_assign_agent_id uuid,
  auto_assign_team_id uuid,
  -- Offered in the portal at all.
  public boolean not null default true,
  -- Offered to every end user (OTRS default services); otherwise only to those granted below.
  for_everyone boolean not null default true,
  -- The portal's new-ticket autoresponse is sent for tickets of this topic.
  autoresponse boolean not null default true,
  -- Ticket custom fields (custom_fields.id, entity ticket) this topic asks for, in order.
  field_ids uuid[] not null default '{}',
  position integer not null default 0,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint help_topics_pkey primary key (tenant_id, id),
  constraint help_topics_parent_fkey foreign key (tenant_id, parent_id) references help_topics (tenant_id, id),
  constraint help_topics_department_fkey foreign key (tenant_id, department_id) references departments (tenant_id, id),
  constraint help_topics_sla_plan_fkey foreign key (tenant_id, sla_plan_id) references sla_plans (tenant_id, id),
  constraint help_topics_agent_fkey foreign key (tenant_id, auto_assign_agent_id) references agents (tenant_id, id),
  constraint help_topics_team_fkey foreign key (tenant_id, auto_assign_team_id) references teams (tenant_id, id),
  constraint help_topics_one_assignee check (auto_assign_agent_id is null or auto_assign_team_id is null),
  constraint help_topics_not_own_parent check (parent_id is distinct from id)
);
create unique index help_topics_name_key on help_topics (tenant_id, lower(name));

-- Who may use a topic that is not for everyone: end users, organizations, customer groups.
create table help_topic_grants (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  help_topic_id uuid not null,
  end_user_id uuid,
  organization_id uuid,
  customer_group_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint help_topic_grants_pkey primary key (tenant_id, id),
  constraint help_topic_grants_topic_fkey foreign key (tenant_id, help_topic_id)
    references help_topics (tenant_id, id) on delete cascade,
  constraint help_topic_grants_end_user_fkey foreign key (tenant_id, end_user_id) references end_users (tenant_id, id),
  constraint help_topic_grants_organization_fkey foreign key (tenant_id, organization_id)
    references organizations (tenant_id, id),
  constraint help_topic_grants_group_fkey foreign key (tenant_id, customer_group_id)
    references customer_groups (tenant_id, id),
  constraint help_topic_grants_one_grantee check (num_nonnulls(end_user_id, organization_id, customer_group_id) = 1)
);
create unique index help_topic_grants_grantee_key on help_topic_grants
  (tenant_id, help_topic_id, coalesce(end_user_id, organization_id, customer_group_id));

-- Tenant-defined statuses within the four states ("Waiting for parts" within pending, say).
create table ticket_statuses (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  name text not null constraint ticket_statuses_name_length check (char_length(name) between 1 and 60),
  state text not null constraint ticket_statuses_state_known check (state in ('open', 'pending', 'resolved', 'closed')),
  position integer not null default 0,
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ticket_statuses_pkey primary key (tenant_id, id)
);
create unique index ticket_statuses_name_key on ticket_statuses (tenant_id, lower(name));

-- The next ticket number of each tenant: one row per tenant, locked by the insert that takes a
-- number, so numbers have no gaps and no duplicates within a tenant and reveal nothing of others.
create table ticket_counters (
  tenant_id uuid not null references tenants (id),
  next_number bigint not null default 1 constraint ticket_counters_positive check (next_number > 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ticket_counters_pkey primary key (tenant_id)
);

create table tickets (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  number bigint not null,
  subject text not null constraint tickets_subject_length check (char_length(subject) between 1 and 255),
  -- The state queues and SLA work on; `status_id` names a tenant-defined status within it.
  state text not null default 'open' constraint tickets_state_known check (state in ('open', 'pending', 'resolved', 'closed')),
  status_id uuid,
  priority text not null default 'normal' constraint tickets_priority_known check (priority in ('low', 'normal', 'high', 'urgent')),
  requester_id uuid not null,
  organization_id uuid,
  department_id uuid not null,
  help_topic_id uuid,
  assignee_agent_id uuid,
  assignee_team_id uuid,
  sla_plan_id uuid,
  source text not null constraint tickets_source_known check (source in ('portal', 'agent', 'api', 'email')),
  custom jsonb not null default '{}' constraint tickets_custom_object check (jsonb_typeof(custom) = 'object'),
  first_response_due_at timestamptz,
  resolution_due_at timestamptz,
  first_responded_at timestamptz,
  -- While pending with a pausing SLA plan: since when the clock stands still.
  sla_paused_since timestamptz,
  last_message_at timestamptz,
  closed_at timestamptz,
  closed_by_agent_id uuid,
  closed_by_end_user_id uuid,
  created_by_agent_id uuid,
  -- An API client's Idempotency-Key for the create that made this ticket.
  idempotency_key text constraint tickets_idempotency_key_length check (char_length(idempotency_key) between 1 and 200),
  version bigint not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tickets_pkey primary key (tenant_id, id),
  constraint tickets_number_key unique (tenant_id, number),
  constraint tickets_status_fkey foreign key (tenant_id, status_id) references ticket_statuses (tenant_id, id),
  constraint tickets_requester_fkey foreign key (tenant_id, requester_id) references end_users (tenant_id, id),
  constraint tickets_organization_fkey foreign key (tenant_id, organization_id) references organizations (tenant_id, id),
  constraint tickets_department_fkey foreign key (tenant_id, department_id) references departments (tenant_id, id),
  constraint tickets_help_topic_fkey foreign key (tenant_id, help_topic_id) references help_topics (tenant_id, id),
  constraint tickets_assignee_agent_fkey foreign key (tenant_id, assignee_agent_id) references agents (tenant_id, id),
  constraint tickets_assignee_team_fkey foreign key (tenant_id, assignee_team_id) references teams (tenant_id, id),
  constraint tickets_sla_plan_fkey foreign key (tenant_id, sla_plan_id) references sla_plans (tenant_id, id),
  constraint tickets_closed_by_agent_fkey foreign key (tenant_id, closed_by_agent_id) references agents (tenant_id, id),
  constraint tickets_closed_by_end_user_fkey foreign key (tenant_id, closed_by_end_user_id) references end_users (tenant_id, id),
  constraint tickets_created_by_agent_fkey foreign key (tenant_id, created_by_agent_id) references agents (tenant_id, id)
);
create unique index tickets_idempotency_key on tickets (tenant_id, idempotency_key) where idempotency_key is not null;
-- Queues: by state and department, assignee, team; the requester's and organization's tickets;
-- overdue; recent activity.
create index tickets_department_queue_idx on tickets (tenant_id, department_id, state, updated_at);
create index tickets_assignee_queue_idx on tickets (tenant_id, assignee_agent_id, state, updated_at);
create index tickets_team_queue_idx on tickets (tenant_id, assignee_team_id, state, updated_at);
create index tickets_state_idx on tickets (tenant_id, state, updated_at);
create index tickets_requester_idx on tickets (tenant_id, requester_id, created_at);
create index tickets_organization_idx on tickets (tenant_id, organization_id, created_at);
create index tickets_resolution_due_idx on tickets (tenant_id, resolution_due_at) where state in ('open', 'pending');

create table ticket_collaborators (
  tenant_id uuid not null references tenants (id),
  ticket_id uuid not null,
  end_user_id uuid not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ticket_collaborators_pkey primary key (tenant_id, ticket_id, end_user_id),
  constraint ticket_collaborators_ticket_fkey foreign key (tenant_id, ticket_id) references tickets (tenant_id, id),
  constraint ticket_collaborators_end_user_fkey foreign key (tenant_id, end_user_id) references end_users (tenant_id, id)
);
create index ticket_collaborators_end_user_idx on ticket_collaborators (tenant_id, end_user_id);

-- The thread: messages (requester, collaborator or agent), internal notes (agents only) and
-- events (who changed what from what to what), in order.
create table ticket_entries (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  ticket_id uuid not null,
  kind text not null constraint ticket_entries_kind_known check (kind in ('message', 'note', 'event')),
  author_agent_id uuid,
  author_end_user_id uuid,
  -- Sanitised HTML and its text version (messages and notes).
  body_html text constraint ticket_entries_body_html_length check (char_length(body_html) <= 200000),
  body_text text constraint ticket_entries_body_text_length check (char_length(body_text) <= 100000),
  -- Events: {"field": "state", "from": "open", "to": "pending", "rule": "..."}.
  event jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ticket_entries_pkey primary key (tenant_id, id),
  constraint ticket_entries_ticket_fkey foreign key (tenant_id, ticket_id) references tickets (tenant_id, id),
  constraint ticket_entries_agent_fkey foreign key (tenant_id, author_agent_id) references agents (tenant_id, id),
  constraint ticket_entries_end_user_fkey foreign key (tenant_id, author_end_user_id) references end_users (tenant_id, id),
  constraint ticket_entries_one_author check (author_agent_id is null or author_end_user_id is null),
  constraint ticket_entries_shape check (
    (kind in ('message', 'note') and body_html is not null and body_text is not null and event is null)
    or (kind = 'event' and event is not null))
);
create index ticket_entries_thread_idx on ticket_entries (tenant_id, ticket_id, created_at, id);

-- Attachments of messages and notes; the bytes live in the object store under `storage_key`.
create table ticket_attachments (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  ticket_id uuid not null,
  entry_id uuid not null,
  name text not null constraint ticket_attachments_name_length check (char_length(name) between 1 and 255),
  content_type text not null constraint ticket_attachments_content_type_length check (char_length(content_type) between 1 and 255),
  size_bytes bigint not null constraint ticket_attachments_size_positive check (size_bytes >= 0),
  sha256 bytea not null constraint ticket_attachments_sha256_length check (octet_length(sha256) = 32),
  storage_key text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint ticket_attachments_pkey primary key (tenant_id, id),
  constraint ticket_attachments_ticket_fkey foreign key (tenant_id, ticket_id) references tickets (tenant_id, id),
  constraint ticket_attachments_entry_fkey foreign key (tenant_id, entry_id) references ticket_entries (tenant_id, id)
);
create index ticket_attachments_entry_idx on ticket_attachments (tenant_id, entry_id);

-- Which agent notifications an agent turned off (kinds: new_ticket, assigned, user_reply).
create table agent_notification_mutes (
  tenant_id uuid not null references tenants (id),
  agent_id uuid not null,
  kind text not null constraint agent_notification_mutes_kind_known check (kind in ('new_ticket', 'assigned', 'user_reply')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint agent_notification_mutes_pkey primary key (tenant_id, agent_id, kind),
  constraint agent_notification_mutes_agent_fkey foreign key (tenant_id, agent_id) references agents (tenant_id, id)
);

-- Ticket settings of the workspace.
alter table tenant_settings
  add column default_department_id uuid,
  add column attachment_max_bytes bigint not null default 10485760
    constraint tenant_settings_attachment_max_bytes_range check (attachment_max_bytes between 1024 and 104857600),
  -- Content types attachments may have; empty: any except the always-refused executable types.
  add column attachment_allowed_types text[] not null default '{}',
  add column reply_to_closed_allowed boolean not null default true,
  add constraint tenant_settings_default_department_fkey foreign key (tenant_id, default_department_id)
    references departments (tenant_id, id);

-- Every existing tenant gets a first department, made the default for new tickets. Done
-- before departments' RLS is switched on, and with tenant_settings' FORCE lifted for the one
-- statement, so an owner that is not a superuser may write across tenants here.
insert into departments (tenant_id, id, name, description)
select t.id, gen_random_uuid(), 'Support', 'Where new requests arrive.' from tenants t;
alter table tenant_settings no force row level security;
alter table tenant_settings disable row level security;
update tenant_settings s set default_department_id = d.id
  from departments d where d.tenant_id = s.tenant_id;
alter table tenant_settings enable row level security;
alter table tenant_settings force row level security;

do $$
declare t text;
begin
  foreach t in array array['departments', 'department_agents', 'teams', 'team_members', 'business_calendars',
                           'business_hours', 'business_holidays', 'sla_plans', 'help_topics', 'help_topic_grants',
                           'ticket_statuses', 'ticket_counters', 'tickets', 'ticket_collaborators', 'ticket_entries',
                           'ticket_attachments', 'agent_notification_mutes'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format($p$create policy tenant_isolation on %I
      using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
      with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))$p$, t);
    execute format('grant select, insert, update, delete on %I to tenantdesk_app', t);
  end loop;
end
$$;

