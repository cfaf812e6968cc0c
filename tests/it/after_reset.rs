//! After an admin reset (SPEC §15): the booking page and a replay of the form give the true
//! reason (the box office took the booking back, not a late payment), a refunded or voided
//! booking has no calendar file (`410`), and the dashboard says what a reset does.

use crate::common::{Backend, form, spawn_app};

async fn a_reset_booking_says_the_box_office_cancelled_it_and_has_no_calendar(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let fields = form("front-row", "2");
    let booked = app.book(&fields).await;
    let reference = booked.reference().expect("booked");
    assert_eq!(app.get(&format!("/bookings/{reference}/calendar.ics")).await.status, 200);

    let admin = app.sign_in().await;
    let dashboard = app.get_with("/admin", &[("Cookie", &admin.cookie)]).await;
    assert!(dashboard.body.contains("paid ones are refunded in full"), "the help text says what reset does");
    assert!(!dashboard.body.contains("Resetting voids"), "{}", dashboard.body);
    let reset = app.admin_post(&admin, "/admin/reset", &[("tier", "front-row"), ("confirm", "yes")]).await;
    assert_eq!(reset.status, 303);

    let page = app.get(&format!("/bookings/{reference}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("cancelled by the box office"), "{}", page.body);
    assert!(!page.body.contains("after the seat hold expired"), "not a late payment: {}", page.body);

    let replay = app.book(&fields).await;
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert!(replay.body.contains("cancelled by the box office"), "{}", replay.body);
    assert!(!replay.body.contains("seat hold expired"), "{}", replay.body);

    let calendar = app.get(&format!("/bookings/{reference}/calendar.ics")).await;
    assert_eq!(calendar.status, 410, "{}", calendar.body);
    assert!(!calendar.body.contains("BEGIN:VCALENDAR"));

    // A voided booking has none either.
    let other = app.book_ok("vip", "1").await;
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("UPDATE bookings SET status = 'voided' WHERE reference = '{other}'")),
        &mut app.conn(),
    )
    .unwrap();
    assert_eq!(app.get(&format!("/bookings/{other}/calendar.ics")).await.status, 410);
}

both_backends!(a_reset_booking_says_the_box_office_cancelled_it_and_has_no_calendar);
