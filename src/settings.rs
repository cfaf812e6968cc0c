//! Typed settings read from the environment (and a `.env` file, loaded by `main`).
//!
//! Every variable of SPEC §3 is parsed here once; a bad value stops start-up with one line
//! that names the variable and the fault.

use std::net::SocketAddr;
use std::time::Duration;

use rand::Rng;

use crate::event::Event;

/// Where the database lives; the scheme decides the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: PATH is everything after the scheme (relative or absolute).
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`, passed to libpq unchanged.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a URL, refusing any scheme other than `sqlite://`, `postgres://` and
    /// `postgresql://` (Diesel's `MultiConnection` would otherwise open a SQLite file named
    /// after whatever string it was given).
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://data/techkraft.sqlite3".into());
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err("must start with sqlite://, postgres:// or postgresql://".into())
        }
    }

    /// The URL without any password, safe for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{path}"),
            Self::Postgres(url) => redact_password(url),
        }
    }
}

fn redact_password(url: &str) -> String {
    // postgres://user:secret@host/db -> postgres://user:***@host/db
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let url = match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    };
    // …?password=secret&… (libpq takes the password as a parameter too)
    match url.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => url,
    }
}

/// The simulated gateway's latency: a fixed number or an inclusive range of milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayRange {
    pub min_ms: u64,
    pub max_ms: u64,
}

impl DelayRange {
    /// Parses `250` or `100-500`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let number = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| format!("{s:?} is not a whole number of milliseconds"))
        };
        let (min_ms, max_ms) = match text.split_once('-') {
            Some((lo, hi)) => (number(lo)?, number(hi)?),
            None => {
                let n = number(text)?;
                (n, n)
            }
        };
        if min_ms > max_ms {
            return Err(format!("range {min_ms}-{max_ms} runs backwards"));
        }
        if max_ms > 600_000 {
            return Err("at most 600000 ms".into());
        }
        Ok(Self { min_ms, max_ms })
    }

    /// A delay drawn uniformly from the range.
    pub fn sample(&self) -> Duration {
        Duration::from_millis(rand::rng().random_range(self.min_ms..=self.max_ms))
    }
}

/// A secret setting: `Debug` prints `Secret([REDACTED])`, so settings can be logged whole.
/// (A newtype rather than the `secrecy` crate: the settings are cloned into every worker, and
/// this needs no extra dependency.)
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

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
    /// The first retry of a failed refund; each later one waits twice as long (at most 5 min).
    pub refund_retry_base: Duration,
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
    /// Tickets, email and the door (SPEC §11).
    pub tickets: crate::ticketing::TicketingSettings,
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

        let payment_refund_failure_rate: f64 =
            parse("PAYMENT_REFUND_FAILURE_RATE", get("PAYMENT_REFUND_FAILURE_RATE"), 0.0)?;
        if !(0.0..=1.0).contains(&payment_refund_failure_rate) {
            return Err(SettingsError {
                variable: "PAYMENT_REFUND_FAILURE_RATE",
                fault: format!("{payment_refund_failure_rate} is outside 0..=1"),
            });
        }
        let payment_ledger = get("PAYMENT_LEDGER").map(std::path::PathBuf::from);
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

        let cors_allowed_origins = get("CORS_ALLOWED_ORIGINS")
            .unwrap_or_else(|| "http://localhost:5173,http://127.0.0.1:5173".into())
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect::<Vec<_>>();
        if let Some(bad) =
            cors_allowed_origins.iter().find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(SettingsError {
                variable: "CORS_ALLOWED_ORIGINS",
                fault: format!("{bad:?} is not an http(s) origin"),
            });
        }

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
            payment_ledger,
            refund_retry_base: Duration::from_millis(refund_retry_base_ms),
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
            tickets: crate::ticketing::TicketingSettings::parse(get)?,
        })
    }
}

fn parse_bool(variable: &'static str, value: Option<String>) -> Result<bool, SettingsError> {
    match value.as_deref().map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(SettingsError { variable, fault: format!("{v:?} is not true or false") }),
    }
}

/// A random string of `len` characters from an alphabet that survives copy and paste.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_spec() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.database_url, DatabaseUrl::Sqlite("data/techkraft.sqlite3".into()));
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(s.payment_success_rate, 0.95);
        assert_eq!(s.payment_delay, DelayRange { min_ms: 100, max_ms: 500 });
        assert_eq!(s.hold_ttl, Duration::from_secs(120));
        assert_eq!(s.max_tickets_per_booking, 10);
        assert_eq!(s.poll_seconds, 5);
        assert_eq!(s.availability_max_age, Duration::from_millis(500));
        assert_eq!(s.cors_allowed_origins, ["http://localhost:5173", "http://127.0.0.1:5173"]);
        assert_eq!(s.rate_limit_bookings_per_min, 60);
        assert_eq!(s.rate_limit_signin_per_min, 10);
        assert_eq!(s.rate_limit_admin_per_min, 120);
        assert_eq!(s.rate_limit_lookups_per_min, 120);
        assert_eq!(s.client_body_timeout, Duration::from_secs(10));
        assert_eq!(s.max_connections_per_client, 256);
        assert!(!s.trust_forwarded_for);
        assert!(s.db_statement_cache);
        assert_eq!(s.database_migration_url, None);
        assert_eq!(s.shutdown_drain, Duration::from_secs(5));
        assert!(s.admin_password_generated);
        assert!(s.admin_password.expose().len() >= 16);
        assert_eq!(s.event.name, "TechKraft Live");
        assert_eq!(s.event.venue, crate::event::DEFAULT_VENUE);
        assert_eq!(s.event.iso(), crate::event::DEFAULT_STARTS_AT);
    }

    #[test]
    fn secrets_never_print() {
        let s = settings(&[("ADMIN_PASSWORD", "correct horse battery"), ("SESSION_SECRET", &"k".repeat(64))])
            .expect("valid");
        let printed = format!("{s:?}");
        assert!(!printed.contains("correct horse"), "{printed}");
        assert!(!printed.contains(&"k".repeat(64)), "{printed}");
        assert!(printed.contains("REDACTED"));
        assert_eq!(s.admin_password.expose(), "correct horse battery");
    }

    #[test]
    fn the_event_comes_from_its_three_variables() {
        let s = settings(&[
            ("EVENT_NAME", "Winter Session"),
            ("EVENT_VENUE", "Royal Albert Hall, London"),
            ("EVENT_STARTS_AT", "2027-12-04T19:30:00Z"),
        ])
        .expect("valid");
        assert_eq!(s.event.name, "Winter Session");
        assert_eq!(s.event.venue, "Royal Albert Hall, London");
        assert_eq!(s.event.time_text(), "19:30");
    }

    #[test]
    fn a_database_url_of_another_scheme_is_refused_by_name() {
        let err = settings(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
        let err = settings(&[("DATABASE_URL", "techkraft.db")]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_URL");
    }

    #[test]
    fn sqlite_paths_are_everything_after_the_scheme() {
        assert_eq!(DatabaseUrl::parse("sqlite://data/x.db"), Ok(DatabaseUrl::Sqlite("data/x.db".into())));
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/tk/x.db"),
            Ok(DatabaseUrl::Sqlite("/var/lib/tk/x.db".into()))
        );
        assert!(DatabaseUrl::parse("postgresql://u@h/db").is_ok());
    }

    #[test]
    fn passwords_are_hidden_in_logged_urls() {
        let url = DatabaseUrl::parse("postgres://tk:hunter2@db:5432/tk").unwrap();
        assert_eq!(url.redacted(), "postgres://tk:***@db:5432/tk");
        let url =
            DatabaseUrl::parse("postgres://tk@db1,db2/tk?password=hunter2&target_session_attrs=read-write")
                .unwrap();
        assert_eq!(url.redacted(), "postgres://tk@db1,db2/tk?password=***&target_session_attrs=read-write");
    }

    #[test]
    fn pooler_and_drain_settings_parse() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://tk@pgbouncer:6432/shop"),
            ("DB_STATEMENT_CACHE", "off"),
            ("DATABASE_MIGRATION_URL", "postgres://tk@db1:5432/shop"),
            ("SHUTDOWN_DRAIN_SECS", "0"),
        ])
        .unwrap();
        assert!(!s.db_statement_cache);
        assert_eq!(
            s.database_migration_url,
            Some(DatabaseUrl::Postgres("postgres://tk@db1:5432/shop".into()))
        );
        assert_eq!(s.shutdown_drain, Duration::ZERO);
        let err =
            settings(&[("DATABASE_URL", "postgres://tk@db/shop"), ("DATABASE_MIGRATION_URL", "sqlite://x")])
                .unwrap_err();
        assert_eq!(err.variable, "DATABASE_MIGRATION_URL");
    }

    #[test]
    fn payment_delay_takes_a_number_or_a_range() {
        assert_eq!(DelayRange::parse("0"), Ok(DelayRange { min_ms: 0, max_ms: 0 }));
        assert_eq!(DelayRange::parse("10-20"), Ok(DelayRange { min_ms: 10, max_ms: 20 }));
        assert!(DelayRange::parse("20-10").is_err());
        assert!(DelayRange::parse("fast").is_err());
    }

    #[test]
    fn out_of_range_settings_name_their_variable() {
        for (var, value) in [
            ("PAYMENT_SUCCESS_RATE", "1.5"),
            ("PAYMENT_SUCCESS_RATE", "often"),
            ("PAYMENT_REFUND_FAILURE_RATE", "2"),
            ("HOLD_TTL_SECS", "0"),
            ("MAX_TICKETS_PER_BOOKING", "-1"),
            ("BIND_ADDR", "localhost"),
            ("TRUST_FORWARDED_FOR", "maybe"),
            ("CLIENT_BODY_TIMEOUT_SECS", "0"),
            ("MAX_CONNECTIONS_PER_CLIENT", "0"),
            ("ADMIN_PASSWORD", "short"),
            ("CORS_ALLOWED_ORIGINS", "localhost:5173"),
            ("EVENT_NAME", "two\nlines"),
            ("EVENT_VENUE", "v".repeat(201).as_str()),
            ("EVENT_STARTS_AT", "next Saturday"),
            ("DB_STATEMENT_CACHE", "sometimes"),
            ("DATABASE_MIGRATION_URL", "postgres://tk@db/shop"),
            ("SHUTDOWN_DRAIN_SECS", "-1"),
            ("SHUTDOWN_DRAIN_SECS", "3601"),
        ] {
            let err = settings(&[(var, value)]).expect_err(var);
            assert_eq!(err.variable, var, "{value}");
        }
    }
}
