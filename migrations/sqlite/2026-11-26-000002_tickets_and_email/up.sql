-- Secrets shared by every process (ticket signing key, session key) when the environment does
-- not set them: generated once by whichever process starts first.
CREATE TABLE app_secrets (
    name       TEXT   PRIMARY KEY NOT NULL,
    value      TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- One ticket per seat of a confirmed booking, written in the confirming transaction. The code
-- is random (80 bits) plus its HMAC; the door admits it once (`checked_in_at IS NULL`).
CREATE TABLE tickets (
    code          TEXT    PRIMARY KEY NOT NULL,
    booking_id    TEXT    NOT NULL REFERENCES bookings (id),
    seat          INTEGER NOT NULL CHECK (seat >= 1),
    checked_in_at BIGINT,
    created_at    BIGINT  NOT NULL
);

CREATE UNIQUE INDEX tickets_booking_seat_idx ON tickets (booking_id, seat);

-- Emails to send, written with the booking change they tell of; a worker in every process
-- sends them (a lease in `next_attempt_at`), retrying with backoff until `failed`.
CREATE TABLE email_outbox (
    id              TEXT    PRIMARY KEY NOT NULL,   -- also the stable Message-ID's local part
    booking_id      TEXT    NOT NULL REFERENCES bookings (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('tickets', 'refund')),
    recipient       TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE INDEX email_outbox_due_idx ON email_outbox (status, next_attempt_at);
CREATE INDEX email_outbox_booking_idx ON email_outbox (booking_id);

-- Sessions have a role: 'admin' (the box office) or 'door' (check-in only).
ALTER TABLE admin_sessions ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
