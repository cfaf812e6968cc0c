//! The door: each ticket admitted exactly once, with the answers SPEC §11 names, and a role
//! that cannot reach the box office.

use futures_util::future::join_all;
use techkraft_tickets::booking::tickets::new_code;
use techkraft_tickets::db::secrets;
use techkraft_tickets::db::secrets::TICKET_KEY;

use crate::common::{Backend, ServerProcess, TestApp, door_sentence, fresh_database, spawn_app};

const DOOR_PASSWORD: &str = "open sesame door";

async fn answers_name_admitted_already_in_unknown_forged_and_malformed(backend: Backend) {
    let app = spawn_app(backend, &[("DOOR_PASSWORD", DOOR_PASSWORD)]).await;
    let reference = app.book_ok("vip", "2").await;
    let codes = app.ticket_codes(&reference).await;
    assert_eq!(codes.len(), 2);
    let door = app.door_sign_in(DOOR_PASSWORD).await.expect("door staff sign in");

    let first = app.check_in(&door, &codes[0]).await;
    assert_eq!((first.status, door_sentence(&first).as_str()), (200, "Admitted: VIP, Ada Lovelace"));
    let again = app.check_in(&door, &codes[0].to_lowercase()).await;
    assert_eq!(again.status, 409);
    let sentence = door_sentence(&again);
    assert!(sentence.starts_with("Already checked in at "), "{sentence}");
    assert_eq!(sentence.len(), "Already checked in at 19:42".len(), "{sentence}");

    let key = secrets::get(&mut app.conn(), TICKET_KEY).expect("query").expect("a stored key");
    let unknown = app.check_in(&door, &new_code(&key)).await;
    assert_eq!(unknown.status, 404, "{}", door_sentence(&unknown));
    let forged = app.check_in(&door, &new_code("some other key entirely, not ours")).await;
    assert_eq!(forged.status, 422);
    assert!(door_sentence(&forged).starts_with("Forged"), "{}", door_sentence(&forged));
    for junk in ["", "TK-7F3K-92QD-X4", "'; DROP TABLE tickets; --", &"A".repeat(5000)] {
        assert_eq!(app.check_in(&door, junk).await.status, 422, "{junk:.40}");
    }
    let api = app.get(&format!("/api/bookings/{reference}")).await;
    assert!(api.body.contains(r#""checkedInAt":"20"#), "the admitted ticket shows when: {}", api.body);
    assert!(api.body.contains(r#""checkedInAt":null"#), "the other is still unused: {}", api.body);
}

async fn voided_and_refunded_tickets_stop_admitting(backend: Backend) {
    let app = spawn_app(backend, &[("DOOR_PASSWORD", DOOR_PASSWORD)]).await;
    let reference = app.book_ok("front-row", "1").await;
    let code = app.ticket_codes(&reference).await.remove(0);
    let admin = app.sign_in().await;
    let reset = app.admin_post(&admin, "/admin/reset", &[("tier", "front-row"), ("confirm", "yes")]).await;
    assert_eq!(reset.status, 303);
    let door = app.door_sign_in(DOOR_PASSWORD).await.expect("door");
    let refused = app.check_in(&door, &code).await;
    assert_eq!(refused.status, 409);
    assert!(door_sentence(&refused).contains("refunded"), "{}", door_sentence(&refused));
    let page = app.get(&format!("/bookings/{reference}")).await;
    assert!(page.body.contains("Not valid: booking refunded"), "the ticket page says so too");
}

async fn the_door_role_cannot_reach_the_box_office_but_the_admin_can_work_the_door(backend: Backend) {
    let app = spawn_app(backend, &[("DOOR_PASSWORD", DOOR_PASSWORD)]).await;
    assert!(app.door_sign_in("not the password").await.is_none());
    assert!(
        app.door_sign_in("correct horse battery staple").await.is_some(),
        "the admin password opens the door"
    );
    let door = app.door_sign_in(DOOR_PASSWORD).await.expect("door");
    // The door cookie, even sent to /admin by hand, is not an admin session.
    let cookie = door.cookie.replace("tk_door=", "tk_admin=");
    assert_eq!(
        app.get_with("/admin", &[("Cookie", &door.cookie)]).await.location().as_deref(),
        Some("/admin/login")
    );
    assert_eq!(
        app.get_with("/admin", &[("Cookie", &cookie)]).await.location().as_deref(),
        Some("/admin/login")
    );
    let body = format!("csrf_token={}&tier=vip&confirm=yes", door.csrf);
    let reset =
        app.post_raw("/admin/reset", "application/x-www-form-urlencoded", body, &[("Cookie", &cookie)]).await;
    assert_eq!(reset.status, 401);
    // Without a session, or without the CSRF token, nothing is checked in.
    let reference = app.book_ok("vip", "1").await;
    let code = app.ticket_codes(&reference).await.remove(0);
    let anonymous = app
        .post_raw("/door/check-in", "application/x-www-form-urlencoded", format!("code={code}"), &[])
        .await;
    assert_eq!(anonymous.status, 401);
    let forged = crate::common::Door { cookie: door.cookie.clone(), csrf: "wrong".into() };
    assert_eq!(app.check_in(&forged, &code).await.status, 403);
    assert_eq!(app.check_in(&door, &code).await.status, 200, "still unused until now");
}

/// 50 check-ins of one ticket at once, split over two server processes on one database:
/// exactly one is admitted. The processes share the session key through the database, so
/// one door cookie works on both.
async fn fifty_check_ins_of_one_ticket_on_two_processes_admit_it_once(backend: Backend) {
    let database = fresh_database(backend);
    let envs = [("DOOR_PASSWORD", DOOR_PASSWORD)];
    let (a, b) = (ServerProcess::start(&database, &envs), ServerProcess::start(&database, &envs));
    let (app_a, app_b) = (TestApp::attach(&a.address, &database), TestApp::attach(&b.address, &database));
    let reference = app_a.book_ok("vip", "1").await;
    let code = app_b.ticket_codes(&reference).await.remove(0);
    let door = app_a.door_sign_in(DOOR_PASSWORD).await.expect("door");
    let attempts =
        (0..50).map(|i| if i % 2 == 0 { &app_a } else { &app_b }).map(|app| app.check_in(&door, &code));
    let statuses: Vec<u16> = join_all(attempts).await.iter().map(|a| a.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
}

both_backends!(
    answers_name_admitted_already_in_unknown_forged_and_malformed,
    voided_and_refunded_tickets_stop_admitting,
    the_door_role_cannot_reach_the_box_office_but_the_admin_can_work_the_door,
    fifty_check_ins_of_one_ticket_on_two_processes_admit_it_once,
);
