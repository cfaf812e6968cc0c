-- One booking pipeline (issue 17).
--
-- Every statement that changes a tier's seats bumps `version`, under the tier's row lock, so
-- the versions of one tier are totally ordered: a process's availability snapshot keeps, per
-- tier, the counts of the highest version it has seen, whichever of its own changes or of a
-- refresh reports last.
ALTER TABLE ticket_tiers ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Bookings that ended without a charge on record while a charge may have gone through (a hold
-- that expired or was voided with its payment under way or its process dead, a payment call
-- that timed out at our end): the reconciliation asks the gateway about each once no charge
-- of it can be under way any more (`booked_at` + PAYMENT_TIMEOUT_MS + 5 s), and settles a
-- charge it finds (seats again, or exactly one refund). Written in the transaction that ends
-- the booking; deleted when the gateway has answered.
CREATE TABLE charge_checks (
    booking_id TEXT   PRIMARY KEY NOT NULL REFERENCES bookings (id),
    booked_at  BIGINT NOT NULL
);

CREATE INDEX charge_checks_booked_at_idx ON charge_checks (booked_at);
