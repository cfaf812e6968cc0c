-- Confirming a hold changes no column that an index of `bookings` names, so PostgreSQL can
-- update the row in place on its page (a heap-only tuple): no new entry in any of the table's
-- indexes. The two indexes that named `status` go (an index blocks that whether it names the
-- column or its predicate does); the sweeper finds overdue holds through their deadlines.

-- A hold's deadline, written with the hold and deleted by the sweeper once due (whether the
-- hold was then still held or not). No foreign key: checking one would lock the new booking
-- row in the statement that inserts it, and a deadline without a held booking is skipped.
-- One index, in the order the sweeper reads and deletes: by deadline, then booking.
CREATE TABLE hold_deadlines (
    expires_at BIGINT NOT NULL,
    booking_id TEXT   NOT NULL,
    PRIMARY KEY (expires_at, booking_id)
);

INSERT INTO hold_deadlines (booking_id, expires_at)
SELECT id, hold_expires_at FROM bookings WHERE status = 'held';

-- Written by the database for every statement that inserts held bookings, whoever runs it:
-- the version still running beside this one during a rolling restart (which knows nothing of
-- deadlines) included. Once per statement, from the rows it inserted.
CREATE FUNCTION hold_deadlines_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hold_deadlines (booking_id, expires_at)
    SELECT id, hold_expires_at FROM inserted_bookings WHERE status = 'held';
    RETURN NULL;
END
$$;

CREATE TRIGGER bookings_hold_deadlines AFTER INSERT ON bookings
    REFERENCING NEW TABLE AS inserted_bookings
    FOR EACH STATEMENT EXECUTE FUNCTION hold_deadlines_record();

DROP INDEX bookings_status_hold_expires_idx;
DROP INDEX bookings_tier_status_idx;

-- Room on every page for a confirmed row's new version beside the old one.
ALTER TABLE bookings SET (fillfactor = 50);
