//! Storage: one Diesel `MultiConnection` over SQLite and PostgreSQL, an r2d2 pool, the embedded
//! per-backend migrations, and the one helper that opens a write transaction correctly on both.
//! Every query lives under this module, one module per table.

pub mod audit;
pub mod backup;
pub mod bookings;
pub mod charge_checks;
pub mod error;
pub mod hold_deadlines;
pub mod models;
pub mod outbox;
mod pool;
mod prepared;
pub(crate) use prepared::Prepared;
pub mod queue;
pub mod refunds;
pub mod resends;
pub mod schema;
pub mod secrets;
pub mod sessions;
pub mod tickets;
pub mod tiers;

pub use error::DbError;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;

pub use pool::{
    DbPool, Manager, MigrationState, PooledConn, build_pool, checkout, migration_state, plan_by_key,
    plan_plainly, prepare_database, run_migrations,
};

/// Inserts `rows` (a `Vec` of an `Insertable` row) into `table`, all or none.
/// `MultiConnection` has no multi-row insert; each backend has, so this picks the backend.
///
/// PostgreSQL: one statement. SQLite: in pieces of 64, 32, 16, 8, 4, 2 and 1 rows, in order,
/// each piece a statement prepared once per connection and then reused from diesel's cache
/// (a `Vec`'s statement has a different text for every length, so it would be parsed again for
/// every batch, a sixth of a desk's time). A row type must be derived with
/// `treat_none_as_default_value = false` (its `None`s are `NULL`, not `DEFAULT`, which SQLite
/// has no multi-row form for): otherwise diesel writes each row alone inside a savepoint.
/// Several statements are all or none only inside a transaction whose error ends it, as every
/// caller's does; outside one, they get one.
macro_rules! insert_all {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        if rows.is_empty() {
            Ok(())
        } else {
            match $conn {
                $crate::db::DbConnection::Pg(pg) => {
                    diesel::insert_into($table).values(rows).execute(pg).map(|_| ())
                }
                $crate::db::DbConnection::Sqlite(sqlite) => {
                    let in_pieces = |sqlite: &mut diesel::SqliteConnection| -> diesel::QueryResult<()> {
                        let mut left = rows.len();
                        let mut rows = rows.into_iter();
                        $crate::db::insert_pieces!(sqlite, $table, rows, left, 64, 32, 16, 8, 4, 2, 1);
                        Ok(())
                    };
                    if $crate::db::in_transaction(sqlite)? {
                        in_pieces(sqlite)
                    } else {
                        sqlite.transaction(in_pieces)
                    }
                }
            }
        }
    }};
}
pub(crate) use insert_all;

/// `insert_all!`'s SQLite pieces: as many of each size as fit, largest first.
macro_rules! insert_pieces {
    ($conn:expr, $table:expr, $rows:ident, $left:ident, $($size:literal),+) => {
        $(
            while $left >= $size {
                let piece: [_; $size] = std::array::from_fn(|_| $rows.next().expect("counted"));
                diesel::insert_into($table).values(piece).execute($conn)?;
                $left -= $size;
            }
        )+
    };
}
pub(crate) use insert_pieces;

/// Whether a transaction (or savepoint) is open on this SQLite connection.
pub(crate) fn in_transaction(conn: &mut diesel::SqliteConnection) -> QueryResult<bool> {
    Ok(AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth()?.is_some())
}

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Serialises this process's SQLite write transactions (see [`write_transaction`]).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// On SQLite, copies what the write-ahead log holds into the database file, and keeps the log
/// from growing. Nothing on PostgreSQL.
///
/// First beside the writers, waiting for nobody (`PASSIVE`): the copying. The log is started
/// again from its beginning only by a writer that finds all of it copied, which under writes
/// that never pause does not happen (what is copied, the writers have added to meanwhile): it
/// grew, and past `wal_autocheckpoint` (10,000 pages) every commit of a desk checkpointed it
/// itself, an eighth of a desk's time. So when the log is past [`WAL_RESTART_PAGES`], the rest
/// with this process's writers held back (they queue on [`write_transaction`]'s lock for the
/// moment it takes), and the log starts again (`RESTART`). That waits for no reader: one still
/// on the log (a backup) makes it give up until the next round, and nothing is held up.
pub fn checkpoint_wal(conn: &mut DbConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    let DbConnection::Sqlite(sqlite) = conn else { return Ok(()) };
    if checkpoint_passive(sqlite)? < WAL_RESTART_PAGES {
        return Ok(());
    }
    let _writers = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    sqlite.batch_execute("PRAGMA busy_timeout = 0;")?;
    let restarted = sqlite.batch_execute("PRAGMA wal_checkpoint(RESTART);");
    sqlite.batch_execute(&format!("PRAGMA busy_timeout = {};", pool::SQLITE_BUSY_TIMEOUT_MS))?;
    restarted
}

/// Copies what the write-ahead log holds into the database file as far as it can, waiting for
/// nobody (`PRAGMA wal_checkpoint(PASSIVE)`), and returns the log's length in pages.
pub fn checkpoint_passive(sqlite: &mut diesel::SqliteConnection) -> QueryResult<i32> {
    #[derive(QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        log: i32,
    }
    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Checkpoint>(sqlite).map(|c| c.log)
}

/// The log's length (pages) past which [`checkpoint_wal`] starts it again: well short of
/// `wal_autocheckpoint`'s 10,000.
pub const WAL_RESTART_PAGES: i32 = 2_000;

/// Runs `f` in a transaction that may read then write.
///
/// On SQLite this is `BEGIN IMMEDIATE`: it takes the write lock up front, so two such
/// transactions queue on `busy_timeout` instead of deadlocking on a lock upgrade (which SQLite
/// answers with an immediate "database is locked"). On PostgreSQL it is an ordinary
/// READ COMMITTED transaction: row locks and the re-checked `WHERE` of a conditional update
/// already serialise writers to the same row.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if !matches!(conn, DbConnection::Sqlite(_)) {
        return conn.transaction(f);
    }
    // SQLite has one writer at a time. Writers of this process queue here, in order, instead
    // of spinning in SQLite's busy handler (whose sleeps of up to 100 ms made the latency
    // tail); `busy_timeout` still arbitrates between processes.
    let _writer = SQLITE_WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // What `SqliteConnection::immediate_transaction` does, with the closure given the
    // enum so domain code stays backend-neutral.
    let DbConnection::Sqlite(sqlite) = conn else { unreachable!("checked above") };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    let DbConnection::Sqlite(sqlite) = conn else { unreachable!("the closure cannot change the variant") };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(sqlite)?;
            Ok(value)
        }
        Err(e) => {
            AnsiTransactionManager::rollback_transaction(sqlite)?;
            Err(e)
        }
    }
}
