//! The rows, as Rust types. The queries on them live beside this file, one module per table
//! (`tiers`, `bookings`, `audit`), plus the multi-table operations (`reserve`, `admin`).

use diesel::prelude::*;

use super::schema::{audit_log, bookings, ticket_tiers};

/// A ticket tier with its seat counts.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = ticket_tiers)]
pub struct Tier {
    pub id: String,
    pub name: String,
    pub price_cents: i64,
    pub capacity: i32,
    pub available: i32,
    pub withheld: i32,
    pub sort_order: i32,
}

/// Where a booking stands. Stored as text; a value this code does not know is an error when
/// the row is loaded, never a silent guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingStatus {
    /// Seats reserved, payment not yet settled.
    Held,
    Confirmed,
    PaymentFailed,
    /// The hold outlived `HOLD_TTL_SECS`; the sweeper gave the seats back.
    Expired,
    /// Charged after the hold expired and no seats were left: the money went back.
    Refunded,
    /// Cancelled by an admin reset.
    Voided,
}

impl BookingStatus {
    pub const ALL: [BookingStatus; 6] =
        [Self::Held, Self::Confirmed, Self::PaymentFailed, Self::Expired, Self::Refunded, Self::Voided];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Confirmed => "confirmed",
            Self::PaymentFailed => "payment_failed",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::Voided => "voided",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Held => "Awaiting payment",
            Self::Confirmed => "Confirmed",
            Self::PaymentFailed => "Payment failed",
            Self::Expired => "Expired",
            Self::Refunded => "Refunded",
            Self::Voided => "Voided",
        }
    }

    /// Held and confirmed bookings occupy seats; the others do not.
    pub fn occupies_seats(self) -> bool {
        matches!(self, Self::Held | Self::Confirmed)
    }
}

/// A stored status this code does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown booking status {0:?} in the database")]
pub struct UnknownStatus(pub String);

impl TryFrom<String> for BookingStatus {
    type Error = UnknownStatus;

    fn try_from(text: String) -> Result<Self, UnknownStatus> {
        Self::parse(&text).ok_or(UnknownStatus(text))
    }
}

impl From<BookingStatus> for String {
    fn from(status: BookingStatus) -> String {
        status.as_str().to_owned()
    }
}

/// A booking row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = bookings)]
pub struct Booking {
    pub id: String,
    pub reference: String,
    pub tier_id: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub total_cents: i64,
    pub customer_name: String,
    pub customer_email: String,
    pub user_id: Option<String>,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: BookingStatus,
    pub idempotency_key: Option<String>,
    pub transaction_id: Option<String>,
    pub failure_reason: Option<String>,
    pub hold_expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An entry of the admin audit log.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub tier_id: Option<String>,
    pub before: String,
    pub after: String,
}
