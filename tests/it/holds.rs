//! Holds that outlive their time: the sweeper returns their seats, a payment that lands
//! afterwards takes them again or is refunded, and a crash between reserve and confirm loses
//! nothing. The pipeline's batches are driven directly with explicit clock values (the same
//! functions the desks run in production); the crash is a real SIGKILL of the server binary.

use std::time::Duration;

use crate::common::{
    Backend, ServerProcess, eventually, form, fresh_database, pool_for, spawn_app, until_a_booking_is_held,
};
use techkraft_tickets::booking::pipeline::Settlement;
use techkraft_tickets::booking::{Booking, BookingStatus, Tier};
use techkraft_tickets::clock::now_millis;

async fn a_hold_past_its_ttl_is_swept_back(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let now = now_millis();
    let held = app.hold("vip", 3, now);
    assert_eq!(app.tier("vip").available, 97);

    assert!(app.sweep(now + 30_000).is_empty(), "not yet due");
    assert_eq!(app.status_of(&held), BookingStatus::Held);

    let swept = app.sweep(now + 61_000);
    assert_eq!(swept.len(), 1);
    assert_eq!(app.status_of(&held), BookingStatus::Expired);
    assert_eq!(app.tier("vip").available, 100);
    assert!(app.sweep(now + 62_000).is_empty(), "a hold expires once");
    assert_eq!(app.tier("vip").available, 100);
    app.assert_conservation();
}

async fn every_deadline_is_deleted_once_due_whether_its_hold_expired_or_ended_otherwise(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let now = now_millis();
    let paid = app.hold("vip", 1, now);
    let lapsed = app.hold("vip", 2, now);
    let declined = app.hold("general", 1, now);
    assert_eq!(app.pay(&paid, "txn_3_abcdefghi", now + 1_000), Settlement::Confirmed);
    assert!(app.decline(&declined, "Card declined", now + 1_000));
    assert_eq!(app.deadlines(), 3, "one per hold, kept until due");

    assert!(app.sweep(now + 30_000).is_empty());
    assert_eq!(app.deadlines(), 3, "none due yet");
    let swept: Vec<String> = app.sweep(now + 61_000).into_iter().map(|b| b.id).collect();
    assert_eq!(swept, std::slice::from_ref(&lapsed.id), "only the hold still held expires");
    assert_eq!(app.deadlines(), 0, "the due deadlines are gone, the settled holds' too");
    assert_eq!(
        (app.status_of(&paid), app.status_of(&lapsed), app.status_of(&declined)),
        (BookingStatus::Confirmed, BookingStatus::Expired, BookingStatus::PaymentFailed)
    );
    assert_eq!(app.tier("vip").available, 99);
    app.assert_conservation();
}

async fn a_payment_after_expiry_takes_the_seats_again_while_they_are_free(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let now = now_millis();
    let held = app.hold("front-row", 2, now);
    app.sweep(now + 61_000);
    assert_eq!(app.tier("front-row").available, 200);

    let settled = app.pay(&held, "txn_1_abcdefghi", now + 62_000);
    assert_eq!(settled, Settlement::Confirmed);
    let booking = Booking::by_id(&mut app.conn(), &held.id).unwrap().unwrap();
    assert_eq!(booking.status, BookingStatus::Confirmed);
    assert_eq!(booking.transaction_id.as_deref(), Some("txn_1_abcdefghi"));
    assert_eq!(app.tier("front-row").available, 198);
    app.assert_conservation();
}

async fn a_payment_after_expiry_is_refunded_when_the_seats_are_gone(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    app.set_available("vip", 2);
    let now = now_millis();
    let late = app.hold("vip", 2, now);
    app.sweep(now + 61_000);
    let winner = app.hold("vip", 2, now + 61_500);
    assert_eq!(app.tier("vip").available, 0);

    let settled = app.pay(&late, "txn_2_abcdefghi", now + 62_000);
    assert_eq!(settled, Settlement::Refunded);
    let booking = Booking::by_id(&mut app.conn(), &late.id).unwrap().unwrap();
    assert_eq!(booking.status, BookingStatus::Refunded);
    assert_eq!(booking.transaction_id.as_deref(), Some("txn_2_abcdefghi"), "the refund is traceable");
    assert_eq!(app.status_of(&winner), BookingStatus::Held, "the other buyer keeps the seats");
    // Paid again (a retried confirmation): still refunded, and one refund owed.
    assert_eq!(app.pay(&late, "txn_2_abcdefghi", now + 63_000), Settlement::Refunded);
    let refunds = techkraft_tickets::booking::Refund::all(&mut app.conn()).unwrap();
    assert_eq!(refunds.len(), 1, "one refund owed: {refunds:?}");
    assert_eq!(app.tier("vip").available, 0);
    app.assert_conservation();
}

async fn a_decline_after_expiry_does_not_return_the_seats_twice(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let now = now_millis();
    let held = app.hold("general", 4, now);
    app.sweep(now + 61_000);
    assert!(!app.decline(&held, "Card declined", now + 62_000), "no seats go back twice");
    assert_eq!(app.status_of(&held), BookingStatus::Expired, "an ended hold stays ended");
    assert_eq!(app.tier("general").available, 1000);
    app.assert_conservation();
}

async fn a_slow_payment_that_outlives_its_hold_still_ends_with_seats_or_a_refund(backend: Backend) {
    // Over HTTP: a 1 s hold, a 2.5 s payment. The sweeper expires the hold mid-payment; the
    // payment then re-takes the free seats.
    let app = spawn_app(backend, &[("HOLD_TTL_SECS", "1"), ("PAYMENT_DELAY_MS", "2500")]).await;
    let f = form("vip", "2");
    let answer = app.book(&f).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let booking = &app.bookings()[0];
    assert_eq!(booking.status, BookingStatus::Confirmed);
    assert_eq!(app.tier("vip").available, 98);
    // The path under test ran: the sweeper expired the hold mid-payment (counted), and the
    // payment took the seats again (a plain confirm of a still-held booking would count none).
    let metrics = app.get("/metrics").await.body;
    assert!(
        metrics.contains("techkraft_holds_expired_total 1\n"),
        "the hold was swept mid-payment:\n{metrics}"
    );
    app.assert_conservation();
}

async fn a_crash_between_reserve_and_confirm_loses_no_seats(backend: Backend) {
    let database_url = fresh_database(backend);
    // A payment that never finishes in time: the server dies while waiting for it.
    let server =
        ServerProcess::start(&database_url, &[("PAYMENT_DELAY_MS", "60000"), ("HOLD_TTL_SECS", "2")]);
    let pool = pool_for(&database_url);
    let in_flight = server.book_in_background("vip", "3");
    until_a_booking_is_held(&pool).await;
    server.signal("KILL");
    drop(server);
    in_flight.await.unwrap();

    let tier = Tier::find(&mut pool.get().unwrap(), "vip").unwrap().unwrap();
    assert_eq!(tier.available, 97, "the dead server's hold still has the seats");

    let _restarted = ServerProcess::start(&database_url, &[("HOLD_TTL_SECS", "2")]);
    let expired = || {
        let bookings = Booking::recent(&mut pool.get().unwrap(), 10).unwrap();
        bookings.len() == 1 && bookings[0].status == BookingStatus::Expired
    };
    eventually("the sweeper to expire the orphaned hold", Duration::from_secs(15), expired).await;
    let tier = Tier::find(&mut pool.get().unwrap(), "vip").unwrap().unwrap();
    assert_eq!(tier.available, 100, "all seats are back");
}

both_backends!(
    a_hold_past_its_ttl_is_swept_back,
    every_deadline_is_deleted_once_due_whether_its_hold_expired_or_ended_otherwise,
    a_payment_after_expiry_takes_the_seats_again_while_they_are_free,
    a_payment_after_expiry_is_refunded_when_the_seats_are_gone,
    a_decline_after_expiry_does_not_return_the_seats_twice,
    a_slow_payment_that_outlives_its_hold_still_ends_with_seats_or_a_refund,
    a_crash_between_reserve_and_confirm_loses_no_seats,
);
