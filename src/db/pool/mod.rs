//! Connections and the pool: establishing the backend the URL names (so libpq's own reason for
//! a refusal reaches the log), the per-connection settings of each backend, the check that
//! drops connections to a server that became read-only, and migrations that keep no session
//! state (so they run through PgBouncer in transaction mode).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use diesel::connection::{CacheSize, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use r2d2::{ManageConnection, Pool};

use super::{DbConnection, DbError, write_transaction};
use crate::db::models::Tier;

mod health;
use crate::settings::{DatabaseUrl, Settings};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Any number that other applications sharing the database are unlikely to lock.
const MIGRATION_LOCK: i64 = 7041997;

/// The pool's connection manager: opens the backend that `DATABASE_URL` names, and nothing
/// else. (Diesel's `MultiConnection::establish` tries every backend in turn and, when all
/// fail, reports only "Invalid connection url for multiconnection", hiding libpq's reason.)
#[derive(Debug, Clone)]
pub struct Manager {
    target: Target,
    switchover: Arc<Switchover>,
}

/// What the pool knows of a switchover, from a connection that met a read-only server: on
/// checkout ([`Manager::is_valid`]) or in use ([`DbPool::met_read_only`]).
#[derive(Debug, Default)]
pub(super) struct Switchover {
    /// Set when a connection met a read-only server; [`checkout`] then validates every idle
    /// connection at once.
    sweep_due: AtomicBool,
    /// Until when (millis) every connection coming back to the pool is checked for a read-only
    /// server too: one in use during the switchover would otherwise go back under a fresh one.
    recheck_until: AtomicI64,
}

impl Switchover {
    pub(super) fn met_read_only(&self) {
        self.sweep_due.store(true, Ordering::SeqCst);
        self.recheck_until.store(crate::clock::now_millis() + RECHECK_MILLIS, Ordering::SeqCst);
    }
}

/// How long after meeting a read-only server returning connections are checked.
const RECHECK_MILLIS: i64 = 60_000;

/// Whether the session's server takes no writes (one round trip, as `SELECT 1`).
fn is_read_only(pg: &mut diesel::PgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "current_setting('transaction_read_only') = 'on'",
    ))
    .get_result(pg)
}

#[derive(Debug, Clone)]
enum Target {
    /// A file path (what follows `sqlite://`).
    Sqlite(String),
    Postgres {
        /// What libpq is given (the configured URL plus network timeouts).
        url: String,
        /// The password in the URL, if any, to keep it out of messages.
        password: Option<String>,
        /// Diesel's prepared-statement cache; off behind PgBouncer in transaction mode.
        statement_cache: bool,
    },
}

impl Manager {
    /// A manager for `url`. `statement_cache` only matters on PostgreSQL.
    pub fn new(url: &DatabaseUrl, statement_cache: bool) -> Self {
        let target = match url {
            DatabaseUrl::Sqlite(path) => Target::Sqlite(path.clone()),
            DatabaseUrl::Postgres(url) => Target::Postgres {
                url: with_network_timeouts(url),
                password: url_password(url),
                statement_cache,
            },
        };
        Self { target, switchover: Arc::default() }
    }

    /// Opens one connection, with a one-line error that carries the database's own reason
    /// and never the password.
    pub fn establish(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match &self.target {
            Target::Sqlite(path) => diesel::SqliteConnection::establish(path).map(DbConnection::Sqlite),
            Target::Postgres { url, password, statement_cache } => {
                let mut conn = diesel::PgConnection::establish(url).map_err(|e| {
                    use diesel::ConnectionError::{BadConnection, InvalidConnectionUrl};
                    match e {
                        BadConnection(m) => BadConnection(one_line(&m, password.as_deref())),
                        InvalidConnectionUrl(m) => InvalidConnectionUrl(one_line(&m, password.as_deref())),
                        other => other,
                    }
                })?;
                if !statement_cache {
                    // Named statements live in one server session; behind a transaction-mode
                    // pooler the next transaction may run in another one. Uncached statements
                    // are sent as one PQsendQueryParams (parse, bind and execute together).
                    conn.set_prepared_statement_cache_size(CacheSize::Disabled);
                }
                Ok(DbConnection::Pg(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        self.establish().map_err(diesel::r2d2::Error::ConnectionError)
    }

    /// Run on every checkout. On PostgreSQL it also asks whether the session is read-only: a
    /// primary that was demoted (or a pooler that now points at a standby) answers every write
    /// with SQLSTATE 25006, and reconnecting, with `target_session_attrs=read-write` in a
    /// multi-host URL, finds the host that now takes writes. Same round trip as `SELECT 1`.
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        match conn {
            DbConnection::Pg(pg) => {
                if is_read_only(pg).map_err(diesel::r2d2::Error::QueryError)? {
                    self.switchover.met_read_only();
                    // r2d2 drops the connection and hands this to `LogConnectionErrors`.
                    return Err(diesel::r2d2::Error::QueryError(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::ReadOnlyTransaction,
                        Box::new(READ_ONLY.to_owned()),
                    )));
                }
                Ok(())
            }
            DbConnection::Sqlite(_) => conn.ping().map_err(diesel::r2d2::Error::QueryError),
        }
    }

    /// Run as a connection goes back to the pool: a broken one is dropped. For a minute after
    /// a checkout met a read-only server, one on a read-only server counts as broken too.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        if std::thread::panicking() || conn.is_broken() {
            return true;
        }
        if crate::clock::now_millis() < self.switchover.recheck_until.load(Ordering::SeqCst)
            && let DbConnection::Pg(pg) = conn
        {
            return is_read_only(pg).unwrap_or(true);
        }
        false
    }
}

pub use health::{DbPool, PooledConn};

/// How long a SQLite connection waits for another process's lock before it fails.
pub(crate) const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// Applies SQLite's per-connection settings: WAL lets readers run beside the one writer,
/// `busy_timeout` makes writers queue instead of failing with "database is locked". The log is
/// copied into the database file by a background task ([`crate::db::checkpoint_wal`], several
/// times a second), not by whichever commit finds it over 1,000 pages (SQLite's default): that
/// commit was usually a tier's desk, and every booking behind it waited. A commit still does it
/// past 10,000 pages (40 MiB), should the task fall behind.
/// PostgreSQL gets none: no session state, so PgBouncer in transaction mode works.
#[derive(Debug, Clone, Copy)]
struct ConnectionSetup;

impl r2d2::CustomizeConnection<DbConnection, diesel::r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(c) = conn {
            for pragma in [
                &format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};"),
                "PRAGMA journal_mode = WAL;",
                "PRAGMA synchronous = NORMAL;",
                "PRAGMA foreign_keys = ON;",
                "PRAGMA wal_autocheckpoint = 10000;",
                "PRAGMA temp_store = MEMORY;",
            ] {
                c.batch_execute(pragma).map_err(diesel::r2d2::Error::QueryError)?;
            }
        }
        Ok(())
    }
}

const READ_ONLY: &str = "a pooled connection's server is read-only (a standby, or a demoted primary)";

/// A connection from the pool (validated on checkout, see [`Manager::is_valid`]).
///
/// The pool hands out its idle connections last in, first out, and validates only what it hands
/// out. After a switchover, a connection that was in use while the first checkout met the
/// read-only host comes back on top of the fresh connection that replaced the dropped ones, and
/// a fresh one returned later goes on top of it: under light load (the batch threads keep it
/// light: a handful of connections serve thousands of bookings) the old one then stays idle
/// and unvalidated, connected to the demoted primary, for as long as the load stays light. So
/// once any checkout (or a desk, [`DbPool::met_read_only`]) meets a read-only server, every
/// idle connection is checked out and validated at once, and for a minute every connection
/// coming back is checked as well ([`Manager::has_broken`]): those on the read-only host are
/// dropped, and the pool opens new ones (to the host that now takes writes, with
/// `target_session_attrs=read-write`).
pub fn checkout(pool: &DbPool) -> Result<PooledConn, r2d2::Error> {
    let conn = pool.get()?;
    if pool.switchover().sweep_due.swap(false, Ordering::SeqCst) {
        let mut idle = Vec::new();
        while let Some(other) = pool.try_get() {
            idle.push(other);
        }
        log::info!("validated {} idle connection(s) after finding a read-only server", idle.len());
    }
    Ok(conn)
}

/// Builds the pool for `settings.database_url`, creating the SQLite file's folder if needed.
/// Fails if the database cannot be reached at start, saying why in one line.
pub fn build_pool(settings: &Settings) -> Result<DbPool, DbError> {
    if let DatabaseUrl::Sqlite(path) = &settings.database_url
        && let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|source| DbError::Folder { path: dir.display().to_string(), source })?;
    }
    let manager = Manager::new(&settings.database_url, settings.db_statement_cache);
    let switchover = manager.switchover.clone();
    let redacted = settings.database_url.redacted();
    // One connection first, so that a refusal is reported as itself rather than as the
    // pool's "timed out waiting for connection".
    manager.establish().map_err(|e| DbError::Connect(format!("cannot connect to {redacted}: {e}")))?;
    let health = Arc::new(health::Health::default());
    let pool = Pool::builder()
        .max_size(settings.db_pool_size)
        .min_idle(Some(1))
        .connection_timeout(settings.db_pool_timeout)
        .connection_customizer(Box::new(ConnectionSetup))
        .error_handler(Box::new(health::LogConnectionErrors { url: redacted, health: health.clone() }))
        .event_handler(Box::new(health::TrackConnections(health.clone())))
        .build(manager)
        .map_err(DbError::from)?;
    let keeps_plans =
        matches!(settings.database_url, DatabaseUrl::Postgres(_)) && settings.db_statement_cache;
    Ok(DbPool::new(pool, health, switchover, keeps_plans))
}

/// Makes the session's next plans generic (`plan_cache_mode = force_generic_plan`: a prepared
/// statement is planned once), with sequential scans discouraged (`enable_seqscan = off`; a
/// table with no index for a query is still read whole) and without JIT compilation (which the
/// discouraged scans' cost would set off). For a desk's connection while the desk holds it
/// (`booking::desk`), on PostgreSQL with the statement cache on (see
/// [`DbPool::keeps_plans`]); [`plan_plainly`] undoes it.
///
/// Why generic: PostgreSQL plans a prepared statement for each of its first five runs, then
/// either keeps one generic plan or, when that plan's estimate is dearer than the custom ones'
/// average, plans every run anew for as long as the session lasts. Which of the two it picks
/// for the desk's quick statement depends on the table's statistics and the first batches'
/// sizes: on an analysed table of many bookings it plans every batch anew, which cost the
/// statement about half its time (3,000 against 4,600 bookings/s at 8 connections).
///
/// Why by key: a generic plan made while `bookings` is new (a few pages, as when a sale opens)
/// may read the whole table to confirm a batch's holds, and go on reading it as the table grows
/// to many thousand rows. Every statement a desk runs finds its rows by a key.
pub fn plan_by_key(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute("SET enable_seqscan = off; SET jit = off; SET plan_cache_mode = force_generic_plan")
}

/// Undoes [`plan_by_key`].
pub fn plan_plainly(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute("RESET enable_seqscan; RESET jit; RESET plan_cache_mode")
}

/// Migrates and seeds, once, even when several processes start together. Uses
/// `DATABASE_MIGRATION_URL` (a direct connection) when set, else a pooled connection.
pub fn prepare_database(pool: &DbPool, settings: &Settings) -> Result<(), DbError> {
    let seeded = match &settings.database_migration_url {
        Some(url) => {
            let mut direct = Manager::new(url, true)
                .establish()
                .map_err(|e| DbError::Connect(format!("DATABASE_MIGRATION_URL {}: {e}", url.redacted())))?;
            migrate_and_seed(&mut direct)?
        }
        None => migrate_and_seed(&mut *pool.get()?)?,
    };
    if seeded > 0 {
        log::info!("seeded {seeded} ticket tiers");
    }
    Ok(())
}

/// On PostgreSQL everything happens in one transaction under a transaction-scoped advisory
/// lock: processes starting together take turns, and no session state is needed, so it works
/// through PgBouncer in transaction mode (the lock ends with the transaction; a session-level
/// `pg_advisory_lock` would be taken on one server connection and released on another).
/// Each migration runs in a savepoint inside it.
fn migrate_and_seed(conn: &mut DbConnection) -> Result<usize, DbError> {
    if matches!(conn, DbConnection::Pg(_)) {
        conn.transaction(|c| {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).execute(c)?;
            run_migrations(c)?;
            Ok(Tier::seed_if_empty(c)?)
        })
    } else {
        run_migrations(conn)?;
        Ok(write_transaction(conn, Tier::seed_if_empty)?)
    }
}

/// Applies the embedded migrations of the connection's backend.
pub fn run_migrations(conn: &mut DbConnection) -> Result<(), DbError> {
    let source = match conn {
        DbConnection::Pg(_) => POSTGRES_MIGRATIONS,
        DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
    };
    conn.run_pending_migrations(source).map(|_| ()).map_err(DbError::Migration)
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

/// The password of `postgres://user:password@host/…` (or `…?password=…`), if there is one.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let in_query = rest.split_once('?').and_then(|(_, query)| {
        query.split('&').find_map(|pair| match pair.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("password") => Some(value.to_owned()),
            _ => None,
        })
    });
    let in_userinfo = rest
        .split('?')
        .next()
        .and_then(|r| r.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password.to_owned());
    in_userinfo.or(in_query).filter(|p| !p.is_empty())
}

/// libpq's message on one line (it spreads a refusal over several, one per host tried), with
/// the password hidden should it ever appear.
fn one_line(message: &str, password: Option<&str>) -> String {
    let line = message
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match password {
        Some(p) => line.replace(p, "***"),
        None => line,
    }
}

mod state;
pub use state::{MigrationState, migration_state};

#[cfg(test)]
mod tests;
