//! The rows, as Rust types. The queries on them live beside this file, one module per table
//! (`tiers`, `bookings`, `audit`), plus the multi-table operations (`reserve`, `admin`).

use diesel::prelude::*;

use super::schema::{audit_log, bookings, refunds, staff_sessions, ticket_tiers};

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
    /// Bumped by every change of the seat counts (under the row lock): orders the counts.
    pub version: i64,
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

    /// The status machine. Every change of a booking's status is a compare-and-set from the
    /// status it was read in, and only along these edges, so each terminal state is reached
    /// once: a booking is never both confirmed and refunded, nor refunded twice.
    ///
    /// ```text
    /// held ──▶ confirmed ──▶ refunded            (paid; a reset takes it back)
    ///  │ ├──▶ payment_failed ─┐                  (declined, or no answer in time: seats back)
    ///  │ └──▶ expired ────────┼──▶ confirmed     (a charge after all: seats again)
    ///  └──▶ voided ───────────┴──▶ refunded      (… or no seats: the charge goes back)
    /// ```
    ///
    /// A `payment_failed` booking moves on only if the gateway's answer was not final (it did
    /// not answer in time) and the reconciliation finds that it charged after all.
    pub fn may_become(self, to: BookingStatus) -> bool {
        use BookingStatus::*;
        matches!(
            (self, to),
            (Held, Confirmed | PaymentFailed | Expired | Voided)
                | (Expired | Voided | PaymentFailed, Confirmed | Refunded)
                | (Confirmed, Refunded)
        )
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
// `None` is NULL (these columns' default), so SQLite can write many rows in one statement:
// see `db::insert_all!`.
#[diesel(table_name = bookings, treat_none_as_default_value = false)]
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

/// Whether a refund has been paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// Recorded, not yet paid (or the gateway failed so far; `attempts` and `last_error` say).
    Owed,
    Done,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owed => "owed",
            Self::Done => "done",
        }
    }
}

impl TryFrom<String> for RefundStatus {
    type Error = UnknownStatus;

    fn try_from(text: String) -> Result<Self, UnknownStatus> {
        match text.as_str() {
            "owed" => Ok(Self::Owed),
            "done" => Ok(Self::Done),
            _ => Err(UnknownStatus(text)),
        }
    }
}

impl From<RefundStatus> for String {
    fn from(status: RefundStatus) -> String {
        status.as_str().to_owned()
    }
}

/// A refund owed or paid; one per booking at most.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refunds)]
pub struct Refund {
    pub booking_id: String,
    pub charge_id: String,
    pub amount_cents: i64,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: RefundStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub refund_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a staff session may do. Stored as text (`admin`, `door`; a CHECK constraint keeps it
/// to these); an unknown stored value fails loudly when the row is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffRole {
    /// The box office: everything under `/admin`.
    Admin,
    /// Door staff: check-in only.
    Door,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Door => "door",
        }
    }
}

/// A stored role this code does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown staff role {0:?} in the database")]
pub struct UnknownRole(pub String);

impl TryFrom<String> for StaffRole {
    type Error = UnknownRole;

    fn try_from(text: String) -> Result<Self, UnknownRole> {
        match text.as_str() {
            "admin" => Ok(Self::Admin),
            "door" => Ok(Self::Door),
            _ => Err(UnknownRole(text)),
        }
    }
}

impl From<StaffRole> for String {
    fn from(role: StaffRole) -> String {
        role.as_str().to_owned()
    }
}

/// A signed-in staff session: the row a session cookie names, valid on every process until
/// it expires or is revoked.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff_sessions)]
pub struct StaffSession {
    pub id: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub role: StaffRole,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}
