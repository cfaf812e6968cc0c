//! Staff sessions say what they are (SPEC §15): the door has a budget of its own per door
//! session, separate from the box office's; "Sign out everywhere" ends every admin session and
//! no door session; the admin can sign every door device out; a door device signs only itself
//! out. Stored as `staff_sessions` rows whose role the database checks.

use diesel::prelude::*;

use crate::common::{Backend, TestApp, spawn_app};

const DOOR_PASSWORD: &str = "open sesame door";

/// Whether `cookie` still opens `path` (a staff page answers 200; signed out, a 303 to sign-in).
async fn opens(app: &TestApp, path: &str, cookie: &str) -> bool {
    app.get_with(path, &[("Cookie", cookie)]).await.status == 200
}

async fn the_door_counts_per_door_session_and_never_spends_the_box_offices_budget(backend: Backend) {
    let app = spawn_app(
        backend,
        &[
            ("DOOR_PASSWORD", DOOR_PASSWORD),
            ("RATE_LIMIT_ADMIN_PER_MIN", "3"),
            ("RATE_LIMIT_DOOR_PER_MIN", "8"),
        ],
    )
    .await;
    let reference = app.book_ok("vip", "1").await;
    let code = app.ticket_codes(&reference).await.remove(0);
    // Two phones behind one venue NAT (the same address).
    let phone = app.door_sign_in(DOOR_PASSWORD).await.expect("door");
    let other_phone = app.door_sign_in(DOOR_PASSWORD).await.expect("door");
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(app.check_in(&phone, &code).await.status);
    }
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409, 429, 429], "8 a minute per door session");
    assert_eq!(app.check_in(&other_phone, &code).await.status, 409, "the other phone has its own budget");
    let admin = app.sign_in().await;
    let ask = app.admin_post(&admin, "/admin/tiers/available", &[("tier", "vip"), ("available", "50")]).await;
    assert_eq!(ask.status, 200, "the box office's budget is untouched by the door: {}", ask.body);
}

async fn sign_out_everywhere_ends_the_box_office_and_the_admin_can_end_every_door_device(backend: Backend) {
    let app = spawn_app(backend, &[("DOOR_PASSWORD", DOOR_PASSWORD)]).await;
    let (first, second) = (app.sign_in().await, app.sign_in().await);
    let (phone, other_phone) = (
        app.door_sign_in(DOOR_PASSWORD).await.expect("door"),
        app.door_sign_in(DOOR_PASSWORD).await.expect("door"),
    );

    // "Sign out everywhere": every admin session ends, the door keeps working.
    let out = app.admin_post(&first, "/admin/logout", &[("scope", "admin")]).await;
    assert_eq!(out.location().as_deref(), Some("/admin/login"));
    assert!(!opens(&app, "/admin", &first.cookie).await && !opens(&app, "/admin", &second.cookie).await);
    assert!(opens(&app, "/door", &phone.cookie).await && opens(&app, "/door", &other_phone.cookie).await);

    // A door device signs only itself out.
    let out = app
        .post_raw(
            "/door/logout",
            "application/x-www-form-urlencoded",
            format!("csrf_token={}", phone.csrf),
            &[("Cookie", &phone.cookie)],
        )
        .await;
    assert_eq!(out.location().as_deref(), Some("/door/login"));
    assert!(!opens(&app, "/door", &phone.cookie).await && opens(&app, "/door", &other_phone.cookie).await);

    // The admin signs every door device out, and stays signed in.
    let admin = app.sign_in().await;
    let out = app.admin_post(&admin, "/admin/logout", &[("scope", "door")]).await;
    assert_eq!(out.location().as_deref(), Some("/admin"));
    assert!(!opens(&app, "/door", &other_phone.cookie).await, "every door device is signed out");
    assert!(opens(&app, "/admin", &admin.cookie).await, "the admin stays");
    assert_eq!(app.admin_post(&admin, "/admin/logout", &[("scope", "root")]).await.status, 400);
}

async fn a_session_row_holds_one_of_two_roles(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let insert = |role: &str| {
        diesel::sql_query(format!(
            "INSERT INTO staff_sessions (id, role, csrf, created_at, expires_at) VALUES ('s-{role}', '{role}', 'c', 1, 2)"
        ))
        .execute(&mut app.conn())
    };
    assert!(insert("admin").is_ok() && insert("door").is_ok());
    assert!(insert("root").is_err(), "the database refuses any other role");
}

both_backends!(
    the_door_counts_per_door_session_and_never_spends_the_box_offices_budget,
    sign_out_everywhere_ends_the_box_office_and_the_admin_can_end_every_door_device,
    a_session_row_holds_one_of_two_roles,
);
