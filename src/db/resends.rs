//! Queries on `ticket_resends`: the budget of "send my tickets again" per booking, shared by
//! every process. Whether a resend may go is decided by one conditional update of the
//! booking's row ([`TicketResend::claim`]); on PostgreSQL a second process updating the same
//! row waits for the first and then re-checks the `WHERE`, so of any number of concurrent
//! requests exactly one wins.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Integer, Text};

use super::DbConnection;
use super::outbox::KIND_TICKETS;
use super::schema::ticket_resends;

/// A 24-hour window, in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A booking's resend budget.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = ticket_resends)]
pub struct TicketResend {
    pub booking_id: String,
    /// The last resend queued (0: none yet).
    pub last_at: i64,
    /// When the current 24-hour window began (its first resend).
    pub day_started: i64,
    /// Resends queued in that window.
    pub day_count: i32,
}

impl TicketResend {
    /// Makes sure the booking has its row (an empty budget); a row already there is kept.
    /// Runs on its own, outside the claim's transaction (a unique violation would abort a
    /// PostgreSQL transaction).
    pub fn ensure(conn: &mut DbConnection, booking_id: &str) -> QueryResult<()> {
        let row =
            TicketResend { booking_id: booking_id.to_owned(), last_at: 0, day_started: 0, day_count: 0 };
        match diesel::insert_into(ticket_resends::table).values(row).execute(conn) {
            Ok(_) | Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Takes one resend at `now` if the last tickets email (a resend, or the confirmation
    /// itself) is at least `every_ms` old and the window has fewer than `per_day`; true if
    /// taken. One statement: the row, the window and the outbox are checked together.
    pub fn claim(
        conn: &mut DbConnection,
        booking_id: &str,
        now: i64,
        every_ms: i64,
        per_day: i32,
    ) -> QueryResult<bool> {
        // $1 booking, $2 now, $3 every_ms, $4 per_day, $5 the tickets kind, $6 a day.
        const SQL: &str = "UPDATE ticket_resends SET \
             day_count = CASE WHEN day_started <= $2 - $6 THEN 1 ELSE day_count + 1 END, \
             day_started = CASE WHEN day_started <= $2 - $6 THEN $2 ELSE day_started END, \
             last_at = $2 \
             WHERE booking_id = $1 AND last_at <= $2 - $3 \
             AND (day_started <= $2 - $6 OR day_count < $4) \
             AND NOT EXISTS (SELECT 1 FROM email_outbox o \
                 WHERE o.booking_id = $1 AND o.kind = $5 AND o.created_at > $2 - $3)";
        let updated = match conn {
            DbConnection::Pg(pg) => diesel::sql_query(SQL)
                .bind::<Text, _>(booking_id)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(every_ms)
                .bind::<Integer, _>(per_day)
                .bind::<Text, _>(KIND_TICKETS)
                .bind::<BigInt, _>(DAY_MS)
                .execute(pg)?,
            // SQLite numbers its parameters `?1`…: the same statement.
            DbConnection::Sqlite(sqlite) => diesel::sql_query(SQL.replace('$', "?"))
                .bind::<Text, _>(booking_id)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(every_ms)
                .bind::<Integer, _>(per_day)
                .bind::<Text, _>(KIND_TICKETS)
                .bind::<BigInt, _>(DAY_MS)
                .execute(sqlite)?,
        };
        Ok(updated == 1)
    }

    /// The booking's row, if it has one.
    pub fn find(conn: &mut DbConnection, booking_id: &str) -> QueryResult<Option<TicketResend>> {
        ticket_resends::table.find(booking_id).select(TicketResend::as_select()).first(conn).optional()
    }
}
