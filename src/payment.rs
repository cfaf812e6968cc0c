//! The payment gateway seam: a trait the booking flow calls, and the simulated gateway the
//! shop runs with (success rate and latency from the settings).

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;

use crate::settings::DelayRange;

/// A successful charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub transaction_id: String,
}

/// The gateway said no; `reason` is its words, shown to the customer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Declined {
    pub reason: String,
}

/// A refund the gateway made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    pub refund_id: String,
}

/// The gateway could not refund now; try again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct RefundFailed {
    pub reason: String,
}

pub type ChargeFuture = Pin<Box<dyn Future<Output = Result<Charge, Declined>> + Send>>;
pub type RefundFuture = Pin<Box<dyn Future<Output = Result<Refunded, RefundFailed>> + Send>>;

/// Takes money and gives it back. Implementations must not touch the database: the booking
/// flow calls `charge` while holding no connection.
pub trait PaymentGateway: Send + Sync + 'static {
    /// Charges `amount_cents` for the booking `reference`.
    fn charge(&self, amount_cents: i64, reference: &str) -> ChargeFuture;
    /// Refunds a charge in full. `idempotency_key` names the refund (the booking): asked
    /// twice with the same key, a gateway refunds once and answers the first refund again, as
    /// real gateways do, so a refund retried after a crash cannot pay out twice.
    fn refund(&self, charge_id: &str, amount_cents: i64, idempotency_key: &str) -> RefundFuture;
}

/// The reasons the simulated gateway declines with, as the original backend did.
pub const DECLINE_REASONS: [&str; 4] =
    ["Insufficient funds", "Card declined", "Payment gateway timeout", "Invalid card details"];

/// A stand-in gateway: charges succeed with probability `success_rate` after a random delay;
/// refunds fail with probability `refund_failure_rate` and are idempotent by key.
#[derive(Debug, Clone)]
pub struct SimulatedGateway {
    pub success_rate: f64,
    pub delay: DelayRange,
    pub refund_failure_rate: f64,
    /// Refunds made, by idempotency key: in memory, and in `PAYMENT_LEDGER` when set (a file
    /// every process shares, standing in for the gateway's own records).
    pub ledger: Arc<Ledger>,
}

impl SimulatedGateway {
    /// A gateway with the given charge behaviour, refunds that always work, no ledger file.
    pub fn new(success_rate: f64, delay: DelayRange) -> Self {
        Self { success_rate, delay, refund_failure_rate: 0.0, ledger: Arc::default() }
    }
}

/// The simulated gateway's record of refunds: `refund <key> <refund id> <charge> <cents>`
/// lines in a file when one is given.
#[derive(Debug, Default)]
pub struct Ledger {
    path: Option<PathBuf>,
    refunds: Mutex<HashMap<String, String>>,
}

impl Ledger {
    pub fn at(path: Option<PathBuf>) -> Self {
        Self { path, refunds: Mutex::default() }
    }

    /// The refund already made under `key`, if any.
    fn find(&self, key: &str) -> Option<String> {
        if let Some(id) = self.refunds.lock().ok()?.get(key) {
            return Some(id.clone());
        }
        let text = std::fs::read_to_string(self.path.as_ref()?).ok()?;
        text.lines().find_map(|line| {
            let mut fields = line.split(' ');
            (fields.next() == Some("refund") && fields.next() == Some(key))
                .then(|| fields.next())
                .flatten()
                .map(str::to_owned)
        })
    }

    fn record(&self, key: &str, refund_id: &str, charge_id: &str, amount_cents: i64) -> std::io::Result<()> {
        if let Ok(mut refunds) = self.refunds.lock() {
            refunds.insert(key.to_owned(), refund_id.to_owned());
        }
        if let Some(path) = &self.path {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            writeln!(file, "refund {key} {refund_id} {charge_id} {amount_cents}")?;
        }
        Ok(())
    }
}

impl PaymentGateway for SimulatedGateway {
    fn charge(&self, amount_cents: i64, reference: &str) -> ChargeFuture {
        // Draw everything now: the thread-local generator cannot cross an await.
        let mut rng = rand::rng();
        let delay = self.delay.sample();
        let approved = rng.random_bool(self.success_rate);
        let reason = DECLINE_REASONS[rng.random_range(0..DECLINE_REASONS.len())];
        let transaction_id = transaction_id(&mut rng);
        log::debug!("charging {amount_cents} cents for {reference}");
        Box::pin(async move {
            if delay > Duration::ZERO {
                tokio::time::sleep(delay).await;
            }
            if approved { Ok(Charge { transaction_id }) } else { Err(Declined { reason: reason.to_owned() }) }
        })
    }

    fn refund(&self, charge_id: &str, amount_cents: i64, idempotency_key: &str) -> RefundFuture {
        // A refund takes as long as a charge; the outcome is decided when the call arrives.
        let delay = self.delay.sample();
        let result = match self.ledger.find(idempotency_key) {
            Some(refund_id) => {
                log::info!("refund {idempotency_key} was already made ({refund_id}); answering it again");
                Ok(Refunded { refund_id })
            }
            None if rand::rng().random_bool(self.refund_failure_rate) => {
                Err(RefundFailed { reason: "Payment gateway timeout".into() })
            }
            None => {
                let refund_id = transaction_id(&mut rand::rng()).replacen("txn_", "rfd_", 1);
                match self.ledger.record(idempotency_key, &refund_id, charge_id, amount_cents) {
                    Ok(()) => {
                        log::info!("refunded {amount_cents} cents of {charge_id} as {refund_id} (simulated)");
                        Ok(Refunded { refund_id })
                    }
                    Err(e) => Err(RefundFailed { reason: format!("ledger: {e}") }),
                }
            }
        };
        Box::pin(async move {
            if delay > Duration::ZERO {
                tokio::time::sleep(delay).await;
            }
            result
        })
    }
}

/// `txn_<millis>_<9 base36 chars>`, as the original backend made them.
pub fn transaction_id(rng: &mut impl Rng) -> String {
    const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let suffix: String = (0..9).map(|_| BASE36[rng.random_range(0..36)] as char).collect();
    format!("txn_{}_{suffix}", crate::clock::now_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_have_the_original_shape() {
        let id = transaction_id(&mut rand::rng());
        let parts: Vec<&str> = id.split('_').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[0], "txn");
        assert!(parts[1].parse::<i64>().is_ok(), "{id}");
        assert_eq!(parts[2].len(), 9);
        assert!(parts[2].chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
    }

    #[actix_rt::test]
    async fn the_simulated_gateway_honours_its_success_rate() {
        let always = SimulatedGateway::new(1.0, DelayRange { min_ms: 0, max_ms: 0 });
        let never = SimulatedGateway::new(0.0, DelayRange { min_ms: 0, max_ms: 0 });
        for _ in 0..20 {
            assert!(always.charge(100, "TK-TEST").await.is_ok());
            let declined = never.charge(100, "TK-TEST").await.unwrap_err();
            assert!(DECLINE_REASONS.contains(&declined.reason.as_str()));
        }
    }

    #[actix_rt::test]
    async fn refunds_are_idempotent_by_key_across_gateways_sharing_a_ledger() {
        let path = std::env::temp_dir().join(format!("tk-ledger-{}", crate::settings::random_token(8)));
        let first = SimulatedGateway {
            ledger: Arc::new(Ledger::at(Some(path.clone()))),
            ..SimulatedGateway::new(1.0, DelayRange { min_ms: 0, max_ms: 0 })
        };
        let second = SimulatedGateway { ledger: Arc::new(Ledger::at(Some(path.clone()))), ..first.clone() };
        let a = first.refund("txn_1_a", 500, "booking-1").await.unwrap();
        let again = second.refund("txn_1_a", 500, "booking-1").await.unwrap();
        assert_eq!(a, again, "a second process answers the first refund again");
        let other = second.refund("txn_2_b", 700, "booking-2").await.unwrap();
        assert_ne!(a, other);
        let ledger = std::fs::read_to_string(&path).unwrap();
        assert_eq!(ledger.lines().count(), 2, "{ledger}");
        let failing = SimulatedGateway {
            refund_failure_rate: 1.0,
            ..SimulatedGateway::new(1.0, DelayRange { min_ms: 0, max_ms: 0 })
        };
        assert!(failing.refund("txn_3_c", 100, "booking-3").await.is_err());
        let _ = std::fs::remove_file(&path);
    }
}
