//! [`Shop`]: the one door the HTTP layer uses. It strings the steps together around the
//! payment gateway (holding no connection while the gateway thinks), answers replays, runs
//! the sweeper, and offers the box-office operations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::availability::{Availability, Snapshot};
use super::batcher::Batcher;
use super::confirmer::Confirmer;
use super::steps::{self, Reservation, Settlement};
use super::{BookingError, BookingRequest, Reference};
use crate::clock::now_millis;
use crate::db::models::{Booking, BookingStatus, Refund, Tier};
use crate::db::reserve::Reserved;
use crate::db::{DbConnection, DbError, DbPool};
use crate::metrics::{BookingOutcome, Metrics};
use crate::payment::PaymentGateway;
use crate::request_id;

/// The shop: the pool, the gateway, and the settings the flow needs.
#[derive(Clone)]
pub struct Shop {
    pool: DbPool,
    pub(super) gateway: Arc<dyn PaymentGateway>,
    hold_ttl: Duration,
    pub(super) metrics: Arc<Metrics>,
    /// Wakes the refund worker when a refund is recorded.
    pub(super) refunds_due: Arc<tokio::sync::Notify>,
    /// The first retry of a failed refund; later ones double.
    pub(super) refund_retry_base: Duration,
    /// The tiers as this process last saw them (see `availability.rs`).
    availability: Arc<Availability>,
    /// Per-tier reservation batches (see `batcher.rs`).
    batcher: Arc<Batcher>,
    /// Confirmation batches (see `confirmer.rs`).
    confirmer: Arc<Confirmer>,
    /// The email sender's settings (`None`: no sender runs in this process).
    pub(super) mail: Option<Arc<crate::mail::Mail>>,
    /// Wakes the email sender when an email is queued.
    pub(super) emails_due: Arc<tokio::sync::Notify>,
}

/// The connection pool's state, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

impl Shop {
    pub fn new(
        pool: DbPool,
        gateway: Arc<dyn PaymentGateway>,
        hold_ttl: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            batcher: Arc::new(Batcher::new(pool.clone())),
            confirmer: Arc::new(Confirmer::new(pool.clone())),
            pool,
            gateway,
            hold_ttl,
            metrics,
            refunds_due: Arc::default(),
            refund_retry_base: Duration::from_secs(1),
            availability: Arc::new(Availability::new(Duration::from_millis(500))),
            mail: None,
            emails_due: Arc::default(),
        }
    }

    pub(super) fn hold_ttl(&self) -> Duration {
        self.hold_ttl
    }

    pub(super) fn snapshot(&self) -> &Availability {
        &self.availability
    }

    /// Sends email with these settings (see `booking::email`).
    pub fn with_mail(mut self, mail: crate::mail::Mail) -> Self {
        self.mail = Some(Arc::new(mail));
        self
    }

    /// Sets how old the availability snapshot may be (`AVAILABILITY_MAX_AGE_MS`).
    pub fn with_availability_max_age(mut self, max_age: Duration) -> Self {
        self.availability = Arc::new(Availability::new(max_age));
        self
    }

    /// Sets the first retry delay of a failed refund (`REFUND_RETRY_BASE_MS`).
    pub fn with_refund_retry_base(mut self, base: Duration) -> Self {
        self.refund_retry_base = base;
        self
    }

    /// Runs `f` on a pooled connection on the blocking thread pool: Diesel is synchronous
    /// and must not stall the async executor. The request id travels along for the logs. A
    /// panic inside `f` is a bug and comes back as [`DbError::TaskPanicked`] (a 500), never
    /// as an outage.
    pub(super) async fn with_conn<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let id = request_id::current();
        tokio::task::spawn_blocking(move || {
            request_id::in_blocking(id, || {
                let mut conn = pool.get().map_err(DbError::from)?;
                f(&mut conn)
            })
        })
        .await
        .unwrap_or_else(|join| {
            log::error!("bug: a database task panicked: {join}");
            Err(DbError::TaskPanicked(join).into())
        })
    }

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
            Err(BookingError::Storage(_) | BookingError::NoFreeReference) => BookingOutcome::Error,
        };
        self.metrics.record_booking(outcome);
        result
    }

    /// The attempt's result, and whether it was a replay of an earlier one.
    async fn book_inner(&self, request: BookingRequest) -> (Result<Booking, BookingError>, bool) {
        // Sold out as far as this process can tell (within AVAILABILITY_MAX_AGE_MS): answered
        // from memory, without a database write on the hot row.
        if let Some(refused) = self.refuse_from_memory(&request).await {
            return refused;
        }
        let hold = steps::held_booking(&request, now_millis(), self.hold_ttl);
        let reservation = match self.batcher.reserve(hold).await {
            Ok(Reserved::Held(booking)) => Ok(Reservation::Held(booking)),
            Ok(Reserved::KeyExists(earlier)) => Ok(Reservation::Replay(earlier)),
            Ok(Reserved::UnknownTier) => Err(BookingError::UnknownTier),
            Ok(Reserved::NotEnough { available }) => {
                Err(BookingError::NotEnoughSeats { requested: request.quantity.as_i32(), available })
            }
            Err(e) => Err(BookingError::from(e)),
        };
        let held = match reservation {
            Ok(Reservation::Held(booking)) => booking,
            Ok(Reservation::Replay(earlier)) => {
                let result = self.replay(&request, earlier).await;
                // A key reused for another booking is not a replay: it is refused.
                let replayed = !matches!(result, Err(BookingError::KeyReused));
                return (result, replayed);
            }
            Err(e) => return (Err(e), false),
        };
        self.availability.apply(&held.tier_id, -held.quantity);
        log::info!("{}: {} seat(s) of {} held", held.reference, held.quantity, held.tier_id);
        (self.pay(held).await, false)
    }

    async fn pay(&self, held: Booking) -> Result<Booking, BookingError> {
        let started = Instant::now();
        let charge = self.gateway.charge(held.total_cents, &held.reference).await;
        self.metrics.observe_payment(started.elapsed());
        match charge {
            Ok(charge) => match self.settle_paid(&held, &charge.transaction_id).await? {
                Settlement::Confirmed => {
                    log::info!("{}: confirmed ({})", held.reference, charge.transaction_id);
                    // Its tickets' email was queued with the confirmation: send it soon.
                    self.emails_due.notify_one();
                    Ok(Booking {
                        status: BookingStatus::Confirmed,
                        transaction_id: Some(charge.transaction_id),
                        ..held
                    })
                }
                Settlement::Refunded => {
                    // The refund owed was recorded with the booking; the worker pays it.
                    log::warn!("{}: paid after the seats were gone; refund recorded", held.reference);
                    self.refunds_due.notify_one();
                    Err(BookingError::Refunded { reference: held.reference })
                }
            },
            Err(declined) => {
                log::info!("{}: payment declined ({})", held.reference, declined.reason);
                let (booking, reason) = (held.clone(), declined.reason.clone());
                let released =
                    self.with_conn(move |c| steps::release(c, &booking, &reason, now_millis())).await?;
                if released {
                    self.availability.apply(&held.tier_id, held.quantity);
                }
                Err(BookingError::PaymentDeclined { reason: declined.reason, reference: held.reference })
            }
        }
    }

    /// Confirms after a successful charge. The customer has paid, so a database hiccup here
    /// is retried for a while; if it never comes back the charge is refunded, so nobody pays
    /// for seats they do not get (the hold then expires and its seats return).
    async fn settle_paid(&self, held: &Booking, transaction_id: &str) -> Result<Settlement, BookingError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut backoff = Duration::from_millis(50);
        loop {
            let (booking, txn) = (held.clone(), transaction_id.to_owned());
            match self.confirmer.confirm(booking, txn).await {
                Ok(settlement) => return Ok(settlement),
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
                    // The database cannot record the refund either: pay it back now.
                    log::error!(
                        "{}: could not record payment {transaction_id}; refunding it: {}",
                        held.reference,
                        crate::db::error::chain(&e)
                    );
                    self.refund_unrecorded(held, transaction_id).await;
                    return Err(e.into());
                }
            }
        }
    }

    /// The availability snapshot, at most `AVAILABILITY_MAX_AGE_MS` old.
    pub async fn availability(&self) -> Result<Arc<Snapshot>, DbError> {
        self.availability.get(|| self.with_conn(|c| Tier::all(c).map_err(DbError::from))).await
    }

    /// The tiers, from the availability snapshot.
    pub async fn tiers(&self) -> Result<Vec<Tier>, DbError> {
        Ok(self.availability().await?.tiers.clone())
    }

    /// A booking by its reference, with its refund if one is owed or paid.
    pub async fn booking(&self, reference: Reference) -> Result<Option<(Booking, Option<Refund>)>, DbError> {
        self.with_conn(move |c| {
            let Some(booking) = Booking::by_reference(c, reference.as_str())? else { return Ok(None) };
            let refund = Refund::for_booking(c, &booking.id)?;
            Ok(Some((booking, refund)))
        })
        .await
    }

    /// Asks the database to answer (readiness).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.with_conn(|c| Tier::available(c, "").map(|_| ()).map_err(DbError::from)).await
    }

    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState { connections: state.connections, idle: state.idle_connections, max: self.pool.max_size() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;
    use crate::payment::SimulatedGateway;
    use crate::settings::{DelayRange, Settings};

    #[actix_rt::test]
    async fn a_panic_in_a_database_task_is_a_bug_not_an_outage() {
        let path =
            std::env::temp_dir().join(format!("tk-panic-{}.sqlite3", crate::settings::random_token(8)));
        let url = format!("sqlite://{}", path.display());
        let settings =
            Settings::from_lookup(|k| (k == "DATABASE_URL").then(|| url.clone())).expect("settings");
        let pool = crate::db::build_pool(&settings).expect("pool");
        let gateway = Arc::new(SimulatedGateway::new(1.0, DelayRange { min_ms: 0, max_ms: 0 }));
        let shop = Shop::new(pool, gateway, Duration::from_secs(1), Arc::default());
        let result: Result<(), DbError> = shop.with_conn(|_| panic!("a bug")).await;
        let error = result.expect_err("the panic is reported");
        assert!(matches!(error, DbError::TaskPanicked(_)), "{error:?}");
        assert!(!error.is_transient());
        let answer = AppError::from(error);
        assert!(matches!(answer, AppError::Internal(_)), "a 500, not a 503: {answer:?}");
        let _ = std::fs::remove_file(&path);
    }
}
