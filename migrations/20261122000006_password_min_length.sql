-- Each tenant chooses how long new passwords of its agents and end users must be (default 10).
alter table tenant_settings
  add column password_min_length integer not null default 10
    constraint tenant_settings_password_min_length_range check (password_min_length between 8 and 128);
