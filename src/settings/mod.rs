//! Typed settings read from the environment (and a `.env` file, loaded by `main`).
//!
//! Every variable of SPEC §3 is parsed here once; a bad value stops start-up with one line
//! that names the variable and the fault.

use std::net::SocketAddr;
use std::time::Duration;

use crate::event::Event;

mod backup;
mod values;

pub use backup::BackupSettings;
use values::parse_bool;
pub use values::{DatabaseUrl, DelayRange, Secret, random_token};

/// Everything the server needs to know at start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind_addr: SocketAddr,
    pub db_pool_size: u32,
    /// How long a request waits for a pooled connection before it gets a 503.
    pub db_pool_timeout: Duration,
    pub admin_password: Secret,
    /// True when the password was generated because `ADMIN_PASSWORD` was unset.
    pub admin_password_generated: bool,
    /// Key for signing the admin session cookie (at least 64 bytes); unset: generated once
    /// and kept in the database, so every process accepts every other's cookies.
    pub session_secret: Option<Secret>,
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
    pub tickets: crate::ticketing::TicketingSettings,
    /// Behind a proxy and at the edges (SPEC §15).
    pub edges: crate::edges::EdgeSettings,
    /// `LISTEN_BACKLOG` and `KEEP_ALIVE_SECS` (SPEC §12).
    pub connections: crate::listener::ConnectionSettings,
    /// The waiting room (SPEC §13): `SALE_OPENS_AT`, `QUEUE_*`.
    pub queue: crate::booking::queue::QueueSettings,
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
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        fn parse<T: std::str::FromStr>(
            variable: &'static str,
            value: Option<String>,
            default: T,
        ) -> Result<T, SettingsError> {
            match value {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| SettingsError { variable, fault: format!("{v:?} is not a valid value") }),
            }
        }

        let database_url = DatabaseUrl::parse(
            &get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/techkraft.sqlite3".into()),
        )
        .map_err(|fault| SettingsError { variable: "DATABASE_URL", fault })?;

        let bind_addr = parse("BIND_ADDR", get("BIND_ADDR"), SocketAddr::from(([127, 0, 0, 1], 3000)))?;

        let default_pool = match database_url {
            // SQLite has one writer at a time; a few connections serve the readers too.
            DatabaseUrl::Sqlite(_) => 8,
            DatabaseUrl::Postgres(_) => 16,
        };
        let db_pool_size: u32 = parse("DB_POOL_SIZE", get("DB_POOL_SIZE"), default_pool)?;
        if !(1..=1000).contains(&db_pool_size) {
            return Err(SettingsError { variable: "DB_POOL_SIZE", fault: "must be 1..=1000".into() });
        }
        let pool_timeout_ms: u64 = parse("DB_POOL_TIMEOUT_MS", get("DB_POOL_TIMEOUT_MS"), 1000)?;
        if !(1..=60_000).contains(&pool_timeout_ms) {
            return Err(SettingsError { variable: "DB_POOL_TIMEOUT_MS", fault: "must be 1..=60000".into() });
        }

        let (admin_password, admin_password_generated) = match get("ADMIN_PASSWORD") {
            Some(p) if p.len() < 8 => {
                return Err(SettingsError {
                    variable: "ADMIN_PASSWORD",
                    fault: "must be at least 8 characters".into(),
                });
            }
            Some(p) => (Secret::new(p), false),
            None => (Secret::new(random_token(20)), true),
        };

        let session_secret = match get("SESSION_SECRET") {
            Some(s) if s.len() < 64 => {
                return Err(SettingsError {
                    variable: "SESSION_SECRET",
                    fault: "must be at least 64 characters".into(),
                });
            }
            other => other.map(Secret::new),
        };

        let payment_success_rate: f64 = parse("PAYMENT_SUCCESS_RATE", get("PAYMENT_SUCCESS_RATE"), 0.95)?;
        if !(0.0..=1.0).contains(&payment_success_rate) {
            return Err(SettingsError {
                variable: "PAYMENT_SUCCESS_RATE",
                fault: format!("{payment_success_rate} is outside 0..=1"),
            });
        }
        let payment_delay = DelayRange::parse(&get("PAYMENT_DELAY_MS").unwrap_or_else(|| "100-500".into()))
            .map_err(|fault| SettingsError { variable: "PAYMENT_DELAY_MS", fault })?;

        let payment_hang_rate: f64 = parse("PAYMENT_HANG_RATE", get("PAYMENT_HANG_RATE"), 0.0)?;
        if !(0.0..=1.0).contains(&payment_hang_rate) {
            return Err(SettingsError {
                variable: "PAYMENT_HANG_RATE",
                fault: format!("{payment_hang_rate} is outside 0..=1"),
            });
        }
        let payment_refund_failure_rate: f64 =
            parse("PAYMENT_REFUND_FAILURE_RATE", get("PAYMENT_REFUND_FAILURE_RATE"), 0.0)?;
        if !(0.0..=1.0).contains(&payment_refund_failure_rate) {
            return Err(SettingsError {
                variable: "PAYMENT_REFUND_FAILURE_RATE",
                fault: format!("{payment_refund_failure_rate} is outside 0..=1"),
            });
        }
        let payment_ledger = get("PAYMENT_LEDGER").map(std::path::PathBuf::from);
        let payment_timeout_ms: u64 = parse("PAYMENT_TIMEOUT_MS", get("PAYMENT_TIMEOUT_MS"), 30_000)?;
        if !(100..=600_000).contains(&payment_timeout_ms) {
            return Err(SettingsError {
                variable: "PAYMENT_TIMEOUT_MS",
                fault: format!("{payment_timeout_ms} is outside 100..=600000"),
            });
        }
        let refund_retry_base_ms: u64 = parse("REFUND_RETRY_BASE_MS", get("REFUND_RETRY_BASE_MS"), 1000)?;
        if !(1..=300_000).contains(&refund_retry_base_ms) {
            return Err(SettingsError {
                variable: "REFUND_RETRY_BASE_MS",
                fault: "must be 1..=300000".into(),
            });
        }

        let hold_ttl_secs: u64 = parse("HOLD_TTL_SECS", get("HOLD_TTL_SECS"), 120)?;
        if !(1..=86_400).contains(&hold_ttl_secs) {
            return Err(SettingsError { variable: "HOLD_TTL_SECS", fault: "must be 1..=86400".into() });
        }
        let max_tickets_per_booking: u32 =
            parse("MAX_TICKETS_PER_BOOKING", get("MAX_TICKETS_PER_BOOKING"), 10)?;
        if !(1..=1000).contains(&max_tickets_per_booking) {
            return Err(SettingsError {
                variable: "MAX_TICKETS_PER_BOOKING",
                fault: "must be 1..=1000".into(),
            });
        }
        let poll_seconds: u32 = parse("POLL_SECONDS", get("POLL_SECONDS"), 5)?;
        if !(1..=3600).contains(&poll_seconds) {
            return Err(SettingsError { variable: "POLL_SECONDS", fault: "must be 1..=3600".into() });
        }

        let availability_max_age_ms: u64 =
            parse("AVAILABILITY_MAX_AGE_MS", get("AVAILABILITY_MAX_AGE_MS"), 500)?;
        if availability_max_age_ms > 60_000 {
            return Err(SettingsError {
                variable: "AVAILABILITY_MAX_AGE_MS",
                fault: "must be 0..=60000".into(),
            });
        }

        let cors_allowed_origins = values::cors_origins(
            &get("CORS_ALLOWED_ORIGINS")
                .unwrap_or_else(|| "http://localhost:5173,http://127.0.0.1:5173".into()),
        )
        .map_err(|fault| SettingsError { variable: "CORS_ALLOWED_ORIGINS", fault })?;

        let rate_limit_bookings_per_min =
            parse("RATE_LIMIT_BOOKINGS_PER_MIN", get("RATE_LIMIT_BOOKINGS_PER_MIN"), 60)?;
        let rate_limit_signin_per_min =
            parse("RATE_LIMIT_SIGNIN_PER_MIN", get("RATE_LIMIT_SIGNIN_PER_MIN"), 10)?;
        let rate_limit_admin_per_min =
            parse("RATE_LIMIT_ADMIN_PER_MIN", get("RATE_LIMIT_ADMIN_PER_MIN"), 120)?;
        let rate_limit_lookups_per_min =
            parse("RATE_LIMIT_LOOKUPS_PER_MIN", get("RATE_LIMIT_LOOKUPS_PER_MIN"), 120)?;
        let trust_forwarded_for = parse_bool("TRUST_FORWARDED_FOR", get("TRUST_FORWARDED_FOR"))?;
        let body_timeout_secs: u64 = parse("CLIENT_BODY_TIMEOUT_SECS", get("CLIENT_BODY_TIMEOUT_SECS"), 10)?;
        if !(1..=600).contains(&body_timeout_secs) {
            return Err(SettingsError {
                variable: "CLIENT_BODY_TIMEOUT_SECS",
                fault: "must be 1..=600".into(),
            });
        }
        let max_connections_per_client: u32 =
            parse("MAX_CONNECTIONS_PER_CLIENT", get("MAX_CONNECTIONS_PER_CLIENT"), 256)?;
        if max_connections_per_client == 0 {
            return Err(SettingsError {
                variable: "MAX_CONNECTIONS_PER_CLIENT",
                fault: "must be at least 1".into(),
            });
        }
        let event = Event::parse(
            get("EVENT_NAME").as_deref(),
            get("EVENT_VENUE").as_deref(),
            get("EVENT_STARTS_AT").as_deref(),
        )
        .map_err(|e| SettingsError { variable: e.variable, fault: e.fault })?;

        let db_statement_cache = match get("DB_STATEMENT_CACHE") {
            None => true,
            some => parse_bool("DB_STATEMENT_CACHE", some)?,
        };
        let database_migration_url = match get("DATABASE_MIGRATION_URL") {
            None => None,
            Some(url) => match (DatabaseUrl::parse(&url), &database_url) {
                (Ok(url @ DatabaseUrl::Postgres(_)), DatabaseUrl::Postgres(_)) => Some(url),
                (Err(fault), _) => return Err(SettingsError { variable: "DATABASE_MIGRATION_URL", fault }),
                _ => {
                    return Err(SettingsError {
                        variable: "DATABASE_MIGRATION_URL",
                        fault: "only for PostgreSQL, with a postgres:// DATABASE_URL".into(),
                    });
                }
            },
        };
        let shutdown_drain_secs: u64 = parse("SHUTDOWN_DRAIN_SECS", get("SHUTDOWN_DRAIN_SECS"), 5)?;
        if shutdown_drain_secs > 3600 {
            return Err(SettingsError { variable: "SHUTDOWN_DRAIN_SECS", fault: "must be 0..=3600".into() });
        }

        let backup = BackupSettings::parse(get, &database_url)?;
        Ok(Self {
            database_url,
            bind_addr,
            db_pool_size,
            db_pool_timeout: Duration::from_millis(pool_timeout_ms),
            admin_password,
            admin_password_generated,
            session_secret,
            payment_success_rate,
            payment_delay,
            payment_refund_failure_rate,
            payment_hang_rate,
            payment_ledger,
            refund_retry_base: Duration::from_millis(refund_retry_base_ms),
            payment_timeout: Duration::from_millis(payment_timeout_ms),
            hold_ttl: Duration::from_secs(hold_ttl_secs),
            max_tickets_per_booking,
            poll_seconds,
            availability_max_age: Duration::from_millis(availability_max_age_ms),
            cors_allowed_origins,
            rate_limit_bookings_per_min,
            rate_limit_signin_per_min,
            rate_limit_admin_per_min,
            rate_limit_lookups_per_min,
            trust_forwarded_for,
            client_body_timeout: Duration::from_secs(body_timeout_secs),
            max_connections_per_client,
            event,
            db_statement_cache,
            database_migration_url,
            shutdown_drain: Duration::from_secs(shutdown_drain_secs),
            backup,
            tickets: crate::ticketing::TicketingSettings::parse(get)?,
            edges: crate::edges::EdgeSettings::parse(get)?,
            connections: crate::listener::ConnectionSettings::parse(get)?,
            queue: crate::booking::queue::QueueSettings::parse(get)?,
        })
    }
}

#[cfg(test)]
mod tests;
