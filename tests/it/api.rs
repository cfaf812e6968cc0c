//! The JSON API, compatible with the original TechKraft backend, over HTTP on both backends:
//! shapes, every listed error, idempotency, CORS and rate limits.

use std::sync::atomic::Ordering;

use crate::common::{Answer, Backend, TestApp, spawn_app};
use futures_util::future::join_all;
use serde_json::{Value, json};
use techkraft_tickets::booking::BookingStatus;

fn json_of(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", answer.body))
}

impl TestApp {
    async fn api_book(&self, body: &Value, headers: &[(&str, &str)]) -> Answer {
        self.post_raw("/api/bookings", "application/json", body.to_string(), headers).await
    }
}

async fn tickets_are_listed_as_the_original_listed_them(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let answer = app.get("/api/tickets").await;
    assert_eq!(answer.status, 200);
    assert!(answer.header("content-type").unwrap().starts_with("application/json"));
    assert_eq!(
        json_of(&answer),
        json!([
            {"id": "vip", "name": "VIP", "price": 100, "quantity": 100, "available": 100},
            {"id": "front-row", "name": "Front Row", "price": 50, "quantity": 200, "available": 200},
            {"id": "general", "name": "General Admission", "price": 10, "quantity": 1000, "available": 1000},
        ])
    );
}

async fn a_booking_answers_201_with_the_original_fields(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let answer =
        app.api_book(&json!({"ticketTypeId": "vip", "quantity": 2, "userId": "user-abc"}), &[]).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let body = json_of(&answer);
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["message"], json!("Booking confirmed! Payment processed successfully."));
    let booking = &body["booking"];
    for field in ["id", "reference", "ticketTypeId", "userId", "quantity", "createdAt"] {
        assert!(!booking[field].is_null(), "booking.{field} missing: {body}");
    }
    assert_eq!(booking["ticketTypeId"], json!("vip"));
    assert_eq!(booking["userId"], json!("user-abc"));
    assert_eq!(booking["quantity"], json!(2));
    assert!(booking["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["payment"]["amount"], json!(200));
    assert_eq!(body["payment"]["currency"], json!("USD"));
    assert!(body["payment"]["transactionId"].as_str().unwrap().starts_with("txn_"));

    let stored = &app.bookings()[0];
    assert_eq!(stored.user_id.as_deref(), Some("user-abc"));
    assert_eq!(stored.status, BookingStatus::Confirmed);
    assert_eq!(app.tier("vip").available, 98);

    let reference = booking["reference"].as_str().unwrap();
    let fetched = app.get(&format!("/api/bookings/{reference}")).await;
    assert_eq!(fetched.status, 200);
    let fetched = json_of(&fetched);
    assert_eq!(fetched["reference"], json!(reference));
    assert_eq!(fetched["status"], json!("confirmed"));
    assert_eq!(fetched["total"], json!(200));
    let missing = app.get("/api/bookings/TK-2222-2222-22").await;
    assert_eq!((missing.status, json_of(&missing)), (404, json!({"error": "Booking not found"})));
}

async fn each_error_answers_with_the_original_status_and_words(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    app.set_available("front-row", 3);
    let cases = [
        (json!({"quantity": 1, "userId": "u"}), 400, "Missing required fields"),
        (json!({"ticketTypeId": "vip", "userId": "u"}), 400, "Missing required fields"),
        (json!({"ticketTypeId": "vip", "quantity": 1}), 400, "Missing required fields"),
        (json!({}), 400, "Missing required fields"),
        (json!({"ticketTypeId": "vip", "quantity": 0, "userId": "u"}), 400, "Quantity must be positive"),
        (json!({"ticketTypeId": "vip", "quantity": -1, "userId": "u"}), 400, "Quantity must be positive"),
        (json!({"ticketTypeId": "balcony", "quantity": 1, "userId": "u"}), 404, "Ticket type not found"),
        (
            json!({"ticketTypeId": "front-row", "quantity": 4, "userId": "u"}),
            409,
            "Not enough tickets available",
        ),
        (json!({"ticketTypeId": "vip", "quantity": 11, "userId": "u"}), 422, "Quantity must be at most 10"),
    ];
    for (body, status, words) in cases {
        let answer = app.api_book(&body, &[]).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert_eq!(json_of(&answer)["error"], json!(words), "{body}");
    }
    assert!(app.bookings().is_empty());
    assert_eq!(app.tier("front-row").available, 3);
    assert_eq!(app.gateway.charges.load(Ordering::SeqCst), 0, "no charge for a 409: seats come first");
}

async fn a_declined_payment_is_a_402_naming_the_reason(backend: Backend) {
    let app = spawn_app(backend, &[("PAYMENT_SUCCESS_RATE", "0")]).await;
    let answer = app.api_book(&json!({"ticketTypeId": "general", "quantity": 3, "userId": "u"}), &[]).await;
    assert_eq!(answer.status, 402);
    let error = json_of(&answer)["error"].as_str().unwrap().to_owned();
    let reason = error.strip_prefix("Payment failed: ").expect("original wording");
    assert!(techkraft_tickets::payment::DECLINE_REASONS.contains(&reason), "{error}");
    assert_eq!(app.tier("general").available, 1000);
}

async fn hostile_requests_get_a_clear_4xx_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let long = "x".repeat(5000);
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let big = format!(r#"{{"ticketTypeId":"vip","quantity":1,"userId":"{}"}}"#, "u".repeat(17 * 1024));
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "quantity as a string",
            "application/json",
            br#"{"ticketTypeId":"vip","quantity":"2","userId":"u"}"#.to_vec(),
            422,
        ),
        (
            "quantity as a float",
            "application/json",
            br#"{"ticketTypeId":"vip","quantity":1.5,"userId":"u"}"#.to_vec(),
            422,
        ),
        (
            "quantity as a bool",
            "application/json",
            br#"{"ticketTypeId":"vip","quantity":true,"userId":"u"}"#.to_vec(),
            422,
        ),
        (
            "huge quantity",
            "application/json",
            br#"{"ticketTypeId":"vip","quantity":1e300,"userId":"u"}"#.to_vec(),
            422,
        ),
        (
            "quantity beyond u64",
            "application/json",
            br#"{"ticketTypeId":"vip","quantity":99999999999999999999999,"userId":"u"}"#.to_vec(),
            422,
        ),
        (
            "very negative",
            "application/json",
            br#"{"ticketTypeId":"vip","quantity":-9223372036854775808,"userId":"u"}"#.to_vec(),
            400,
        ),
        (
            "tier as a number",
            "application/json",
            br#"{"ticketTypeId":1,"quantity":1,"userId":"u"}"#.to_vec(),
            422,
        ),
        (
            "tier as an object",
            "application/json",
            br#"{"ticketTypeId":{"$ne":null},"quantity":1,"userId":"u"}"#.to_vec(),
            422,
        ),
        (
            "very long tier",
            "application/json",
            format!(r#"{{"ticketTypeId":"{long}","quantity":1,"userId":"u"}}"#).into_bytes(),
            404,
        ),
        (
            "very long user",
            "application/json",
            format!(r#"{{"ticketTypeId":"vip","quantity":1,"userId":"{long}"}}"#).into_bytes(),
            422,
        ),
        ("an array", "application/json", b"[1,2,3]".to_vec(), 422),
        ("not JSON", "application/json", b"ticketTypeId=vip".to_vec(), 422),
        ("truncated JSON", "application/json", br#"{"ticketTypeId":"vip","#.to_vec(), 422),
        ("empty body", "application/json", Vec::new(), 422),
        (
            "broken UTF-8",
            "application/json",
            b"{\"ticketTypeId\":\"v\xffp\",\"quantity\":1,\"userId\":\"u\"}".to_vec(),
            422,
        ),
        ("deeply nested", "application/json", deep.into_bytes(), 422),
        (
            "a form posing as JSON's cousin",
            "application/x-www-form-urlencoded",
            b"ticketTypeId=vip&quantity=1&userId=u".to_vec(),
            415,
        ),
        ("text/plain", "text/plain", br#"{"ticketTypeId":"vip","quantity":1,"userId":"u"}"#.to_vec(), 415),
        ("over 16 KiB", "application/json", big.into_bytes(), 413),
    ];
    for (what, content_type, body, status) in cases {
        let answer = app.post_raw("/api/bookings", content_type, body, &[]).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        assert!(json_of(&answer)["error"].is_string(), "{what}: JSON error body");
    }
    // Extra fields are ignored, as the original did.
    let extra = app
        .api_book(
            &json!({"ticketTypeId": "vip", "quantity": 1, "userId": "u", "price": 0, "admin": true}),
            &[],
        )
        .await;
    assert_eq!(extra.status, 201);
    assert_eq!(app.bookings().len(), 1, "only the valid request booked");
    assert_eq!(app.tier("vip").available, 99);
    app.assert_conservation();
}

async fn an_idempotency_key_makes_a_retry_return_the_first_result(backend: Backend) {
    let app = spawn_app(backend, &[("PAYMENT_DELAY_MS", "30")]).await;
    let body = json!({"ticketTypeId": "vip", "quantity": 3, "userId": "script-1"});
    let key = [("Idempotency-Key", "order-42-attempt")];
    let first = app.api_book(&body, &key).await;
    let retry = app.api_book(&body, &key).await;
    assert_eq!((first.status, retry.status), (201, 201));
    assert_eq!(json_of(&first)["booking"]["reference"], json_of(&retry)["booking"]["reference"]);

    let key2 = [("Idempotency-Key", "order-43-attempt")];
    let burst = join_all((0..4).map(|_| app.api_book(&body, &key2))).await;
    let refs: std::collections::HashSet<String> =
        burst.iter().map(|a| json_of(a)["booking"]["reference"].as_str().unwrap().to_owned()).collect();
    assert_eq!(refs.len(), 1);
    assert_eq!(app.gateway.charges.load(Ordering::SeqCst), 2);
    assert_eq!(app.tier("vip").available, 94);

    let other =
        app.api_book(&json!({"ticketTypeId": "vip", "quantity": 1, "userId": "script-1"}), &key).await;
    assert_eq!(other.status, 422, "a key names one request");
    let bad = app.api_book(&body, &[("Idempotency-Key", "short")]).await;
    assert_eq!(bad.status, 422);
}

async fn the_original_frontend_origin_gets_cors_and_others_do_not(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let preflight = app
        .client
        .request(awc::http::Method::OPTIONS, app.url("/api/bookings"))
        .insert_header(("Origin", "http://localhost:5173"))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .insert_header(("Access-Control-Request-Headers", "content-type,idempotency-key"))
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allow =
        |r: &awc::ClientResponse<_>, h: &str| r.headers().get(h).map(|v| v.to_str().unwrap().to_lowercase());
    assert_eq!(allow(&preflight, "access-control-allow-origin").as_deref(), Some("http://localhost:5173"));
    assert!(allow(&preflight, "access-control-allow-methods").unwrap().contains("post"));
    assert!(allow(&preflight, "access-control-allow-headers").unwrap().contains("content-type"));

    let get = app.get_with("/api/tickets", &[("Origin", "http://127.0.0.1:5173")]).await;
    assert_eq!(get.header("access-control-allow-origin").as_deref(), Some("http://127.0.0.1:5173"));
    let post = app
        .api_book(
            &json!({"ticketTypeId": "vip", "quantity": 1, "userId": "u"}),
            &[("Origin", "http://localhost:5173")],
        )
        .await;
    assert_eq!(post.status, 201);
    assert_eq!(post.header("access-control-allow-origin").as_deref(), Some("http://localhost:5173"));

    let evil = app.get_with("/api/tickets", &[("Origin", "http://evil.example")]).await;
    assert_eq!(evil.header("access-control-allow-origin"), None);
    let evil_preflight = app
        .client
        .request(awc::http::Method::OPTIONS, app.url("/api/bookings"))
        .insert_header(("Origin", "http://evil.example"))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .send()
        .await
        .unwrap();
    assert!(evil_preflight.headers().get("access-control-allow-origin").is_none());
}

async fn booking_posts_are_rate_limited_per_client_and_reads_are_not(backend: Backend) {
    let app = spawn_app(backend, &[("RATE_LIMIT_BOOKINGS_PER_MIN", "3")]).await;
    let body = json!({"ticketTypeId": "general", "quantity": 1, "userId": "u"});
    for _ in 0..2 {
        assert_eq!(app.api_book(&body, &[]).await.status, 201);
    }
    assert_eq!(
        app.book(&crate::common::form("general", "1")).await.status,
        303,
        "the form shares the budget"
    );
    let limited = app.api_book(&body, &[]).await;
    assert_eq!(limited.status, 429);
    assert_eq!(json_of(&limited)["error"], json!("Too many requests"));
    assert!(limited.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    let form_limited = app.book(&crate::common::form("general", "1")).await;
    assert_eq!(form_limited.status, 429);
    assert!(form_limited.header("retry-after").is_some());
    let in_place = app.book_htmx(&crate::common::form("general", "1")).await;
    assert_eq!(in_place.status, 429);
    assert!(in_place.header("retry-after").is_some(), "htmx answers keep Retry-After");
    assert!(in_place.body.contains("Please wait") && !in_place.body.contains("<html"), "{}", in_place.body);
    // X-Forwarded-For is ignored unless trusted: it cannot buy a fresh budget.
    assert_eq!(app.api_book(&body, &[("X-Forwarded-For", "203.0.113.9")]).await.status, 429);
    for _ in 0..20 {
        assert_eq!(app.get("/api/tickets").await.status, 200);
        assert_eq!(app.get("/availability").await.status, 200);
    }
    assert_eq!(app.tier("general").available, 997);
}

async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(backend: Backend) {
    let app =
        spawn_app(backend, &[("RATE_LIMIT_BOOKINGS_PER_MIN", "1"), ("TRUST_FORWARDED_FOR", "true")]).await;
    let body = json!({"ticketTypeId": "general", "quantity": 1, "userId": "u"});
    let a = [("X-Forwarded-For", "198.51.100.7, 203.0.113.1")];
    let b = [("X-Forwarded-For", "198.51.100.7, 203.0.113.2")];
    assert_eq!(app.api_book(&body, &a).await.status, 201);
    assert_eq!(app.api_book(&body, &a).await.status, 429);
    assert_eq!(app.api_book(&body, &b).await.status, 201, "the proxy's last hop names the client");
}

both_backends!(
    tickets_are_listed_as_the_original_listed_them,
    a_booking_answers_201_with_the_original_fields,
    each_error_answers_with_the_original_status_and_words,
    a_declined_payment_is_a_402_naming_the_reason,
    hostile_requests_get_a_clear_4xx_and_change_nothing,
    an_idempotency_key_makes_a_retry_return_the_first_result,
    the_original_frontend_origin_gets_cors_and_others_do_not,
    booking_posts_are_rate_limited_per_client_and_reads_are_not,
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget,
);
