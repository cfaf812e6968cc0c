//! Queries of the waiting room (`queue_line`, `queue_advances`, `queue_done`). The line is one
//! row that every process reads and, under its row lock, changes: a batch of arrivals is one
//! update of `joined`, never one write per visitor.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::DbConnection;
use super::schema::{queue_advances, queue_done, queue_line};

/// The line as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = queue_line)]
#[diesel(treat_none_as_null = true)]
pub struct QueueLine {
    pub id: i32,
    /// Random: names this line in the cookies, so a place in another line never counts here.
    pub line_id: String,
    /// Places handed out: arrivals 1..=joined.
    pub joined: i64,
    /// When the opening was sealed; `None` before.
    pub opened_at: Option<i64>,
    /// Arrivals 1..=early came before the opening; they are shuffled with `seed`.
    pub early: Option<i64>,
    pub seed: Option<i64>,
    /// Positions 1..=admitted have been let in.
    pub admitted: i64,
    /// Admissions accrue from this moment (microseconds) at `rate_per_min`.
    pub credit_from_us: i64,
    pub rate_per_min: i64,
    /// `QUEUE_ADMIT_PER_MIN` when the rate was last taken from the settings.
    pub configured_rate: i64,
    /// When admissions were paused; `None` while admitting.
    pub paused_at: Option<i64>,
    pub updated_at: i64,
}

impl QueueLine {
    /// A new, empty line.
    pub fn new(line_id: String, rate_per_min: i64, now: i64) -> Self {
        Self {
            id: 1,
            line_id,
            joined: 0,
            opened_at: None,
            early: None,
            seed: None,
            admitted: 0,
            credit_from_us: now.saturating_mul(1000),
            rate_per_min,
            configured_rate: rate_per_min,
            paused_at: None,
            updated_at: now,
        }
    }

    /// The line, if it was created.
    pub fn get(conn: &mut DbConnection) -> QueryResult<Option<QueueLine>> {
        queue_line::table.find(1).select(QueueLine::as_select()).first(conn).optional()
    }

    /// The line, locked until the transaction ends (call inside `write_transaction`; SQLite's
    /// `BEGIN IMMEDIATE` already holds the database's write lock).
    pub fn lock(conn: &mut DbConnection) -> QueryResult<QueueLine> {
        match conn {
            DbConnection::Pg(pg) => {
                queue_line::table.find(1).select(QueueLine::as_select()).for_update().first(pg)
            }
            DbConnection::Sqlite(sqlite) => {
                queue_line::table.find(1).select(QueueLine::as_select()).first(sqlite)
            }
        }
    }

    /// The line; `fresh` is stored first if there is none (two processes racing both end
    /// with the first one written).
    pub fn get_or_create(conn: &mut DbConnection, fresh: &QueueLine) -> QueryResult<QueueLine> {
        if let Some(line) = Self::get(conn)? {
            return Ok(line);
        }
        match diesel::insert_into(queue_line::table).values(fresh).execute(conn) {
            Ok(_) | Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Self::get(conn)?.ok_or(DieselError::NotFound)
            }
            Err(e) => Err(e),
        }
    }

    /// Stores every field of the (locked) line.
    pub fn save(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::update(queue_line::table.find(1)).set(self).execute(conn).map(|_| ())
    }
}

/// Records that positions up to `admitted` were let in at `at`.
pub fn record_advance(conn: &mut DbConnection, admitted: i64, at: i64) -> QueryResult<()> {
    diesel::insert_into(queue_advances::table)
        .values((queue_advances::admitted.eq(admitted), queue_advances::at.eq(at)))
        .execute(conn)
        .map(|_| ())
}

/// The steps of admission after `admitted` (all of them from 0), in order: (admitted, at).
pub fn advances_after(conn: &mut DbConnection, admitted: i64) -> QueryResult<Vec<(i64, i64)>> {
    queue_advances::table
        .filter(queue_advances::admitted.gt(admitted))
        .order(queue_advances::admitted.asc())
        .select((queue_advances::admitted, queue_advances::at))
        .load(conn)
}

/// Records admissions that ended with a confirmed booking; positions already recorded are
/// left alone. Call with the line locked (every writer of this table holds it), so nothing
/// can insert the same position between the check and the insert.
pub fn record_done(conn: &mut DbConnection, positions: &[i64], at: i64) -> QueryResult<()> {
    let known: Vec<i64> = queue_done::table
        .filter(queue_done::position.eq_any(positions))
        .select(queue_done::position)
        .load(conn)?;
    let mut fresh: Vec<i64> = positions.iter().copied().filter(|p| !known.contains(p)).collect();
    fresh.sort_unstable();
    fresh.dedup();
    let rows: Vec<_> = fresh.iter().map(|p| (queue_done::position.eq(*p), queue_done::at.eq(at))).collect();
    super::insert_all!(conn, queue_done::table, rows)
}

/// Positions whose admission ended with a booking recorded at or after `since`.
pub fn done_since(conn: &mut DbConnection, since: i64) -> QueryResult<Vec<i64>> {
    queue_done::table.filter(queue_done::at.ge(since)).select(queue_done::position).load(conn)
}
