-- A refund owed is written in the same transaction that takes a paid booking's seats away
-- (reset, a late payment with no seats left). A worker pays it through the gateway, with the
-- booking as the refund's idempotency key: one refund per booking, whatever crashes.
CREATE TABLE refunds (
    booking_id      TEXT    PRIMARY KEY NOT NULL REFERENCES bookings (id),
    charge_id       TEXT    NOT NULL,             -- the charge being refunded
    amount_cents    BIGINT  NOT NULL CHECK (amount_cents >= 0),
    status          TEXT    NOT NULL CHECK (status IN ('owed', 'done')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,             -- also the lease of a worker holding it
    last_error      TEXT,
    refund_id       TEXT,                         -- the gateway's id for the refund, when done
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE INDEX refunds_due_idx ON refunds (status, next_attempt_at);

-- Admin sessions: the signed cookie names a row; signing out revokes it for every process.
CREATE TABLE admin_sessions (
    id         TEXT   PRIMARY KEY NOT NULL,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
