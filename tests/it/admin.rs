//! The admin console over HTTP on both backends: sign-in, CSRF, seat counts racing bookings,
//! resets, the audit log; plus metrics, security headers and graceful shutdown.

use crate::common::{
    Backend, ServerProcess, form, fresh_database, pool_for, set_cookies, spawn_app, until_a_booking_is_held,
};
use futures_util::future::join_all;
use rand::Rng;
use techkraft_tickets::booking::{AuditEntry, Booking, BookingStatus, Tier};

async fn every_admin_route_requires_sign_in(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let page = app.get("/admin").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location().as_deref(), Some("/admin/login"));
    for (path, body) in [
        ("/admin/tiers/available", "tier=vip&available=1&confirm=yes&csrf_token=x"),
        ("/admin/reset", "tier=all&confirm=yes&csrf_token=x"),
        ("/admin/logout", "csrf_token=x"),
    ] {
        let answer = app.post_raw(path, "application/x-www-form-urlencoded", body, &[]).await;
        assert_eq!(answer.status, 401, "{path}");
    }
    // A forged cookie is no session either.
    let forged = app.get_with("/admin", &[("Cookie", "tk_admin=v1|token|99999999999999")]).await;
    assert_eq!(forged.status, 303);
    assert_eq!(app.tier("vip").available, 100);
    assert!(AuditEntry::recent(&mut app.conn(), 10).unwrap().is_empty());
}

async fn the_right_password_signs_in_with_a_safe_cookie_and_the_wrong_one_does_not(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let wrong = app.try_sign_in("hunter2hunter2").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("That password is not right."));
    assert!(!set_cookies(&wrong).iter().any(|(n, _, _)| n == "tk_admin"));

    let right = app.try_sign_in("correct horse battery staple").await;
    assert_eq!(right.status, 303);
    let (_, _, attributes) = set_cookies(&right).into_iter().find(|(n, _, _)| n == "tk_admin").unwrap();
    assert!(attributes.contains("HttpOnly"), "{attributes}");
    assert!(attributes.contains("SameSite=Strict"), "{attributes}");

    let admin = app.sign_in().await;
    let dashboard = app.get_with("/admin", &[("Cookie", &admin.cookie)]).await;
    for text in [
        "Sales by tier",
        "Capacity",
        "Confirmed",
        "Held",
        "Withheld",
        "Available",
        "Revenue",
        "<svg",
        "Audit log",
        "Sign out",
    ] {
        assert!(dashboard.body.contains(text), "dashboard lacks {text:?}");
    }
    let out = app.admin_post(&admin, "/admin/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert!(
        set_cookies(&out).iter().any(|(n, v, a)| n == "tk_admin" && v.is_empty() && a.contains("Max-Age=0"))
    );
}

async fn failed_sign_ins_are_rate_limited(backend: Backend) {
    let app = spawn_app(backend, &[("RATE_LIMIT_SIGNIN_PER_MIN", "3")]).await;
    for _ in 0..3 {
        assert_eq!(app.try_sign_in("wrong password!").await.status, 401);
    }
    let limited = app.try_sign_in("correct horse battery staple").await;
    assert_eq!(limited.status, 429, "even the right password waits");
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry_after));
}

async fn an_admin_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let admin = app.sign_in().await;
    for token in ["", "forged-token-value"] {
        let set = app
            .admin_post(
                &admin,
                "/admin/tiers/available",
                &[("tier", "vip"), ("available", "1"), ("confirm", "yes"), ("csrf_token", token)],
            )
            .await;
        assert_eq!(set.status, 403, "token {token:?}");
        let reset = app
            .admin_post(&admin, "/admin/reset", &[("tier", "all"), ("confirm", "yes"), ("csrf_token", token)])
            .await;
        assert_eq!(reset.status, 403);
    }
    assert_eq!(app.tier("vip").available, 100);
    assert!(AuditEntry::recent(&mut app.conn(), 10).unwrap().is_empty());
    // The header htmx would send works as well as the field.
    let body = "tier=vip&available=50&confirm=yes";
    let with_header = app
        .post_raw(
            "/admin/tiers/available",
            "application/x-www-form-urlencoded",
            body,
            &[("Cookie", &admin.cookie), ("X-CSRF-Token", &admin.csrf)],
        )
        .await;
    assert_eq!(with_header.status, 303);
    assert_eq!(app.tier("vip").available, 50);
}

async fn setting_seats_asks_first_then_moves_the_difference_to_withheld(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let admin = app.sign_in().await;
    let ask = app.admin_post(&admin, "/admin/tiers/available", &[("tier", "vip"), ("available", "1")]).await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Please confirm") && ask.body.contains("from 100 to 1"), "{}", ask.body);
    assert_eq!(app.tier("vip").available, 100, "nothing changes before confirmation");

    let done = app
        .admin_post(
            &admin,
            "/admin/tiers/available",
            &[("tier", "vip"), ("available", "1"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, 303);
    let vip = app.tier("vip");
    assert_eq!((vip.available, vip.withheld), (1, 99));
    app.assert_conservation();

    // The last-ticket race: two buyers, one seat.
    let (a, b) = (form("vip", "1"), form("vip", "1"));
    let answers = join_all([app.book(&a), app.book(&b)]).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, [303, 409]);
    assert!(answers.iter().any(|a| a.body.contains("Only 0 left")));

    // More than the free seats (available + withheld = 99 after the sale) is refused.
    let too_many = app
        .admin_post(
            &admin,
            "/admin/tiers/available",
            &[("tier", "vip"), ("available", "100"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(too_many.status, 422);
    assert!(too_many.body.contains("Only 99 seats of VIP are free"), "{}", too_many.body);
    for bad in ["-1", "abc", "101"] {
        let refused = app
            .admin_post(
                &admin,
                "/admin/tiers/available",
                &[("tier", "vip"), ("available", bad), ("confirm", "yes")],
            )
            .await;
        assert_eq!(refused.status, 422, "{bad}");
    }
    let unknown = app
        .admin_post(
            &admin,
            "/admin/tiers/available",
            &[("tier", "balcony"), ("available", "1"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(unknown.status, 422);
    let vip = app.tier("vip");
    assert_eq!((vip.available, vip.withheld), (0, 99));
    app.assert_conservation();

    let audit = AuditEntry::recent(&mut app.conn(), 10).unwrap();
    assert_eq!(audit.len(), 1, "only the change that happened is logged");
    assert_eq!(audit[0].action, "set available seats");
    assert_eq!(audit[0].before, "available=100 withheld=0");
    assert_eq!(audit[0].after, "available=1 withheld=99");
    assert!(audit[0].actor.starts_with("admin@127.0.0.1"));
    let dashboard = app.get_with("/admin", &[("Cookie", &admin.cookie)]).await;
    assert!(
        dashboard.body.contains("available=100 withheld=0")
            && dashboard.body.contains("available=1 withheld=99")
    );
}

async fn setting_seats_while_bookings_race_never_breaks_conservation(backend: Backend) {
    let app = spawn_app(backend, &[("PAYMENT_DELAY_MS", "0-20"), ("PAYMENT_SUCCESS_RATE", "0.9")]).await;
    let admin = app.sign_in().await;
    let forms: Vec<_> = (0..120).map(|_| form("vip", &rand::rng().random_range(1..=3).to_string())).collect();
    let targets = ["40", "5", "0", "60", "1", "25", "0", "10"];
    let bookings = join_all(forms.iter().map(|f| app.book(f)));
    let changes = join_all(targets.iter().map(|n| {
        app.admin_post(
            &admin,
            "/admin/tiers/available",
            &[("tier", "vip"), ("available", n), ("confirm", "yes")],
        )
    }));
    let (bookings, changes) = futures_util::future::join(bookings, changes).await;
    for b in &bookings {
        assert!([303, 402, 409].contains(&b.status), "booking answered {}: {}", b.status, b.body);
    }
    for c in &changes {
        assert!([303, 422].contains(&c.status), "set answered {}: {}", c.status, c.body);
    }
    let vip = app.tier("vip");
    assert!(vip.available >= 0 && vip.withheld >= 0, "{vip:?}");
    assert_eq!(app.count_with_status(BookingStatus::Held), 0);
    app.assert_conservation();
}

async fn reset_voids_bookings_and_restores_every_seat(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let admin = app.sign_in().await;
    for (tier, q) in [("vip", "2"), ("vip", "3"), ("front-row", "4")] {
        assert_eq!(app.book(&form(tier, q)).await.status, 303);
    }
    app.admin_post(
        &admin,
        "/admin/tiers/available",
        &[("tier", "general"), ("available", "10"), ("confirm", "yes")],
    )
    .await;

    let ask = app.admin_post(&admin, "/admin/reset", &[("tier", "vip")]).await;
    assert_eq!(ask.status, 200);
    assert!(
        ask.body.contains("Reset VIP?")
            && ask.body.contains("5 held or confirmed seat(s) will be freed")
            && ask.body.contains("paid booking(s) will be refunded ($500.00)"),
        "{}",
        ask.body
    );
    assert_eq!(app.tier("vip").available, 95);

    assert_eq!(
        app.admin_post(&admin, "/admin/reset", &[("tier", "vip"), ("confirm", "yes")]).await.status,
        303
    );
    let vip = app.tier("vip");
    assert_eq!((vip.available, vip.withheld), (100, 0));
    let bookings = app.bookings();
    let vip_paid: Vec<&Booking> = bookings.iter().filter(|b| b.tier_id == "vip").collect();
    assert!(!vip_paid.is_empty());
    assert!(
        vip_paid.iter().all(|b| b.status == BookingStatus::Refunded),
        "paid bookings are refunded: {vip_paid:?}"
    );
    // The worker pays each refund exactly once.
    let ids: Vec<String> = vip_paid.iter().map(|b| b.id.clone()).collect();
    crate::common::eventually("the refunds to be paid", std::time::Duration::from_secs(10), || {
        let refunded = app.gateway.refunded();
        ids.iter().all(|id| refunded.get(id) == Some(&1))
    })
    .await;
    assert!(
        bookings.iter().filter(|b| b.tier_id == "front-row").all(|b| b.status == BookingStatus::Confirmed)
    );
    app.assert_conservation();

    assert_eq!(
        app.admin_post(&admin, "/admin/reset", &[("tier", "all"), ("confirm", "yes")]).await.status,
        303
    );
    for t in Tier::all(&mut app.conn()).unwrap() {
        assert_eq!((t.available, t.withheld), (t.capacity, 0), "{}", t.id);
    }
    assert!(
        app.bookings().iter().all(|b| b.status == BookingStatus::Refunded),
        "every paid booking refunded"
    );
    let audit = AuditEntry::recent(&mut app.conn(), 10).unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "reset tier").count(), 4, "VIP, then each of the three");
    assert!(
        audit
            .iter()
            .any(|a| a.tier_id.as_deref() == Some("general") && a.before == "available=10 withheld=990")
    );
    app.assert_conservation();
}

async fn metrics_expose_the_named_series_and_move_after_a_booking(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    assert_eq!(app.get("/").await.status, 200);
    let before = app.get("/metrics").await;
    assert_eq!(before.status, 200);
    for series in [
        r#"techkraft_http_requests_total{method="GET",route="/",status="200"} 1"#,
        r#"techkraft_http_request_duration_seconds_bucket{method="GET",route="/",status="200",le="+Inf"} 1"#,
        "techkraft_bookings_total{outcome=\"confirmed\"} 0",
        "techkraft_bookings_total{outcome=\"sold_out\"} 0",
        "techkraft_bookings_total{outcome=\"payment_failed\"} 0",
        "techkraft_bookings_total{outcome=\"replayed\"} 0",
        "techkraft_bookings_total{outcome=\"invalid\"} 0",
        "techkraft_holds_expired_total 0",
        "techkraft_payment_duration_seconds_count 0",
        "techkraft_seats_available{tier=\"vip\"} 100",
        "techkraft_db_pool_connections{state=\"in_use\"}",
    ] {
        assert!(before.body.contains(series), "metrics lack {series:?}:\n{}", before.body);
    }
    assert_eq!(app.book(&form("vip", "2")).await.status, 303);
    app.set_available("front-row", 0);
    assert_eq!(app.book(&form("front-row", "1")).await.status, 409);
    let after = app.get("/metrics").await;
    for series in [
        "techkraft_bookings_total{outcome=\"confirmed\"} 1",
        "techkraft_bookings_total{outcome=\"sold_out\"} 1",
        "techkraft_payment_duration_seconds_count 1",
        "techkraft_seats_available{tier=\"vip\"} 98",
        r#"techkraft_http_requests_total{method="POST",route="/bookings",status="303"} 1"#,
        r#"techkraft_http_requests_total{method="POST",route="/bookings",status="409"} 1"#,
    ] {
        assert!(after.body.contains(series), "metrics lack {series:?}:\n{}", after.body);
    }
}

/// One outcome per attempt: a scripted session and the exact counts it must leave.
async fn booking_metrics_count_each_attempt_once_by_what_happened(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let first = form("vip", "2");
    assert_eq!(app.book(&first).await.status, 303); // confirmed
    assert_eq!(app.book(&first).await.status, 303); // replayed (same key)
    assert_eq!(app.book(&form("vip", "0")).await.status, 422); // invalid form field
    let bad_json = app.post_raw("/api/bookings", "application/json", "{", &[]).await;
    assert_eq!(bad_json.status, 422); // invalid API body
    let unknown = app
        .post_raw(
            "/api/bookings",
            "application/json",
            r#"{"ticketTypeId":"nope","quantity":1,"userId":"u"}"#,
            &[],
        )
        .await;
    assert_eq!(unknown.status, 404); // invalid: no such tier
    app.set_available("front-row", 0);
    assert_eq!(app.book(&form("front-row", "1")).await.status, 409); // sold out
    let text = app.get("/metrics").await.body;
    for (outcome, n) in [
        ("confirmed", 1),
        ("replayed", 1),
        ("invalid", 3),
        ("sold_out", 1),
        ("payment_failed", 0),
        ("refunded", 0),
        ("error", 0),
    ] {
        let series = format!("techkraft_bookings_total{{outcome=\"{outcome}\"}} {n}\n");
        assert!(text.contains(&series), "expected {series:?} in:\n{text}");
    }
    assert!(text.contains("techkraft_payment_duration_seconds_count 1\n"), "one charge only:\n{text}");
}

async fn every_kind_of_response_carries_the_security_headers(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let booking = app.book(&form("vip", "1")).await;
    let answers = [
        ("page", app.get("/").await),
        ("fragment", app.get("/availability").await),
        ("static file", app.get("/static/htmx.min.js").await),
        ("api", app.get("/api/tickets").await),
        ("redirect", booking),
        ("not found", app.get("/nowhere").await),
        ("error", app.post_raw("/bookings", "text/plain", "x", &[]).await),
    ];
    for (what, answer) in &answers {
        let csp = answer.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
            "{what}: CSP {csp:?}"
        );
        assert_eq!(answer.header("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
        assert_eq!(answer.header("x-frame-options").as_deref(), Some("DENY"), "{what}");
        assert!(answer.header("referrer-policy").is_some(), "{what}");
    }
    let htmx = &answers[2].1;
    assert!(htmx.header("cache-control").unwrap_or_default().contains("max-age=31536000"));
    assert!(htmx.header("content-type").unwrap_or_default().starts_with("text/javascript"));
    let page = &answers[0].1.body;
    assert!(
        !page.contains("<script>") && !page.contains(" style=\""),
        "no inline script or style for the CSP to block"
    );
}

async fn sigterm_lets_a_booking_in_flight_finish_then_exits_cleanly(backend: Backend) {
    let database_url = fresh_database(backend);
    let mut server = ServerProcess::start(&database_url, &[("PAYMENT_DELAY_MS", "1500")]);
    let pool = pool_for(&database_url);
    let in_flight = server.book_in_background("vip", "2");
    until_a_booking_is_held(&pool).await;
    server.signal("TERM");
    let status = in_flight.await.unwrap().expect("the in-flight request is answered");
    assert_eq!(status, 303);
    let exit = server.child.wait().expect("wait");
    assert!(exit.success(), "exit status {exit:?}; log:\n{}", server.log_text());
    let bookings = Booking::recent(&mut pool.get().unwrap(), 10).unwrap();
    assert_eq!(bookings[0].status, BookingStatus::Confirmed);
    assert_eq!(Tier::find(&mut pool.get().unwrap(), "vip").unwrap().unwrap().available, 98);
}

#[actix_rt::test]
async fn without_admin_password_one_is_generated_and_logged_once_at_warn() {
    let database_url = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(&database_url, &[("ADMIN_PASSWORD", "")]);
    let log = server.log_text();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("ADMIN_PASSWORD is not set")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("WARN"));
    let password = lines[0].rsplit(": ").next().unwrap().trim();
    assert!(password.len() >= 16);
    assert_eq!(log.matches(password).count(), 1, "the password appears once in the log");

    let app = crate::common::TestApp::attach(&server.address, &database_url);
    assert_eq!(app.try_sign_in(password).await.status, 303);
    assert_eq!(app.try_sign_in("correct horse battery staple").await.status, 401);
}

both_backends!(
    booking_metrics_count_each_attempt_once_by_what_happened,
    every_admin_route_requires_sign_in,
    the_right_password_signs_in_with_a_safe_cookie_and_the_wrong_one_does_not,
    failed_sign_ins_are_rate_limited,
    an_admin_post_without_a_valid_csrf_token_is_refused_and_changes_nothing,
    setting_seats_asks_first_then_moves_the_difference_to_withheld,
    setting_seats_while_bookings_race_never_breaks_conservation,
    reset_voids_bookings_and_restores_every_seat,
    metrics_expose_the_named_series_and_move_after_a_booking,
    every_kind_of_response_carries_the_security_headers,
    sigterm_lets_a_booking_in_flight_finish_then_exits_cleanly,
);
