//! The sweeper: holds past their expiry give their seats back, in every process; and after
//! each sweep, the reconciliation (`reconcile.rs`). Beside it, on SQLite, the write-ahead log's
//! checkpoints.

use std::time::Duration;

use super::{Shop, pipeline};
use crate::clock::now_millis;
use crate::db::DbError;

impl Shop {
    /// Expires overdue holds now; returns how many.
    pub async fn sweep_now(&self) -> Result<usize, DbError> {
        let (expired, seats) = self.with_conn(|c| pipeline::sweep(c, now_millis())).await?;
        self.observe(&seats);
        for hold in &expired {
            log::info!(
                "{}: hold expired, {} seat(s) of {} returned",
                hold.reference,
                hold.quantity,
                hold.tier_id
            );
        }
        self.metrics.record_expired_holds(expired.len());
        Ok(expired.len())
    }

    /// Runs the sweeper and the reconciliation until the process ends.
    pub async fn run_sweeper(self) {
        // Often enough that a hold never outlives its TTL by much, rarely enough to be cheap.
        let period = (self.hold_ttl() / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = self.sweep_now().await {
                log::warn!("sweeper: {}", crate::db::error::chain(&e));
            }
            if let Err(e) = self.reconcile_now().await {
                log::warn!("reconciliation: {}", crate::db::error::chain(&e));
            }
        }
    }

    /// Checkpoints SQLite's write-ahead log every `period`, beside the desks instead of in one
    /// of their commits (see `db::pool`'s connection settings). On PostgreSQL there is nothing
    /// to do and the task is not started.
    pub async fn run_wal_checkpoints(self, period: Duration) {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let done: Result<(), DbError> =
                self.with_conn(|c| crate::db::checkpoint_wal(c).map_err(DbError::from)).await;
            if let Err(e) = done {
                crate::log_once::warn("wal-checkpoint", || {
                    format!("checkpointing the write-ahead log: {}", crate::db::error::chain(&e))
                });
            }
        }
    }
}
