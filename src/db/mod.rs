//! Storage: one Diesel `MultiConnection` over SQLite and PostgreSQL, an r2d2 pool, the embedded
//! per-backend migrations, and the one helper that opens a write transaction correctly on both.
//! Every query lives under this module: `tiers`, `bookings` and `audit` for one table each,
//! `reserve` for the reservation (both backends side by side).

pub mod audit;
pub mod bookings;
pub mod error;
pub mod models;
pub mod outbox;
pub mod refunds;
pub mod reserve;
pub mod schema;
pub mod secrets;
pub mod sessions;
pub mod tickets;
pub mod tiers;

pub use error::DbError;

use std::path::Path;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::settings::{DatabaseUrl, Settings};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// The pool handed to every request.
pub type DbPool = Pool<ConnectionManager<DbConnection>>;
/// A connection checked out of the pool.
pub type PooledConn = PooledConnection<ConnectionManager<DbConnection>>;

/// Applies SQLite's per-connection settings: WAL lets readers run beside the one writer,
/// `busy_timeout` makes writers queue instead of failing with "database is locked".
#[derive(Debug, Clone, Copy)]
struct ConnectionSetup;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            for pragma in [
                "PRAGMA busy_timeout = 5000;",
                "PRAGMA journal_mode = WAL;",
                "PRAGMA synchronous = NORMAL;",
                "PRAGMA foreign_keys = ON;",
            ] {
                c.batch_execute(pragma).map_err(diesel::r2d2::Error::QueryError)?;
            }
        }
        Ok(())
    }
}

/// Builds the pool for `settings.database_url`, creating the SQLite file's folder if needed.
/// Fails if the database cannot be reached at start.
pub fn build_pool(settings: &Settings) -> Result<DbPool, DbError> {
    let url = match &settings.database_url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| DbError::Folder { path: dir.display().to_string(), source })?;
            }
            path.clone()
        }
        DatabaseUrl::Postgres(url) => with_network_timeouts(url),
    };
    // `establish` tries the variants in order; the scheme was checked in settings, and a
    // SQLite path never parses as a libpq URL, so the right variant is chosen.
    let manager = ConnectionManager::<DbConnection>::new(url);
    Pool::builder()
        .max_size(settings.db_pool_size)
        .min_idle(Some(1))
        .connection_timeout(settings.db_pool_timeout)
        .connection_customizer(Box::new(ConnectionSetup))
        .build(manager)
        .map_err(DbError::from)
}

/// Adds libpq timeouts the URL does not set itself, so that a database behind a dead network
/// (no answer at all, rather than a refused connection) also fails fast instead of hanging a
/// request: `connect_timeout` bounds new connections, `tcp_user_timeout` a query whose packets
/// go unacknowledged.
fn with_network_timeouts(url: &str) -> String {
    let mut url = url.to_owned();
    for (name, value) in [("connect_timeout", "2"), ("tcp_user_timeout", "5000")] {
        if !url.contains(&format!("{name}=")) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("{name}={value}"));
        }
    }
    url
}

/// Applies the embedded migrations of the connection's backend.
pub fn run_migrations(conn: &mut DbConnection) -> Result<(), DbError> {
    let source = match conn {
        DbConnection::Pg(_) => POSTGRES_MIGRATIONS,
        DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
    };
    conn.run_pending_migrations(source).map(|_| ()).map_err(DbError::Migration)
}

/// Migrates, then seeds the tiers if the table is empty; returns how many tiers it seeded.
/// Several processes may start together: on PostgreSQL they take turns on an advisory lock.
pub fn migrate_and_seed(conn: &mut DbConnection) -> Result<usize, DbError> {
    let is_pg = matches!(conn, DbConnection::Pg(_));
    if is_pg {
        diesel::sql_query("SELECT pg_advisory_lock(7041997)").execute(conn)?;
    }
    let result = run_migrations(conn)
        .and_then(|()| write_transaction(conn, models::Tier::seed_if_empty).map_err(DbError::from));
    if is_pg {
        diesel::sql_query("SELECT pg_advisory_unlock(7041997)").execute(conn)?;
    }
    result
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

#[cfg(test)]
mod tests {
    use super::with_network_timeouts;

    #[test]
    fn network_timeouts_are_added_unless_the_url_sets_them() {
        assert_eq!(
            with_network_timeouts("postgres://u@h/db"),
            "postgres://u@h/db?connect_timeout=2&tcp_user_timeout=5000"
        );
        assert_eq!(
            with_network_timeouts("postgres://u@h/db?sslmode=disable&connect_timeout=9"),
            "postgres://u@h/db?sslmode=disable&connect_timeout=9&tcp_user_timeout=5000"
        );
    }
}
