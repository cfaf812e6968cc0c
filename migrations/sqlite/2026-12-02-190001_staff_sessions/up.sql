-- Staff sessions say what they are: the table that has held door sessions beside admin ones
-- since the door arrived is named for both, and its role is one of two words, checked by the
-- database. Rebuilt rather than altered, so both backends take the same SQL (SQLite cannot add
-- a CHECK constraint to an existing table); every session survives.
CREATE TABLE staff_sessions (
    id         TEXT   PRIMARY KEY NOT NULL,
    role       TEXT   NOT NULL CHECK (role IN ('admin', 'door')),
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);

INSERT INTO staff_sessions (id, role, csrf, created_at, expires_at, revoked_at)
SELECT id, role, csrf, created_at, expires_at, revoked_at FROM admin_sessions;

DROP TABLE admin_sessions;
