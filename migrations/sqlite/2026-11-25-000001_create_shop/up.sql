-- Tiers hold the seat counts. The CHECK backs up the conditional update: no code path
-- can push `available` below zero or above capacity.
CREATE TABLE ticket_tiers (
    id          TEXT    PRIMARY KEY NOT NULL,
    name        TEXT    NOT NULL,
    price_cents BIGINT  NOT NULL CHECK (price_cents >= 0),
    capacity    INTEGER NOT NULL CHECK (capacity >= 0),
    available   INTEGER NOT NULL,
    withheld    INTEGER NOT NULL DEFAULT 0 CHECK (withheld >= 0),
    sort_order  INTEGER NOT NULL DEFAULT 0,
    CHECK (available >= 0 AND available <= capacity),
    CHECK (available + withheld <= capacity)
);

-- Times are UTC milliseconds since the epoch (BIGINT): the same type on both backends.
CREATE TABLE bookings (
    id               TEXT    PRIMARY KEY NOT NULL,
    reference        TEXT    NOT NULL UNIQUE,
    tier_id          TEXT    NOT NULL REFERENCES ticket_tiers (id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT  NOT NULL CHECK (unit_price_cents >= 0),
    total_cents      BIGINT  NOT NULL CHECK (total_cents >= 0),
    customer_name    TEXT    NOT NULL,
    customer_email   TEXT    NOT NULL,
    user_id          TEXT,             -- set for JSON API bookings (the original `userId`)
    status           TEXT    NOT NULL CHECK (status IN ('held', 'confirmed', 'payment_failed', 'expired', 'refunded', 'voided')),
    idempotency_key  TEXT    UNIQUE,
    transaction_id   TEXT,
    failure_reason   TEXT,
    hold_expires_at  BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

CREATE INDEX bookings_status_hold_expires_idx ON bookings (status, hold_expires_at);
CREATE INDEX bookings_tier_status_idx ON bookings (tier_id, status);
CREATE INDEX bookings_created_at_idx ON bookings (created_at);

-- Every admin action: who, when, what, before -> after.
CREATE TABLE audit_log (
    id      TEXT   PRIMARY KEY NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    tier_id TEXT,
    before  TEXT   NOT NULL,
    after   TEXT   NOT NULL
);

CREATE INDEX audit_log_at_idx ON audit_log (at);
