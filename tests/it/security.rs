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
