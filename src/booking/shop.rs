//! [`Shop`]: the one door the HTTP layer uses. It strings the pipeline together around the
//! payment gateway (holding no connection while the gateway thinks), answers replays, runs
//! the sweeper and the reconciliation, and offers the box-office operations.
//!
//! One booking (`checkout.rs`): the availability snapshot refuses what cannot fit (and a tier
//! the database does not have) at memory speed; the tier's desk reserves the hold in its next
//! batch; the gateway charges with no connection held; the desk confirms (or releases) it in a
//! later batch. Every database change of a booking goes through `pipeline/`.

use std::sync::Arc;
use std::time::Duration;

use super::Reference;
use super::availability::{Availability, Snapshot};
use super::desk::{Desks, Listeners};
use crate::db::models::{Booking, Refund, Tier};
use crate::db::{DbConnection, DbError, DbPool};
use crate::metrics::Metrics;
use crate::payment::PaymentGateway;
use crate::request_id;

/// How long a paid booking's confirmation is retried before the buyer is told it is being
/// recorded (the reconciliation settles it once the database answers again).
const SETTLE_PATIENCE: Duration = Duration::from_secs(10);

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
    pub(super) availability: Arc<Availability>,
    /// The per-tier batch threads (see `desk.rs`).
    pub(super) desks: Arc<Desks>,
    /// The email sender's settings (`None`: no sender runs in this process).
    pub(super) mail: Option<Arc<crate::mail::Mail>>,
    /// Wakes the email sender when an email is queued.
    pub(super) emails_due: Arc<tokio::sync::Notify>,
    /// How long a charge may take before the shop stops waiting (`PAYMENT_TIMEOUT_MS`).
    pub(super) payment_timeout: Duration,
    /// How long a paid booking's confirmation is retried.
    pub(super) settle_patience: Duration,
    /// Repeated idempotency keys, looked up in batches (see `lookups.rs`).
    pub(super) lookups: Arc<super::lookups::KeyLookups>,
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
        let availability = Arc::new(Availability::new(Duration::from_millis(500)));
        let (refunds_due, emails_due) = (Arc::default(), Arc::default());
        let desks = Self::desks(&pool, &availability, &refunds_due, &emails_due);
        Self {
            lookups: Arc::new(super::lookups::KeyLookups::new(pool.clone())),
            pool,
            gateway,
            hold_ttl,
            metrics,
            refunds_due,
            refund_retry_base: Duration::from_secs(1),
            availability,
            desks,
            mail: None,
            emails_due,
            payment_timeout: Duration::from_secs(30),
            settle_patience: SETTLE_PATIENCE,
        }
    }

    fn desks(
        pool: &DbPool,
        availability: &Arc<Availability>,
        refunds_due: &Arc<tokio::sync::Notify>,
        emails_due: &Arc<tokio::sync::Notify>,
    ) -> Arc<Desks> {
        let listeners = Listeners {
            availability: availability.clone(),
            refunds_due: refunds_due.clone(),
            emails_due: emails_due.clone(),
        };
        Arc::new(Desks::new(pool.clone(), listeners))
    }

    pub(super) fn hold_ttl(&self) -> Duration {
        self.hold_ttl
    }

    /// Applies seat changes this process made outside a desk to its snapshot.
    pub(super) fn observe(&self, seats: &[crate::db::tiers::Seats]) {
        for s in seats {
            self.availability.observe(s);
        }
    }

    /// Sends email with these settings (see `booking::email`).
    pub fn with_mail(mut self, mail: crate::mail::Mail) -> Self {
        self.mail = Some(Arc::new(mail));
        self
    }

    /// Sets how old the availability snapshot may be (`AVAILABILITY_MAX_AGE_MS`).
    pub fn with_availability_max_age(mut self, max_age: Duration) -> Self {
        self.availability = Arc::new(Availability::new(max_age));
        self.desks = Self::desks(&self.pool, &self.availability, &self.refunds_due, &self.emails_due);
        self
    }

    /// Sets the first retry delay of a failed refund (`REFUND_RETRY_BASE_MS`).
    pub fn with_refund_retry_base(mut self, base: Duration) -> Self {
        self.refund_retry_base = base;
        self
    }

    /// Sets how long a charge may take (`PAYMENT_TIMEOUT_MS`).
    pub fn with_payment_timeout(mut self, timeout: Duration) -> Self {
        self.payment_timeout = timeout;
        self
    }

    /// Sets how long a paid booking's confirmation is retried (tests shorten it).
    pub fn with_settle_patience(mut self, patience: Duration) -> Self {
        self.settle_patience = patience;
        self
    }

    /// How many per-tier desks (threads) this process runs.
    pub fn desk_count(&self) -> usize {
        self.desks.count()
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
                let mut conn = crate::db::checkout(&pool).map_err(DbError::from)?;
                f(&mut conn)
            })
        })
        .await
        .unwrap_or_else(|join| {
            log::error!("bug: a database task panicked: {join}");
            Err(DbError::TaskPanicked(join).into())
        })
    }

    /// The availability snapshot, at most `AVAILABILITY_MAX_AGE_MS` old.
    /// A database that is down fails the refresh within the pool's timeout (`DB_POOL_TIMEOUT_MS`:
    /// a 503); one that answers no sooner than half a second after that (a query stuck behind a
    /// lock) is not waited for, and the last snapshot is shown instead.
    pub async fn availability(&self) -> Result<Arc<Snapshot>, DbError> {
        let shop = self.clone();
        let load = || async move { shop.with_conn(|c| Tier::all(c).map_err(DbError::from)).await };
        let patience = self.pool.connection_timeout() + Duration::from_millis(500);
        self.availability.get(patience, load).await
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
        // Not transient: `AppError::from` makes it a 500, not a 503 (see `error.rs`).
        assert!(!error.is_transient());
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
