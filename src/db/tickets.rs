//! Queries on `tickets`: one row per seat of a confirmed booking, written in the confirming
//! transaction, and the door's check-in, one conditional update.

use diesel::prelude::*;

use super::DbConnection;
use super::models::BookingStatus;
use super::outbox::OutboxEmail;
use super::schema::{bookings, ticket_tiers, tickets};

/// A ticket: one seat of a booking, admitted at most once.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
// `None` is NULL (these columns' default), so SQLite can write many rows in one statement:
// see `db::insert_all!`.
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
pub struct Ticket {
    /// The signed code printed in the QR code.
    pub code: String,
    pub booking_id: String,
    /// 1..=quantity within the booking.
    pub seat: i32,
    pub checked_in_at: Option<i64>,
    pub created_at: i64,
}

/// A ticket with what the door needs to know of its booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketAtDoor {
    pub ticket: Ticket,
    pub status: BookingStatus,
    pub tier_name: String,
    pub customer_name: String,
}

impl Ticket {
    /// Writes tickets, all or none (`insert_all!`). Call it in the confirming transaction.
    pub fn insert_all(conn: &mut DbConnection, rows: &[Ticket]) -> QueryResult<()> {
        super::insert_all!(conn, tickets::table, rows.to_vec())
    }

    /// Writes tickets and the emails that carry them: on PostgreSQL in one statement (the
    /// tickets' insert in a `WITH`, which runs to completion whether or not it is read), so a
    /// batch of confirmations makes one round trip for both; elsewhere in two. Rows with
    /// anything set that a fresh ticket or a queued email does not have take the two-statement
    /// path, which writes every column. Call it in the confirming transaction.
    pub fn insert_with_emails(
        conn: &mut DbConnection,
        rows: &[Ticket],
        emails: Vec<OutboxEmail>,
    ) -> QueryResult<()> {
        let fresh = rows.iter().all(|t| t.checked_in_at.is_none())
            && emails.iter().all(|e| e.last_error.is_none() && e.sent_at.is_none());
        match conn {
            DbConnection::Pg(pg) if fresh && !rows.is_empty() && !emails.is_empty() => {
                use diesel::sql_types::{Array, BigInt, Integer, Text};
                // One array per column, in the order of the statement's columns.
                fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
                    rows.iter().map(field).collect()
                }
                diesel::sql_query(
                    "WITH issued AS ( \
                       INSERT INTO tickets (code, booking_id, seat, created_at) \
                       SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::int8[])) \
                     INSERT INTO email_outbox (id, booking_id, kind, recipient, status, attempts, \
                       next_attempt_at, created_at, updated_at) \
                     SELECT * FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
                       $10::int4[], $11::int8[], $12::int8[], $13::int8[])",
                )
                .bind::<Array<Text>, _>(column(rows, |t| t.code.as_str()))
                .bind::<Array<Text>, _>(column(rows, |t| t.booking_id.as_str()))
                .bind::<Array<Integer>, _>(column(rows, |t| t.seat))
                .bind::<Array<BigInt>, _>(column(rows, |t| t.created_at))
                .bind::<Array<Text>, _>(column(&emails, |e| e.id.as_str()))
                .bind::<Array<Text>, _>(column(&emails, |e| e.booking_id.as_str()))
                .bind::<Array<Text>, _>(column(&emails, |e| e.kind.as_str()))
                .bind::<Array<Text>, _>(column(&emails, |e| e.recipient.as_str()))
                .bind::<Array<Text>, _>(column(&emails, |e| e.status.as_str()))
                .bind::<Array<Integer>, _>(column(&emails, |e| e.attempts))
                .bind::<Array<BigInt>, _>(column(&emails, |e| e.next_attempt_at))
                .bind::<Array<BigInt>, _>(column(&emails, |e| e.created_at))
                .bind::<Array<BigInt>, _>(column(&emails, |e| e.updated_at))
                .execute(pg)
                .map(|_| ())
            }
            _ => {
                Ticket::insert_all(conn, rows)?;
                OutboxEmail::insert_all(conn, emails)
            }
        }
    }

    /// A booking's tickets, by seat.
    pub fn for_booking(conn: &mut DbConnection, booking_id: &str) -> QueryResult<Vec<Ticket>> {
        tickets::table
            .filter(tickets::booking_id.eq(booking_id))
            .order(tickets::seat.asc())
            .select(Ticket::as_select())
            .load(conn)
    }

    /// The tickets of these bookings, by booking and seat.
    pub fn for_bookings(conn: &mut DbConnection, booking_ids: &[&str]) -> QueryResult<Vec<Ticket>> {
        tickets::table
            .filter(tickets::booking_id.eq_any(booking_ids))
            .order((tickets::booking_id.asc(), tickets::seat.asc()))
            .select(Ticket::as_select())
            .load(conn)
    }

    /// Admits the ticket: sets `checked_in_at` if, and only if, it is not yet set and its
    /// booking is confirmed, in one statement. True if this call admitted it.
    pub fn check_in(conn: &mut DbConnection, code: &str, now: i64) -> QueryResult<bool> {
        let confirmed = bookings::table
            .filter(bookings::status.eq(BookingStatus::Confirmed.as_str()))
            .select(bookings::id);
        let changed = diesel::update(
            tickets::table
                .filter(tickets::code.eq(code))
                .filter(tickets::checked_in_at.is_null())
                .filter(tickets::booking_id.eq_any(confirmed)),
        )
        .set(tickets::checked_in_at.eq(now))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// The ticket with this code, with its booking's status, tier and name.
    pub fn at_door(conn: &mut DbConnection, code: &str) -> QueryResult<Option<TicketAtDoor>> {
        let row: Option<(Ticket, String, String, String)> = tickets::table
            .inner_join(bookings::table.inner_join(ticket_tiers::table))
            .filter(tickets::code.eq(code))
            .select((Ticket::as_select(), bookings::status, ticket_tiers::name, bookings::customer_name))
            .first(conn)
            .optional()?;
        row.map(|(ticket, status, tier_name, customer_name)| {
            let status = BookingStatus::try_from(status)
                .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
            Ok(TicketAtDoor { ticket, status, tier_name, customer_name })
        })
        .transpose()
    }

    /// Per tier: tickets of confirmed bookings, and how many of them are checked in.
    pub fn counts_by_tier(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64, i64)>> {
        let rows: Vec<(String, Option<i64>)> = tickets::table
            .inner_join(bookings::table)
            .filter(bookings::status.eq(BookingStatus::Confirmed.as_str()))
            .select((bookings::tier_id, tickets::checked_in_at))
            .load(conn)?;
        let mut counts: Vec<(String, i64, i64)> = Vec::new();
        for (tier, checked_in) in rows {
            let index = match counts.iter().position(|(t, _, _)| *t == tier) {
                Some(i) => i,
                None => {
                    counts.push((tier, 0, 0));
                    counts.len() - 1
                }
            };
            counts[index].1 += 1;
            counts[index].2 += i64::from(checked_in.is_some());
        }
        Ok(counts)
    }
}
