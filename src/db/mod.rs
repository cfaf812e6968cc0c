//! Storage: one Diesel `MultiConnection` over SQLite and PostgreSQL, an r2d2 pool, the embedded
//! per-backend migrations, and the one helper that opens a write transaction correctly on both.

pub mod models;
mod pool;
pub mod schema;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;

pub use pool::{DbPool, Manager, PooledConn, build_pool, prepare_database, run_migrations};

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
}

impl From<r2d2::Error> for DbError {
    fn from(e: r2d2::Error) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Serialises this process's SQLite write transactions (see [`write_transaction`]).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

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

/// True for the errors that mean "the database is not there right now" rather than "the
/// query was wrong": closed connections, and SQLite's busy/locked after its timeout.
pub fn is_unavailable(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            // libpq reports a lost server only in words.
            const SIGNS: [&str; 14] = [
                "database is locked",
                "database is busy",
                "server closed the connection",
                "terminating connection",
                "no connection to the server",
                "could not connect",
                "could not receive data",
                "could not send data",
                "connection reset",
                "connection refused",
                "broken pipe",
                "timed out",
                "the database system is",
                "connection to server",
            ];
            let m = info.message().to_ascii_lowercase();
            SIGNS.iter().any(|sign| m.contains(sign))
        }
        _ => false,
    }
}
