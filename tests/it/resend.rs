//! "Send my tickets again" (SPEC §15): at most once a minute per booking across every process
//! (one conditional update decides, so concurrent requests on two processes queue one email),
//! and at most 5 times a day.

use diesel::prelude::*;
use futures_util::future::join_all;
use techkraft_tickets::booking::OutboxEmail;
use techkraft_tickets::db::schema::email_outbox;

use crate::common::{Backend, TestApp, spawn_app, spawn_app_on};

/// Posts "send my tickets again" for `reference` to `app`; the answer.
async fn resend(app: &TestApp, reference: &str) -> crate::common::Answer {
    let body = serde_urlencoded::to_string([
        ("reference", reference),
        ("email", "ada@example.com"),
        ("action", "resend"),
    ])
    .unwrap();
    app.post_raw("/find", "application/x-www-form-urlencoded", body, &[]).await
}

/// Moves every tickets email and the last resend of `booking_id` `ms` into the past.
fn age(app: &TestApp, booking_id: &str, ms: i64) {
    let conn = &mut app.conn();
    diesel::update(email_outbox::table.filter(email_outbox::booking_id.eq(booking_id)))
        .set(email_outbox::created_at.eq(email_outbox::created_at - ms))
        .execute(conn)
        .unwrap();
    // Written as SQL: the table is the point of the change under test.
    let resends =
        format!("UPDATE ticket_resends SET last_at = last_at - {ms} WHERE booking_id = '{booking_id}'");
    diesel::sql_query(resends).execute(conn).unwrap();
}

fn tickets_emails(app: &TestApp, booking_id: &str) -> usize {
    OutboxEmail::for_booking(&mut app.conn(), booking_id)
        .unwrap()
        .iter()
        .filter(|e| e.kind == "tickets")
        .count()
}

async fn forty_concurrent_resends_on_two_processes_queue_one_email(backend: Backend) {
    let first = spawn_app(backend, &[]).await;
    let database = first.database.as_ref().expect("own database").url.clone();
    let second = spawn_app_on(&database, &[]).await;
    let reference = first.book_ok("general", "1").await;
    let booking = first.bookings().into_iter().find(|b| b.reference == reference).unwrap();
    age(&first, &booking.id, 120_000);

    let answers = join_all((0..40).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        let reference = reference.clone();
        async move { resend(app, &reference).await.status }
    }))
    .await;
    assert_eq!(answers.iter().filter(|s| **s == 202).count(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 429).count(), 39, "{answers:?}");
    assert_eq!(tickets_emails(&first, &booking.id), 2, "the confirmation and one resend");
}

async fn resends_stop_after_five_a_day(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let reference = app.book_ok("general", "1").await;
    let booking = app.bookings().into_iter().find(|b| b.reference == reference).unwrap();
    let soon = resend(&app, &reference).await;
    assert_eq!(soon.status, 429, "a minute after the confirmation itself");
    assert!(soon.body.contains("moments ago"), "{}", soon.body);
    for n in 1..=5 {
        age(&app, &booking.id, 61_000);
        assert_eq!(resend(&app, &reference).await.status, 202, "resend {n}");
        assert_eq!(resend(&app, &reference).await.status, 429, "again within the minute after {n}");
    }
    age(&app, &booking.id, 61_000);
    let sixth = resend(&app, &reference).await;
    assert_eq!(sixth.status, 429, "the sixth in a day: {}", sixth.body);
    assert!(sixth.body.contains("5 times today"), "{}", sixth.body);
    let retry_after: u64 = sixth.header("retry-after").unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&retry_after), "about a day: {retry_after}");
    assert_eq!(tickets_emails(&app, &booking.id), 6);

    // A day after the first of them, the window starts again.
    let window = format!(
        "UPDATE ticket_resends SET day_started = day_started - 86400000 WHERE booking_id = '{}'",
        booking.id
    );
    diesel::sql_query(window).execute(&mut app.conn()).unwrap();
    assert_eq!(resend(&app, &reference).await.status, 202);
    assert_eq!(tickets_emails(&app, &booking.id), 7);
}

both_backends!(forty_concurrent_resends_on_two_processes_queue_one_email, resends_stop_after_five_a_day);
