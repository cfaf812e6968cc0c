//! Queries on `refunds`: the obligation written with the booking change, the worker's claim
//! (a lease: `next_attempt_at` pushed past the gateway call, rows taken with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL so several processes share the work), and the result.

use diesel::prelude::*;

use super::DbConnection;
use super::models::{Refund, RefundStatus};
use super::schema::refunds;

impl Refund {
    /// A refund owed for `booking_id`'s charge, due now.
    pub fn owed(booking_id: &str, charge_id: &str, amount_cents: i64, now: i64) -> Refund {
        Refund {
            booking_id: booking_id.to_owned(),
            charge_id: charge_id.to_owned(),
            amount_cents,
            status: RefundStatus::Owed,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            refund_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Records the obligation. Call it in the transaction that changes the booking.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(refunds::table).values(self.clone()).execute(conn).map(|_| ())
    }

    pub fn for_booking(conn: &mut DbConnection, booking_id: &str) -> QueryResult<Option<Refund>> {
        refunds::table.find(booking_id).select(Refund::as_select()).first(conn).optional()
    }

    /// The refunds owed or paid for any of these bookings.
    pub fn for_bookings(conn: &mut DbConnection, booking_ids: &[&str]) -> QueryResult<Vec<Refund>> {
        refunds::table.filter(refunds::booking_id.eq_any(booking_ids)).select(Refund::as_select()).load(conn)
    }

    /// Claims up to `limit` refunds that are due, leasing each until `lease_until`: no other
    /// worker takes them before then. Runs in the caller's transaction.
    pub fn claim_due(
        conn: &mut DbConnection,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> QueryResult<Vec<Refund>> {
        macro_rules! due {
            () => {
                refunds::table
                    .filter(
                        refunds::status.eq(RefundStatus::Owed.as_str()).and(refunds::next_attempt_at.le(now)),
                    )
                    .order(refunds::next_attempt_at.asc())
                    .limit(limit)
                    .select(Refund::as_select())
            };
        }
        let claimed: Vec<Refund> = match conn {
            // Several processes claim at once: each skips the rows another is claiming.
            DbConnection::Pg(pg) => due!().for_update().skip_locked().load(pg)?,
            // SQLite: the caller's write transaction already excludes other writers.
            DbConnection::Sqlite(sqlite) => due!().load(sqlite)?,
        };
        let ids: Vec<&str> = claimed.iter().map(|r| r.booking_id.as_str()).collect();
        diesel::update(refunds::table.filter(refunds::booking_id.eq_any(&ids)))
            .set((refunds::next_attempt_at.eq(lease_until), refunds::attempts.eq(refunds::attempts + 1)))
            .execute(conn)?;
        Ok(claimed)
    }

    /// Marks a refund paid; false if it was already (a second worker after a lost lease).
    pub fn mark_done(
        conn: &mut DbConnection,
        booking_id: &str,
        refund_id: &str,
        now: i64,
    ) -> QueryResult<bool> {
        let changed =
            diesel::update(refunds::table.filter(
                refunds::booking_id.eq(booking_id).and(refunds::status.eq(RefundStatus::Owed.as_str())),
            ))
            .set((
                refunds::status.eq(RefundStatus::Done.as_str()),
                refunds::refund_id.eq(refund_id),
                refunds::last_error.eq(None::<String>),
                refunds::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(changed == 1)
    }

    /// Records a failed attempt and when to try again.
    pub fn mark_failed(
        conn: &mut DbConnection,
        booking_id: &str,
        error: &str,
        retry_at: i64,
        now: i64,
    ) -> QueryResult<()> {
        diesel::update(
            refunds::table.filter(
                refunds::booking_id.eq(booking_id).and(refunds::status.eq(RefundStatus::Owed.as_str())),
            ),
        )
        .set((
            refunds::last_error.eq(error),
            refunds::next_attempt_at.eq(retry_at),
            refunds::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
    }

    /// Makes every owed refund due now (a "retry now" for the admin).
    pub fn retry_all_now(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
        diesel::update(refunds::table.filter(refunds::status.eq(RefundStatus::Owed.as_str())))
            .set(refunds::next_attempt_at.eq(now))
            .execute(conn)
    }

    /// How many refunds are owed, and when the oldest of them was recorded (for `/metrics`).
    pub fn owed_summary(conn: &mut DbConnection) -> QueryResult<(i64, Option<i64>)> {
        refunds::table
            .filter(refunds::status.eq(RefundStatus::Owed.as_str()))
            .select((diesel::dsl::count_star(), diesel::dsl::min(refunds::created_at)))
            .first(conn)
    }

    /// Every refund (for the dashboard's totals).
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Refund>> {
        refunds::table.select(Refund::as_select()).load(conn)
    }
}
