DROP TABLE charge_checks;
ALTER TABLE ticket_tiers DROP COLUMN version;
