//! The work waiting in the database, for `/metrics`: refunds owed (and how long the oldest has
//! waited), emails pending or given up on, and bookings whose charge the reconciliation has yet
//! to ask the gateway about. Every process reports the same figures.

use super::Shop;
use crate::db::DbError;
use crate::db::models::Refund;
use crate::db::outbox::OutboxEmail;
use crate::metrics::Work;

impl Shop {
    /// Counts the refunds and emails waiting, as of now.
    pub async fn work_waiting(&self) -> Result<Work, DbError> {
        self.with_conn(|c| {
            let (refunds_owed, oldest) = Refund::owed_summary(c)?;
            let (emails_pending, emails_given_up) = OutboxEmail::waiting_counts(c)?;
            let (charge_checks, oldest_check) = crate::db::charge_checks::ChargeCheck::summary(c)?;
            let now = crate::clock::now_millis();
            Ok(Work {
                refunds_owed,
                refund_oldest_owed_secs: oldest.map_or(0, |at| (now - at).max(0) / 1000),
                emails_pending,
                emails_given_up,
                charge_checks,
                charge_check_oldest_secs: oldest_check.map_or(0, |at| (now - at).max(0) / 1000),
            })
        })
        .await
    }
}
