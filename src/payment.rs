//! The payment gateway seam: a trait the booking flow calls, and the simulated gateway the
//! shop runs with (success rate and latency from the settings).

use std::future::Future;
use std::pin::Pin;
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

pub type ChargeFuture = Pin<Box<dyn Future<Output = Result<Charge, Declined>> + Send>>;
pub type RefundFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Takes money and gives it back. Implementations must not touch the database: the booking
/// flow calls `charge` while holding no connection.
pub trait PaymentGateway: Send + Sync + 'static {
    /// Charges `amount_cents` for the booking `reference`.
    fn charge(&self, amount_cents: i64, reference: &str) -> ChargeFuture;
    /// Refunds a charge in full.
    fn refund(&self, transaction_id: &str, amount_cents: i64) -> RefundFuture;
}

/// The reasons the simulated gateway declines with, as the original backend did.
pub const DECLINE_REASONS: [&str; 4] =
    ["Insufficient funds", "Card declined", "Payment gateway timeout", "Invalid card details"];

/// A stand-in gateway: succeeds with probability `success_rate` after a random delay.
#[derive(Debug, Clone)]
pub struct SimulatedGateway {
    pub success_rate: f64,
    pub delay: DelayRange,
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

    fn refund(&self, transaction_id: &str, amount_cents: i64) -> RefundFuture {
        log::info!("refunded {amount_cents} cents of {transaction_id} (simulated)");
        Box::pin(async {})
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
        let always = SimulatedGateway { success_rate: 1.0, delay: DelayRange { min_ms: 0, max_ms: 0 } };
        let never = SimulatedGateway { success_rate: 0.0, delay: DelayRange { min_ms: 0, max_ms: 0 } };
        for _ in 0..20 {
            assert!(always.charge(100, "TK-TEST").await.is_ok());
            let declined = never.charge(100, "TK-TEST").await.unwrap_err();
            assert!(DECLINE_REASONS.contains(&declined.reason.as_str()));
        }
    }
}
