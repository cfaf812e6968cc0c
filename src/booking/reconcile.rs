//! The reconciliation: a booking that ended without a charge on record while a charge may have
//! gone through (its hold expired or was voided while its payment was under way or its process
//! died; its payment call timed out at our end) is asked about at the gateway, once no charge of
//! it can still be under way. A charge found there is settled like any late payment: the seats
//! again if they are free, else a refund owed, exactly once (the settlement is a
//! compare-and-set under the tier's row lock, and a refund is keyed by its booking). The work
//! is the `charge_checks` table, written in the transaction that ends the booking; a row goes
//! when the gateway has answered.
//!
//! Runs after every sweep, in every process; two processes asking about the same booking at
//! once settle it once.

use std::time::Duration;

use super::{Shop, pipeline, tickets};
use crate::clock::now_millis;
use crate::db::DbError;
use crate::db::charge_checks::ChargeCheck;

/// Bookings asked about per round.
const BATCH: i64 = 50;
/// Added to the payment timeout before a booking is asked about: its reservation may have
/// waited for the database that long before its charge began.
const MARGIN: Duration = Duration::from_secs(5);

impl Shop {
    /// Asks the gateway about the bookings that are due; returns how many charges it found.
    pub async fn reconcile_now(&self) -> Result<usize, DbError> {
        let before = now_millis() - (self.payment_timeout + MARGIN).as_millis() as i64;
        let due = self.with_conn(move |c| ChargeCheck::due(c, before, BATCH).map_err(DbError::from)).await?;
        let mut found = 0;
        for booking in due {
            let charge = match self.gateway.find_charge(&booking.id).await {
                Ok(charge) => charge,
                Err(e) => {
                    log::warn!("reconciliation: the gateway cannot say now: {e}");
                    break;
                }
            };
            let Some(charge) = charge else {
                let id = booking.id.clone();
                self.with_conn(move |c| ChargeCheck::settled(c, &id).map_err(DbError::from)).await?;
                continue;
            };
            found += 1;
            let txn = charge.transaction_id.clone();
            let settling = booking.clone();
            let settled = self
                .with_conn(move |c| {
                    let key = tickets::signing_key(c)?;
                    pipeline::settle_found_charge(c, &settling, &txn, &key, now_millis())
                })
                .await;
            // One booking that cannot be settled (it is logged) does not hold up the others.
            let (settlement, seats) = match settled {
                Ok(settled) => settled,
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    log::error!(
                        "reconciliation: {} (charge {}) cannot be settled: {}",
                        booking.reference,
                        charge.transaction_id,
                        crate::db::error::chain(&e)
                    );
                    continue;
                }
            };
            self.observe(&seats.into_iter().collect::<Vec<_>>());
            log::warn!(
                "{}: charge {} found at the gateway for a booking that ended {:?}: {settlement:?}",
                booking.reference,
                charge.transaction_id,
                booking.status
            );
            self.emails_due.notify_one();
            if settlement == pipeline::Settlement::Refunded {
                self.refunds_due.notify_one();
            }
        }
        Ok(found)
    }
}
