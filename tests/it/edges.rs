//! At the edges (SPEC §15): names blank to the eye and addresses the mailer cannot take are
//! refused before anyone pays; HEAD works wherever GET does and a wrong method is a 405 with
//! `Allow`; the API refuses fields of the wrong JSON type; `/metrics` can ask for a token.

use serde_json::json;

use crate::common::{Backend, form, spawn_app};

async fn names_blank_to_the_eye_and_addresses_the_mailer_refuses_are_422(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let names = [
        "\u{3164}",
        "\u{2800}",
        "\u{00AD}",
        "Ada\u{2062}Lovelace",
        "Ada\u{E0041}",
        "Ada\u{180E}Lovelace",
        "Ada\u{034F}",
        "Ada\u{FFF9}Lovelace",
        "Ada\u{2028}Lovelace",
    ];
    for name in names {
        let mut fields = form("vip", "1");
        fields[2].1 = name.into();
        let answer = app.book(&fields).await;
        assert_eq!(answer.status, 422, "{name:?}: {}", answer.body);
    }
    let emails = [
        "a\u{00AD}b@example.com",
        "a,b@example.com",
        "a\"b@example.com",
        "a(b)@example.com",
        "a;b@example.com",
        "a\\b@example.com",
        "a:b@example.com",
        "a@-.-",
    ];
    for email in emails {
        let mut fields = form("vip", "1");
        fields[3].1 = email.into();
        let answer = app.book(&fields).await;
        assert_eq!(answer.status, 422, "{email:?}: {}", answer.body);
        assert!(answer.body.contains("Enter an email address like") || answer.body.contains("invisible"));
    }
    for user in ["\u{3164}", "bob\u{2062}", "u\u{E0041}"] {
        let body = json!({"ticketTypeId": "vip", "quantity": 1, "userId": user});
        let answer = app.post_raw("/api/bookings", "application/json", body.to_string(), &[]).await;
        assert_eq!(answer.status, 422, "{user:?}: {}", answer.body);
    }
    assert!(app.bookings().is_empty(), "nothing booked");
    assert_eq!(app.gateway.charges.load(std::sync::atomic::Ordering::SeqCst), 0, "nobody charged");
    assert_eq!(app.tier("vip").available, 100);
}

both_backends!(names_blank_to_the_eye_and_addresses_the_mailer_refuses_are_422);

async fn the_api_refuses_fields_of_the_wrong_json_type(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    for user in [json!(5), json!(true), json!(["u"]), json!({"id": "u"})] {
        let body = json!({"ticketTypeId": "vip", "quantity": 1, "userId": user});
        let answer = app.post_raw("/api/bookings", "application/json", body.to_string(), &[]).await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
        assert!(answer.body.contains("userId must be a string"), "{}", answer.body);
    }
    assert!(app.bookings().is_empty(), "nothing booked");
    let body = json!({"ticketTypeId": "vip", "quantity": 1, "userId": "5"});
    assert_eq!(app.post_raw("/api/bookings", "application/json", body.to_string(), &[]).await.status, 201);
}

both_backends!(the_api_refuses_fields_of_the_wrong_json_type);

/// Sends `method` to `path`; status, `Allow`, `Content-Type` and body.
async fn ask(app: &crate::common::TestApp, method: &str, path: &str) -> (u16, String, String, String) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut response = app.client.request(method, app.url(path)).send().await.expect("request");
    let body = response.body().await.expect("body");
    let header =
        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (
        response.status().as_u16(),
        header("allow"),
        header("content-type"),
        String::from_utf8_lossy(&body).into(),
    )
}

#[actix_rt::test]
async fn head_works_wherever_get_does_and_a_wrong_method_is_405_with_allow() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let reference = app.book_ok("vip", "1").await;
    let booking = format!("/bookings/{reference}");
    let calendar = format!("/bookings/{reference}/calendar.ics");
    for path in [
        "/",
        "/basic",
        "/availability",
        "/api/tickets",
        booking.as_str(),
        calendar.as_str(),
        "/healthz",
        "/find",
    ] {
        let (get, _, get_type, get_body) = ask(&app, "GET", path).await;
        let (head, _, head_type, head_body) = ask(&app, "HEAD", path).await;
        assert_eq!((get, head), (200, 200), "{path}");
        assert!(!get_body.is_empty() && head_body.is_empty(), "{path}: HEAD has no body");
        assert_eq!(get_type, head_type, "{path}");
    }
    for (method, path, allow) in [
        ("DELETE", "/api/tickets", "GET, HEAD"),
        ("POST", "/api/tickets", "GET, HEAD"),
        ("PUT", "/api/bookings", "POST"),
        ("POST", "/", "GET, HEAD"),
        ("GET", "/bookings", "POST"),
        ("HEAD", "/bookings", "POST"),
        ("DELETE", "/admin/login", "GET, POST, HEAD"),
        ("PATCH", booking.as_str(), "GET, HEAD"),
    ] {
        let (status, allowed, content_type, _) = ask(&app, method, path).await;
        assert_eq!((status, allowed.as_str()), (405, allow), "{method} {path}");
        let json = path.starts_with("/api/");
        assert_eq!(content_type.contains("json"), json, "{method} {path}: {content_type}");
    }
    for (method, path) in [("GET", "/nope"), ("DELETE", "/nope"), ("GET", "/api/nope"), ("HEAD", "/admin/")] {
        let (status, allowed, _, _) = ask(&app, method, path).await;
        assert_eq!((status, allowed.as_str()), (404, ""), "{method} {path}");
    }
    assert_eq!(app.bookings().len(), 1, "nothing else happened");
}

#[actix_rt::test]
async fn with_metrics_token_set_metrics_need_the_bearer_token() {
    let token = "scrape-token-0123456789";
    let app = spawn_app(Backend::Sqlite, &[("METRICS_TOKEN", token)]).await;
    for headers in
        [vec![], vec![("Authorization", "Bearer wrong-token-0123456789")], vec![("Authorization", token)]]
    {
        let answer = app.get_with("/metrics", &headers).await;
        assert_eq!(answer.status, 401, "{headers:?}");
        assert!(!answer.body.contains("techkraft_"), "nothing leaks: {}", answer.body);
    }
    let bearer = format!("Bearer {token}");
    let answer = app.get_with("/metrics", &[("Authorization", &bearer)]).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("techkraft_"), "{}", answer.body);
    let open = spawn_app(Backend::Sqlite, &[]).await;
    assert_eq!(open.get("/metrics").await.status, 200, "unset: open as before");
}

#[actix_rt::test]
async fn an_ipv6_public_base_url_works_for_links_calendars_and_the_origin_check() {
    let app = spawn_app(Backend::Sqlite, &[("PUBLIC_BASE_URL", "http://[::1]:8080/")]).await;
    let body = serde_urlencoded::to_string(form("vip", "1")).unwrap();
    let booked = app
        .post_raw("/bookings", "application/x-www-form-urlencoded", body, &[("Origin", "http://[::1]:8080")])
        .await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    let reference = booked.reference().unwrap();
    let calendar = app.get(&format!("/bookings/{reference}/calendar.ics")).await;
    assert_eq!(calendar.status, 200);
    assert!(calendar.body.contains(&format!("UID:{reference}@[::1]\r\n")), "{}", calendar.body);
    assert!(calendar.body.contains(&format!("http://[::1]:8080/bookings/{reference}")), "{}", calendar.body);
}
