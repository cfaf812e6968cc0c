//! Tickets: one per seat, written with the confirmation; shown with a QR code each on the
//! ticket page; the calendar file; "find my booking" and "send my tickets again"; refund
//! notices queued with the refund.

use futures_util::future::join_all;
use techkraft_tickets::booking::{BookingStatus, OutboxEmail, Ticket};
use techkraft_tickets::db::secrets;

use crate::common::{Backend, form, spawn_app};

async fn every_confirmed_booking_has_one_ticket_per_seat_and_no_other_has_any(backend: Backend) {
    // Six holds fit in the 12 seats; at 70% success all six fail 1 time in 1,400.
    let app = spawn_app(backend, &[("PAYMENT_SUCCESS_RATE", "0.7")]).await;
    app.set_available("vip", 12);
    let forms: Vec<_> = (0..16).map(|i| form("vip", &(1 + i % 3).to_string())).collect();
    let answers = join_all(forms.iter().map(|f| app.book(f))).await;
    assert!(answers.iter().any(|a| a.status == 303), "some bookings went through");
    let mut codes = Vec::new();
    for booking in app.bookings() {
        let tickets = Ticket::for_booking(&mut app.conn(), &booking.id).expect("query");
        let emails = OutboxEmail::for_booking(&mut app.conn(), &booking.id).expect("query");
        if booking.status == BookingStatus::Confirmed {
            assert_eq!(tickets.len() as i32, booking.quantity, "{}", booking.reference);
            assert_eq!(emails.len(), 1, "one confirmation queued with it");
            let seats: Vec<i32> = tickets.iter().map(|t| t.seat).collect();
            assert_eq!(seats, (1..=booking.quantity).collect::<Vec<_>>());
        } else {
            assert!(tickets.is_empty() && emails.is_empty(), "{:?} has tickets or email", booking.status);
        }
        codes.extend(tickets.into_iter().map(|t| t.code));
    }
    let count = codes.len();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), count, "every code is unique");
    app.assert_conservation();
}

async fn the_ticket_page_shows_a_qr_code_per_ticket_and_a_calendar_file(backend: Backend) {
    let app = spawn_app(
        backend,
        &[("EVENT_NAME", "Winter Session"), ("EVENT_STARTS_AT", "2027-01-02T19:30:00+01:00")],
    )
    .await;
    let reference = app.book_ok("front-row", "2").await;
    let page = app.get(&format!("/bookings/{reference}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<svg").count(), 2, "one inline SVG QR code per ticket");
    for code in app.ticket_codes(&reference).await {
        assert!(page.body.contains(&format!("<code>{code}</code>")), "{code} is printed under its QR code");
        assert!(
            page.body.contains(&format!(r#": {code}" "#)) || page.body.contains(&format!(r#": {code}">"#)),
            "the QR code is labelled with its code"
        );
    }
    assert!(page.body.contains("Winter Session") && page.body.contains("Saturday 2 January 2027, 19:30"));
    assert!(!page.body.contains("<script>"), "no inline script");
    let calendar = app.get(&format!("/bookings/{reference}/calendar.ics")).await;
    assert_eq!(calendar.status, 200);
    assert_eq!(calendar.header("content-type").as_deref(), Some("text/calendar; charset=utf-8"));
    assert!(calendar.body.contains("DTSTART:20270102T183000Z\r\n"), "{}", calendar.body);
    assert!(calendar.body.contains("SUMMARY:Winter Session\r\n"));
    assert_eq!(app.get("/bookings/TK-2222-2222-22/calendar.ics").await.status, 404);
}

async fn find_my_booking_opens_it_and_sends_the_tickets_again_once_a_minute(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let reference = app.book_ok("general", "1").await;
    let post = |fields: Vec<(&'static str, String)>| {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let app = &app;
        async move { app.post_raw("/find", "application/x-www-form-urlencoded", body, &[]).await }
    };
    assert_eq!(app.get("/find").await.status, 200);
    let open = post(vec![
        ("reference", reference.to_lowercase()),
        ("email", "ADA@example.com".into()),
        ("action", "open".into()),
    ])
    .await;
    assert_eq!(open.location(), Some(format!("/bookings/{reference}")));
    let wrong = post(vec![
        ("reference", reference.clone()),
        ("email", "eve@example.com".into()),
        ("action", "open".into()),
    ])
    .await;
    assert_eq!(wrong.status, 404);
    assert!(wrong.body.contains("No booking matches"));
    // The confirmation itself was queued moments ago: a resend waits a minute from it.
    let soon = post(vec![
        ("reference", reference.clone()),
        ("email", "ada@example.com".into()),
        ("action", "resend".into()),
    ])
    .await;
    assert_eq!(soon.status, 429, "{}", soon.body);
    assert!(soon.header("retry-after").is_some());
    let booking = app.bookings().into_iter().find(|b| b.reference == reference).expect("booking");
    {
        use diesel::prelude::*;
        use techkraft_tickets::db::schema::email_outbox::dsl as o;
        diesel::update(o::email_outbox.filter(o::booking_id.eq(&booking.id)))
            .set(o::created_at.eq(0_i64))
            .execute(&mut app.conn())
            .expect("age the first email");
    }
    let again = post(vec![
        ("reference", reference.clone()),
        ("email", "ada@example.com".into()),
        ("action", "resend".into()),
    ])
    .await;
    assert_eq!(again.status, 202, "{}", again.body);
    assert!(again.body.contains("on their way to ada@example.com"));
    assert_eq!(OutboxEmail::for_booking(&mut app.conn(), &booking.id).expect("query").len(), 2);
    let stranger = post(vec![
        ("reference", reference),
        ("email", "eve@example.com".into()),
        ("action", "resend".into()),
    ])
    .await;
    assert_eq!(stranger.status, 404);
}

async fn a_reset_that_refunds_paid_bookings_queues_a_refund_notice(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let reference = app.book_ok("vip", "1").await;
    let admin = app.sign_in().await;
    let reset = app.admin_post(&admin, "/admin/reset", &[("tier", "vip"), ("confirm", "yes")]).await;
    assert_eq!(reset.status, 303);
    let booking = app.bookings().into_iter().find(|b| b.reference == reference).expect("booking");
    let kinds: Vec<String> = OutboxEmail::for_booking(&mut app.conn(), &booking.id)
        .expect("query")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"refund".to_owned()) && kinds.contains(&"tickets".to_owned()), "{kinds:?}");
}

/// A configured `TICKET_SECRET` is stored at start; the same one again changes nothing, another
/// replaces it (compared in constant time, like every secret).
async fn a_configured_ticket_secret_replaces_the_stored_one_only_when_it_differs(backend: Backend) {
    let key = "k".repeat(40);
    let app = spawn_app(backend, &[("TICKET_SECRET", key.as_str())]).await;
    let stored = || secrets::get(&mut app.conn(), "ticket").expect("query");
    assert_eq!(stored().as_deref(), Some(key.as_str()), "stored at start");
    assert!(!secrets::set(&mut app.conn(), "ticket", &key, 1).expect("set"), "the same key");
    let other = "o".repeat(40);
    assert!(secrets::set(&mut app.conn(), "ticket", &other, 2).expect("set"), "another key");
    assert_eq!(stored().as_deref(), Some(other.as_str()));
    assert!(!secrets::set(&mut app.conn(), "ticket", &other, 3).expect("set"));
}

both_backends!(
    a_configured_ticket_secret_replaces_the_stored_one_only_when_it_differs,
    every_confirmed_booking_has_one_ticket_per_seat_and_no_other_has_any,
    the_ticket_page_shows_a_qr_code_per_ticket_and_a_calendar_file,
    find_my_booking_opens_it_and_sends_the_tickets_again_once_a_minute,
    a_reset_that_refunds_paid_bookings_queues_a_refund_notice,
);
