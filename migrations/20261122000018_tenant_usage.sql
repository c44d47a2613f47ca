-- Per-tenant usage for the platform console, without counting a tenant's rows on a page view:
-- totals (agents, end users, tickets, attachment bytes, last activity) and figures per UTC day
-- (tickets created, mail sent, attachment bytes added).
--
-- Writes only ever INSERT a delta row (statement-level triggers with transition tables: an
-- import of 10,000 users is one row), so counting takes no lock a business transaction could
-- wait for or deadlock on (a counter row updated in place would: ticket creation takes the
-- ticket number counter, then would take the usage row, while creating a guest requester first
-- would take them the other way round). The worker folds the deltas into the totals every few
-- seconds (platform_roll_up_usage); the console adds the few deltas not yet folded.
--
-- All three tables are platform tables: the runtime role has no privilege on them. The trigger
-- and platform_* functions are SECURITY DEFINER with a fixed search_path.

create table tenant_usage (
  tenant_id uuid not null references tenants (id),
  agents bigint not null default 0,
  end_users bigint not null default 0,
  tickets bigint not null default 0,
  storage_bytes bigint not null default 0,
  last_activity_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tenant_usage_pkey primary key (tenant_id)
);

create table tenant_usage_daily (
  tenant_id uuid not null references tenants (id),
  day date not null,
  tickets_created bigint not null default 0,
  mail_sent bigint not null default 0,
  storage_bytes_added bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tenant_usage_daily_pkey primary key (tenant_id, day)
);

create table tenant_usage_deltas (
  tenant_id uuid not null,
  day date not null default (now() at time zone 'utc')::date,
  agents bigint not null default 0,
  end_users bigint not null default 0,
  tickets bigint not null default 0,
  storage_bytes bigint not null default 0,
  mail_sent bigint not null default 0,
  active_at timestamptz,
  created_at timestamptz not null default now()
);
create index tenant_usage_deltas_tenant_idx on tenant_usage_deltas (tenant_id);

revoke all on table tenant_usage, tenant_usage_daily, tenant_usage_deltas from public;

-- One delta row; every trigger below goes through it.
create function usage_delta(
  p_tenant uuid, p_agents bigint, p_end_users bigint, p_tickets bigint, p_storage bigint,
  p_mail bigint, p_active boolean)
returns void
language sql security definer set search_path = pg_catalog, public
as $$
  insert into public.tenant_usage_deltas
    (tenant_id, agents, end_users, tickets, storage_bytes, mail_sent, active_at)
  values (p_tenant, p_agents, p_end_users, p_tickets, p_storage, p_mail,
          case when p_active then now() end)
$$;

-- Rows inserted into or deleted from a counted table, by tenant: tg_argv[0] names what they
-- count (agents, end_users, tickets: rows; storage: attachment bytes). New tickets are activity.
create function usage_rows_counted() returns trigger
language plpgsql security definer set search_path = pg_catalog, public
as $$
declare
  what text := tg_argv[0];
  direction bigint := case tg_op when 'DELETE' then -1 else 1 end;
  r record;
begin
  if what = 'storage' then
    for r in select tenant_id, direction * sum(size_bytes)::bigint as n
               from changed_rows group by tenant_id loop
      perform usage_delta(r.tenant_id, 0, 0, 0, r.n, 0, false);
    end loop;
  else
    for r in select tenant_id, direction * count(*) as n from changed_rows group by tenant_id loop
      perform usage_delta(r.tenant_id,
                          case what when 'agents' then r.n else 0 end,
                          case what when 'end_users' then r.n else 0 end,
                          case what when 'tickets' then r.n else 0 end,
                          0, 0, what = 'tickets');
    end loop;
  end if;
  return null;
end
$$;
create trigger tickets_usage after insert on tickets
  referencing new table as changed_rows
  for each statement execute function usage_rows_counted('tickets');
create trigger end_users_usage after insert on end_users
  referencing new table as changed_rows
  for each statement execute function usage_rows_counted('end_users');
create trigger agents_usage_insert after insert on agents
  referencing new table as changed_rows
  for each statement execute function usage_rows_counted('agents');
create trigger agents_usage_delete after delete on agents
  referencing old table as changed_rows
  for each statement execute function usage_rows_counted('agents');
create trigger ticket_attachments_usage_insert after insert on ticket_attachments
  referencing new table as changed_rows
  for each statement execute function usage_rows_counted('storage');
create trigger ticket_attachments_usage_delete after delete on ticket_attachments
  referencing old table as changed_rows
  for each statement execute function usage_rows_counted('storage');

-- Mail counts when the worker marks it sent (the only transition into 'sent').
create function usage_mail_sent() returns trigger
language plpgsql security definer set search_path = pg_catalog, public
as $$
declare r record;
begin
  for r in select n.tenant_id, count(*) as sent
             from new_rows n join old_rows o on o.tenant_id = n.tenant_id and o.id = n.id
            where n.status = 'sent' and o.status <> 'sent'
            group by n.tenant_id loop
    perform usage_delta(r.tenant_id, 0, 0, 0, 0, r.sent, false);
  end loop;
  return null;
end
$$;
create trigger outbound_emails_usage after update on outbound_emails
  referencing old table as old_rows new table as new_rows
  for each statement execute function usage_mail_sent();

-- Sign-ins are activity too.
create function usage_signed_in() returns trigger
language plpgsql security definer set search_path = pg_catalog, public
as $$
begin
  perform usage_delta(new.tenant_id, 0, 0, 0, 0, 0, true);
  return null;
end
$$;
create trigger agents_usage_sign_in after update of last_sign_in_at on agents
  for each row when (new.last_sign_in_at is distinct from old.last_sign_in_at)
  execute function usage_signed_in();
create trigger end_users_usage_sign_in after update of last_sign_in_at on end_users
  for each row when (new.last_sign_in_at is distinct from old.last_sign_in_at)
  execute function usage_signed_in();

-- What exists already, counted once here, tenant by tenant (the tables' policies admit one
-- tenant's rows at a time, for the migrating role too).
do $$
declare t record;
begin
  for t in select id from tenants loop
    perform set_config('app.tenant_id', t.id::text, true);
    insert into tenant_usage (tenant_id, agents, end_users, tickets, storage_bytes, last_activity_at)
    values (t.id,
            (select count(*) from agents a where a.tenant_id = t.id),
            (select count(*) from end_users u where u.tenant_id = t.id),
            (select count(*) from tickets k where k.tenant_id = t.id),
            (select coalesce(sum(size_bytes), 0) from ticket_attachments x where x.tenant_id = t.id),
            greatest((select max(created_at) from tickets k where k.tenant_id = t.id),
                     (select max(last_sign_in_at) from agents a where a.tenant_id = t.id),
                     (select max(last_sign_in_at) from end_users u where u.tenant_id = t.id)));
  end loop;
  perform set_config('app.tenant_id', '', true);
end
$$;

-- Folds the deltas into the totals and days (the worker calls it every few seconds). One
-- caller at a time; a second one returns at once. Answers how many deltas it folded.
create function platform_roll_up_usage() returns bigint
language plpgsql security definer set search_path = pg_catalog, public
as $$
declare folded bigint;
begin
  if not pg_try_advisory_xact_lock(hashtext('tenantdesk.usage_roll_up')) then
    return 0;
  end if;
  with taken as (
    delete from public.tenant_usage_deltas returning *
  ), totals as (
    insert into public.tenant_usage as u
      (tenant_id, agents, end_users, tickets, storage_bytes, last_activity_at)
    select tenant_id, sum(agents), sum(end_users), sum(tickets), sum(storage_bytes), max(active_at)
      from taken group by tenant_id
    on conflict (tenant_id) do update
       set agents = u.agents + excluded.agents,
           end_users = u.end_users + excluded.end_users,
           tickets = u.tickets + excluded.tickets,
           storage_bytes = greatest(u.storage_bytes + excluded.storage_bytes, 0),
           last_activity_at = greatest(u.last_activity_at, excluded.last_activity_at),
           updated_at = now()
  ), days as (
    insert into public.tenant_usage_daily as d
      (tenant_id, day, tickets_created, mail_sent, storage_bytes_added)
    select tenant_id, day, sum(tickets), sum(mail_sent), sum(greatest(storage_bytes, 0))
      from taken group by tenant_id, day
    on conflict (tenant_id, day) do update
       set tickets_created = d.tickets_created + excluded.tickets_created,
           mail_sent = d.mail_sent + excluded.mail_sent,
           storage_bytes_added = d.storage_bytes_added + excluded.storage_bytes_added,
           updated_at = now()
  )
  select count(*) into folded from taken;
  return folded;
end
$$;

-- The console's tenant list, from the totals plus the deltas not folded yet.
drop function platform_tenant_overview(text, integer, text);
create function platform_tenant_overview(p_search text, p_limit integer, p_after text)
returns table (
  id uuid, slug text, name text, status text, created_at timestamptz,
  agents bigint, end_users bigint, tickets bigint, storage_bytes bigint,
  mail_last_30_days bigint, last_activity timestamptz
)
language sql stable security definer
set search_path = pg_catalog, public
as $$
  select tn.id, tn.slug, tn.name, tn.status, tn.created_at,
         (coalesce(u.agents, 0) + coalesce(x.agents, 0))::bigint,
         (coalesce(u.end_users, 0) + coalesce(x.end_users, 0))::bigint,
         (coalesce(u.tickets, 0) + coalesce(x.tickets, 0))::bigint,
         greatest(coalesce(u.storage_bytes, 0) + coalesce(x.storage_bytes, 0), 0)::bigint,
         (coalesce((select sum(d.mail_sent) from public.tenant_usage_daily d
                     where d.tenant_id = tn.id
                       and d.day > (now() at time zone 'utc')::date - 30), 0)
          + coalesce(x.mail_sent, 0))::bigint,
         greatest(u.last_activity_at, x.active_at)
    from public.tenants tn
    left join public.tenant_usage u on u.tenant_id = tn.id
    left join lateral (
      select sum(agents) as agents, sum(end_users) as end_users, sum(tickets) as tickets,
             sum(storage_bytes) as storage_bytes, sum(mail_sent) as mail_sent,
             max(active_at) as active_at
        from public.tenant_usage_deltas x where x.tenant_id = tn.id) x on true
   where (p_after is null or tn.slug > p_after)
     and (btrim(coalesce(p_search, '')) = ''
          or strpos(tn.slug, lower(btrim(p_search))) > 0
          or strpos(lower(tn.name), lower(btrim(p_search))) > 0)
   order by tn.slug
   limit least(greatest(coalesce(p_limit, 50), 1), 200)
$$;

-- One tenant's usage per day over the last `p_days` days (days without activity included).
create function platform_tenant_usage(p_slug text, p_days integer)
returns table (day date, tickets_created bigint, mail_sent bigint, storage_bytes_added bigint)
language sql stable security definer
set search_path = pg_catalog, public
as $$
  select g.day::date,
         (coalesce(d.tickets_created, 0) + coalesce(x.tickets, 0))::bigint,
         (coalesce(d.mail_sent, 0) + coalesce(x.mail_sent, 0))::bigint,
         (coalesce(d.storage_bytes_added, 0) + coalesce(x.storage_bytes, 0))::bigint
    from public.tenants tn
   cross join generate_series((now() at time zone 'utc')::date - (least(greatest(coalesce(p_days, 30), 1), 366) - 1),
                              (now() at time zone 'utc')::date, interval '1 day') as g(day)
    left join public.tenant_usage_daily d on d.tenant_id = tn.id and d.day = g.day::date
    left join lateral (
      select sum(tickets) as tickets, sum(mail_sent) as mail_sent,
             sum(greatest(storage_bytes, 0)) as storage_bytes
        from public.tenant_usage_deltas x
       where x.tenant_id = tn.id and x.day = g.day::date) x on true
   where tn.slug = p_slug
   order by g.day desc
$$;

revoke all on function platform_tenant_overview(text, integer, text) from public;
revoke all on function platform_tenant_usage(text, integer) from public;
grant execute on function platform_tenant_overview(text, integer, text) to tenantdesk_app;
grant execute on function platform_tenant_usage(text, integer) to tenantdesk_app;
revoke all on function platform_roll_up_usage() from public;
grant execute on function platform_roll_up_usage() to tenantdesk_app;
revoke all on function usage_delta(uuid, bigint, bigint, bigint, bigint, bigint, boolean) from public;
