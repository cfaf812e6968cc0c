-- As on PostgreSQL (see its migration): the sweeper finds overdue holds through their
-- deadlines, and no index of `bookings` names `status`, so a confirmation writes no index
-- entry here either.

-- One index, in the order the sweeper reads and deletes: by deadline, then booking.
CREATE TABLE hold_deadlines (
    expires_at BIGINT NOT NULL,
    booking_id TEXT   NOT NULL,
    PRIMARY KEY (expires_at, booking_id)
) WITHOUT ROWID;

INSERT INTO hold_deadlines (booking_id, expires_at)
SELECT id, hold_expires_at FROM bookings WHERE status = 'held';

-- Written by the database with every held booking, whoever inserts it (as on PostgreSQL).
CREATE TRIGGER bookings_hold_deadlines AFTER INSERT ON bookings WHEN NEW.status = 'held'
BEGIN
    INSERT INTO hold_deadlines (booking_id, expires_at) VALUES (NEW.id, NEW.hold_expires_at);
END;

DROP INDEX bookings_status_hold_expires_idx;
DROP INDEX bookings_tier_status_idx;
