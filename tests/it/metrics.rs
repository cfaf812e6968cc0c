//! `/metrics` counts the background work by outcome (emails, refunds, check-ins) and shows
//! what waits in the database (SPEC §16), on both backends.

use std::time::Duration;

use crate::common::{Backend, TestApp, spawn_app};

/// The value of one series (`name{labels}` exactly as exported) in a scrape.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until `series` reaches at least `at_least`; returns the scrape.
async fn until(app: &TestApp, series: &str, at_least: f64) -> String {
    until_all(app, &[(series, at_least)]).await
}

/// Scrapes until one scrape shows every series at least at its value. (A scrape reads the
/// outbox's gauges from the database, then renders the counters: a send that finishes in
/// between shows in one and not yet in the other.)
async fn until_all(app: &TestApp, wanted: &[(&str, f64)]) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = app.get("/metrics").await.body;
        if wanted.iter().all(|(series, at_least)| value(&metrics, series).is_some_and(|v| v >= *at_least)) {
            return metrics;
        }
        assert!(std::time::Instant::now() < deadline, "never reached {wanted:?}:\n{metrics}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn emails_refunds_and_check_ins_are_counted_by_outcome(backend: Backend) {
    let app =
        spawn_app(backend, &[("PAYMENT_REFUND_FAILURE_RATE", "1"), ("REFUND_RETRY_BASE_MS", "300000")]).await;
    let first = app.get("/metrics").await.body;
    assert_eq!(value(&first, "techkraft_ready"), Some(1.0), "{first}");
    assert_eq!(value(&first, "techkraft_refunds_owed"), Some(0.0), "{first}");
    assert_eq!(value(&first, r#"techkraft_emails_total{outcome="sent"}"#), Some(0.0));

    let reference = app.book_ok("vip", "2").await;
    until(&app, r#"techkraft_emails_total{outcome="sent"}"#, 1.0).await;

    let door = app.door_sign_in("correct horse battery staple").await.expect("door");
    let codes = app.ticket_codes(&reference).await;
    assert_eq!(app.check_in(&door, &codes[0]).await.status, 200);
    assert_eq!(app.check_in(&door, &codes[0]).await.status, 409);
    assert_eq!(app.check_in(&door, "not a ticket").await.status, 422);
    let metrics = app.get("/metrics").await.body;
    for (outcome, n) in [("admitted", 1.0), ("already_in", 1.0), ("malformed", 1.0), ("forged", 0.0)] {
        let series = format!(r#"techkraft_check_ins_total{{outcome="{outcome}"}}"#);
        assert_eq!(value(&metrics, &series), Some(n), "{series}:\n{metrics}");
    }

    // A reset owes the refund; the gateway refuses it (and the retry is minutes away).
    let admin = app.sign_in().await;
    let reset = app.admin_post(&admin, "/admin/reset", &[("tier", "vip"), ("confirm", "yes")]).await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    let metrics = until(&app, r#"techkraft_refunds_total{outcome="failed"}"#, 1.0).await;
    assert_eq!(value(&metrics, r#"techkraft_refunds_total{outcome="paid"}"#), Some(0.0));
    assert_eq!(value(&metrics, "techkraft_refunds_owed"), Some(1.0), "{metrics}");
    assert!(
        value(&metrics, "techkraft_refund_oldest_owed_seconds").is_some_and(|s| (0.0..60.0).contains(&s))
    );
}

async fn emails_the_mail_server_refuses_are_counted_failed_then_given_up(backend: Backend) {
    let app = spawn_app(
        backend,
        &[("SMTP_URL", "smtp://127.0.0.1:9"), ("EMAIL_MAX_ATTEMPTS", "2"), ("EMAIL_RETRY_BASE_MS", "1")],
    )
    .await;
    app.book_ok("general", "1").await;
    let given_up =
        [(r#"techkraft_emails_total{outcome="given_up"}"#, 1.0), ("techkraft_emails_given_up", 1.0)];
    let metrics = until_all(&app, &given_up).await;
    assert_eq!(value(&metrics, r#"techkraft_emails_total{outcome="failed"}"#), Some(1.0), "{metrics}");
    assert_eq!(value(&metrics, r#"techkraft_emails_total{outcome="sent"}"#), Some(0.0));
    assert_eq!(value(&metrics, "techkraft_emails_given_up"), Some(1.0), "{metrics}");
    assert_eq!(value(&metrics, "techkraft_emails_pending"), Some(0.0), "{metrics}");
}

both_backends!(
    emails_refunds_and_check_ins_are_counted_by_outcome,
    emails_the_mail_server_refuses_are_counted_failed_then_given_up
);
