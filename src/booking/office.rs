//! The box office's door into the shop: figures, and the two seat actions, each logged and
//! applied to this process's availability snapshot at once.

use super::Shop;
use super::admin::{self, AdminError, Dashboard, TierFigures};
use crate::clock::now_millis;
use crate::db::DbError;
use crate::db::models::AuditEntry;

impl Shop {
    /// The box office's figures, recent bookings and audit log.
    pub async fn dashboard(&self) -> Result<Dashboard, DbError> {
        self.with_conn(|c| admin::dashboard(c).map_err(DbError::from)).await
    }

    /// Per-tier figures.
    pub async fn figures(&self) -> Result<Vec<TierFigures>, DbError> {
        self.with_conn(|c| admin::figures(c).map_err(DbError::from)).await
    }

    /// Sets a tier's available seats (see [`admin::set_available`]).
    pub async fn set_available(
        &self,
        tier_id: String,
        target: i32,
        actor: String,
    ) -> Result<AuditEntry, AdminError> {
        let (entry, seats) =
            self.with_conn(move |c| admin::set_available(c, &tier_id, target, &actor, now_millis())).await?;
        self.observe(&[seats]);
        log::info!("{} {}: {} -> {}", entry.actor, entry.action, entry.before, entry.after);
        Ok(entry)
    }

    /// Resets one tier or all (see [`admin::reset`]).
    pub async fn reset(&self, tier_id: Option<String>, actor: String) -> Result<Vec<AuditEntry>, AdminError> {
        let (entries, seats) =
            self.with_conn(move |c| admin::reset(c, tier_id.as_deref(), &actor, now_millis())).await?;
        self.observe(&seats);
        self.refunds_due.notify_one();
        self.emails_due.notify_one();
        for entry in &entries {
            log::info!("{} {}: {} -> {}", entry.actor, entry.action, entry.before, entry.after);
        }
        Ok(entries)
    }
}
