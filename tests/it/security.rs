//! The holes a hostile test found, kept closed: keys that belong to their buyer, privacy of
//! web buyers, invisible characters, cross-site posts, duplicate JSON keys, lookups rate
//! limited, sessions that end everywhere.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, form, spawn_app};

impl TestApp {
    async fn api_book_with_key(&self, body: &Value, key: &str) -> crate::common::Answer {
        self.post_raw("/api/bookings", "application/json", body.to_string(), &[("Idempotency-Key", key)])
            .await
    }
}

async fn an_idempotency_key_belongs_to_its_buyer(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let alice = json!({"ticketTypeId": "vip", "quantity": 2, "userId": "alice@example.com"});
    let first = app.api_book_with_key(&alice, "order-1042").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let reference = serde_json::from_str::<Value>(&first.body).unwrap()["booking"]["reference"].clone();
    // Alice again: her booking again.
    let again = app.api_book_with_key(&alice, "order-1042").await;
    assert_eq!(again.status, 201);
    assert!(again.body.contains(reference.as_str().unwrap()));
    // Mallory with Alice's key: refused, and told nothing about Alice's booking.
    let mallory = json!({"ticketTypeId": "vip", "quantity": 2, "userId": "mallory"});
    let stolen = app.api_book_with_key(&mallory, "order-1042").await;
    assert_eq!(stolen.status, 422, "{}", stolen.body);
    assert!(stolen.body.contains("already used for a different booking"), "{}", stolen.body);
    for secret in [reference.as_str().unwrap(), "alice", "txn_"] {
        assert!(!stolen.body.contains(secret), "the refusal reveals {secret}: {}", stolen.body);
    }
    // The web form: the same key with another name or email is refused the same way.
    let mut ada = form("general", "1");
    assert_eq!(app.book(&ada).await.status, 303);
    ada[2].1 = "Eve".into();
    let eve = app.book(&ada).await;
    assert_eq!(eve.status, 422, "{}", eve.body);
    assert!(eve.location().is_none());
    assert_eq!(app.bookings().len(), 2, "nothing booked for the thieves");
    app.assert_conservation();
}

async fn fifty_buyers_sharing_one_key_get_one_booking_and_refusals(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let app = &app;
    let answers = join_all((0..50).map(|i| async move {
        let body = json!({"ticketTypeId": "vip", "quantity": 1, "userId": format!("buyer-{i}")});
        app.api_book_with_key(&body, "shared-key-123").await.status
    }))
    .await;
    assert_eq!(answers.iter().filter(|s| **s == 201).count(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 422).count(), 49, "{answers:?}");
    assert_eq!(app.tier("vip").available, 99);
    assert_eq!(app.gateway.charges.load(std::sync::atomic::Ordering::SeqCst), 1);
}

async fn a_web_buyer_is_never_shown_as_a_user_id(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let booked = app.book(&form("vip", "1")).await;
    let reference = booked.reference().expect("booked");
    let api = app.get(&format!("/api/bookings/{reference}")).await;
    let body: Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(body["userId"], Value::Null, "{body}");
    assert!(!api.body.contains("Ada Lovelace"), "{body}");
}

both_backends!(
    an_idempotency_key_belongs_to_its_buyer,
    fifty_buyers_sharing_one_key_get_one_booking_and_refusals,
    a_web_buyer_is_never_shown_as_a_user_id,
);

async fn invisible_characters_and_cross_site_posts_and_repeated_json_keys_are_refused(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let mut sneaky = form("vip", "1");
    sneaky[2].1 = "Admin\u{202E}gnp.exe\u{200B}".into();
    let answer = app.book(&sneaky).await;
    assert_eq!(answer.status, 422);
    assert!(answer.body.contains("invisible or text-direction"), "{}", answer.body);
    let mut sneaky_email = form("vip", "1");
    sneaky_email[3].1 = "ada\u{200D}@example.com".into();
    assert_eq!(app.book(&sneaky_email).await.status, 422);
    let api = json!({"ticketTypeId": "vip", "quantity": 1, "userId": "bob\u{2066}"});
    assert_eq!(app.post_raw("/api/bookings", "application/json", api.to_string(), &[]).await.status, 422);

    let body = serde_urlencoded::to_string(form("vip", "1")).unwrap();
    let form_type = "application/x-www-form-urlencoded";
    for headers in [[("Sec-Fetch-Site", "cross-site")], [("Origin", "https://evil.example")]] {
        let answer = app.post_raw("/bookings", form_type, body.clone(), &headers).await;
        assert_eq!(answer.status, 403, "{headers:?}: {}", answer.body);
    }
    let own_origin = app.address.clone();
    let same = app
        .post_raw("/bookings", form_type, body, &[("Origin", &own_origin), ("Sec-Fetch-Site", "same-origin")])
        .await;
    assert_eq!(same.status, 303, "{}", same.body);

    let repeated = r#"{"ticketTypeId": "general", "quantity": 1, "quantity": 9, "userId": "u"}"#;
    let answer = app.post_raw("/api/bookings", "application/json", repeated, &[]).await;
    assert_eq!(answer.status, 422);
    assert!(answer.body.contains("more than once"), "{}", answer.body);
    assert_eq!(app.bookings().len(), 1, "only the same-site booking");
    app.assert_conservation();
}

async fn reference_lookups_are_rate_limited(backend: Backend) {
    let app = spawn_app(backend, &[("RATE_LIMIT_LOOKUPS_PER_MIN", "5")]).await;
    let statuses: Vec<u16> = {
        let mut all = Vec::new();
        for i in 0..6 {
            let path = if i % 2 == 0 { "/bookings/TK-AAAA-BBBB-CC" } else { "/api/bookings/TK-AAAA-BBBB-CC" };
            all.push(app.get(path).await.status);
        }
        all
    };
    assert_eq!(statuses, [404, 404, 404, 404, 404, 429], "page and API share the budget");
    assert_eq!(app.get("/").await.status, 200, "other pages are not limited");
}

both_backends!(
    invisible_characters_and_cross_site_posts_and_repeated_json_keys_are_refused,
    reference_lookups_are_rate_limited,
    signing_out_ends_the_session_on_every_process,
);

async fn signing_out_ends_the_session_on_every_process(backend: Backend) {
    let secret = [("SESSION_SECRET", "s".repeat(64))];
    let secret: Vec<(&str, &str)> = secret.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = spawn_app(backend, &secret).await;
    let database = first.database.as_ref().expect("own database").url.clone();
    let second = crate::common::spawn_app_on(&database, &secret).await;

    let admin = first.sign_in().await;
    let copied = admin.cookie.clone();
    assert_eq!(second.get_with("/admin", &[("Cookie", &copied)]).await.status, 200, "any process accepts it");
    let out = first.admin_post(&admin, "/admin/logout", &[]).await;
    assert_eq!(out.status, 303);
    for app in [&first, &second] {
        let after = app.get_with("/admin", &[("Cookie", &copied)]).await;
        assert_eq!(after.location().as_deref(), Some("/admin/login"), "the copied cookie is dead");
        let change = app
            .admin_post(
                &admin,
                "/admin/tiers/available",
                &[("tier", "vip"), ("available", "1"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(change.status, 401, "and changes nothing");
    }
    assert_eq!(first.tier("vip").available, 100);

    // "Sign out everywhere" ends the other sessions too.
    let (one, two) = (first.sign_in().await, second.sign_in().await);
    assert_eq!(first.admin_post(&one, "/admin/logout", &[("everywhere", "yes")]).await.status, 303);
    assert_eq!(
        second.get_with("/admin", &[("Cookie", &two.cookie)]).await.location().as_deref(),
        Some("/admin/login")
    );
}
