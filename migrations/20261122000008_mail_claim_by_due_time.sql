-- Claiming mail read every due row and sorted it (an OR over two states defeats the index), so
-- a backlog drained ever slower. Now a claimed message's lease end is also its
-- next_attempt_at: "due" is one condition over the partial index (next_attempt_at), read in
-- order and stopped after the batch. Measured in docs/benchmarks.md.
create or replace function mail_claim(batch integer, lease_seconds integer)
returns table (
  tenant_id uuid, id uuid, claim_id uuid, event text, recipient text, from_name text,
  from_address text, reply_to text, subject text, html_body text, text_body text,
  message_id text, attempts integer
)
language sql volatile security definer set search_path = pg_catalog, public
as $$
  with due as (
    select o.tenant_id, o.id from public.outbound_emails o
     where o.status in ('queued', 'failed', 'sending') and o.next_attempt_at <= now()
     order by o.next_attempt_at
     limit greatest(batch, 0)
     for update skip locked
  )
  update public.outbound_emails o
     set status = 'sending', claim_id = gen_random_uuid(), attempts = o.attempts + 1,
         locked_until = now() + make_interval(secs => lease_seconds),
         next_attempt_at = now() + make_interval(secs => lease_seconds),
         updated_at = now()
    from due
   where o.tenant_id = due.tenant_id and o.id = due.id
  returning o.tenant_id, o.id, o.claim_id, o.event, o.recipient, o.from_name, o.from_address,
            o.reply_to, o.subject, o.html_body, o.text_body, o.message_id, o.attempts
$$;

-- Rows claimed before this migration carry their lease only in locked_until.
update outbound_emails set next_attempt_at = locked_until
 where status = 'sending' and locked_until is not null;
