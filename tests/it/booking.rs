//! The customer side over real HTTP, on SQLite and PostgreSQL: races for seats, payment
//! outcomes, idempotency, bad input and the pages.

use std::sync::atomic::Ordering;

use crate::common::{Backend, form, spawn_app};
use futures_util::future::join_all;
use rand::Rng;
use techkraft_tickets::booking::BookingStatus;

async fn fifty_buyers_for_the_last_seat_sell_it_once(backend: Backend) {
    let app = spawn_app(backend, &[("PAYMENT_DELAY_MS", "0-20")]).await;
    app.set_available("vip", 1);

    let forms: Vec<_> = (0..50).map(|_| form("vip", "1")).collect();
    let answers = join_all(forms.iter().map(|f| app.book(f))).await;

    let sold = answers.iter().filter(|a| a.status == 303).count();
    let refused = answers.iter().filter(|a| a.status == 409).count();
    assert_eq!(
        (sold, refused),
        (1, 49),
        "statuses: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(answers.iter().filter(|a| a.status == 409).all(|a| a.body.contains("Only 0 left")));
    assert_eq!(app.tier("vip").available, 0);
    let confirmed: Vec<_> =
        app.bookings().into_iter().filter(|b| b.status == BookingStatus::Confirmed).collect();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].quantity, 1);
    assert_eq!(app.gateway.charges.load(Ordering::SeqCst), 1, "only the winner is charged");
    app.assert_conservation();
}

async fn three_hundred_buyers_never_oversell_vip(backend: Backend) {
    let app = spawn_app(backend, &[("PAYMENT_DELAY_MS", "0-20"), ("PAYMENT_SUCCESS_RATE", "0.95")]).await;

    let quantities: Vec<String> = (0..300).map(|_| rand::rng().random_range(1..=4).to_string()).collect();
    let forms: Vec<_> = quantities.iter().map(|q| form("vip", q)).collect();
    let answers = join_all(forms.iter().map(|f| app.book(f))).await;

    for a in &answers {
        assert!([303, 409, 402].contains(&a.status), "unexpected status {}: {}", a.status, a.body);
    }
    let vip = app.tier("vip");
    let confirmed_seats: i32 = app
        .bookings()
        .iter()
        .filter(|b| b.tier_id == "vip" && b.status == BookingStatus::Confirmed)
        .map(|b| b.quantity)
        .sum();
    assert!(vip.available >= 0);
    assert_eq!(confirmed_seats + vip.available, 100, "no seat lost or sold twice");
    assert_eq!(app.count_with_status(BookingStatus::Held), 0, "no hold left behind");
    let successes = answers.iter().filter(|a| a.status == 303).count();
    assert_eq!(successes, app.count_with_status(BookingStatus::Confirmed));
    // 300 buyers want ~750 seats, so the tier sells out: seats are left over only when a
    // decline returned them after the last buyers had been refused, or too few for anyone.
    let declined_seats: i32 = app
        .bookings()
        .iter()
        .filter(|b| b.tier_id == "vip" && b.status == BookingStatus::PaymentFailed)
        .map(|b| b.quantity)
        .sum();
    assert!(
        vip.available <= 3 + declined_seats,
        "{} left, {declined_seats} returned by declines",
        vip.available
    );
    app.assert_conservation();
}

async fn a_declined_payment_takes_no_seats_and_says_so(backend: Backend) {
    let app = spawn_app(backend, &[("PAYMENT_SUCCESS_RATE", "0")]).await;
    let f = form("front-row", "3");
    let answer = app.book(&f).await;

    assert_eq!(answer.status, 402);
    assert!(answer.body.contains("Payment failed: "), "{}", answer.body);
    assert!(answer.body.contains("no seats were taken, nothing was charged"), "{}", answer.body);
    assert!(
        techkraft_tickets::payment::DECLINE_REASONS.iter().any(|r| answer.body.contains(r)),
        "names the gateway's reason"
    );
    assert_eq!(app.tier("front-row").available, 200);
    let bookings = app.bookings();
    assert_eq!(bookings.len(), 1);
    assert_eq!(bookings[0].status, BookingStatus::PaymentFailed);
    assert_eq!(bookings[0].transaction_id, None);
    app.assert_conservation();
}

async fn asking_for_more_than_is_left_is_a_409_that_says_how_many(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    app.set_available("vip", 3);
    let f = form("vip", "5");
    let answer = app.book(&f).await;

    assert_eq!(answer.status, 409);
    assert!(answer.body.contains("Only 3 left"), "{}", answer.body);
    assert_eq!(app.tier("vip").available, 3);
    assert!(app.bookings().is_empty());
    assert_eq!(app.gateway.charges.load(Ordering::SeqCst), 0, "nobody is charged for seats they cannot get");
}

async fn a_repeated_submit_books_and_charges_once(backend: Backend) {
    let app = spawn_app(backend, &[("PAYMENT_DELAY_MS", "50")]).await;
    let f = form("vip", "2");

    let first = app.book(&f).await;
    let again = app.book(&f).await;
    assert_eq!(first.status, 303);
    assert_eq!(again.status, 303);
    assert_eq!(first.location(), again.location());

    // And a burst of the same key at once (a double click with a slow network).
    let g = form("vip", "1");
    let burst = join_all((0..5).map(|_| app.book(&g))).await;
    let references: std::collections::HashSet<_> = burst.iter().map(|a| a.location()).collect();
    assert!(
        burst.iter().all(|a| a.status == 303),
        "{:?}",
        burst.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_eq!(references.len(), 1, "one booking for one key: {references:?}");

    assert_eq!(app.bookings().len(), 2);
    assert_eq!(app.gateway.charges.load(Ordering::SeqCst), 2);
    assert_eq!(app.tier("vip").available, 97);
    app.assert_conservation();
}

async fn repeats_after_the_sell_out_get_their_bookings_and_new_buyers_a_409(backend: Backend) {
    // A snapshot that stays fresh, so the sell-out is answered from memory, as in production.
    let app = spawn_app(backend, &[("PAYMENT_DELAY_MS", "0-20"), ("AVAILABILITY_MAX_AGE_MS", "60000")]).await;
    app.set_available("vip", 5);
    let buyers: Vec<_> = (0..5).map(|_| form("vip", "1")).collect();
    let first = join_all(buyers.iter().map(|f| app.book(f))).await;
    assert!(
        first.iter().all(|a| a.status == 303),
        "{:?}",
        first.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_eq!(app.tier("vip").available, 0);

    // Sold out: the snapshot refuses at once, but a repeated key is looked up (in batches with
    // the refusals of the moment) and answered with its booking. Three repeats of each key and
    // twenty-five new buyers, all at once.
    let newcomers: Vec<_> = (0..25).map(|_| form("vip", "1")).collect();
    let repeats: Vec<_> = buyers.iter().cycle().take(15).collect();
    let everyone: Vec<_> = repeats.iter().copied().chain(newcomers.iter()).collect();
    let answers = join_all(everyone.iter().map(|f| app.book(f))).await;
    for (i, answer) in answers.iter().enumerate() {
        if i < repeats.len() {
            assert_eq!(answer.status, 303, "repeat {i}: {}", answer.body);
            assert_eq!(
                answer.location(),
                first[i % buyers.len()].location(),
                "repeat {i} gets its own booking"
            );
        } else {
            assert_eq!(answer.status, 409, "newcomer {i}: {}", answer.body);
        }
    }
    assert_eq!(app.bookings().len(), 5);
    assert_eq!(app.gateway.charges.load(Ordering::SeqCst), 5);
    app.assert_conservation();
}

async fn a_repeated_failed_submit_reports_the_same_failure_without_charging_again(backend: Backend) {
    let app = spawn_app(backend, &[("PAYMENT_SUCCESS_RATE", "0")]).await;
    let f = form("general", "2");
    let first = app.book(&f).await;
    let again = app.book(&f).await;
    assert_eq!((first.status, again.status), (402, 402));
    assert_eq!(app.gateway.charges.load(Ordering::SeqCst), 1);
    assert_eq!(app.bookings().len(), 1);
    assert_eq!(app.tier("general").available, 1000);
}

async fn reusing_a_key_for_a_different_booking_is_refused(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let f = form("vip", "2");
    assert_eq!(app.book(&f).await.status, 303);
    let mut other = f.clone();
    other[1].1 = "3".into();
    let answer = app.book(&other).await;
    assert_eq!(answer.status, 422);
    assert!(answer.body.contains("already used"), "{}", answer.body);
    assert_eq!(app.tier("vip").available, 98);
}

async fn bad_input_gets_a_clear_4xx_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let form_type = "application/x-www-form-urlencoded";
    let long_name = "n".repeat(101);
    let huge = format!("tier=vip&quantity=1&name={}&email=a%40b.co", "x".repeat(17 * 1024));
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "zero quantity",
            form_type,
            b"tier=vip&quantity=0&name=Ada&email=a%40b.co".to_vec(),
            422,
            "at least 1",
        ),
        (
            "negative quantity",
            form_type,
            b"tier=vip&quantity=-3&name=Ada&email=a%40b.co".to_vec(),
            422,
            "at least 1",
        ),
        (
            "huge quantity",
            form_type,
            b"tier=vip&quantity=99999999999999999999999&name=Ada&email=a%40b.co".to_vec(),
            422,
            "at most 10",
        ),
        (
            "quantity above the maximum",
            form_type,
            b"tier=vip&quantity=11&name=Ada&email=a%40b.co".to_vec(),
            422,
            "at most 10",
        ),
        (
            "non-numeric quantity",
            form_type,
            b"tier=vip&quantity=two&name=Ada&email=a%40b.co".to_vec(),
            422,
            "whole number",
        ),
        (
            "fractional quantity",
            form_type,
            b"tier=vip&quantity=1.5&name=Ada&email=a%40b.co".to_vec(),
            422,
            "whole number",
        ),
        (
            "unknown tier",
            form_type,
            b"tier=balcony&quantity=1&name=Ada&email=a%40b.co".to_vec(),
            422,
            "no such ticket tier",
        ),
        (
            "hostile tier",
            form_type,
            b"tier=vip'--&quantity=1&name=Ada&email=a%40b.co".to_vec(),
            422,
            "no such ticket tier",
        ),
        (
            "missing tier",
            form_type,
            b"quantity=1&name=Ada&email=a%40b.co".to_vec(),
            422,
            "Choose a ticket tier",
        ),
        (
            "missing quantity",
            form_type,
            b"tier=vip&name=Ada&email=a%40b.co".to_vec(),
            422,
            "how many tickets",
        ),
        ("missing name", form_type, b"tier=vip&quantity=1&email=a%40b.co".to_vec(), 422, "Enter your name"),
        ("missing email", form_type, b"tier=vip&quantity=1&name=Ada".to_vec(), 422, "Enter your email"),
        (
            "over-long name",
            form_type,
            format!("tier=vip&quantity=1&name={long_name}&email=a%40b.co").into_bytes(),
            422,
            "at most 100 characters",
        ),
        (
            "broken email",
            form_type,
            b"tier=vip&quantity=1&name=Ada&email=ada%40nowhere".to_vec(),
            422,
            "email address like",
        ),
        (
            "broken UTF-8",
            form_type,
            b"tier=vip&quantity=1&name=%FF%FE&email=\xff@x.co".to_vec(),
            422,
            "not valid UTF-8",
        ),
        (
            "malformed idempotency key",
            form_type,
            b"tier=vip&quantity=1&name=Ada&email=a%40b.co&idempotency_key=a%20b".to_vec(),
            422,
            "idempotency key",
        ),
        (
            "JSON instead of a form",
            "application/json",
            br#"{"tier":"vip","quantity":1}"#.to_vec(),
            415,
            "application/x-www-form-urlencoded",
        ),
        (
            "no content type",
            "",
            b"tier=vip&quantity=1&name=Ada&email=a%40b.co".to_vec(),
            415,
            "application/x-www-form-urlencoded",
        ),
        ("body over 16 KiB", form_type, huge.into_bytes(), 413, "16 KiB"),
    ];
    for (what, content_type, body, status, words) in cases {
        let answer = app.post_raw("/bookings", content_type, body, &[]).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        assert!(answer.body.contains(words), "{what}: expected {words:?} in {}", answer.body);
        assert!(!answer.body.contains("panicked"), "{what}");
    }
    assert!(app.bookings().is_empty(), "no bad request created a booking");
    assert_eq!(app.gateway.charges.load(Ordering::SeqCst), 0);
    for (tier, seats) in [("vip", 100), ("front-row", 200), ("general", 1000)] {
        assert_eq!(app.tier(tier).available, seats);
    }
}

async fn an_invalid_field_is_named_and_what_was_typed_is_kept(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let answer =
        app.book(&[("tier", "vip"), ("quantity", "2"), ("name", "Grace Hopper"), ("email", "grace")]).await;
    assert_eq!(answer.status, 422);
    assert!(answer.body.contains(r#"name="email" type="email""#));
    assert!(answer.body.contains(r#"value="grace" required aria-invalid="true""#), "{}", answer.body);
    assert!(answer.body.contains(r#"value="Grace Hopper""#));
}

async fn the_pages_show_the_concert_and_its_tiers(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let page = app.get("/").await;
    assert_eq!(page.status, 200);
    for text in [
        "<title>",
        "VIP",
        "$100.00",
        "100 left",
        "Front Row",
        "$50.00",
        "200 left",
        "General Admission",
        "$10.00",
        "1,000 left",
    ] {
        assert!(page.body.contains(text), "/ lacks {text:?}");
    }
    assert_eq!(page.body.matches("<form").count(), 1, "one booking form for every tier");
    for field in ["name=\"quantity\"", "name=\"name\"", "name=\"email\"", "name=\"idempotency_key\""] {
        assert_eq!(page.body.matches(field).count(), 1, "{field}");
    }
    assert_eq!(page.body.matches(r#"type="radio" name="tier""#).count(), 3, "a radio card per tier");
    assert!(page.body.contains(">Book tickets</button>"), "the button names the order once one is chosen");
    for text in ["TechKraft Live", "Saturday 19 June 2027, 20:00", "TechKraft Arena, Main Hall"] {
        assert!(page.body.contains(text), "the concert at a glance lacks {text:?}");
    }
    assert!(page.body.contains("/static/htmx.min.js"));

    let fragment = app.get("/availability").await;
    assert_eq!(fragment.status, 200);
    assert!(fragment.body.contains(r#"hx-get="/availability""#));
    assert!(fragment.body.contains(r#"hx-trigger="every 5s""#));
    assert!(!fragment.body.contains("<form"), "polling must not replace the form");
    assert_eq!(
        fragment.body.matches(r#"data-hx-swap-oob="true""#).count(),
        3,
        "each tier's seats, out of band"
    );
    assert!(!fragment.body.contains("<input"), "no tier is sold out, no radio is touched");
    app.set_available("vip", 0);
    let sold_out = app.get("/availability").await;
    let radio = r#"<input class="tier-radio" type="radio" name="tier" id="pick-vip" value="vip""#;
    assert!(sold_out.body.contains(radio), "{}", sold_out.body);
    assert!(sold_out.body.contains(r#"required disabled data-hx-swap-oob="true">"#), "{}", sold_out.body);
    assert_eq!(sold_out.body.matches("<input").count(), 1, "only the sold-out tier's radio");
    assert!(!sold_out.body.contains("checked"), "the poll never chooses for the visitor");
    let page = app.get("/").await.body;
    assert!(
        page.contains(r#"id="pick-vip" value="vip""#) && page.contains(r#"required disabled>"#),
        "{page}"
    );
    assert!(page.contains(r#"<span class="tier-seats" data-available="0">Sold out</span>"#));
    app.set_available("vip", 100);
    assert!(!fragment.body.contains("<html"));

    let basic = app.get("/basic").await;
    assert_eq!(basic.status, 200);
    assert!(!basic.body.contains("<script"), "/basic has no scripts");
    assert!(!basic.body.contains("stylesheet"), "/basic has no external CSS");
    assert!(basic.body.contains("<title>"));
    assert_eq!(basic.body.matches("<form").count(), 1, "one plain form");
    assert_eq!(basic.body.matches(r#"type="radio" name="tier""#).count(), 3);

    assert_eq!(app.get("/bookings/TK-2222-2222-22").await.status, 404);
    assert_eq!(app.get("/bookings/not-a-reference").await.status, 404);
    assert_eq!(app.get("/no/such/page").await.status, 404);
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
}

async fn a_booking_is_confirmed_with_everything_the_customer_needs(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let f = form("vip", "2");
    let answer = app.book(&f).await;
    assert_eq!(answer.status, 303);
    let reference = answer.reference().expect("303 to the booking");
    let page = app.get(&format!("/bookings/{reference}")).await;
    assert_eq!(page.status, 200);
    for text in [reference.as_str(), "VIP", "Confirmed", "$100.00", "$200.00", "txn_"] {
        assert!(page.body.contains(text), "confirmation lacks {text:?}");
    }
    // Reloading the confirmation books nothing new.
    app.get(&format!("/bookings/{reference}")).await;
    assert_eq!(app.bookings().len(), 1);
    assert_eq!(app.tier("vip").available, 98);
    assert!(app.get("/").await.body.contains("98 left"));
}

async fn htmx_bookings_answer_in_place_with_fresh_availability(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let f = form("vip", "2");
    let answer = app.book_htmx(&f).await;
    assert_eq!(answer.status, 200);
    assert!(!answer.body.contains("<html"), "a fragment, not a page");
    let booking = &app.bookings()[0];
    assert!(answer.body.contains(&booking.reference));
    assert!(answer.body.contains("$200.00"));
    assert!(answer.body.contains(r#"<form id="booking-form""#), "the form again, with the result");
    assert!(answer.body.contains("98 left"), "its cards show fresh availability");
    assert!(
        answer.body.contains(r#"id="pick-vip" value="vip""#) && answer.body.contains(" checked"),
        "the tier stays chosen"
    );
    assert!(!answer.body.contains(&f[4].1), "the next submit gets a fresh idempotency key");

    app.set_available("front-row", 1);
    let g = form("front-row", "2");
    let refused = app.book_htmx(&g).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("Only 1 left") && !refused.body.contains("<html"));
    assert!(refused.body.contains(r#"id="pick-front-row" value="front-row""#));
    assert!(
        refused.body.contains(
            r#"value="2" required aria-describedby="quantity-help form-error" aria-invalid="true""#
        )
    );

    // No tier chosen (the browser's `required` bypassed): the form again, naming the choice.
    let mut none = form("", "1");
    none[0].1 = String::new();
    let unchosen = app.book_htmx(&none).await;
    assert_eq!(unchosen.status, 422);
    assert!(
        unchosen.body.contains(r#"<form id="booking-form""#)
            && unchosen.body.contains("Choose a ticket tier.")
    );
    assert!(!unchosen.body.contains(" checked"), "nothing chosen for the visitor");
}

both_backends!(
    fifty_buyers_for_the_last_seat_sell_it_once,
    three_hundred_buyers_never_oversell_vip,
    a_declined_payment_takes_no_seats_and_says_so,
    asking_for_more_than_is_left_is_a_409_that_says_how_many,
    a_repeated_submit_books_and_charges_once,
    repeats_after_the_sell_out_get_their_bookings_and_new_buyers_a_409,
    a_repeated_failed_submit_reports_the_same_failure_without_charging_again,
    reusing_a_key_for_a_different_booking_is_refused,
    bad_input_gets_a_clear_4xx_and_changes_nothing,
    an_invalid_field_is_named_and_what_was_typed_is_kept,
    the_pages_show_the_concert_and_its_tiers,
    a_booking_is_confirmed_with_everything_the_customer_needs,
    htmx_bookings_answer_in_place_with_fresh_availability,
);
