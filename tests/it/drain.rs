//! SIGTERM drains for any load balancer (SPEC §10): `/readyz` answers 503 at once while every
//! other route is served for `SHUTDOWN_DRAIN_SECS`; then the server stops accepting, finishes
//! what is in flight and exits. `0` stops accepting at once.

use std::time::{Duration, Instant};

use crate::common::{Backend, ServerProcess, fresh_database, pool_for, until_a_booking_is_held};
use techkraft_tickets::booking::{Booking, BookingStatus};

async fn status_of(url: &str) -> Option<u16> {
    crate::common::client().get(url).send().await.ok().map(|r| r.status().as_u16())
}

/// Waits for the process to exit without blocking the test's runtime.
async fn exit_of(server: &mut ServerProcess, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = server.child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not exit; log:\n{}", server.log_text());
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn sigterm_makes_readyz_503_at_once_serves_the_rest_for_the_drain_then_exits() {
    let database_url = fresh_database(Backend::Sqlite);
    let mut server =
        ServerProcess::start(&database_url, &[("SHUTDOWN_DRAIN_SECS", "3"), ("PAYMENT_DELAY_MS", "3500")]);
    let pool = pool_for(&database_url);
    let url = |path: &str| format!("{}{path}", server.address);
    assert_eq!(status_of(&url("/readyz")).await, Some(200));

    let term = Instant::now();
    server.signal("TERM");
    while status_of(&url("/readyz")).await != Some(503) {
        assert!(term.elapsed() < Duration::from_secs(1), "/readyz still 200 a second after SIGTERM");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    // Everything else is still served, new connections included.
    for path in ["/", "/healthz", "/api/tickets", "/availability"] {
        assert_eq!(status_of(&url(path)).await, Some(200), "{path} during the drain");
    }
    // A booking that starts in the drain and pays past its end (3.5 s) is still answered.
    let in_flight = server.book_in_background("vip", "1");
    until_a_booking_is_held(&pool).await;
    assert!(term.elapsed() < Duration::from_secs(3), "the booking started inside the drain");

    // After the drain: no new connections.
    while std::net::TcpStream::connect(server.address.trim_start_matches("http://")).is_ok() {
        assert!(term.elapsed() < Duration::from_secs(8), "still accepting after the drain");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(term.elapsed() >= Duration::from_secs(3), "accepting stopped only after the drain");
    assert_eq!(in_flight.await.unwrap(), Some(303), "the booking in flight is answered");
    let exit = exit_of(&mut server, Duration::from_secs(10)).await;
    assert!(exit.success(), "exit {exit:?}; log:\n{}", server.log_text());
    let bookings = Booking::recent(&mut pool.get().unwrap(), 10).unwrap();
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0].status, BookingStatus::Confirmed);
}

#[actix_rt::test]
async fn with_no_drain_sigterm_stops_accepting_at_once_and_finishes_what_is_in_flight() {
    let database_url = fresh_database(Backend::Sqlite);
    let mut server =
        ServerProcess::start(&database_url, &[("SHUTDOWN_DRAIN_SECS", "0"), ("PAYMENT_DELAY_MS", "1500")]);
    let pool = pool_for(&database_url);
    let in_flight = server.book_in_background("vip", "2");
    until_a_booking_is_held(&pool).await;
    let term = Instant::now();
    server.signal("TERM");
    while std::net::TcpStream::connect(server.address.trim_start_matches("http://")).is_ok() {
        assert!(term.elapsed() < Duration::from_secs(1), "still accepting a second after SIGTERM");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(in_flight.await.unwrap(), Some(303));
    let exit = exit_of(&mut server, Duration::from_secs(10)).await;
    assert!(exit.success(), "exit {exit:?}; log:\n{}", server.log_text());
}
