//! Start-up: bad settings stop the server with one clear line, and a fresh start creates the
//! SQLite file, its tables and the tiers by itself.

use std::time::Duration;

use crate::common::{Backend, ServerProcess, TempDir, client, eventually, form, fresh_database, pool_for};
use techkraft_tickets::booking::Tier;

fn start_with(envs: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_techkraft-tickets"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("BIND_ADDR", "127.0.0.1:0");
    let dir = TempDir::new("tk-startup");
    cmd.current_dir(&*dir);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run the server");
    let leftovers: Vec<_> =
        std::fs::read_dir(&*dir).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert!(leftovers.is_empty(), "a refused start leaves nothing behind: {leftovers:?}");
    output
}

#[test]
fn bad_settings_stop_the_server_with_one_line_naming_the_variable() {
    for (variable, value) in [
        ("DATABASE_URL", "mysql://root@localhost/tickets"),
        ("DATABASE_URL", "tickets.db"),
        ("PAYMENT_SUCCESS_RATE", "1.5"),
        ("PAYMENT_DELAY_MS", "500-100"),
        ("HOLD_TTL_SECS", "soon"),
        ("BIND_ADDR", "everywhere"),
        ("EVENT_STARTS_AT", "next Saturday at eight"),
    ] {
        let output = start_with(&[(variable, value)]);
        assert!(!output.status.success(), "{variable}={value} must not start");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line for {variable}={value}: {stderr}");
        assert!(lines[0].contains(variable), "{:?} names {variable}", lines[0]);
    }
}

#[actix_rt::test]
async fn a_first_start_creates_the_database_and_seeds_the_tiers_once() {
    let url = fresh_database(Backend::Sqlite);
    let path = url.strip_prefix("sqlite://").unwrap().to_owned();
    let nested = format!("{}/nested/folder/shop.sqlite3", path.trim_end_matches(".sqlite3"));
    let url = format!("sqlite://{nested}");
    let first = ServerProcess::start(&url, &[]);
    assert!(std::path::Path::new(&nested).exists(), "the folder and file were created");
    assert!(first.log_text().contains("seeded 3 ticket tiers"));
    drop(first);
    let second = ServerProcess::start(&url, &[]);
    assert!(!second.log_text().contains("seeded"), "tiers are seeded only into an empty table");
    let tiers = Tier::all(&mut pool_for(&url).get().unwrap()).unwrap();
    let summary: Vec<(String, i64, i32)> =
        tiers.iter().map(|t| (t.id.clone(), t.price_cents, t.capacity)).collect();
    assert_eq!(
        summary,
        [
            ("vip".to_owned(), 10_000, 100),
            ("front-row".to_owned(), 5_000, 200),
            ("general".to_owned(), 1_000, 1000)
        ]
    );
}

#[actix_rt::test]
async fn every_log_line_about_a_booking_carries_its_request_id() {
    let database = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(&database, &[]);
    let body = serde_urlencoded::to_string(form("vip", "1")).unwrap();
    let response = client()
        .post(format!("{}/bookings", server.address))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        // Not trusted without TRUST_FORWARDED_FOR: the server makes its own.
        .insert_header(("X-Request-Id", "chosen-by-client"))
        .send_body(body)
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 303);
    let id = response.headers().get("x-request-id").expect("an id").to_str().unwrap().to_owned();
    assert_ne!(id, "chosen-by-client");
    let reference =
        response.headers().get("location").unwrap().to_str().unwrap().trim_start_matches("/bookings/");
    let reference = reference.to_owned();
    eventually("the confirmation to be logged", Duration::from_secs(5), || {
        server.log_text().contains(&format!("{reference}: confirmed"))
    })
    .await;
    let log = server.log_text();
    // The lines of the request itself (the email worker sends later, on its own).
    let lines: Vec<&str> =
        log.lines().filter(|l| l.contains(&reference) && !l.contains("booking::email")).collect();
    assert!(lines.len() >= 2, "held and confirmed are logged: {lines:?}");
    for line in &lines {
        assert!(line.contains(&format!("[{id}]")), "{line:?} lacks the request id {id}");
    }
    // A proxy we trust may name the request itself.
    let trusted = ServerProcess::start(&database, &[("TRUST_FORWARDED_FOR", "true")]);
    let answer = client()
        .get(format!("{}/healthz", trusted.address))
        .insert_header(("X-Request-Id", "lb-42"))
        .send()
        .await;
    assert_eq!(answer.expect("GET").headers().get("x-request-id").unwrap(), "lb-42");
}

#[test]
fn a_conflicting_table_stops_the_start_and_the_log_says_why_the_migrations_failed() {
    use diesel::prelude::*;
    let database = fresh_database(Backend::Sqlite);
    let path = database.url.trim_start_matches("sqlite://");
    let mut conn = diesel::SqliteConnection::establish(path).expect("open");
    diesel::sql_query("CREATE TABLE ticket_tiers (name TEXT)").execute(&mut conn).expect("conflicting table");
    drop(conn);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_techkraft-tickets"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database.url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("ADMIN_PASSWORD", "correct horse battery staple")
        .env("EMAIL_OUTBOX_DIR", crate::common::outbox_dir())
        .output()
        .expect("run the server");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|l| l.contains("migrations failed")).unwrap_or_else(|| panic!("{stderr}"));
    // The cause itself, in SQLite's words, on the line that says the migrations failed.
    assert!(line.contains("ticket_tiers") && line.contains("already exists"), "{stderr}");
}

/// Each request gets an access-log line when the log filter lets actix's logger through at
/// `info` (the default `RUST_LOG`), and none is rendered when it does not.
#[actix_rt::test]
async fn requests_are_logged_at_info_and_not_rendered_when_the_filter_drops_them() {
    let database = fresh_database(Backend::Sqlite);
    let logged = ServerProcess::start(&database, &[("RUST_LOG", "info")]);
    let quiet = ServerProcess::start(&database, &[("RUST_LOG", "info,actix_web::middleware::logger=warn")]);
    for server in [&logged, &quiet] {
        let answer = client().get(format!("{}/api/tickets", server.address)).send().await.expect("GET");
        assert_eq!(answer.status().as_u16(), 200);
    }
    let access_line =
        |s: &ServerProcess| s.log_text().lines().any(|l| l.contains(r#""GET /api/tickets HTTP/1.1" 200"#));
    eventually("the access-log line", Duration::from_secs(5), || access_line(&logged)).await;
    assert!(!access_line(&quiet), "{}", quiet.log_text());
}
