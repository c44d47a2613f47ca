-- Fields of an end user that a sign-in provider keeps (osTicket/OTRS: read-only directory data
-- from LDAP): the provider rewrites them at every sign-in (`update_on_sign_in`), so agents and
-- the API see them read-only with their source instead of editing values that would be
-- overwritten. {"phone": "Corp LDAP", "custom.cost_centre": "Corp LDAP"}.
alter table end_users add column directory_fields jsonb not null default '{}'
  constraint end_users_directory_fields_object check (jsonb_typeof(directory_fields) = 'object');
