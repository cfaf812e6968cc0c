//! The booking steps that touch the database: reserve, confirm, release, sweep. Each is a
//! plain function on a connection with the time passed in, so tests can drive every branch
//! (expiry included) without sleeping. None of them holds a connection across the gateway.
//!
//! Lock order: a step that changes both a tier and its bookings locks the tier row first (the
//! conditional update or [`Tier::lock`]), then booking rows. Reset and set-available do the
//! same, so no two transactions can wait on each other in a cycle.

use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::{BookingError, BookingRequest, Buyer, Reference};
use crate::db::models::{Booking, BookingStatus, Refund, Tier};
use crate::db::reserve::Reserved;
use crate::db::{DbConnection, DbError, write_transaction};

/// The outcome of the reserve step.
#[derive(Debug)]
pub enum Reservation {
    /// Seats taken and a `held` booking written.
    Held(Booking),
    /// The idempotency key was seen before: this is that attempt's booking.
    Replay(Booking),
}

/// Reserves seats: takes them with the conditional update and writes the `held` booking,
/// atomically. Answers a known idempotency key with that attempt's booking instead.
pub fn reserve(
    conn: &mut DbConnection,
    request: &BookingRequest,
    now: i64,
    hold_ttl: Duration,
) -> Result<Reservation, BookingError> {
    // A reference collision (1 in 2^50 per pair) surfaces as a unique violation: draw again.
    for _ in 0..3 {
        let reserved = crate::db::reserve::reserve(conn, held_booking(request, now, hold_ttl));
        return match reserved {
            Ok(Reserved::Held(booking)) => Ok(Reservation::Held(booking)),
            Ok(Reserved::KeyExists(earlier)) => Ok(Reservation::Replay(earlier)),
            Ok(Reserved::UnknownTier) => Err(BookingError::UnknownTier),
            Ok(Reserved::NotEnough { available }) => {
                // A repeated key can meet a tier that has sold out since: still a replay.
                match earlier_attempt(conn, request)? {
                    Some(earlier) => Ok(Reservation::Replay(earlier)),
                    None => {
                        Err(BookingError::NotEnoughSeats { requested: request.quantity.as_i32(), available })
                    }
                }
            }
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                log::warn!("unique violation while reserving, retrying: {}", info.message());
                continue;
            }
            Err(e) => Err(e.into()),
        };
    }
    Err(BookingError::NoFreeReference)
}

pub fn earlier_attempt(
    conn: &mut DbConnection,
    request: &BookingRequest,
) -> Result<Option<Booking>, BookingError> {
    match &request.idempotency_key {
        Some(key) => Ok(Booking::by_idempotency_key(conn, key.as_str())?),
        None => Ok(None),
    }
}

/// The booking row a reservation writes (the price is filled in from the tier).
pub fn held_booking(request: &BookingRequest, now: i64, hold_ttl: Duration) -> Booking {
    let (name, email, user_id) = match &request.buyer {
        Buyer::Web { name, email } => (name.as_str().to_owned(), email.as_str().to_owned(), None),
        Buyer::Api { user_id } => (user_id.clone(), String::new(), Some(user_id.clone())),
    };
    Booking {
        id: crate::settings::random_token(24),
        reference: Reference::generate().to_string(),
        tier_id: request.tier.as_str().to_owned(),
        quantity: request.quantity.as_i32(),
        unit_price_cents: 0,
        total_cents: 0,
        customer_name: name,
        customer_email: email,
        user_id,
        status: BookingStatus::Held,
        idempotency_key: request.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
        transaction_id: None,
        failure_reason: None,
        hold_expires_at: now + hold_ttl.as_millis() as i64,
        created_at: now,
        updated_at: now,
    }
}

/// What became of a hold whose payment went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Confirmed,
    /// The hold had expired (or was voided) and no seats were left: the charge must be refunded.
    Refunded,
}

/// Confirms a paid hold. If the sweeper or an admin reset got there first, takes the seats
/// again if they are still there, and otherwise marks the booking refunded.
pub fn confirm(
    conn: &mut DbConnection,
    booking: &Booking,
    transaction_id: &str,
    now: i64,
) -> Result<Settlement, DbError> {
    // The usual case: the compare-and-set and the tickets (with their email) in one short
    // transaction; a booking is never confirmed without its tickets.
    let confirmed = write_transaction(conn, |c| -> Result<bool, DbError> {
        let confirmed = Booking::confirm_held(c, &booking.id, transaction_id, now)?;
        if confirmed {
            super::tickets::issue(c, booking, now)?;
        }
        Ok(confirmed)
    })?;
    if confirmed {
        return Ok(Settlement::Confirmed);
    }
    let retaken = write_transaction(conn, |c| -> Result<bool, DbError> {
        // Lock order: the tier (the conditional update) before the booking.
        if !Tier::take_seats(c, &booking.tier_id, booking.quantity)? {
            return Ok(false);
        }
        let current = Booking::by_id(c, &booking.id)?.ok_or(DieselError::NotFound)?;
        if current.status == BookingStatus::Confirmed {
            // Confirmed in the meantime (a concurrent replay cannot do this, but be exact).
            return Err(DieselError::RollbackTransaction.into());
        }
        if !Booking::transition(c, &booking.id, current.status, BookingStatus::Confirmed, now)? {
            return Err(DieselError::RollbackTransaction.into());
        }
        Booking::record_payment(c, &booking.id, Some(transaction_id), None)?;
        super::tickets::issue(c, booking, now)?;
        log::info!(
            "{}: paid after its hold ended ({:?}); seats taken again",
            booking.reference,
            current.status
        );
        Ok(true)
    });
    match retaken {
        Ok(true) => return Ok(Settlement::Confirmed),
        Ok(false) | Err(DbError::Query(DieselError::RollbackTransaction)) => {}
        Err(e) => return Err(e),
    }
    write_transaction(conn, |c| {
        let current = Booking::by_id(c, &booking.id)?.ok_or(DieselError::NotFound)?;
        if current.status == BookingStatus::Confirmed {
            return Ok(Settlement::Confirmed);
        }
        if !Booking::transition(c, &booking.id, current.status, BookingStatus::Refunded, now)? {
            return Err(DbError::Query(DieselError::RollbackTransaction));
        }
        Booking::record_payment(
            c,
            &booking.id,
            Some(transaction_id),
            Some("Seat hold expired before payment completed and the seats were sold; charge refunded"),
        )?;
        // The money goes back: owed from this commit on, paid by the refund worker.
        Refund::owed(&booking.id, transaction_id, booking.total_cents, now).insert(c)?;
        super::tickets::queue_refund_notice(c, booking, now)?;
        Ok(Settlement::Refunded)
    })
}

/// Records a declined payment and gives the held seats back; true if seats went back (false
/// if an expiry or a reset had already returned them).
pub fn release(conn: &mut DbConnection, booking: &Booking, reason: &str, now: i64) -> Result<bool, DbError> {
    write_transaction(conn, |c| {
        // Lock order: the tier first. Holding it, no reset or sweep can change this booking
        // between the read below and the compare-and-set.
        Tier::lock(c, &booking.tier_id)?;
        let current = Booking::by_id(c, &booking.id)?.ok_or(DieselError::NotFound)?;
        // Already expired or voided: the seats went back then. Keep the decline on record.
        if !Booking::transition(c, &booking.id, current.status, BookingStatus::PaymentFailed, now)? {
            return Err(DbError::Query(DieselError::RollbackTransaction));
        }
        let held = current.status == BookingStatus::Held;
        if held {
            Tier::return_seats(c, &booking.tier_id, booking.quantity)?;
        }
        Booking::record_payment(c, &booking.id, None, Some(reason))?;
        Ok(held)
    })
}

/// Expires one hold now (its buyer is gone: nothing was charged) and gives its seats back;
/// false if it was no longer held.
pub fn expire(conn: &mut DbConnection, hold: &Booking, now: i64) -> Result<bool, DbError> {
    write_transaction(conn, |c| {
        // Lock order: the tier first, then the booking.
        Tier::lock(c, &hold.tier_id)?;
        if !Booking::transition(c, &hold.id, BookingStatus::Held, BookingStatus::Expired, now)? {
            return Ok(false);
        }
        Tier::return_seats(c, &hold.tier_id, hold.quantity)?;
        Ok(true)
    })
}

/// Returns the seats of holds older than their expiry (`held → expired`), at most 500 per call,
/// and returns the bookings it expired. Safe to run in several processes at once.
pub fn sweep(conn: &mut DbConnection, now: i64) -> Result<Vec<Booking>, DbError> {
    write_transaction(conn, |c| {
        let holds = Booking::expired_holds(c, now, 500)?;
        // Lock order: the tiers first, in id order (as a reset of all tiers takes them), then
        // each booking's compare-and-set, which fails for a hold settled in the meantime.
        let mut tiers: Vec<&str> = holds.iter().map(|h| h.tier_id.as_str()).collect();
        tiers.sort_unstable();
        tiers.dedup();
        for tier in tiers {
            Tier::lock(c, tier)?;
        }
        let mut expired = Vec::new();
        for hold in holds {
            if Booking::transition(c, &hold.id, BookingStatus::Held, BookingStatus::Expired, now)? {
                Tier::return_seats(c, &hold.tier_id, hold.quantity)?;
                expired.push(hold);
            }
        }
        Ok(expired)
    })
}
