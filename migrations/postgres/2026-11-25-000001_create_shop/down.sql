DROP TABLE audit_log;
DROP TABLE bookings;
DROP TABLE ticket_tiers;
