-- Outbox depth for the metrics (issue: operations): how many messages wait in each unsettled
-- status and how old the oldest is, across tenants, as counts only. Like mail_claim it runs as
-- tenantdesk_mailer, the one role that reads outbound_emails of every tenant.
create index outbound_emails_dead_idx on outbound_emails (created_at) where status = 'dead';

create function mail_depth()
returns table (status text, messages bigint, oldest_seconds double precision)
language sql stable security definer set search_path = pg_catalog, public
as $$
  select o.status, count(*), extract(epoch from now() - min(o.created_at))::double precision
    from public.outbound_emails o
   where o.status in ('queued', 'sending', 'failed', 'dead')
   group by o.status
$$;
alter function mail_depth() owner to tenantdesk_mailer;
revoke all on function mail_depth() from public;
grant execute on function mail_depth() to tenantdesk_app;
