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
