-- The waiting room (SPEC §13). One row: the line every process shares. Places are handed out
-- in blocks (one update of `joined` per batch of arrivals, never one write per visitor);
-- arrivals 1..early came before the opening and are shuffled with `seed`; positions
-- 1..admitted have been let in.
CREATE TABLE queue_line (
    id             INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    line_id        TEXT    NOT NULL,                 -- random: names this line in the cookies
    joined         BIGINT  NOT NULL CHECK (joined >= 0),
    opened_at      BIGINT,                           -- when the opening was sealed (NULL: not yet)
    early          BIGINT  CHECK (early >= 0 AND early <= joined),
    seed           BIGINT,
    admitted       BIGINT  NOT NULL CHECK (admitted >= 0 AND admitted <= joined),
    credit_from_us BIGINT  NOT NULL,                 -- admissions accrue from here (µs) at the rate
    rate_per_min   BIGINT  NOT NULL CHECK (rate_per_min >= 1),
    configured_rate BIGINT NOT NULL,                 -- QUEUE_ADMIT_PER_MIN the rate was last taken from
    paused_at      BIGINT,                           -- NULL: admitting
    updated_at     BIGINT  NOT NULL,
    CHECK ((opened_at IS NULL) = (early IS NULL) AND (opened_at IS NULL) = (seed IS NULL))
);

-- Each step of admission: positions up to `admitted` were let in at `at`.
CREATE TABLE queue_advances (
    admitted BIGINT PRIMARY KEY NOT NULL,
    at       BIGINT NOT NULL
);

CREATE INDEX queue_advances_at_idx ON queue_advances (at);

-- Admissions that ended early, with a confirmed booking (one row per position).
CREATE TABLE queue_done (
    position BIGINT PRIMARY KEY NOT NULL,
    at       BIGINT NOT NULL
);

CREATE INDEX queue_done_at_idx ON queue_done (at);
