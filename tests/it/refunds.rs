//! Refunds are never lost and never paid twice: failing refunds are retried until the gateway
//! takes them, and a server killed in the middle leaves them to the next one.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use techkraft_tickets::booking::{BookingStatus, Refund, RefundStatus};
use techkraft_tickets::payment::{
    ChargeFuture, LookupFuture, PaymentGateway, RefundFailed, RefundFuture, SimulatedGateway,
};

use crate::common::{
    Backend, ServerProcess, TestApp, eventually, form, fresh_database, spawn_app_with_gateway, test_settings,
};

/// The simulated gateway of the settings, except that the first call to refund each booking
/// fails: every refund needs a retry, whatever the random failures do.
struct RefusesEachFirstRefund {
    inner: SimulatedGateway,
    refused: Mutex<HashSet<String>>,
}

impl PaymentGateway for RefusesEachFirstRefund {
    fn charge(&self, amount_cents: i64, idempotency_key: &str) -> ChargeFuture {
        self.inner.charge(amount_cents, idempotency_key)
    }

    fn find_charge(&self, idempotency_key: &str) -> LookupFuture {
        self.inner.find_charge(idempotency_key)
    }

    fn refund(&self, charge_id: &str, amount_cents: i64, idempotency_key: &str) -> RefundFuture {
        if self.refused.lock().unwrap().insert(idempotency_key.to_owned()) {
            let failed = RefundFailed { reason: "Payment gateway timeout (refused once by the test)".into() };
            return Box::pin(async move { Err(failed) });
        }
        self.inner.refund(charge_id, amount_cents, idempotency_key)
    }
}

/// Books `n` paid VIP bookings and resets VIP; returns the ids of the refunded bookings.
async fn paid_then_reset(app: &TestApp, n: usize) -> Vec<String> {
    for _ in 0..n {
        assert_eq!(app.book(&form("vip", "1")).await.status, 303);
    }
    let admin = app.sign_in().await;
    let reset = app.admin_post(&admin, "/admin/reset", &[("tier", "vip"), ("confirm", "yes")]).await;
    assert_eq!(reset.status, 303);
    let refunded: Vec<String> =
        app.bookings().iter().filter(|b| b.status == BookingStatus::Refunded).map(|b| b.id.clone()).collect();
    assert_eq!(refunded.len(), n, "every paid booking is refunded");
    refunded
}

async fn failing_refunds_are_retried_until_the_gateway_takes_them(backend: Backend) {
    // Each refund's first call fails, and every later one 30% of the time; retried from 10 ms
    // on, ten failures in a row (1 in 50,000 per refund) would still be paid within 11 s. (With
    // only the random failures, all 20 refunds could succeed at once, 1 run in 1,250: a CI run
    // met that.)
    let database = fresh_database(backend);
    let settings = [("PAYMENT_REFUND_FAILURE_RATE", "0.3"), ("REFUND_RETRY_BASE_MS", "10")];
    let inner = techkraft_tickets::startup::simulated_gateway(&test_settings(&database, &settings));
    let gateway = Arc::new(RefusesEachFirstRefund { inner, refused: Mutex::default() });
    let app = spawn_app_with_gateway(&database, &settings, gateway).await;
    let refunded = paid_then_reset(&app, 20).await;
    eventually("every refund paid", Duration::from_secs(60), || {
        Refund::all(&mut app.conn()).unwrap().iter().all(|r| r.status == RefundStatus::Done)
    })
    .await;
    let refunds = Refund::all(&mut app.conn()).unwrap();
    assert_eq!(refunds.len(), 20);
    assert!(refunds.iter().all(|r| r.attempts > 1), "each needed a retry: {refunds:?}");
    let paid = app.gateway.refunded();
    for id in &refunded {
        assert_eq!(paid.get(id), Some(&1), "{id} is refunded exactly once");
    }
    let metrics = app.get("/metrics").await.body;
    assert!(!metrics.contains("techkraft_refunds_total{result=\"failed\"} 0\n"), "{metrics}");

    // The buyer sees it, on the page and in the API.
    let booking = app.bookings().into_iter().find(|b| b.id == refunded[0]).unwrap();
    let page = app.get(&format!("/bookings/{}", booking.reference)).await;
    assert!(page.body.contains("$100.00 refunded (rfd_"), "{}", page.body);
    let api: serde_json::Value =
        serde_json::from_str(&app.get(&format!("/api/bookings/{}", booking.reference)).await.body).unwrap();
    assert_eq!(api["status"], "refunded");
    assert_eq!(api["refund"]["amount"], 100);
    assert_eq!(api["refund"]["currency"], "USD");
    assert!(api["refund"]["transactionId"].as_str().unwrap().starts_with("rfd_"), "{api}");
    app.assert_conservation();
}

both_backends!(failing_refunds_are_retried_until_the_gateway_takes_them);

#[actix_rt::test]
async fn a_server_killed_while_refunding_loses_no_refund_and_pays_none_twice() {
    require_postgres!();
    let database = fresh_database(Backend::Postgres);
    let ledger =
        std::env::temp_dir().join(format!("tk-ledger-{}", techkraft_tickets::settings::random_token(8)));
    let ledger_path = ledger.display().to_string();
    let env = [
        ("PAYMENT_LEDGER", ledger_path.as_str()),
        ("PAYMENT_REFUND_FAILURE_RATE", "0.3"),
        ("REFUND_RETRY_BASE_MS", "10"),
        ("PAYMENT_DELAY_MS", "20-60"),
    ];
    let mut server = ServerProcess::start(&database, &env);
    let app = TestApp::attach(&server.address, &database);
    let refunded = paid_then_reset(&app, 40).await;
    // Killed while its worker is paying the refunds back (each call takes 20-60 ms).
    eventually("the first refunds to be paid", Duration::from_secs(10), || {
        Refund::all(&mut app.conn()).unwrap().iter().any(|r| r.status == RefundStatus::Done)
    })
    .await;
    server.signal("KILL");
    let _ = server.child.wait();
    let owed =
        Refund::all(&mut app.conn()).unwrap().iter().filter(|r| r.status == RefundStatus::Owed).count();
    println!("{owed} of 40 refunds still owed when the server died");

    let _next = ServerProcess::start(&database, &env);
    eventually("every refund paid after the restart", Duration::from_secs(60), || {
        Refund::all(&mut app.conn()).unwrap().iter().all(|r| r.status == RefundStatus::Done)
    })
    .await;
    let lines = std::fs::read_to_string(&ledger).unwrap();
    let mut per_booking: HashMap<&str, usize> = HashMap::new();
    for line in lines.lines().filter(|l| l.starts_with("refund ")) {
        *per_booking.entry(line.split(' ').nth(1).unwrap()).or_default() += 1;
    }
    assert_eq!(per_booking.len(), 40, "every refund reached the gateway");
    for id in &refunded {
        assert_eq!(per_booking.get(id.as_str()), Some(&1), "{id} was paid back exactly once");
    }
    let _ = std::fs::remove_file(&ledger);
}
