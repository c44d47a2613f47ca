-- Workspace settings grow what tenant admins edit (welcome text, support address), and tenants
-- get email template overrides per event and locale. Both are tenant tables (GUIDE.md section 3).

alter table tenant_settings
  add column welcome_text text not null default ''
    constraint tenant_settings_welcome_text_length check (char_length(welcome_text) <= 5000),
  add column support_email text
    constraint tenant_settings_support_email_length check (char_length(support_email) <= 254),
  -- Set when the support address was proven by an emailed link; until then mail comes From the
  -- platform's address with the support address as Reply-To.
  add column support_email_verified_at timestamptz;

-- A tenant's replacement for one shipped template, for one locale.
create table email_templates (
  tenant_id uuid not null references tenants (id),
  event text not null constraint email_templates_event_format check (event ~ '^[a-z_]+(\.[a-z_]+)+$'),
  locale text not null constraint email_templates_locale_format check (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,4}){0,2}$'),
  subject text not null constraint email_templates_subject_length check (char_length(subject) between 1 and 500),
  html_body text not null constraint email_templates_html_length check (octet_length(html_body) <= 102400),
  text_body text not null constraint email_templates_text_length check (octet_length(text_body) <= 102400),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint email_templates_pkey primary key (tenant_id, event, locale)
);

alter table email_templates enable row level security;
alter table email_templates force row level security;
create policy tenant_isolation on email_templates
  using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
  with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));

grant select, insert, update, delete on email_templates to tenantdesk_app;
