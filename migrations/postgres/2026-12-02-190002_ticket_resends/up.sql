-- "Send my tickets again", counted per booking for every process at once: one conditional
-- update on this row decides whether a resend may be queued (at most once a minute since the
-- last tickets email, at most 5 in a 24-hour window that starts with the first of them).
CREATE TABLE ticket_resends (
    booking_id  TEXT    PRIMARY KEY NOT NULL REFERENCES bookings (id),
    last_at     BIGINT  NOT NULL,                        -- the last resend queued (0: none yet)
    day_started BIGINT  NOT NULL,                        -- the first resend of the current window
    day_count   INTEGER NOT NULL CHECK (day_count >= 0)  -- resends queued in that window
);
