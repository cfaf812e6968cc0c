ALTER TABLE bookings RESET (fillfactor);
CREATE INDEX bookings_status_hold_expires_idx ON bookings (status, hold_expires_at);
CREATE INDEX bookings_tier_status_idx ON bookings (tier_id, status);
DROP TRIGGER bookings_hold_deadlines ON bookings;
DROP FUNCTION hold_deadlines_record();
DROP TABLE hold_deadlines;
