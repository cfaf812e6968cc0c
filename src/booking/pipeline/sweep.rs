//! The sweep: holds past their time give their seats back.

use crate::db::charge_checks::ChargeCheck;
use crate::db::hold_deadlines::HoldDeadline;
use crate::db::models::{Booking, BookingStatus, Tier};
use crate::db::tiers::Seats;
use crate::db::{DbConnection, DbError, write_transaction};

/// Holds whose time ran out give their seats back (`held → expired`), at most 500 per call;
/// returns the bookings it expired and each touched tier's seats after. The deadlines due are
/// deleted: those of holds settled meanwhile all at once, those of the holds read here after
/// the tiers are locked. Safe to run in several processes at once.
pub fn sweep(conn: &mut DbConnection, now: i64) -> Result<(Vec<Booking>, Vec<Seats>), DbError> {
    write_transaction(conn, |c| {
        HoldDeadline::clear_settled(c, now)?;
        let holds = HoldDeadline::overdue_holds(c, now, 500)?;
        // Lock order: the tiers first, in id order, then each booking's compare-and-set, which
        // fails for a hold settled in the meantime.
        let mut tiers: Vec<&str> = holds.iter().map(|h| h.tier_id.as_str()).collect();
        tiers.sort_unstable();
        tiers.dedup();
        let mut seats: Vec<Seats> = Vec::new();
        for tier in tiers {
            if let Some(row) = Tier::lock(c, tier)? {
                seats.push(Seats::of(&row));
            }
        }
        // Expired below, or settled since they were read (their compare-and-set fails): either
        // way nothing is left to expire. In this transaction, so undone with it.
        HoldDeadline::clear(c, &holds)?;
        let mut expired = Vec::new();
        for hold in holds {
            if Booking::transition(c, &hold.id, BookingStatus::Held, BookingStatus::Expired, now)? {
                let after = Tier::return_seats(c, &hold.tier_id, hold.quantity)?;
                if let Some(slot) = seats.iter_mut().find(|s| s.tier_id == after.tier_id) {
                    *slot = after;
                }
                expired.push(hold);
            }
        }
        // Each may have been paid while its process died or after its buyer's call gave up:
        // the reconciliation asks the gateway.
        let ended: Vec<(String, i64)> = expired.iter().map(|h| (h.id.clone(), h.created_at)).collect();
        ChargeCheck::owed(c, &ended)?;
        Ok((expired, seats))
    })
}
