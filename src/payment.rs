//! The payment gateway seam: a trait the booking flow calls, and the simulated gateway the
//! shop runs with (success rate and latency from the settings).

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
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

/// The gateway could not be asked now; try again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unreachable {
    pub reason: String,
}

pub type ChargeFuture = Pin<Box<dyn Future<Output = Result<Charge, Declined>> + Send>>;
pub type RefundFuture = Pin<Box<dyn Future<Output = Result<Refunded, RefundFailed>> + Send>>;
pub type LookupFuture = Pin<Box<dyn Future<Output = Result<Option<Charge>, Unreachable>> + Send>>;

/// Takes money and gives it back. Implementations must not touch the database: the booking
/// flow calls `charge` while holding no connection.
pub trait PaymentGateway: Send + Sync + 'static {
    /// Charges `amount_cents` under `idempotency_key` (the booking's id): asked twice with the
    /// same key, a gateway charges once and answers the first charge again, as real gateways
    /// do.
    fn charge(&self, amount_cents: i64, idempotency_key: &str) -> ChargeFuture;
    /// The charge made under `idempotency_key`, if any. The reconciliation asks this about
    /// every booking that ended without a charge on record, once no charge of it can still be
    /// under way: a charge that went through while its process died, or that timed out at our
    /// end but not at the gateway's, is found and settled (seats, or exactly one refund).
    fn find_charge(&self, idempotency_key: &str) -> LookupFuture;
    /// Refunds a charge in full. `idempotency_key` names the refund (the booking): asked
    /// twice with the same key, a gateway refunds once and answers the first refund again, as
    /// real gateways do, so a refund retried after a crash cannot pay out twice.
    fn refund(&self, charge_id: &str, amount_cents: i64, idempotency_key: &str) -> RefundFuture;
}

/// The reason given when the gateway did not answer a charge within `PAYMENT_TIMEOUT_MS`: unlike
/// a decline, the charge may have gone through (the reconciliation asks the gateway later).
pub const NO_ANSWER: &str = "The payment gateway did not answer in time";

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
    /// Probability that a charge hangs: decided (and, if approved, made) at once, but answered
    /// only after ten minutes, long after the shop stopped waiting (`PAYMENT_HANG_RATE`, a
    /// simulation knob for the reconciliation).
    pub hang_rate: f64,
    /// Charges and refunds made, by idempotency key: in memory, and in `PAYMENT_LEDGER` when
    /// set (a file every process shares, standing in for the gateway's own records).
    pub ledger: Arc<Ledger>,
}

impl SimulatedGateway {
    /// A gateway with the given charge behaviour, refunds that always work, no ledger file.
    pub fn new(success_rate: f64, delay: DelayRange) -> Self {
        Self { success_rate, delay, refund_failure_rate: 0.0, hang_rate: 0.0, ledger: Arc::default() }
    }
}

/// The simulated gateway's records: `charge <key> <transaction id> <cents>` and
/// `refund <key> <refund id> <charge> <cents>` lines, in memory and in a file when one is given.
///
/// In memory a record is a 128-bit fingerprint of its kind and key (two independently keyed
/// hashes; two keys collide with odds of about n²/2¹²⁹) and its id packed in 128 bits (the ids
/// this gateway makes are a millisecond and nine base-36 digits): a 32-byte table entry, hashed
/// by the fingerprint itself. As strings they took about 280 bytes a charge, then about 100 as
/// 48-byte entries, twice that while the table grew: a server's 40 s of hot-tier bookings
/// (about 300,000) peaked at 65 MiB of resident memory, now about 50 (`docs/PERFORMANCE.md`).
/// A real gateway keeps its records on its side.
#[derive(Debug, Default)]
pub struct Ledger {
    path: Option<PathBuf>,
    made: Mutex<Made>,
    fingerprints: (RandomState, RandomState),
}

/// What this process made, by fingerprint of (kind, key).
#[derive(Debug, Default)]
struct Made {
    /// Ids of the shape this gateway makes, packed ([`pack`]).
    packed: HashMap<u128, u128, BuildHasherDefault<AlreadyHashed>>,
    /// Any other id (a test's, or a ledger file's from another program), as it is.
    other: HashMap<u128, Box<str>, BuildHasherDefault<AlreadyHashed>>,
}

/// The tables' hasher: a fingerprint is a hash already, so its low 64 bits are the hash.
#[derive(Debug, Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u128 fingerprints are hashed here; anything else still hashes, if poorly.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, fingerprint: u128) {
        self.0 = fingerprint as u64;
    }
}

impl Ledger {
    pub fn at(path: Option<PathBuf>) -> Self {
        Self { path, ..Self::default() }
    }

    fn fingerprint(&self, kind: &str, key: &str) -> u128 {
        let (a, b) = &self.fingerprints;
        (u128::from(a.hash_one((kind, key))) << 64) | u128::from(b.hash_one((kind, key)))
    }

    /// The id of the `kind` ("charge" or "refund") already made under `key`, if any.
    fn find(&self, kind: &'static str, key: &str) -> Option<String> {
        let fingerprint = self.fingerprint(kind, key);
        {
            let made = self.made.lock().ok()?;
            if let Some(packed) = made.packed.get(&fingerprint) {
                return Some(unpack(id_prefix(kind), *packed));
            }
            if let Some(id) = made.other.get(&fingerprint) {
                return Some(id.to_string());
            }
        }
        let text = std::fs::read_to_string(self.path.as_ref()?).ok()?;
        text.lines().find_map(|line| {
            let mut fields = line.split(' ');
            (fields.next() == Some(kind) && fields.next() == Some(key))
                .then(|| fields.next())
                .flatten()
                .map(str::to_owned)
        })
    }

    /// Records what was made; `rest` is the rest of the line after the id.
    fn record(&self, kind: &'static str, key: &str, id: &str, rest: &str) -> std::io::Result<()> {
        if let Some(path) = &self.path {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            // One write per line (O_APPEND), so the lines of several processes never interleave.
            file.write_all(format!("{kind} {key} {id} {rest}\n").as_bytes())?;
        }
        let fingerprint = self.fingerprint(kind, key);
        if let Ok(mut made) = self.made.lock() {
            match pack(id_prefix(kind), id) {
                Some(packed) => made.packed.insert(fingerprint, packed).map(drop),
                None => made.other.insert(fingerprint, id.into()).map(drop),
            };
        }
        Ok(())
    }
}

/// What the ids of a kind start with: `txn` for charges (as the original backend's), `rfd` for
/// refunds.
fn id_prefix(kind: &str) -> &'static str {
    if kind == "refund" { "rfd" } else { "txn" }
}

const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `<prefix>_<millis>_<9 base-36 digits>` as 128 bits (the millisecond above, the digits'
/// value below); `None` for an id of any other shape, or one that would not read back the same
/// (a sign, a leading zero, a millisecond past `u64`, upper case).
fn pack(prefix: &str, id: &str) -> Option<u128> {
    let (millis, digits) = id.strip_prefix(prefix)?.strip_prefix('_')?.split_once('_')?;
    let canonical = millis.bytes().all(|b| b.is_ascii_digit()) && (millis == "0" || !millis.starts_with('0'));
    if !canonical || digits.len() != 9 {
        return None;
    }
    let millis: u64 = millis.parse().ok()?;
    let mut value: u64 = 0;
    for b in digits.bytes() {
        value = value * 36 + BASE36.iter().position(|d| *d == b)? as u64;
    }
    Some((u128::from(millis) << 64) | u128::from(value))
}

fn unpack(prefix: &str, packed: u128) -> String {
    let mut value = packed as u64;
    let mut digits = [b'0'; 9];
    for d in digits.iter_mut().rev() {
        *d = BASE36[(value % 36) as usize];
        value /= 36;
    }
    // The digits are ASCII by construction.
    format!("{prefix}_{}_{}", (packed >> 64) as u64, std::str::from_utf8(&digits).unwrap_or_default())
}

impl PaymentGateway for SimulatedGateway {
    fn charge(&self, amount_cents: i64, idempotency_key: &str) -> ChargeFuture {
        // Draw everything now: the thread-local generator cannot cross an await.
        let mut rng = rand::rng();
        let delay = self.delay.sample();
        let approved = rng.random_bool(self.success_rate);
        let hangs = rng.random_bool(self.hang_rate);
        let reason = DECLINE_REASONS[rng.random_range(0..DECLINE_REASONS.len())];
        let transaction_id = transaction_id(&mut rng);
        let (ledger, key) = (self.ledger.clone(), idempotency_key.to_owned());
        log::debug!("charging {amount_cents} cents under {key}");
        let decide = move || {
            if let Some(transaction_id) = ledger.find("charge", &key) {
                return Ok(Charge { transaction_id });
            }
            if !approved {
                return Err(Declined { reason: reason.to_owned() });
            }
            match ledger.record("charge", &key, &transaction_id, &amount_cents.to_string()) {
                Ok(()) => Ok(Charge { transaction_id }),
                Err(e) => Err(Declined { reason: format!("Payment gateway error (ledger: {e})") }),
            }
        };
        if hangs {
            // Charged (or declined) now; the answer never arrives in time.
            let answer = decide();
            return Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(600)).await;
                answer
            });
        }
        Box::pin(async move {
            if delay > Duration::ZERO {
                tokio::time::sleep(delay).await;
            }
            // The charge happens when the call completes: a call abandoned before then (the
            // shop's timeout) charged nothing.
            decide()
        })
    }

    fn find_charge(&self, idempotency_key: &str) -> LookupFuture {
        let found =
            self.ledger.find("charge", idempotency_key).map(|transaction_id| Charge { transaction_id });
        Box::pin(async move { Ok(found) })
    }

    fn refund(&self, charge_id: &str, amount_cents: i64, idempotency_key: &str) -> RefundFuture {
        // A refund takes as long as a charge; the outcome is decided when the call arrives.
        let delay = self.delay.sample();
        let result = match self.ledger.find("refund", idempotency_key) {
            Some(refund_id) => {
                log::info!("refund {idempotency_key} was already made ({refund_id}); answering it again");
                Ok(Refunded { refund_id })
            }
            None if rand::rng().random_bool(self.refund_failure_rate) => {
                Err(RefundFailed { reason: "Payment gateway timeout".into() })
            }
            None => {
                let refund_id = transaction_id(&mut rand::rng()).replacen("txn_", "rfd_", 1);
                let rest = format!("{charge_id} {amount_cents}");
                match self.ledger.record("refund", idempotency_key, &refund_id, &rest) {
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
    let suffix: String = (0..9).map(|_| BASE36[rng.random_range(0..36)] as char).collect();
    format!("txn_{}_{suffix}", crate::clock::now_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_keeps_ids_of_any_length_and_tells_kinds_apart() {
        let ledger = Ledger::at(None);
        let long = "x".repeat(100);
        let made = transaction_id(&mut rand::rng());
        for (kind, key, id) in [
            ("charge", "k1", "txn_1764470000000_abcdefghi"),
            ("refund", "k1", "rfd_1"),
            ("charge", "k2", &*long),
            ("charge", "k3", &made),
            ("refund", "k3", "rfd_1764470000000_0000000z9"),
            // Shapes that must not be packed: they would read back otherwise.
            ("charge", "k4", "txn_01764470000000_abcdefghi"),
            ("charge", "k5", "txn_+1_abcdefghi"),
            ("charge", "k6", "txn_1_ABCDEFGHI"),
            ("charge", "k7", "rfd_1_abcdefghi"),
        ] {
            ledger.record(kind, key, id, "").unwrap();
            assert_eq!(ledger.find(kind, key).as_deref(), Some(id), "{kind} {key}");
        }
        assert_eq!(ledger.find("charge", "k1").as_deref(), Some("txn_1764470000000_abcdefghi"));
        assert_eq!(ledger.find("refund", "k1").as_deref(), Some("rfd_1"));
        assert_eq!(ledger.find("charge", "k2"), Some(long));
        assert_eq!(ledger.find("charge", "k3"), Some(made));
        assert_eq!(ledger.find("refund", "k2"), None);
        assert_eq!(ledger.find("charge", "k8"), None);
        let made = ledger.made.lock().unwrap();
        assert_eq!((made.packed.len(), made.other.len()), (3, 6), "only the gateway's own shapes are packed");
        assert_eq!(std::mem::size_of::<(u128, u128)>(), 32, "a record is a 32-byte entry");
    }

    #[test]
    fn packed_ids_read_back_the_same() {
        for id in ["txn_0_000000000", "txn_18446744073709551615_zzzzzzzzz", "txn_1764470000000_a1b2c3d4e"] {
            assert_eq!(pack("txn", id).map(|p| unpack("txn", p)).as_deref(), Some(id));
        }
        for id in
            ["txn_18446744073709551616_zzzzzzzzz", "txn_1_zzzzzzzz", "txn_1_zzzzzzzzzz", "txn1_abcdefghi", ""]
        {
            assert_eq!(pack("txn", id), None, "{id}");
        }
    }

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

    #[actix_rt::test]
    async fn charges_are_idempotent_by_key_and_found_by_any_gateway_sharing_the_ledger() {
        let path = std::env::temp_dir().join(format!("tk-ledger-{}", crate::settings::random_token(8)));
        let first = SimulatedGateway {
            ledger: Arc::new(Ledger::at(Some(path.clone()))),
            ..SimulatedGateway::new(1.0, DelayRange { min_ms: 0, max_ms: 0 })
        };
        let other = SimulatedGateway { ledger: Arc::new(Ledger::at(Some(path.clone()))), ..first.clone() };
        assert_eq!(other.find_charge("booking-1").await.unwrap(), None);
        let charge = first.charge(500, "booking-1").await.unwrap();
        assert_eq!(first.charge(500, "booking-1").await.unwrap(), charge, "charged once per key");
        assert_eq!(other.find_charge("booking-1").await.unwrap(), Some(charge), "another process finds it");
        let declining = SimulatedGateway { success_rate: 0.0, ..other.clone() };
        assert!(declining.charge(700, "booking-2").await.is_err());
        assert_eq!(first.find_charge("booking-2").await.unwrap(), None, "a decline charged nothing");
        let _ = std::fs::remove_file(&path);
    }

    #[actix_rt::test]
    async fn an_abandoned_call_charges_nothing_but_a_hung_one_charges_at_once() {
        let slow = SimulatedGateway::new(1.0, DelayRange { min_ms: 200, max_ms: 200 });
        let abandoned = tokio::time::timeout(Duration::from_millis(20), slow.charge(100, "booking-3")).await;
        assert!(abandoned.is_err());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(slow.find_charge("booking-3").await.unwrap(), None);

        let hanging = SimulatedGateway {
            hang_rate: 1.0,
            ..SimulatedGateway::new(1.0, DelayRange { min_ms: 0, max_ms: 0 })
        };
        let gave_up = tokio::time::timeout(Duration::from_millis(20), hanging.charge(100, "booking-4")).await;
        assert!(gave_up.is_err(), "no answer in time");
        assert!(hanging.find_charge("booking-4").await.unwrap().is_some(), "but the charge was made");
    }
}
