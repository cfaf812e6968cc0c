//! The pool as requests see it ([`DbPool`]): r2d2's pool, plus what the pool has learned about
//! the database, so that an outage is a quick `503` rather than a wait.
//!
//! Why a request took the whole `DB_POOL_TIMEOUT_MS` (1 s) during an outage, and a crowd of
//! them far longer: r2d2's `get` waits on a condition variable that only a *new connection*
//! signals. A refused connection attempt (PostgreSQL stopped: refused at once, well inside
//! libpq's 2 s `connect_timeout`) wakes nobody, so every request waited out the pool timeout,
//! and requests queued behind one another (the availability snapshot refreshes one at a time)
//! waited one pool timeout each: 1 s, 2 s, 3 s… It was the pool timeout, not the connect
//! timeout.
//!
//! So the pool keeps score: the order of the last failed and the last successful connection
//! attempt (r2d2 keeps retrying in the background while the database is away). A server that
//! answers but is read-only (a switchover in progress) does not count as a failure: requests
//! wait for the promotion as before. While the last
//! attempt failed, a request takes an idle connection if there is one and otherwise fails at
//! once; the first request of an outage notices within [`SLICE`]. A busy but healthy pool
//! still waits the full timeout for a connection to come back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Manager;
use crate::log_once;

/// How often a waiting request looks whether the database has started refusing.
pub const SLICE: Duration = Duration::from_millis(50);

/// What the pool knows of the database: the last connection attempt's outcome.
#[derive(Debug, Default)]
pub struct Health {
    /// Numbers the outcomes in the order they happened (0: never).
    sequence: AtomicU64,
    /// The number of the last failed attempt.
    last_failure: AtomicU64,
    /// The number of the last successful one.
    last_success: AtomicU64,
    /// Failed attempts since the last success.
    failures: AtomicU64,
}

impl Health {
    fn stamp(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// A connection attempt failed.
    pub fn failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.last_failure.store(self.stamp(), Ordering::Release);
    }

    /// A connection was made; returns how many attempts had failed before it.
    pub fn succeeded(&self) -> u64 {
        self.last_success.store(self.stamp(), Ordering::Release);
        self.failures.swap(0, Ordering::Relaxed)
    }

    /// True while the last connection attempt failed.
    pub fn refusing(&self) -> bool {
        self.last_failure.load(Ordering::Acquire) > self.last_success.load(Ordering::Acquire)
    }
}

/// r2d2's events: a new connection means the database answers.
#[derive(Debug)]
pub(super) struct TrackConnections(pub Arc<Health>);

impl r2d2::HandleEvent for TrackConnections {
    fn handle_acquire(&self, _event: r2d2::event::AcquireEvent) {
        let failed = self.0.succeeded();
        if failed > 0 {
            let left_out = log_once::take(CONNECT_FAILED);
            log::info!(
                "database reachable again after {failed} failed connection attempt(s) ({left_out} not logged)"
            );
        }
    }
}

/// Logs the pool's failures to open a connection with the database's own reason (once a
/// second with a count: r2d2 retries several times a second while the database is away), and
/// tells the pool's [`Health`] about them.
#[derive(Debug)]
pub(super) struct LogConnectionErrors {
    pub url: String,
    pub health: Arc<Health>,
}

/// The log kind of a failed connection attempt.
pub(super) const CONNECT_FAILED: &str = "database connection failed";

impl r2d2::HandleError<diesel::r2d2::Error> for LogConnectionErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        match error {
            diesel::r2d2::Error::QueryError(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ReadOnlyTransaction,
                _,
            )) => log_once::warn("database read-only", || {
                format!("database {}: {}; dropped from the pool", self.url, super::READ_ONLY)
            }),
            diesel::r2d2::Error::ConnectionError(e) => {
                // A server that answers but takes no writes (`target_session_attrs=read-write`
                // during a switchover) is a failover in progress, worth waiting the pool
                // timeout for; anything else (refused, reset, unknown host) is an outage.
                if !e.to_string().contains("session is read-only") {
                    self.health.failed();
                }
                log_once::error(CONNECT_FAILED, || format!("database connection to {} failed: {e}", self.url))
            }
            e => log_once::error("database connection unusable", || {
                format!("database {}: pooled connection unusable: {e}", self.url)
            }),
        }
    }
}

/// The connection pool every request uses.
#[derive(Debug, Clone)]
pub struct DbPool {
    inner: r2d2::Pool<Manager>,
    health: Arc<Health>,
    /// What connections found of a switchover (see `super::checkout`).
    switchover: Arc<super::Switchover>,
    /// PostgreSQL with diesel's statement cache on (see [`DbPool::keeps_plans`]).
    keeps_plans: bool,
}

/// A connection checked out of the pool.
pub type PooledConn = r2d2::PooledConnection<Manager>;

impl DbPool {
    pub(super) fn new(
        inner: r2d2::Pool<Manager>,
        health: Arc<Health>,
        switchover: Arc<super::Switchover>,
        keeps_plans: bool,
    ) -> Self {
        Self { inner, health, switchover, keeps_plans }
    }

    /// Whether a connection's statements are prepared once and their plans kept: PostgreSQL
    /// with the statement cache on (off behind PgBouncer's transaction mode, where a session
    /// setting would also reach other clients; every statement is planned with its values
    /// there).
    pub fn keeps_plans(&self) -> bool {
        self.keeps_plans
    }

    pub(super) fn switchover(&self) -> &super::Switchover {
        &self.switchover
    }

    /// Tells the pool that a connection in use met a read-only server (SQLSTATE 25006): the
    /// next [`super::checkout`] validates every idle connection, and for a minute connections
    /// coming back are checked too, as when a checkout meets one.
    pub fn met_read_only(&self) {
        self.switchover.met_read_only();
    }

    /// An idle connection if there is one (checked as `get` checks it), without waiting.
    pub fn try_get(&self) -> Option<PooledConn> {
        self.inner.try_get()
    }

    /// A connection within the pool timeout; at once an error while the database refuses
    /// connections and no idle one is left.
    pub fn get(&self) -> Result<PooledConn, r2d2::Error> {
        let deadline = Instant::now() + self.inner.connection_timeout();
        loop {
            if self.health.refusing() {
                // Idle connections are still tried (and checked) first.
                return self.inner.get_timeout(Duration::ZERO);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inner.get_timeout(left.min(SLICE)) {
                Ok(conn) => return Ok(conn),
                Err(e) if left <= SLICE => return Err(e),
                Err(_) => {}
            }
        }
    }

    /// True while the pool has a connection idle or room for another: one may be kept
    /// between uses without making anyone wait for it.
    pub fn has_spare(&self) -> bool {
        let state = self.inner.state();
        state.idle_connections > 0 || state.connections < self.inner.max_size()
    }

    /// `DB_POOL_TIMEOUT_MS`.
    pub fn connection_timeout(&self) -> Duration {
        self.inner.connection_timeout()
    }

    pub fn state(&self) -> r2d2::State {
        self.inner.state()
    }

    pub fn max_size(&self) -> u32 {
        self.inner.max_size()
    }

    /// True while the last connection attempt failed.
    pub fn refusing(&self) -> bool {
        self.health.refusing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_attempt_decides() {
        let health = Health::default();
        assert!(!health.refusing(), "nothing known yet");
        health.failed();
        assert!(health.refusing());
        assert_eq!(health.succeeded(), 1);
        assert!(!health.refusing());
        health.failed();
        health.failed();
        assert!(health.refusing());
    }
}
