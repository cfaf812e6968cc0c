//! Tickets: one per seat, issued in the transaction that confirms the booking, each with a
//! code of 80 random bits and an 80-bit HMAC-SHA256 signature (`TIX-<random>-<signature>`,
//! uppercase letters and digits only, so it fits a compact QR code and can be typed). The
//! signature tells a forged code (422 at the door) from a genuine one that is not on record
//! (404). The door admits a ticket once, with one conditional update.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db::models::{Booking, BookingStatus};
use crate::db::outbox::{KIND_REFUND, KIND_TICKETS, OutboxEmail};
use crate::db::secrets::{self, TICKET_KEY};
use crate::db::tickets::{Ticket, TicketAtDoor};
use crate::db::{DbConnection, DbError};
use crate::metrics::CheckInOutcome;

const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const PREFIX: &str = "TIX-";
/// Symbols per part: 16 × 5 bits = 80 bits.
const PART: usize = 16;

/// Encodes the first 80 bits of `bytes` as 16 symbols.
fn encode80(bytes: &[u8; 10]) -> String {
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(*b);
    }
    (0..PART).rev().map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect()
}

fn signature(key: &str, random: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(random.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut first = [0u8; 10];
    first.copy_from_slice(&digest[..10]);
    encode80(&first)
}

/// A new signed code.
pub fn new_code(key: &str) -> String {
    let random: [u8; 10] = rand::random();
    let random = encode80(&random);
    format!("{PREFIX}{random}-{}", signature(key, &random))
}

/// What a code typed or scanned at the door is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// Well formed and signed by our key: the normalized code.
    Genuine(String),
    /// Well formed, but the signature is not ours.
    Forged,
    /// Not a ticket code at all.
    Malformed,
}

/// Checks a code as a person may type it (case and surrounding spaces ignored).
pub fn check_code(key: &str, raw: &str) -> CodeCheck {
    let code: String = raw.trim().to_ascii_uppercase();
    let Some(rest) = code.strip_prefix(PREFIX) else { return CodeCheck::Malformed };
    let Some((random, sig)) = rest.split_once('-') else { return CodeCheck::Malformed };
    let valid = |part: &str| part.len() == PART && part.bytes().all(|b| ALPHABET.contains(&b));
    if !valid(random) || !valid(sig) {
        return CodeCheck::Malformed;
    }
    let expected = signature(key, random);
    // Same length (checked above); compared in constant time.
    let genuine: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), sig.as_bytes()).into();
    if genuine { CodeCheck::Genuine(code) } else { CodeCheck::Forged }
}

/// The signing key, settled once at start (`shared_secrets::establish`).
pub fn signing_key(c: &mut DbConnection) -> Result<String, DbError> {
    Ok(secrets::get(c, TICKET_KEY)?.ok_or(diesel::result::Error::NotFound)?)
}

/// Issues each booking's tickets (one per seat, signed with `key`) and queues its confirmation
/// email: one statement for all the tickets and emails on PostgreSQL, two on SQLite
/// ([`Ticket::insert_with_emails`]). Call it in the transaction
/// that confirms the bookings: every confirm path does (`pipeline::serve` and
/// `pipeline::settle_found_charge`; `pipeline::serve_quick` writes [`prepare`]'s rows in its
/// own statement).
pub fn issue_all(
    c: &mut DbConnection,
    key: &str,
    bookings: &[&Booking],
    now: i64,
) -> Result<Vec<Ticket>, DbError> {
    if bookings.is_empty() {
        return Ok(Vec::new());
    }
    let (tickets, emails) = prepare(key, bookings, now);
    Ticket::insert_with_emails(c, &tickets, emails)?;
    Ok(tickets)
}

/// The rows that confirming `bookings` writes: a signed ticket per seat, and the email that
/// sends them (none for API bookings, which carry no address).
pub fn prepare(key: &str, bookings: &[&Booking], now: i64) -> (Vec<Ticket>, Vec<OutboxEmail>) {
    let tickets = bookings
        .iter()
        .flat_map(|booking| {
            (1..=booking.quantity).map(|seat| Ticket {
                code: new_code(key),
                booking_id: booking.id.clone(),
                seat,
                checked_in_at: None,
                created_at: now,
            })
        })
        .collect();
    let emails = bookings
        .iter()
        .filter(|b| !b.customer_email.is_empty())
        .map(|b| OutboxEmail::queued(&b.id, KIND_TICKETS, &b.customer_email, now))
        .collect();
    (tickets, emails)
}

/// Queues the notice that `booking`'s money went back. Call it where the refund is recorded.
pub fn queue_refund_notice(c: &mut DbConnection, booking: &Booking, now: i64) -> Result<(), DbError> {
    queue_email(c, booking, KIND_REFUND, now)
}

/// API bookings carry no email address: nothing to send.
fn queue_email(c: &mut DbConnection, booking: &Booking, kind: &str, now: i64) -> Result<(), DbError> {
    if !booking.customer_email.is_empty() {
        OutboxEmail::queued(&booking.id, kind, &booking.customer_email, now).insert(c)?;
    }
    Ok(())
}

/// What the door says to a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckIn {
    Admitted {
        tier_name: String,
        customer_name: String,
    },
    /// Admitted before, at this time (millis).
    AlreadyIn {
        at: i64,
    },
    /// The booking is no longer valid (voided, refunded, …).
    NotValid {
        status: BookingStatus,
    },
    /// Signed by us but not on record.
    Unknown,
    Forged,
    Malformed,
}

/// Admits the ticket with `raw`'s code once: the conditional update decides, the read after
/// it only explains a refusal.
pub fn check_in(c: &mut DbConnection, raw: &str, now: i64) -> Result<CheckIn, DbError> {
    let code = match check_code(&signing_key(c)?, raw) {
        CodeCheck::Genuine(code) => code,
        CodeCheck::Forged => return Ok(CheckIn::Forged),
        CodeCheck::Malformed => return Ok(CheckIn::Malformed),
    };
    let admitted = Ticket::check_in(c, &code, now)?;
    let Some(TicketAtDoor { ticket, status, tier_name, customer_name }) = Ticket::at_door(c, &code)? else {
        return Ok(CheckIn::Unknown);
    };
    Ok(match (admitted, ticket.checked_in_at) {
        (true, _) => CheckIn::Admitted { tier_name, customer_name },
        (false, Some(at)) => CheckIn::AlreadyIn { at },
        (false, None) => CheckIn::NotValid { status },
    })
}

impl super::Shop {
    /// A booking's tickets, by seat.
    pub async fn tickets_of(&self, booking_id: String) -> Result<Vec<Ticket>, DbError> {
        self.with_conn(move |c| Ticket::for_booking(c, &booking_id).map_err(DbError::from)).await
    }

    /// True if a booking has this reference and this email address ("find my booking").
    pub async fn booking_matches(&self, reference: super::Reference, email: String) -> Result<bool, DbError> {
        let found = self
            .with_conn(move |c| Booking::by_reference(c, reference.as_str()).map_err(DbError::from))
            .await?;
        Ok(found.is_some_and(|b| {
            !b.customer_email.is_empty() && b.customer_email.eq_ignore_ascii_case(email.trim())
        }))
    }

    /// The door: admits the ticket with this code once.
    pub async fn check_in(&self, raw: String) -> Result<CheckIn, DbError> {
        let outcome = self.with_conn(move |c| check_in(c, &raw, crate::clock::now_millis())).await?;
        self.metrics.record_check_in(match &outcome {
            CheckIn::Admitted { .. } => CheckInOutcome::Admitted,
            CheckIn::AlreadyIn { .. } => CheckInOutcome::AlreadyIn,
            CheckIn::NotValid { .. } => CheckInOutcome::NotValid,
            CheckIn::Unknown => CheckInOutcome::Unknown,
            CheckIn::Forged => CheckInOutcome::Forged,
            CheckIn::Malformed => CheckInOutcome::Malformed,
        });
        Ok(outcome)
    }

    /// Per tier id: tickets of confirmed bookings, and how many are checked in.
    pub async fn check_in_counts(&self) -> Result<Vec<(String, i64, i64)>, DbError> {
        self.with_conn(|c| Ticket::counts_by_tier(c).map_err(DbError::from)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_random_and_signed() {
        let key = "k".repeat(40);
        let (a, b) = (new_code(&key), new_code(&key));
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 16 + 1 + 16, "{a}");
        assert_eq!(check_code(&key, &a), CodeCheck::Genuine(a.clone()));
        assert_eq!(check_code(&key, &format!("  {}  ", a.to_lowercase())), CodeCheck::Genuine(a.clone()));
        assert_eq!(check_code(&"x".repeat(40), &a), CodeCheck::Forged, "another key");
        let mut tampered = a.clone().into_bytes();
        tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
        assert_eq!(check_code(&key, &String::from_utf8(tampered).unwrap()), CodeCheck::Forged);
    }

    #[test]
    fn anything_else_is_malformed() {
        let key = "k".repeat(40);
        for raw in [
            "",
            "TIX-",
            "TK-7F3K-92QD-X4",
            "TIX-0000000000000000-0000000000000000",
            "TIX-ABC-DEF",
            "<script>",
        ] {
            assert_eq!(check_code(&key, raw), CodeCheck::Malformed, "{raw}");
        }
    }
}
