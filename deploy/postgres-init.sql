-- The roles and database of deploy/compose.yaml, created the way a managed PostgreSQL service
-- needs them (docs/operations.md, "PostgreSQL roles"). The postgres image runs this file once,
-- as its superuser, when the data volume is new. Tenantdesk itself never uses the superuser.
--
-- The passwords are for the local compose stack only; compose.yaml repeats them in its URLs.

-- The owner: owns the schema and runs `tenantdesk migrate`. No superuser, no CREATEROLE, as
-- on a managed service where the roles below are made by the administrator.
create role tenantdesk_owner login password 'owner-dev-password'
  nosuperuser nocreatedb nocreaterole;

-- The runtime role of every `serve` and `worker` connection: no superuser, no BYPASSRLS, owns
-- nothing, so row-level security binds it. The first migration creates it when missing, but
-- only with CREATEROLE and without a password.
create role tenantdesk_app login password 'app-dev-password'
  nosuperuser nobypassrls nocreatedb nocreaterole;

-- The mail delivery role: cannot log in; owns the SECURITY DEFINER functions that claim and
-- settle queued mail of every tenant. A migration creates it when missing (with CREATEROLE).
create role tenantdesk_mailer nologin nosuperuser nobypassrls nocreatedb nocreaterole;

-- The owner switches to the runtime role for tenant work (`SET LOCAL ROLE tenantdesk_app` in
-- the `tenant` commands), and hands the mail functions to the mailer role (ALTER FUNCTION ...
-- OWNER TO tenantdesk_mailer), both of which need membership.
grant tenantdesk_app to tenantdesk_owner;
grant tenantdesk_mailer to tenantdesk_owner;

-- The directory search role: cannot log in; owns the SECURITY DEFINER search functions that
-- read end users and organizations with an explicit tenant filter (migration 10).
create role tenantdesk_directory nologin nosuperuser nobypassrls nocreatedb nocreaterole;
grant tenantdesk_directory to tenantdesk_owner;
create role tenantdesk_ticket_search nologin nosuperuser nobypassrls nocreatedb nocreaterole;
grant tenantdesk_ticket_search to tenantdesk_owner;

create database tenantdesk owner tenantdesk_owner;

\connect tenantdesk
-- A function's new owner needs CREATE on its schema (PostgreSQL 15 gives PUBLIC none on public).
grant create on schema public to tenantdesk_mailer;
