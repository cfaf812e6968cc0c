//! Queries on `hold_deadlines`: when each hold ends, for the sweeper. A row is written with
//! its hold by the database itself (a trigger on `bookings`, so whoever inserts a held
//! booking, an older version of the shop during a rolling restart included, records its
//! deadline) and deleted by the sweeper once due, after it expired the hold or found it
//! settled. Nothing else touches it: a confirmation changes only columns that no index of
//! `bookings` names, which lets PostgreSQL update the row in place (see the migration
//! `2026-12-07-100001_hold_deadlines`).
//!
//! No foreign key to `bookings`: a deadline whose booking is gone or no longer held is simply
//! deleted when due.

use diesel::prelude::*;

use super::DbConnection;
use super::models::{Booking, BookingStatus};
use super::schema::{bookings, hold_deadlines};

/// The sweeper's queries on the deadlines. A row is its booking's `hold_expires_at` (which
/// never changes) and id, which are also its key.
pub struct HoldDeadline;

impl HoldDeadline {
    /// Deletes the deadlines due before `now` whose bookings are no longer held (confirmed,
    /// declined, voided; or gone): nothing is left to expire for them. On PostgreSQL a row
    /// another sweeper is deleting is skipped (`SKIP LOCKED`), so sweepers never wait for each
    /// other here. Returns how many it deleted.
    pub fn clear_settled(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
        use diesel::sql_types::BigInt;
        match conn {
            DbConnection::Pg(pg) => diesel::sql_query(
                "DELETE FROM hold_deadlines WHERE (expires_at, booking_id) IN (
                   SELECT d.expires_at, d.booking_id FROM hold_deadlines d
                    WHERE d.expires_at < $1
                      AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.id = d.booking_id AND b.status = 'held')
                      FOR UPDATE OF d SKIP LOCKED)",
            )
            .bind::<BigInt, _>(now)
            .execute(pg),
            DbConnection::Sqlite(sqlite) => diesel::sql_query(
                "DELETE FROM hold_deadlines
                  WHERE expires_at < ?
                    AND NOT EXISTS (SELECT 1 FROM bookings b
                                     WHERE b.id = hold_deadlines.booking_id AND b.status = 'held')",
            )
            .bind::<BigInt, _>(now)
            .execute(sqlite),
        }
    }

    /// Held bookings whose deadline is before `now`, oldest deadline first.
    pub fn overdue_holds(conn: &mut DbConnection, now: i64, limit: i64) -> QueryResult<Vec<Booking>> {
        hold_deadlines::table
            .inner_join(bookings::table)
            .filter(hold_deadlines::expires_at.lt(now))
            .filter(bookings::status.eq(BookingStatus::Held.as_str()))
            .order(hold_deadlines::expires_at.asc())
            .limit(limit)
            .select(Booking::as_select())
            .load(conn)
    }

    /// Deletes the deadlines of these holds (the sweeper, after it dealt with them). On
    /// PostgreSQL a row another sweeper is deleting is left to it (`SKIP LOCKED`): a sweeper
    /// that waited here while holding its tiers' locks could deadlock with one that waits for
    /// those locks while holding the rows of [`HoldDeadline::clear_settled`].
    pub fn clear(conn: &mut DbConnection, holds: &[Booking]) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Text};
        let Some(latest) = holds.iter().map(|h| h.hold_expires_at).max() else { return Ok(()) };
        let ids: Vec<&str> = holds.iter().map(|h| h.id.as_str()).collect();
        match conn {
            DbConnection::Pg(pg) => {
                let expiries: Vec<i64> = holds.iter().map(|h| h.hold_expires_at).collect();
                diesel::sql_query(
                    "DELETE FROM hold_deadlines WHERE (expires_at, booking_id) IN (
                       SELECT expires_at, booking_id FROM hold_deadlines
                        WHERE (expires_at, booking_id) IN (SELECT * FROM unnest($1::int8[], $2::text[]))
                          FOR UPDATE SKIP LOCKED)",
                )
                .bind::<Array<BigInt>, _>(expiries)
                .bind::<Array<Text>, _>(ids)
                .execute(pg)
            }
            // Through the key's range up to the latest deadline (the rows due), not the table.
            DbConnection::Sqlite(sqlite) => diesel::delete(
                hold_deadlines::table
                    .filter(hold_deadlines::expires_at.le(latest))
                    .filter(hold_deadlines::booking_id.eq_any(ids)),
            )
            .execute(sqlite),
        }
        .map(|_| ())
    }

    /// How many deadlines are recorded (for tests).
    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        hold_deadlines::table.count().get_result(conn)
    }
}
