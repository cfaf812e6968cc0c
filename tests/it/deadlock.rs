//! One lock order everywhere (the tier rows first, in id order, then booking rows): resets of
//! every tier each 100 ms for 12 s while 24 buyers book random tiers (1–3 seats), payments take
//! 0–200 ms and half are declined, and holds of one second expire under the sweeper, so batched
//! reservations, batched confirmations (which span tiers), releases, expiries and resets all
//! meet. Nothing may deadlock, nothing may answer 5xx, seats are conserved, and every paid
//! booking a reset took back is refunded exactly once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rand::Rng;
use techkraft_tickets::booking::{Booking, BookingStatus, Refund, RefundStatus};

use crate::common::{Backend, ServerProcess, TestApp, eventually, form, fresh_database};

#[actix_rt::test]
async fn resets_racing_batches_of_random_tiers_and_the_sweeper_never_deadlock_and_refund_exactly_once() {
    require_postgres!();
    let database = fresh_database(Backend::Postgres);
    let ledger =
        std::env::temp_dir().join(format!("tk-ledger-{}", techkraft_tickets::settings::random_token(8)));
    let ledger_path = ledger.display().to_string();
    let server = ServerProcess::start(
        &database,
        &[
            ("PAYMENT_SUCCESS_RATE", "0.5"),
            ("PAYMENT_DELAY_MS", "0-200"),
            ("HOLD_TTL_SECS", "1"),
            ("PAYMENT_LEDGER", &ledger_path),
            ("DB_POOL_SIZE", "16"),
        ],
    );
    let app = TestApp::attach(&server.address, &database);
    let admin = app.sign_in().await;
    let until = Instant::now() + Duration::from_secs(12);

    let buyers = join_all((0..24).map(|_| {
        let app = &app;
        async move {
            let mut statuses = Vec::new();
            while Instant::now() < until {
                let (tier, quantity) = {
                    let mut rng = rand::rng();
                    (["vip", "front-row", "general"][rng.random_range(0..3)], rng.random_range(1..=3))
                };
                statuses.push(app.book(&form(tier, &quantity.to_string())).await.status);
            }
            statuses
        }
    }));
    let resets = async {
        let mut statuses = Vec::new();
        while Instant::now() < until {
            statuses.push(
                app.admin_post(&admin, "/admin/reset", &[("tier", "all"), ("confirm", "yes")]).await.status,
            );
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        statuses
    };
    let (bought, reset) = futures_util::future::join(buyers, resets).await;
    let bought: Vec<u16> = bought.into_iter().flatten().collect();
    println!("{} booking answers, {} resets", bought.len(), reset.len());
    for line in server.log_text().lines().filter(|l| l.contains("ERROR")) {
        println!("server error: {line}");
    }
    assert!(bought.iter().all(|s| [303, 402, 409, 202].contains(s)), "no 5xx: {bought:?}");
    assert!(!server.log_text().to_lowercase().contains("deadlock"), "a deadlock was logged");
    assert!(reset.len() >= 20 && reset.iter().all(|s| *s == 303), "every reset went through: {reset:?}");

    // Let every hold settle and every refund be paid.
    eventually("holds settled and refunds paid", Duration::from_secs(30), || {
        let bookings = app.bookings();
        let refunds = Refund::all(&mut app.conn()).unwrap();
        bookings.iter().all(|b| b.status != BookingStatus::Held)
            && refunds.iter().all(|r| r.status == RefundStatus::Done)
    })
    .await;
    app.assert_conservation();
    assert!(!server.log_text().to_lowercase().contains("deadlock"), "a deadlock was logged");

    // Every charge ended with seats or a refund, and each refund was paid once.
    let bookings: Vec<Booking> = app.bookings();
    let refunds: HashMap<String, Refund> =
        Refund::all(&mut app.conn()).unwrap().into_iter().map(|r| (r.booking_id.clone(), r)).collect();
    let paid_back = std::fs::read_to_string(&ledger).unwrap_or_default();
    let mut per_booking: HashMap<&str, usize> = HashMap::new();
    for line in paid_back.lines().filter(|l| l.starts_with("refund ")) {
        *per_booking.entry(line.split(' ').nth(1).unwrap()).or_default() += 1;
    }
    let mut refunded = 0;
    for b in
        bookings.iter().filter(|b| b.transaction_id.is_some() && b.status != BookingStatus::PaymentFailed)
    {
        match b.status {
            BookingStatus::Confirmed => {}
            BookingStatus::Refunded => {
                refunded += 1;
                let refund = refunds
                    .get(&b.id)
                    .unwrap_or_else(|| panic!("{} refunded without a refund row", b.reference));
                assert_eq!(refund.amount_cents, b.total_cents);
                assert_eq!(
                    per_booking.get(b.id.as_str()),
                    Some(&1),
                    "{} refunded once at the gateway",
                    b.reference
                );
            }
            other => panic!("{} was charged but ended {other:?}", b.reference),
        }
    }
    assert!(refunded > 0, "resets took back paid bookings");
    assert_eq!(per_booking.len(), refunded, "no refund for anything else");
    let _ = std::fs::remove_file(&ledger);
}
