//! The one booking pipeline's database side: a batch of one tier's work (new holds, paid holds
//! to confirm, declined holds to release) in one transaction, and the late settlement of a
//! charge whose hold had already ended. Plain functions on a connection with the time passed
//! in: the tier's desk thread (`desk.rs`) runs them in production, and tests run the very same
//! functions with the clock where they want it.
//!
//! Lock order: the batch takes its tier's row first (the conditional update for the new holds,
//! or [`Tier::lock`]), and only then touches booking rows. Every other transaction that changes
//! seats or bookings (the sweeper, resets, set-available, the reconciliation) takes the rows of
//! the tiers it touches first too, in id order, so none of them can wait on another in a cycle.
//!
//! Every status change is a compare-and-set from the status the booking was read in, along the
//! edges of [`BookingStatus::may_become`], under the tier's row lock.
//!
//! On PostgreSQL a desk first offers each batch to [`serve_quick`], which serves the common
//! batch in one statement, and serves with [`serve`] what that leaves.

use diesel::result::Error as DieselError;

use super::tickets;

mod late;
mod quick;
mod sweep;

use crate::db::charge_checks::ChargeCheck;
use crate::db::models::{Booking, BookingStatus, Tier};
use crate::db::tiers::Seats;
use crate::db::{DbConnection, DbError, write_transaction};
pub use late::settle_found_charge;
use late::settle_late;
pub use quick::{Quick, serve_quick};
pub use sweep::sweep;

/// Work for one tier's batch.
#[derive(Debug, Clone)]
pub enum Work {
    /// Take seats for a new `held` booking (its price is filled in from the tier).
    Reserve(Booking),
    /// The hold was paid: confirm it (or, if it ended meanwhile, settle it late).
    Confirm { booking: Booking, transaction_id: String },
    /// The payment was declined: give the seats back. `checked` when the gateway's answer is
    /// final (not a call that timed out, which the reconciliation asks about later).
    Release { booking: Booking, reason: String, checked: bool },
}

impl Work {
    pub fn booking(&self) -> &Booking {
        match self {
            Self::Reserve(booking) | Self::Confirm { booking, .. } | Self::Release { booking, .. } => booking,
        }
    }
}

/// What the reservation found.
#[derive(Debug, Clone)]
pub enum Reserved {
    /// Seats taken and the booking written (with the tier's price filled in).
    Held(Booking),
    /// The idempotency key is already on a booking: this one. Nothing was changed.
    KeyExists(Booking),
    /// Fewer seats than asked are left. Nothing was changed.
    NotEnough {
        available: i32,
    },
    UnknownTier,
}

/// What became of a hold whose payment went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Confirmed,
    /// The hold had ended (expired, or voided by a reset) and no seats were left: the refund
    /// owed was recorded with the booking and the refund worker pays it.
    Refunded,
}

/// The answer to one piece of [`Work`], in the batch's order.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // each answer is moved once, through a channel
pub enum Done {
    Reserved(Reserved),
    Settled(Settlement),
    /// Whether seats went back (false if an expiry or a reset had returned them already).
    Released(bool),
}

/// A served batch: an answer per piece of work, and the tier's seats after it (for the
/// process's availability snapshot; `None` for a tier that does not exist).
#[derive(Debug)]
pub struct Served {
    pub answers: Vec<Done>,
    pub seats: Option<Seats>,
    /// Refunds were recorded: wake the refund worker.
    pub refunds_owed: bool,
}

/// Why a refund is owed, in words for the customer, by the status the hold had ended in.
pub fn late_refund_reason(ended: BookingStatus) -> &'static str {
    match ended {
        BookingStatus::Voided => {
            "The box office reset this tier while the payment was in progress; charge refunded"
        }
        BookingStatus::PaymentFailed => {
            "The payment gateway answered too late; the seats had been released and sold; charge refunded"
        }
        _ => "Seat hold expired before payment completed and the seats were sold; charge refunded",
    }
}

/// Serves one tier's batch in one transaction. `ticket_key` signs the tickets it issues.
///
/// 1. Keys already on a booking are replays and take nothing.
/// 2. The tier row: one conditional update for the sum of the new holds; when they do not all
///    fit, the row is locked and the holds are served in arrival order while they fit.
/// 3. The new holds are written in one insert.
/// 4. Paid holds are confirmed with one compare-and-set; one that ended meanwhile is settled
///    late (seats again, or the refund owed).
/// 5. Declined holds give their seats back.
/// 6. Every booking confirmed gets its tickets and its email, in this transaction.
///
/// A unique violation (a key or reference another process committed meanwhile) fails the
/// whole batch; the caller runs it again, when step 1 sees the key.
pub fn serve(
    conn: &mut DbConnection,
    tier_id: &str,
    work: &[Work],
    ticket_key: &str,
    now: i64,
) -> Result<Served, DbError> {
    write_transaction(conn, |c| {
        let mut answers: Vec<Option<Done>> = vec![None; work.len()];

        // 1. Replays.
        let keys: Vec<&str> = work
            .iter()
            .filter_map(|w| match w {
                Work::Reserve(hold) => hold.idempotency_key.as_deref(),
                _ => None,
            })
            .collect();
        let known = Booking::by_idempotency_keys(c, &keys)?;
        for (w, answer) in work.iter().zip(answers.iter_mut()) {
            if let Work::Reserve(hold) = w
                && let Some(key) = hold.idempotency_key.as_deref()
                && let Some(earlier) = known.iter().find(|b| b.idempotency_key.as_deref() == Some(key))
            {
                *answer = Some(Done::Reserved(Reserved::KeyExists(earlier.clone())));
            }
        }
        let fresh = |answers: &[Option<Done>]| -> Vec<usize> {
            (0..work.len()).filter(|&i| answers[i].is_none() && matches!(work[i], Work::Reserve(_))).collect()
        };

        // 2. The tier row, before any booking row.
        let wanted: i32 = fresh(&answers).iter().map(|&i| work[i].booking().quantity).sum();
        let mut seats = if wanted > 0 { Tier::take_seats(c, tier_id, wanted)? } else { None };
        if seats.is_none() {
            let Some(tier) = Tier::lock(c, tier_id)? else {
                // No such tier: nothing of it can be held, paid or released.
                let answers = work
                    .iter()
                    .map(|w| match w {
                        Work::Reserve(_) => Done::Reserved(Reserved::UnknownTier),
                        Work::Confirm { .. } | Work::Release { .. } => Done::Released(false),
                    })
                    .zip(answers)
                    .map(|(unknown, known)| known.unwrap_or(unknown))
                    .collect();
                return Ok(Served { answers, seats: None, refunds_owed: false });
            };
            let mut state = Seats::of(&tier);
            if wanted > 0 {
                // Not all fit: first come, first served, while seats last.
                let mut left = tier.available;
                let mut taken = 0;
                for i in fresh(&answers) {
                    let quantity = work[i].booking().quantity;
                    if quantity <= left {
                        left -= quantity;
                        taken += quantity;
                    } else {
                        answers[i] = Some(Done::Reserved(Reserved::NotEnough { available: left }));
                    }
                }
                if taken > 0 {
                    // Under the row lock this cannot fail; if it did, nothing is committed.
                    state = Tier::take_seats(c, tier_id, taken)?.ok_or(DieselError::RollbackTransaction)?;
                }
            }
            seats = Some(state);
        }
        let Some(mut seats) = seats else { unreachable!("set above") };

        // 3. The new holds, in one insert.
        let mut rows = Vec::new();
        for i in fresh(&answers) {
            let mut hold = work[i].booking().clone();
            hold.unit_price_cents = seats.price_cents;
            hold.total_cents = seats.price_cents * i64::from(hold.quantity);
            rows.push(hold.clone());
            answers[i] = Some(Done::Reserved(Reserved::Held(hold)));
        }
        Booking::insert_all(c, rows)?;

        // 4. Paid holds: one compare-and-set for all; the late path for the rest. A booking
        // queued twice (a retry while the first attempt still waited) is settled once.
        let mut paid: Vec<(String, String)> = Vec::new();
        for w in work {
            if let Work::Confirm { booking, transaction_id } = w
                && !paid.iter().any(|(id, _)| *id == booking.id)
            {
                paid.push((booking.id.clone(), transaction_id.clone()));
            }
        }
        let confirmed_now = Booking::confirm_held_many(c, &paid, now)?;
        let mut settled: Vec<(String, Settlement)> = Vec::new();
        let mut to_issue: Vec<&Booking> = Vec::new();
        let mut refunds_owed = false;
        for (i, w) in work.iter().enumerate() {
            let Work::Confirm { booking, transaction_id } = w else { continue };
            let settlement = match settled.iter().find(|(id, _)| *id == booking.id) {
                Some((_, done)) => *done,
                None => {
                    let done = if confirmed_now.contains(&booking.id) {
                        to_issue.push(booking);
                        Settlement::Confirmed
                    } else {
                        let (done, issue) = settle_late(c, booking, transaction_id, &mut seats, now)?;
                        if issue {
                            to_issue.push(booking);
                        }
                        refunds_owed |= done == Settlement::Refunded;
                        done
                    };
                    settled.push((booking.id.clone(), done));
                    done
                }
            };
            answers[i] = Some(Done::Settled(settlement));
        }

        // 5. Declined holds.
        for (i, w) in work.iter().enumerate() {
            let Work::Release { booking, reason, checked } = w else { continue };
            let released = Booking::fail_held(c, &booking.id, reason, now)?;
            if released {
                seats = Tier::return_seats(c, tier_id, booking.quantity)?;
                if !*checked {
                    // Our call timed out: the gateway may still have charged. Ask it later.
                    ChargeCheck::owed(c, &[(booking.id.clone(), booking.created_at)])?;
                }
            } else if *checked {
                // Expired or voided meanwhile (its seats went back then): the decline is the
                // gateway's final word, so there is nothing to ask it about.
                ChargeCheck::settled(c, &booking.id)?;
            }
            answers[i] = Some(Done::Released(released));
        }

        // 6. Tickets and their email for every booking confirmed here.
        tickets::issue_all(c, ticket_key, &to_issue, now)?;
        let answers = answers.into_iter().map(|a| a.unwrap_or(Done::Released(false))).collect();
        Ok(Served { answers, seats: Some(seats), refunds_owed })
    })
}
