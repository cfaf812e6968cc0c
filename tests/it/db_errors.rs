//! When PostgreSQL refuses, the server says libpq's own reason (SPEC §10), on one line, with
//! the password hidden: at start-up (not listening, wrong password, unknown database) and in
//! the pool's log while a running server waits for its database.

use std::time::{Duration, Instant};

use crate::common::cluster::{PasswordPg, free_port};
use crate::common::{ServerProcess, ThrowawayPg};

/// Starts the server binary with `DATABASE_URL = url`; returns its exit status and stderr.
fn start_on(url: &str) -> (std::process::ExitStatus, String) {
    let dir = std::env::temp_dir().join(format!("tk-dberr-{}", techkraft_tickets::settings::random_token(8)));
    std::fs::create_dir_all(&dir).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_techkraft-tickets"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", url)
        .env("ADMIN_PASSWORD", "correct horse battery staple")
        .current_dir(&dir)
        .output()
        .expect("run the server");
    let _ = std::fs::remove_dir_all(&dir);
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The one `error: …` line a refused start ends with.
fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "one error line: {stderr}");
    lines[0].to_owned()
}

#[test]
fn postgresql_not_listening_is_reported_as_connection_refused() {
    let port = free_port();
    let started = Instant::now();
    let (status, stderr) = start_on(&format!("postgres://shop:hunter2-Secret@127.0.0.1:{port}/shop"));
    assert!(!status.success());
    assert!(started.elapsed() < Duration::from_secs(10), "a refusal is reported at once");
    let line = error_line(&stderr);
    assert!(line.contains("Connection refused"), "{line}");
    assert!(line.contains(&format!("port {port}")), "names where it tried: {line}");
    assert!(line.contains("postgres://shop:***@127.0.0.1"), "names the URL, redacted: {line}");
    assert!(!stderr.contains("hunter2-Secret"), "never the password: {stderr}");
    assert!(!stderr.contains("multiconnection"), "{stderr}");
}

#[test]
fn a_wrong_password_and_an_unknown_database_each_say_so() {
    require_postgres!();
    let pg = PasswordPg::start();

    let (status, stderr) = start_on(&pg.url_with("wrong-Guess-4711", "postgres"));
    assert!(!status.success());
    let line = error_line(&stderr);
    assert!(line.contains(r#"password authentication failed for user "postgres""#), "{line}");
    assert!(!stderr.contains("wrong-Guess-4711"), "never the password: {stderr}");

    let (status, stderr) = start_on(&pg.url_with(PasswordPg::PASSWORD, "no_such_shop"));
    assert!(!status.success());
    let line = error_line(&stderr);
    assert!(line.contains(r#"database "no_such_shop" does not exist"#), "{line}");
    assert!(!stderr.contains(PasswordPg::PASSWORD), "never the password: {stderr}");
    assert!(!stderr.contains("multiconnection"), "{stderr}");

    // And the right password and database start.
    let server = ServerProcess::start(&pg.url_with(PasswordPg::PASSWORD, "postgres"), &[]);
    assert!(!server.log_text().contains(PasswordPg::PASSWORD), "{}", server.log_text());
}

#[actix_rt::test]
async fn while_the_database_is_down_the_pool_logs_libpqs_reason() {
    require_postgres!();
    let pg = ThrowawayPg::start();
    let server = ServerProcess::start(&pg.url(), &[]);
    let readyz = format!("{}/readyz", server.address);
    assert_eq!(crate::common::client().get(&readyz).send().await.unwrap().status().as_u16(), 200);
    pg.down();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = crate::common::client().get(&readyz).send().await.unwrap().status().as_u16();
        let log = server.log_text();
        if status == 503
            && log.lines().any(|l| l.contains("database connection to") && l.contains("Connection refused"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no log line with libpq's reason:\n{log}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!server.log_text().contains("multiconnection"), "{}", server.log_text());
}
