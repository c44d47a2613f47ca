-- A token that verifies an email address remembers which address it was sent to, so a link
-- mailed to an old support address cannot verify a newer one.
alter table auth_tokens
  add column email text constraint auth_tokens_email_length check (char_length(email) <= 254);
