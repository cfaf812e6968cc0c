//! Checkout: one booking through the pipeline. Reserve at the tier's desk, pay with no
//! connection held, then confirm or release at the desk; a repeated key gets its first answer.

use std::time::{Duration, Instant};

use super::desk::PipelineError;
use super::pipeline::{Done, Reserved, Settlement, Work};
use super::{BookingError, BookingRequest, Shop, steps};
use crate::clock::now_millis;
use crate::db::models::{Booking, BookingStatus};
use crate::metrics::BookingOutcome;
use crate::payment::Declined;

impl Shop {
    /// Books: reserve, pay with no connection held, then confirm or release. Counts one
    /// outcome per attempt.
    pub async fn book(&self, request: BookingRequest) -> Result<Booking, BookingError> {
        let (result, replayed) = self.book_inner(request).await;
        let outcome = match &result {
            _ if replayed => BookingOutcome::Replayed,
            Ok(_) => BookingOutcome::Confirmed,
            Err(BookingError::NotEnoughSeats { .. }) => BookingOutcome::SoldOut,
            Err(BookingError::PaymentDeclined { .. }) => BookingOutcome::PaymentFailed,
            Err(BookingError::Refunded { .. }) => BookingOutcome::Refunded,
            Err(BookingError::UnknownTier | BookingError::KeyReused) => BookingOutcome::Invalid,
            Err(BookingError::Unsettled { .. }) => BookingOutcome::Replayed,
            Err(
                BookingError::Storage(_) | BookingError::Pipeline(_) | BookingError::PaymentUnrecorded { .. },
            ) => BookingOutcome::Error,
        };
        self.metrics.record_booking(outcome);
        result
    }

    /// The attempt's result, and whether it was a replay of an earlier one.
    async fn book_inner(&self, request: BookingRequest) -> (Result<Booking, BookingError>, bool) {
        // The snapshot (at most AVAILABILITY_MAX_AGE_MS old) answers a tier the database does
        // not have, and one too small, without a write on the hot row. A stale snapshot that
        // knows the tier is not waited for: the desk's conditional update decides. One that does
        // not know it (or none yet) is refreshed first, so a made-up name never reaches a desk.
        let tier_id = request.tier.as_str();
        let snapshot = match self.availability.fresh() {
            Some(snapshot) => Some(snapshot),
            None if self.availability.knows(tier_id) == Some(true) => None,
            None => match self.availability().await {
                Ok(snapshot) => Some(snapshot),
                Err(e) => return (Err(e.into()), false),
            },
        };
        if let Some(snapshot) = snapshot {
            let Some(tier) = snapshot.tier(tier_id) else {
                return (Err(BookingError::UnknownTier), false);
            };
            if tier.available < request.quantity.as_i32() {
                return self.refuse_from_memory(&request, tier.available).await;
            }
        }
        let hold = steps::held_booking(&request, now_millis(), self.hold_ttl());
        let held = match self.desks.submit(Work::Reserve(hold)).await {
            Ok(Done::Reserved(Reserved::Held(booking))) => booking,
            Ok(Done::Reserved(Reserved::KeyExists(earlier))) => {
                let result = self.replay(&request, earlier).await;
                // A key reused for another booking is not a replay: it is refused.
                let replayed = !matches!(result, Err(BookingError::KeyReused));
                return (result, replayed);
            }
            Ok(Done::Reserved(Reserved::UnknownTier)) => return (Err(BookingError::UnknownTier), false),
            Ok(Done::Reserved(Reserved::NotEnough { available })) => {
                let requested = request.quantity.as_i32();
                return (Err(BookingError::NotEnoughSeats { requested, available }), false);
            }
            Ok(other) => return (Err(unexpected(other)), false),
            Err(e) => return (Err(e.into()), false),
        };
        log::info!("{}: {} seat(s) of {} held", held.reference, held.quantity, held.tier_id);
        (self.pay(held).await, false)
    }

    async fn pay(&self, held: Booking) -> Result<Booking, BookingError> {
        let started = Instant::now();
        // The booking's id is the charge's idempotency key. A call that outlives the timeout is
        // abandoned; whether it charged at the gateway is asked later by the reconciliation.
        let charge =
            tokio::time::timeout(self.payment_timeout, self.gateway.charge(held.total_cents, &held.id))
                .await
                .map_err(|_| None)
                .and_then(|answer| answer.map_err(Some));
        self.metrics.observe_payment(started.elapsed());
        match charge {
            Ok(charge) => match self.settle_paid(&held, &charge.transaction_id).await? {
                Settlement::Confirmed => {
                    log::info!("{}: confirmed ({})", held.reference, charge.transaction_id);
                    Ok(Booking {
                        status: BookingStatus::Confirmed,
                        transaction_id: Some(charge.transaction_id),
                        ..held
                    })
                }
                Settlement::Refunded => {
                    // The refund owed was recorded with the booking; the worker pays it.
                    log::warn!("{}: paid after the seats were gone; refund recorded", held.reference);
                    Err(BookingError::Refunded { reference: held.reference })
                }
            },
            Err(declined) => {
                // A timeout is not the gateway's final word: the reconciliation asks it later.
                let checked = declined.is_some();
                let reason =
                    declined.map_or_else(|| crate::payment::NO_ANSWER.to_owned(), |d: Declined| d.reason);
                log::info!("{}: payment declined ({reason})", held.reference);
                let work = Work::Release { booking: held.clone(), reason: reason.clone(), checked };
                self.desks.submit(work).await?;
                Err(BookingError::PaymentDeclined { reason, reference: held.reference })
            }
        }
    }

    /// Confirms after a successful charge. The customer has paid, so a database hiccup here
    /// is retried for a while. If it never comes back, nothing is refunded from here: the
    /// booking is still on record (held, or ended), so the reconciliation finds the charge
    /// once the database answers and settles it exactly once, with seats or a refund.
    async fn settle_paid(&self, held: &Booking, transaction_id: &str) -> Result<Settlement, BookingError> {
        let deadline = Instant::now() + self.settle_patience;
        let mut backoff = Duration::from_millis(50);
        loop {
            let work = Work::Confirm { booking: held.clone(), transaction_id: transaction_id.to_owned() };
            match self.desks.submit(work).await {
                Ok(Done::Settled(settlement)) => return Ok(settlement),
                Ok(other) => return Err(unexpected(other)),
                Err(e) if e.is_transient() && Instant::now() < deadline => {
                    log::warn!(
                        "{}: confirming failed, retrying: {}",
                        held.reference,
                        crate::db::error::chain(&e)
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => {
                    log::error!(
                        "{}: paid as {transaction_id} but not yet recorded; the reconciliation will settle it: {}",
                        held.reference,
                        crate::db::error::chain(&e)
                    );
                    return Err(BookingError::PaymentUnrecorded { reference: held.reference.clone() });
                }
            }
        }
    }
}

/// An answer of the wrong kind from a desk: a bug.
fn unexpected(done: Done) -> BookingError {
    log::error!("bug: the desk answered {done:?}");
    BookingError::Pipeline(PipelineError::Stopped { tier: "?".into() })
}
