//! The settings' unit tests.

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
    assert!(s.admin_password.expose_secret().len() >= 16);
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
    assert_eq!(s.admin_password.expose_secret(), "correct horse battery");
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
    let url = DatabaseUrl::parse("postgres://tk@db1,db2/tk?password=hunter2&target_session_attrs=read-write")
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
    assert_eq!(s.database_migration_url, Some(DatabaseUrl::Postgres("postgres://tk@db1:5432/shop".into())));
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
        ("CORS_ALLOWED_ORIGINS", "https://app.example/path"),
        ("FORWARDED_HEADER", "x-real-ip"),
        ("EVENT_NAME", "two\nlines"),
        ("EVENT_VENUE", "v".repeat(201).as_str()),
        ("EVENT_STARTS_AT", "next Saturday"),
        ("DB_STATEMENT_CACHE", "sometimes"),
        ("DATABASE_MIGRATION_URL", "postgres://tk@db/shop"),
        ("SHUTDOWN_DRAIN_SECS", "-1"),
        ("SHUTDOWN_DRAIN_SECS", "3601"),
        ("DB_POOL_SIZE", "0"),
        ("DB_POOL_SIZE", "1001"),
        ("DB_POOL_TIMEOUT_MS", "60001"),
        ("PAYMENT_HANG_RATE", "-0.1"),
        ("PAYMENT_TIMEOUT_MS", "99"),
        ("PAYMENT_DELAY_MS", "600001"),
        ("REFUND_RETRY_BASE_MS", "0"),
        ("POLL_SECONDS", "3601"),
        ("AVAILABILITY_MAX_AGE_MS", "60001"),
        ("RATE_LIMIT_BOOKINGS_PER_MIN", "-1"),
        ("RATE_LIMIT_SIGNIN_PER_MIN", "ten"),
        ("RATE_LIMIT_ADMIN_PER_MIN", "1.5"),
        ("RATE_LIMIT_LOOKUPS_PER_MIN", "-5"),
        ("RATE_LIMIT_DOOR_PER_MIN", "-1"),
        ("SESSION_SECRET", "short"),
        ("TICKET_SECRET", "short"),
        ("EMAIL_RETRY_BASE_MS", "600001"),
        ("EMAIL_SEND_TIMEOUT_SECS", "0"),
        ("BACKUP_INTERVAL_SECS", "604801"),
        ("BACKUP_KEEP", "0"),
    ] {
        let err = settings(&[(var, value)]).expect_err(var);
        assert_eq!(err.variable, var, "{value}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
}

#[test]
fn a_fault_says_the_range_and_the_value_given() {
    let err = settings(&[("HOLD_TTL_SECS", "0")]).expect_err("zero");
    assert_eq!(err.to_string(), r#"setting HOLD_TTL_SECS: must be in 1..=86400, not "0""#);
    let err = settings(&[("PAYMENT_SUCCESS_RATE", "often")]).expect_err("words");
    assert_eq!(err.to_string(), r#"setting PAYMENT_SUCCESS_RATE: must be in 0.0..=1.0, not "often""#);
    let err = settings(&[("MAX_CONNECTIONS_PER_CLIENT", "0")]).expect_err("zero");
    assert_eq!(err.to_string(), r#"setting MAX_CONNECTIONS_PER_CLIENT: must be in 1.., not "0""#);
}

#[test]
fn the_ends_of_each_range_are_accepted() {
    let s = settings(&[
        ("AVAILABILITY_MAX_AGE_MS", "0"),
        ("DB_POOL_SIZE", "1000"),
        ("HOLD_TTL_SECS", "86400"),
        ("PAYMENT_SUCCESS_RATE", "1"),
        ("SHUTDOWN_DRAIN_SECS", "3600"),
        ("RATE_LIMIT_BOOKINGS_PER_MIN", "0"),
    ])
    .expect("valid");
    assert_eq!(s.availability_max_age, Duration::ZERO);
    assert_eq!(s.db_pool_size, 1000);
    assert_eq!(s.hold_ttl, Duration::from_secs(86_400));
    assert_eq!(s.payment_success_rate, 1.0);
    assert_eq!(s.shutdown_drain, Duration::from_secs(3600));
    assert_eq!(s.rate_limit_bookings_per_min, 0, "0 = off");
}

#[test]
fn cors_origins_are_kept_as_browsers_send_them() {
    let s =
        settings(&[("CORS_ALLOWED_ORIGINS", "HTTPS://App.Example:443/, http://[::1]:5173")]).expect("valid");
    assert_eq!(s.cors_allowed_origins, ["https://app.example", "http://[::1]:5173"]);
}
