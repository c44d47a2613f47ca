-- End users sign in by email or by username (their login). The login is the email unless the
-- person chose a username; a chosen username never contains '@', so a login can only ever
-- equal its own account's email, and one typed identifier finds at most one account.
alter table end_users add column login text;
update end_users set login = email where login is null;
alter table end_users alter column login set not null;
alter table end_users add constraint end_users_login_format
  check (login = email or login ~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$');
create unique index end_users_login_key on end_users (tenant_id, lower(login));
