//! Refunds that are never lost. Every path that ends with money taken and no seats writes the
//! refund owed in the transaction that changes the booking (`pipeline/late.rs`: a paid booking
//! no longer held and no seats for it; `admin::reset`);
//! this worker, running in every process, pays them through the gateway.
//!
//! The worker's shape: claim due refunds in one transaction with a lease (`next_attempt_at`
//! pushed past the call; `FOR UPDATE SKIP LOCKED` on PostgreSQL, so processes share the work),
//! call the gateway with no transaction open, record the result in another transaction. A
//! crash after the call and before the record means the lease runs out and the refund is asked
//! for again, under the same idempotency key (the booking id), which the gateway answers with
//! the first refund: no refund is lost, none is paid twice.

use std::time::Duration;

use super::Shop;
use crate::clock::now_millis;
use crate::db::models::Refund;
use crate::db::{DbError, write_transaction};

/// How long a claimed refund is left to its worker before another may retry it.
const LEASE: Duration = Duration::from_secs(10);
/// Refunds claimed per round.
const BATCH: i64 = 20;

/// When to try again after `attempts` failures: `base`, twice that, four times, … at most 5
/// minutes (`base` is `REFUND_RETRY_BASE_MS`, 1 s by default).
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 30) as u32 - 1;
    base.saturating_mul(1u32 << exponent.min(20)).min(Duration::from_secs(300))
}

impl Shop {
    /// Pays the refunds that are due, a batch at a time with the gateway calls in parallel;
    /// returns how many were claimed.
    pub async fn refund_due_now(&self) -> Result<usize, DbError> {
        let claimed = self
            .with_conn(|c| {
                let now = now_millis();
                write_transaction(c, |c| Refund::claim_due(c, now, now + LEASE.as_millis() as i64, BATCH))
                    .map_err(DbError::from)
            })
            .await?;
        let count = claimed.len();
        let calls: Vec<_> = claimed
            .into_iter()
            .map(|refund| {
                let shop = self.clone();
                actix_web::rt::spawn(async move { shop.pay_refund(refund).await })
            })
            .collect();
        for call in calls {
            match call.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::warn!("refund worker: {}", crate::db::error::chain(&e)),
                Err(e) => log::error!("bug: a refund task failed: {e}"),
            }
        }
        Ok(count)
    }

    /// One claimed refund: the gateway call, then its result recorded.
    async fn pay_refund(&self, refund: Refund) -> Result<(), DbError> {
        let answer = self.gateway.refund(&refund.charge_id, refund.amount_cents, &refund.booking_id).await;
        let id = refund.booking_id.clone();
        match answer {
            Ok(done) => {
                let refund_id = done.refund_id.clone();
                let recorded = self
                    .with_conn(move |c| {
                        Refund::mark_done(c, &id, &refund_id, now_millis()).map_err(DbError::from)
                    })
                    .await?;
                if recorded {
                    self.metrics.record_refund(true);
                    log::info!(
                        "refund of booking {} paid: {} ({} cents)",
                        refund.booking_id,
                        done.refund_id,
                        refund.amount_cents
                    );
                }
            }
            Err(failed) => {
                self.metrics.record_refund(false);
                let retry_at =
                    now_millis() + backoff(self.refund_retry_base, refund.attempts + 1).as_millis() as i64;
                log::warn!(
                    "refund of booking {} failed (attempt {}): {failed}",
                    refund.booking_id,
                    refund.attempts + 1
                );
                let reason = failed.reason;
                self.with_conn(move |c| {
                    Refund::mark_failed(c, &id, &reason, retry_at, now_millis()).map_err(DbError::from)
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Runs the refund worker until the process ends: every second, and at once when a
    /// refund is recorded in this process.
    pub async fn run_refund_worker(self) {
        loop {
            match self.refund_due_now().await {
                // A full batch may mean more are due: go again at once.
                Ok(n) if n as i64 >= BATCH => continue,
                Ok(_) => {}
                Err(e) => log::warn!("refund worker: {}", crate::db::error::chain(&e)),
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), self.refunds_due.notified()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_five_minutes() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 1), Duration::from_secs(1));
        assert_eq!(backoff(base, 2), Duration::from_secs(2));
        assert_eq!(backoff(base, 5), Duration::from_secs(16));
        assert_eq!(backoff(base, 40), Duration::from_secs(300));
        assert_eq!(backoff(Duration::from_millis(10), 3), Duration::from_millis(40));
    }
}
