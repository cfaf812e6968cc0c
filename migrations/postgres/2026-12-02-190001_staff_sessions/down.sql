CREATE TABLE admin_sessions (
    id         TEXT   PRIMARY KEY NOT NULL,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    role       TEXT   NOT NULL DEFAULT 'admin'
);

INSERT INTO admin_sessions (id, csrf, created_at, expires_at, revoked_at, role)
SELECT id, csrf, created_at, expires_at, revoked_at, role FROM staff_sessions;

DROP TABLE staff_sessions;
