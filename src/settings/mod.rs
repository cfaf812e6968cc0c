//! Typed settings read from the environment (and a `.env` file, loaded by `main`), every one
//! in this folder: each variable is parsed once, and a bad value stops start-up with one line
//! that names the variable and the fault (`setting HOLD_TTL_SECS: must be in 1..=86400, not "0"`).
//!
//! [`Settings`] holds the server's own settings and one field per group of the rest, each group
//! a file here that reads through [`vars::Vars`]: `tickets.rs` (tickets, email and the door,
//! SPEC §11), `edges.rs` (behind a proxy and at the edges, SPEC §15), `backup.rs` (SPEC §16).
//! `values.rs` has the values they are made of (database URLs, delay ranges, origins). A new
//! setting is one line in its group's `parse` (`vars.parse_in(NAME, default, range)`), a field,
//! a row in the README's settings table and a line in `.env.example`; a new group is a file
//! here with a `parse(vars)` and a field of [`Settings`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::event::Event;

mod backup;
mod connections;
mod edges;
mod queue;
mod tickets;
mod values;
mod vars;

pub use backup::BackupSettings;
pub use connections::{ConnectionSettings, DEFAULT_BACKLOG, DEFAULT_KEEP_ALIVE_SECS};
pub use edges::EdgeSettings;
pub use queue::QueueSettings;
pub use secrecy::{ExposeSecret, SecretString};
pub use tickets::{DEFAULT_FROM, TicketingSettings};
pub use values::{DatabaseUrl, DelayRange, constant_time_eq, random_token, time_ordered_id};
pub use vars::Vars;
use vars::fault;

/// Everything the server needs to know at start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind_addr: SocketAddr,
    pub db_pool_size: u32,
    /// How long a request waits for a pooled connection before it gets a 503.
    pub db_pool_timeout: Duration,
    pub admin_password: SecretString,
    /// True when the password was generated because `ADMIN_PASSWORD` was unset.
    pub admin_password_generated: bool,
    /// Key for signing the admin session cookie (at least 64 bytes); unset: generated once
    /// and kept in the database, so every process accepts every other's cookies.
    pub session_secret: Option<SecretString>,
    pub payment_success_rate: f64,
    pub payment_delay: DelayRange,
    /// Probability that a simulated refund fails (to exercise the retries).
    pub payment_refund_failure_rate: f64,
    /// Probability that a simulated charge hangs past the timeout (simulation only).
    pub payment_hang_rate: f64,
    /// The first retry of a failed refund; each later one waits twice as long (at most 5 min).
    pub refund_retry_base: Duration,
    /// How long a charge may take before the shop stops waiting for it (`PAYMENT_TIMEOUT_MS`).
    pub payment_timeout: Duration,
    /// Where the simulated gateway records refunds, shared by every process (simulation only).
    pub payment_ledger: Option<std::path::PathBuf>,
    pub hold_ttl: Duration,
    pub max_tickets_per_booking: u32,
    pub poll_seconds: u32,
    /// How old the per-process availability snapshot may be.
    pub availability_max_age: Duration,
    pub cors_allowed_origins: Vec<String>,
    pub rate_limit_bookings_per_min: u32,
    pub rate_limit_signin_per_min: u32,
    /// Admin (and door) POSTs per client address per minute.
    pub rate_limit_admin_per_min: u32,
    /// Booking reference lookups (page and API) per client address per minute.
    pub rate_limit_lookups_per_min: u32,
    pub trust_forwarded_for: bool,
    /// How long a request body may take to arrive before the answer is `408`.
    pub client_body_timeout: Duration,
    /// Connections one client address may hold at once.
    pub max_connections_per_client: u32,
    /// The concert: `EVENT_NAME`, `EVENT_VENUE`, `EVENT_STARTS_AT`.
    pub event: Event,
    /// Diesel's prepared-statement cache on PostgreSQL (`DB_STATEMENT_CACHE`, default on);
    /// off behind PgBouncer in transaction mode.
    pub db_statement_cache: bool,
    /// A direct PostgreSQL connection for migrations (`DATABASE_MIGRATION_URL`), when the
    /// pool goes through a pooler.
    pub database_migration_url: Option<DatabaseUrl>,
    /// After SIGTERM, how long `/readyz` answers 503 while everything else is still served
    /// (`SHUTDOWN_DRAIN_SECS`, default 5; zero stops at once).
    pub shutdown_drain: Duration,
    /// Scheduled backups of the SQLite database (SPEC §16).
    pub backup: BackupSettings,
    /// Tickets, email and the door (SPEC §11).
    pub tickets: TicketingSettings,
    /// Behind a proxy and at the edges (SPEC §15).
    pub edges: EdgeSettings,
    /// `LISTEN_BACKLOG` and `KEEP_ALIVE_SECS` (SPEC §12).
    pub connections: ConnectionSettings,
    /// The waiting room (SPEC §13): `SALE_OPENS_AT`, `QUEUE_*`.
    pub queue: QueueSettings,
}

/// A setting that could not be used: names the variable and the fault.
#[derive(Debug, thiserror::Error)]
#[error("setting {variable}: {fault}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub fault: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Self::parse(Vars::new(&lookup))
    }

    fn parse(vars: Vars) -> Result<Self, SettingsError> {
        let database_url =
            vars.with("DATABASE_URL", "sqlite://data/techkraft.sqlite3", DatabaseUrl::parse)?;
        let default_pool = match database_url {
            // SQLite has one writer at a time; a few connections serve the readers too.
            DatabaseUrl::Sqlite(_) => 8,
            DatabaseUrl::Postgres(_) => 16,
        };
        let (admin_password, admin_password_generated) = match vars.get("ADMIN_PASSWORD") {
            Some(p) if p.len() < 8 => return Err(fault("ADMIN_PASSWORD", "must be at least 8 characters")),
            Some(p) => (SecretString::from(p), false),
            None => (SecretString::from(random_token(20)), true),
        };
        let session_secret = match vars.get("SESSION_SECRET") {
            Some(s) if s.len() < 64 => return Err(fault("SESSION_SECRET", "must be at least 64 characters")),
            other => other.map(SecretString::from),
        };
        let database_migration_url = match vars.get("DATABASE_MIGRATION_URL") {
            None => None,
            Some(url) => match (DatabaseUrl::parse(&url), &database_url) {
                (Ok(url @ DatabaseUrl::Postgres(_)), DatabaseUrl::Postgres(_)) => Some(url),
                (Err(f), _) => return Err(fault("DATABASE_MIGRATION_URL", f)),
                _ => {
                    let f = "only for PostgreSQL, with a postgres:// DATABASE_URL";
                    return Err(fault("DATABASE_MIGRATION_URL", f));
                }
            },
        };
        let millis = Duration::from_millis;
        let secs = Duration::from_secs;
        Ok(Self {
            bind_addr: vars.parse("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 3000)))?,
            db_pool_size: vars.parse_in("DB_POOL_SIZE", default_pool, 1..=1000)?,
            db_pool_timeout: millis(vars.parse_in("DB_POOL_TIMEOUT_MS", 1000, 1..=60_000)?),
            db_statement_cache: vars.flag("DB_STATEMENT_CACHE", true)?,
            database_migration_url,
            admin_password,
            admin_password_generated,
            session_secret,
            payment_success_rate: vars.parse_in("PAYMENT_SUCCESS_RATE", 0.95, 0.0..=1.0)?,
            payment_delay: vars.with("PAYMENT_DELAY_MS", "100-500", DelayRange::parse)?,
            payment_hang_rate: vars.parse_in("PAYMENT_HANG_RATE", 0.0, 0.0..=1.0)?,
            payment_refund_failure_rate: vars.parse_in("PAYMENT_REFUND_FAILURE_RATE", 0.0, 0.0..=1.0)?,
            payment_ledger: vars.get("PAYMENT_LEDGER").map(std::path::PathBuf::from),
            payment_timeout: millis(vars.parse_in("PAYMENT_TIMEOUT_MS", 30_000, 100..=600_000)?),
            refund_retry_base: millis(vars.parse_in("REFUND_RETRY_BASE_MS", 1000, 1..=300_000)?),
            hold_ttl: secs(vars.parse_in("HOLD_TTL_SECS", 120, 1..=86_400)?),
            max_tickets_per_booking: vars.parse_in("MAX_TICKETS_PER_BOOKING", 10, 1..=1000)?,
            poll_seconds: vars.parse_in("POLL_SECONDS", 5, 1..=3600)?,
            availability_max_age: millis(vars.parse_in("AVAILABILITY_MAX_AGE_MS", 500, 0..=60_000)?),
            cors_allowed_origins: vars.with(
                "CORS_ALLOWED_ORIGINS",
                "http://localhost:5173,http://127.0.0.1:5173",
                values::cors_origins,
            )?,
            rate_limit_bookings_per_min: vars.parse("RATE_LIMIT_BOOKINGS_PER_MIN", 60)?,
            rate_limit_signin_per_min: vars.parse("RATE_LIMIT_SIGNIN_PER_MIN", 10)?,
            rate_limit_admin_per_min: vars.parse("RATE_LIMIT_ADMIN_PER_MIN", 120)?,
            rate_limit_lookups_per_min: vars.parse("RATE_LIMIT_LOOKUPS_PER_MIN", 120)?,
            trust_forwarded_for: vars.flag("TRUST_FORWARDED_FOR", false)?,
            client_body_timeout: secs(vars.parse_in("CLIENT_BODY_TIMEOUT_SECS", 10, 1..=600)?),
            max_connections_per_client: vars.parse_in("MAX_CONNECTIONS_PER_CLIENT", 256, 1..)?,
            event: Event::parse(
                vars.get("EVENT_NAME").as_deref(),
                vars.get("EVENT_VENUE").as_deref(),
                vars.get("EVENT_STARTS_AT").as_deref(),
            )
            .map_err(|e| fault(e.variable, e.fault))?,
            shutdown_drain: secs(vars.parse_in("SHUTDOWN_DRAIN_SECS", 5, 0..=3600)?),
            backup: BackupSettings::parse(vars, &database_url)?,
            tickets: TicketingSettings::parse(vars)?,
            edges: EdgeSettings::parse(vars)?,
            connections: ConnectionSettings::parse(vars)?,
            queue: QueueSettings::parse(vars)?,
            database_url,
        })
    }
}

#[cfg(test)]
mod tests;
