-- The transactional outbox: a business write that sends mail inserts the rendered message here in
-- its own transaction, so mail exists exactly when the write committed. The delivery worker is
-- the one runtime path that reads across tenants, and only this table, only through the
-- functions below, which run as the dedicated role tenantdesk_mailer.

create table outbound_emails (
  tenant_id uuid not null references tenants (id),
  id uuid not null,
  event text not null,
  recipient text not null constraint outbound_emails_recipient_length check (char_length(recipient) between 3 and 254),
  from_name text not null,
  -- The tenant's verified support address, or null for the platform's sending address.
  from_address text,
  reply_to text,
  subject text not null,
  html_body text not null,
  text_body text not null,
  -- Stable across retries, so a duplicate after a crash mid-send is recognisable.
  message_id text not null,
  status text not null default 'queued'
    constraint outbound_emails_status_known check (status in ('queued', 'sending', 'sent', 'failed', 'dead')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- The current claim: a worker may only settle the row with the claim it was given.
  claim_id uuid,
  locked_until timestamptz,
  last_error text,
  sent_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint outbound_emails_pkey primary key (tenant_id, id)
);

-- The admin page lists a tenant's recent mail.
create index outbound_emails_tenant_recent_idx on outbound_emails (tenant_id, created_at desc);
-- The worker finds due mail across tenants. Not led by tenant_id on purpose: this is the one
-- cross-tenant read, and with Citus it stays a shard-local index.
create index outbound_emails_due_idx on outbound_emails (next_attempt_at)
  where status in ('queued', 'failed', 'sending');

alter table outbound_emails enable row level security;
alter table outbound_emails force row level security;
create policy tenant_isolation on outbound_emails
  using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
  with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid));

grant select, insert, update on outbound_emails to tenantdesk_app;

-- The mailer role: cannot log in, reads and settles outbound_emails of every tenant, nothing else.
do $$
begin
  if not exists (select from pg_roles where rolname = 'tenantdesk_mailer') then
    create role tenantdesk_mailer nologin nosuperuser nobypassrls nocreatedb nocreaterole;
  end if;
end
$$;
grant usage on schema public to tenantdesk_mailer;
grant select, update on outbound_emails to tenantdesk_mailer;
create policy mail_delivery on outbound_emails to tenantdesk_mailer using (true) with check (true);

-- Claims up to `batch` due messages for `lease_seconds`: queued or failed ones whose time has
-- come, and sending ones whose lease ran out (a worker died mid-send). SKIP LOCKED lets several
-- workers claim side by side without ever claiming the same row.
create function mail_claim(batch integer, lease_seconds integer)
returns table (
  tenant_id uuid, id uuid, claim_id uuid, event text, recipient text, from_name text,
  from_address text, reply_to text, subject text, html_body text, text_body text,
  message_id text, attempts integer
)
language sql volatile security definer set search_path = pg_catalog, public
as $$
  with due as (
    select o.tenant_id, o.id from public.outbound_emails o
     where (o.status in ('queued', 'failed') and o.next_attempt_at <= now())
        or (o.status = 'sending' and o.locked_until < now())
     order by o.next_attempt_at
     limit greatest(batch, 0)
     for update skip locked
  )
  update public.outbound_emails o
     set status = 'sending', claim_id = gen_random_uuid(), attempts = o.attempts + 1,
         locked_until = now() + make_interval(secs => lease_seconds), updated_at = now()
    from due
   where o.tenant_id = due.tenant_id and o.id = due.id
  returning o.tenant_id, o.id, o.claim_id, o.event, o.recipient, o.from_name, o.from_address,
            o.reply_to, o.subject, o.html_body, o.text_body, o.message_id, o.attempts
$$;

-- Settles a claimed message as sent. False when the claim is no longer ours (lease lost).
create function mail_mark_sent(p_tenant uuid, p_id uuid, p_claim uuid)
returns boolean
language sql volatile security definer set search_path = pg_catalog, public
as $$
  with settled as (
    update public.outbound_emails
       set status = 'sent', sent_at = now(), locked_until = null, claim_id = null,
           last_error = null, updated_at = now()
     where tenant_id = p_tenant and id = p_id and claim_id = p_claim and status = 'sending'
    returning 1
  )
  select exists (select from settled)
$$;

-- Settles a claimed message as failed: retried at `retry_at`, or dead when retry_at is null.
create function mail_mark_failed(p_tenant uuid, p_id uuid, p_claim uuid, p_error text, retry_at timestamptz)
returns boolean
language sql volatile security definer set search_path = pg_catalog, public
as $$
  with settled as (
    update public.outbound_emails
       set status = case when retry_at is null then 'dead' else 'failed' end,
           next_attempt_at = coalesce(retry_at, next_attempt_at),
           last_error = left(p_error, 2000), locked_until = null, claim_id = null, updated_at = now()
     where tenant_id = p_tenant and id = p_id and claim_id = p_claim and status = 'sending'
    returning 1
  )
  select exists (select from settled)
$$;

alter function mail_claim(integer, integer) owner to tenantdesk_mailer;
alter function mail_mark_sent(uuid, uuid, uuid) owner to tenantdesk_mailer;
alter function mail_mark_failed(uuid, uuid, uuid, text, timestamptz) owner to tenantdesk_mailer;
revoke all on function mail_claim(integer, integer) from public;
revoke all on function mail_mark_sent(uuid, uuid, uuid) from public;
revoke all on function mail_mark_failed(uuid, uuid, uuid, text, timestamptz) from public;
grant execute on function mail_claim(integer, integer) to tenantdesk_app;
grant execute on function mail_mark_sent(uuid, uuid, uuid) to tenantdesk_app;
grant execute on function mail_mark_failed(uuid, uuid, uuid, text, timestamptz) to tenantdesk_app;
