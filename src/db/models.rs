//! Rows and the queries on them. Methods return `QueryResult`; deciding what an error means
//! for a user is the caller's business.

use diesel::prelude::*;

use super::DbConnection;
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

/// The concert's tiers, seeded on first start.
pub fn default_tiers() -> Vec<Tier> {
    [
        ("vip", "VIP", 100_00, 100),
        ("front-row", "Front Row", 50_00, 200),
        ("general", "General Admission", 10_00, 1000),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (id, name, price_cents, capacity))| Tier {
        id: id.into(),
        name: name.into(),
        price_cents,
        capacity,
        available: capacity,
        withheld: 0,
        sort_order: i as i32,
    })
    .collect()
}

impl Tier {
    /// All tiers, highest price first.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Tier>> {
        ticket_tiers::table
            .order((ticket_tiers::price_cents.desc(), ticket_tiers::sort_order.asc()))
            .select(Tier::as_select())
            .load(conn)
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Tier>> {
        ticket_tiers::table.find(id).select(Tier::as_select()).first(conn).optional()
    }

    /// Inserts the default tiers when the table is empty. Safe to run from several processes
    /// at once: the caller runs it in a write transaction, and a lost race is a no-op.
    pub fn seed_if_empty(conn: &mut DbConnection) -> QueryResult<usize> {
        let count: i64 = ticket_tiers::table.count().get_result(conn)?;
        if count > 0 {
            return Ok(0);
        }
        // One row at a time: `MultiConnection` has no batch insert.
        let mut inserted = 0;
        for tier in default_tiers() {
            inserted += diesel::insert_into(ticket_tiers::table).values(&tier).execute(conn)?;
        }
        Ok(inserted)
    }

    /// The conditional update at the heart of the shop: takes `quantity` seats only if that
    /// many are left, in one statement. Returns false (and changes nothing) otherwise.
    pub fn take_seats(conn: &mut DbConnection, tier_id: &str, quantity: i32) -> QueryResult<bool> {
        use ticket_tiers::available;
        let changed = diesel::update(
            ticket_tiers::table.filter(ticket_tiers::id.eq(tier_id).and(available.ge(quantity))),
        )
        .set(available.eq(available - quantity))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// Gives `quantity` seats back. Only called together with a status change of the booking
    /// that held them, in the same transaction.
    pub fn return_seats(conn: &mut DbConnection, tier_id: &str, quantity: i32) -> QueryResult<()> {
        use ticket_tiers::available;
        diesel::update(ticket_tiers::table.find(tier_id))
            .set(available.eq(available + quantity))
            .execute(conn)?;
        Ok(())
    }

    /// Seats currently left in a tier (None for an unknown tier).
    pub fn available(conn: &mut DbConnection, tier_id: &str) -> QueryResult<Option<i32>> {
        ticket_tiers::table.find(tier_id).select(ticket_tiers::available).first(conn).optional()
    }
}

/// Where a booking stands. Stored as text.
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
    pub status: String,
    pub idempotency_key: Option<String>,
    pub transaction_id: Option<String>,
    pub failure_reason: Option<String>,
    pub hold_expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Booking {
    /// The status as an enum; an unknown string (impossible under the CHECK) reads as voided.
    pub fn status(&self) -> BookingStatus {
        BookingStatus::parse(&self.status).unwrap_or(BookingStatus::Voided)
    }

    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(bookings::table).values(self).execute(conn).map(|_| ())
    }

    pub fn by_reference(conn: &mut DbConnection, reference: &str) -> QueryResult<Option<Booking>> {
        bookings::table
            .filter(bookings::reference.eq(reference))
            .select(Booking::as_select())
            .first(conn)
            .optional()
    }

    pub fn by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Booking>> {
        bookings::table.find(id).select(Booking::as_select()).first(conn).optional()
    }

    pub fn by_idempotency_key(conn: &mut DbConnection, key: &str) -> QueryResult<Option<Booking>> {
        bookings::table
            .filter(bookings::idempotency_key.eq(key))
            .select(Booking::as_select())
            .first(conn)
            .optional()
    }

    /// Moves a booking from one status to another if, and only if, it is still in `from`.
    /// Returns whether this call made the change (the compare-and-set every transition uses).
    pub fn transition(
        conn: &mut DbConnection,
        booking_id: &str,
        from: BookingStatus,
        to: BookingStatus,
        now: i64,
    ) -> QueryResult<bool> {
        let changed = diesel::update(
            bookings::table.filter(bookings::id.eq(booking_id).and(bookings::status.eq(from.as_str()))),
        )
        .set((bookings::status.eq(to.as_str()), bookings::updated_at.eq(now)))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// `held → confirmed` with the transaction id, in one statement; false if the booking was
    /// no longer held.
    pub fn confirm_held(
        conn: &mut DbConnection,
        booking_id: &str,
        transaction_id: &str,
        now: i64,
    ) -> QueryResult<bool> {
        let changed = diesel::update(
            bookings::table
                .filter(bookings::id.eq(booking_id).and(bookings::status.eq(BookingStatus::Held.as_str()))),
        )
        .set((
            bookings::status.eq(BookingStatus::Confirmed.as_str()),
            bookings::transaction_id.eq(transaction_id),
            bookings::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// Records the gateway's answer on a booking.
    pub fn record_payment(
        conn: &mut DbConnection,
        booking_id: &str,
        transaction_id: Option<&str>,
        failure_reason: Option<&str>,
    ) -> QueryResult<()> {
        diesel::update(bookings::table.find(booking_id))
            .set((bookings::transaction_id.eq(transaction_id), bookings::failure_reason.eq(failure_reason)))
            .execute(conn)
            .map(|_| ())
    }

    /// Holds whose time ran out, oldest first.
    pub fn expired_holds(conn: &mut DbConnection, now: i64, limit: i64) -> QueryResult<Vec<Booking>> {
        bookings::table
            .filter(bookings::status.eq(BookingStatus::Held.as_str()).and(bookings::hold_expires_at.lt(now)))
            .order(bookings::hold_expires_at.asc())
            .limit(limit)
            .select(Booking::as_select())
            .load(conn)
    }

    /// The most recent bookings, newest first.
    pub fn recent(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<Booking>> {
        bookings::table
            .order((bookings::created_at.desc(), bookings::id.asc()))
            .limit(limit)
            .select(Booking::as_select())
            .load(conn)
    }

    /// Seats per (tier, status), for the conservation check and the admin figures.
    pub fn seats_by_tier_and_status(conn: &mut DbConnection) -> QueryResult<Vec<(String, String, i64)>> {
        let rows: Vec<(String, String, Option<i64>)> = bookings::table
            .group_by((bookings::tier_id, bookings::status))
            .select((bookings::tier_id, bookings::status, diesel::dsl::sum(bookings::quantity)))
            .load(conn)?;
        Ok(rows.into_iter().map(|(t, s, q)| (t, s, q.unwrap_or(0))).collect())
    }
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

impl AuditEntry {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(audit_log::table).values(self).execute(conn).map(|_| ())
    }

    pub fn recent(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<AuditEntry>> {
        audit_log::table
            .order((audit_log::at.desc(), audit_log::id.asc()))
            .limit(limit)
            .select(AuditEntry::as_select())
            .load(conn)
    }
}
