ALTER TABLE admin_sessions DROP COLUMN role;
DROP TABLE email_outbox;
DROP TABLE tickets;
DROP TABLE app_secrets;
