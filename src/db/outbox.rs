//! Queries on `email_outbox`: an email is written in the transaction whose change it tells of;
//! the sender claims due emails with a lease (`next_attempt_at` pushed past the send; `FOR
//! UPDATE SKIP LOCKED` on PostgreSQL, so processes share the work) and records the result.

use diesel::prelude::*;

use super::DbConnection;
use super::schema::email_outbox;

/// The confirmation with the tickets.
pub const KIND_TICKETS: &str = "tickets";
/// The notice that a booking's money went back.
pub const KIND_REFUND: &str = "refund";

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// An email to send (or sent, or given up on).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
// `None` is NULL (these columns' default), so SQLite can write many rows in one statement:
// see `db::insert_all!`.
#[diesel(table_name = email_outbox, treat_none_as_default_value = false)]
pub struct OutboxEmail {
    /// Random; also the local part of the stable `Message-ID`.
    pub id: String,
    pub booking_id: String,
    /// [`KIND_TICKETS`] or [`KIND_REFUND`].
    pub kind: String,
    pub recipient: String,
    /// [`PENDING`], [`SENT`] or [`FAILED`].
    pub status: String,
    pub attempts: i32,
    /// When it is due; while a sender holds it, the end of that sender's lease.
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl OutboxEmail {
    /// An email of `kind` about `booking_id` to `recipient`, due now.
    pub fn queued(booking_id: &str, kind: &str, recipient: &str, now: i64) -> OutboxEmail {
        OutboxEmail {
            id: crate::settings::time_ordered_id(now),
            booking_id: booking_id.to_owned(),
            kind: kind.to_owned(),
            recipient: recipient.to_owned(),
            status: PENDING.to_owned(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            sent_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Writes it. Call it in the transaction that makes the change it tells of.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(email_outbox::table).values(self.clone()).execute(conn).map(|_| ())
    }

    /// Queues many emails, all or none (`insert_all!`).
    pub fn insert_all(conn: &mut DbConnection, rows: Vec<OutboxEmail>) -> QueryResult<()> {
        super::insert_all!(conn, email_outbox::table, rows)
    }

    /// Claims up to `limit` due emails, leasing each until `lease_until` and counting the
    /// attempt. Runs in the caller's transaction.
    pub fn claim_due(
        conn: &mut DbConnection,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> QueryResult<Vec<OutboxEmail>> {
        macro_rules! due {
            () => {
                email_outbox::table
                    .filter(email_outbox::status.eq(PENDING).and(email_outbox::next_attempt_at.le(now)))
                    .order(email_outbox::next_attempt_at.asc())
                    .limit(limit)
                    .select(OutboxEmail::as_select())
            };
        }
        let claimed: Vec<OutboxEmail> = match conn {
            // Several processes claim at once: each skips the rows another is claiming.
            DbConnection::Pg(pg) => due!().for_update().skip_locked().load(pg)?,
            // SQLite: the caller's write transaction already excludes other writers.
            DbConnection::Sqlite(sqlite) => due!().load(sqlite)?,
        };
        let ids: Vec<&str> = claimed.iter().map(|e| e.id.as_str()).collect();
        diesel::update(email_outbox::table.filter(email_outbox::id.eq_any(&ids)))
            .set((
                email_outbox::next_attempt_at.eq(lease_until),
                email_outbox::attempts.eq(email_outbox::attempts + 1),
            ))
            .execute(conn)?;
        Ok(claimed.into_iter().map(|e| OutboxEmail { attempts: e.attempts + 1, ..e }).collect())
    }

    /// Marks these emails sent, in one statement.
    pub fn mark_sent(conn: &mut DbConnection, ids: &[String], now: i64) -> QueryResult<()> {
        diesel::update(email_outbox::table.filter(email_outbox::id.eq_any(ids)))
            .set((
                email_outbox::status.eq(SENT),
                email_outbox::sent_at.eq(now),
                email_outbox::last_error.eq(None::<String>),
                email_outbox::updated_at.eq(now),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Records a failed attempt: due again at `retry_at`, or given up (`failed`) when `None`.
    pub fn mark_failed(
        conn: &mut DbConnection,
        id: &str,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> QueryResult<()> {
        let status = if retry_at.is_some() { PENDING } else { FAILED };
        diesel::update(
            email_outbox::table.filter(email_outbox::id.eq(id).and(email_outbox::status.eq(PENDING))),
        )
        .set((
            email_outbox::status.eq(status),
            email_outbox::last_error.eq(error),
            email_outbox::next_attempt_at.eq(retry_at.unwrap_or(now)),
            email_outbox::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
    }

    /// Queues a failed email again with fresh attempts; false if it was not failed.
    pub fn retry(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<bool> {
        let changed = diesel::update(
            email_outbox::table.filter(email_outbox::id.eq(id).and(email_outbox::status.eq(FAILED))),
        )
        .set((
            email_outbox::status.eq(PENDING),
            email_outbox::attempts.eq(0),
            email_outbox::next_attempt_at.eq(now),
            email_outbox::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// Emails given up on, newest first.
    pub fn failed(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<OutboxEmail>> {
        email_outbox::table
            .filter(email_outbox::status.eq(FAILED))
            .order(email_outbox::updated_at.desc())
            .limit(limit)
            .select(OutboxEmail::as_select())
            .load(conn)
    }

    /// How many emails wait to be sent, and how many were given up on (for `/metrics`).
    pub fn waiting_counts(conn: &mut DbConnection) -> QueryResult<(i64, i64)> {
        let pending =
            email_outbox::table.filter(email_outbox::status.eq(PENDING)).count().get_result(conn)?;
        let failed = email_outbox::table.filter(email_outbox::status.eq(FAILED)).count().get_result(conn)?;
        Ok((pending, failed))
    }

    /// A booking's emails, newest first.
    pub fn for_booking(conn: &mut DbConnection, booking_id: &str) -> QueryResult<Vec<OutboxEmail>> {
        email_outbox::table
            .filter(email_outbox::booking_id.eq(booking_id))
            .order(email_outbox::created_at.desc())
            .select(OutboxEmail::as_select())
            .load(conn)
    }
}
