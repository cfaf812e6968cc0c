//! A paid booking that was no longer held: settled late, seats again or the refund owed.

use diesel::result::Error as DieselError;

use super::{Settlement, late_refund_reason};
use crate::booking::tickets;
use crate::db::charge_checks::ChargeCheck;
use crate::db::models::{Booking, BookingStatus, Refund, Tier};
use crate::db::tiers::Seats;
use crate::db::{DbConnection, DbError, write_transaction};

/// A paid booking that was no longer held. The caller holds the tier's row lock. Answers the
/// settlement and whether tickets are to be issued for it now.
///
/// - Ended (expired, or voided by a reset) and seats are free: they are taken again and the
///   booking confirmed.
/// - Ended and no seats: `refunded`, with the refund owed recorded here and the customer's
///   notice queued.
/// - Settled before (a repeated confirmation, or a second process reconciling the same charge):
///   its settlement, unchanged.
pub(super) fn settle_late(
    c: &mut DbConnection,
    booking: &Booking,
    transaction_id: &str,
    seats: &mut Seats,
    now: i64,
) -> Result<(Settlement, bool), DbError> {
    let current = Booking::by_id(c, &booking.id)?.ok_or(DieselError::NotFound)?;
    match current.status {
        BookingStatus::Confirmed => {
            if current.transaction_id.as_deref() != Some(transaction_id) {
                log::error!(
                    "bug: {} confirmed with charge {:?}, paid again as {transaction_id}",
                    booking.reference,
                    current.transaction_id
                );
            }
            Ok((Settlement::Confirmed, false))
        }
        BookingStatus::Refunded => Ok((Settlement::Refunded, false)),
        ended @ (BookingStatus::Expired | BookingStatus::Voided | BookingStatus::PaymentFailed) => {
            // Its charge is on record from here: nothing left to ask the gateway.
            ChargeCheck::settled(c, &booking.id)?;
            if let Some(after) = Tier::take_seats(c, &booking.tier_id, booking.quantity)? {
                *seats = after;
                if !Booking::settle(
                    c,
                    &booking.id,
                    (ended, BookingStatus::Confirmed),
                    transaction_id,
                    None,
                    now,
                )? {
                    return Err(DieselError::RollbackTransaction.into()); // read under the lock
                }
                log::info!("{}: paid after its hold ended ({ended:?}); seats taken again", booking.reference);
                return Ok((Settlement::Confirmed, true));
            }
            let reason = late_refund_reason(ended);
            if !Booking::settle(
                c,
                &booking.id,
                (ended, BookingStatus::Refunded),
                transaction_id,
                Some(reason),
                now,
            )? {
                return Err(DieselError::RollbackTransaction.into());
            }
            // The money goes back: owed from this commit on, paid by the refund worker.
            Refund::owed(&booking.id, transaction_id, current.total_cents, now).insert(c)?;
            tickets::queue_refund_notice(c, &current, now)?;
            Ok((Settlement::Refunded, false))
        }
        BookingStatus::Held => {
            // A held booking would have been confirmed by the caller's compare-and-set: a bug
            // elsewhere. Nothing is changed; the caller reports it.
            log::error!("bug: {} is held but was not confirmed as {transaction_id}", booking.reference);
            Err(DieselError::RollbackTransaction.into())
        }
    }
}

/// Settles a charge the reconciliation found at the gateway for a booking that ended without
/// one recorded: the tier's row lock first, then `settle_late`, the tickets if it was
/// confirmed, in one transaction.
pub fn settle_found_charge(
    conn: &mut DbConnection,
    booking: &Booking,
    transaction_id: &str,
    ticket_key: &str,
    now: i64,
) -> Result<(Settlement, Option<Seats>), DbError> {
    write_transaction(conn, |c| {
        let tier = Tier::lock(c, &booking.tier_id)?.ok_or(DieselError::NotFound)?;
        let mut seats = Seats::of(&tier);
        let (settlement, issue) = settle_late(c, booking, transaction_id, &mut seats, now)?;
        if issue {
            tickets::issue_all(c, ticket_key, &[booking], now)?;
        }
        Ok((settlement, Some(seats)))
    })
}
