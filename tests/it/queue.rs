//! The waiting room (SPEC §13): off without `SALE_OPENS_AT`; before the opening fans wait and
//! bookings are 403; early fans are shuffled at the opening and later ones follow in arrival
//! order, 1, 2, 3… without gaps; admission goes strictly by position; a booking without an
//! admission while fans wait is 429; a confirmed booking ends its admission.

use std::time::Duration;

use techkraft_tickets::booking::BookingStatus;

use crate::common::queue::{Fan, line, open_sale, opens_in, position};
use crate::common::{Backend, eventually, spawn_app};

both_backends!(
    without_sale_opens_at_there_is_no_waiting_room,
    before_the_opening_fans_wait_and_bookings_are_refused_with_403,
    early_fans_are_shuffled_at_the_opening_and_later_ones_follow_in_arrival_order,
    a_booking_without_admission_while_fans_wait_is_429_and_a_confirmed_one_ends_the_admission,
    admission_goes_strictly_by_position,
    an_admitted_fan_books_with_the_form_and_the_turn_ends,
    at_most_queue_active_max_fans_shop_at_once_until_a_booking_or_the_session_ends,
);

async fn without_sale_opens_at_there_is_no_waiting_room(backend: Backend) {
    let app = spawn_app(backend, &[]).await;
    let mut fan = Fan::new();
    let poll = fan.poll(&app).await;
    assert_eq!(
        poll,
        serde_json::json!({"state": "open", "opensAt": null, "position": null, "ahead": null, "estimatedWaitSeconds": null})
    );
    assert!(fan.cookies.is_empty(), "no cookies without a waiting room");
    assert_eq!(fan.get(&app, "/").await.status, 200);
    assert_eq!(fan.get(&app, "/queue").await.location().as_deref(), Some("/"));
    assert_eq!(fan.book_form(&app, "vip", false).await.status, 303);
    assert!(line(&app).is_none(), "no line is created");
    let metrics = app.get("/metrics").await.body;
    assert!(!metrics.contains("techkraft_queue"), "no queue metrics without a waiting room");
}

async fn before_the_opening_fans_wait_and_bookings_are_refused_with_403(backend: Backend) {
    let opens = opens_in(3600);
    let app = spawn_app(backend, &[("SALE_OPENS_AT", &opens)]).await;
    let mut fan = Fan::new();
    let answer = fan.get(&app, "/api/queue").await;
    let cookie = answer.header("set-cookie").expect("a place in line");
    assert!(
        cookie.starts_with("tk_queue=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let poll: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(poll["state"], "waiting");
    assert_eq!(poll["position"], serde_json::Value::Null, "places are drawn at the opening");
    let opens_at = chrono::DateTime::parse_from_rfc3339(poll["opensAt"].as_str().unwrap()).unwrap();
    assert_eq!(opens_at, chrono::DateTime::parse_from_rfc3339(&opens).unwrap());
    assert_eq!(fan.poll(&app).await, poll, "the same place on the next poll");

    // The shop's pages send everyone to the queue; a first visit of / gives a place too.
    assert_eq!(fan.get(&app, "/").await.location().as_deref(), Some("/queue"));
    let mut newcomer = Fan::new();
    assert_eq!(newcomer.get(&app, "/basic").await.location().as_deref(), Some("/queue"));
    assert!(newcomer.cookie("tk_queue").is_some());

    let page = fan.get(&app, "/queue").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Opens in") && page.body.contains("data-countdown-secs"), "{}", page.body);
    assert!(page.body.contains(r#"<noscript><meta http-equiv="refresh" content="5"></noscript>"#));
    assert!(page.body.contains("2 fans are here"), "{}", page.body);

    let api = fan.book_api(&app, "vip").await;
    assert_eq!(api.status, 403, "{}", api.body);
    let error: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(error["error"], format!("Sales open at {}", opens_at.to_rfc3339()));
    let form = fan.book_form(&app, "vip", false).await;
    assert_eq!(form.status, 403);
    assert!(form.body.contains("Sales open at"), "{}", form.body);
    let in_place = fan.book_form(&app, "vip", true).await;
    assert_eq!(in_place.status, 403);
    assert!(in_place.body.contains("Sales open at") && !in_place.body.contains("<html"));

    assert_eq!(app.tier("vip").available, 100, "nothing reserved");
    assert!(app.bookings().is_empty());
    assert_eq!(app.gateway.charges.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing charged");
}

async fn early_fans_are_shuffled_at_the_opening_and_later_ones_follow_in_arrival_order(backend: Backend) {
    let opens = opens_in(4);
    // One admission a minute: nobody is let in while the test looks at the places.
    let app = spawn_app(
        backend,
        &[("SALE_OPENS_AT", &opens), ("QUEUE_ADMIT_PER_MIN", "1"), ("AVAILABILITY_MAX_AGE_MS", "50")],
    )
    .await;
    let mut early = vec![Fan::new(); 40];
    for fan in &mut early {
        assert_eq!(position(&fan.poll(&app).await), None);
    }
    let opens_at = chrono::DateTime::parse_from_rfc3339(&opens).unwrap();
    assert!(chrono::Utc::now() < opens_at, "the early fans joined before the opening (a slow machine?)");

    eventually("the opening", Duration::from_secs(15), || line(&app).is_some_and(|l| l.opened_at.is_some()))
        .await;
    let mut positions = Vec::new();
    for fan in &mut early {
        let mut poll = fan.poll(&app).await;
        while position(&poll).is_none() {
            actix_rt::time::sleep(Duration::from_millis(50)).await;
            poll = fan.poll(&app).await;
        }
        let p = position(&poll).unwrap();
        assert_eq!(poll["ahead"], p - 1, "nobody let in yet");
        positions.push(p);
    }
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=40).collect::<Vec<i64>>(), "1 to 40, no gaps, no repeats");
    assert_ne!(positions, sorted, "shuffled: arriving first is no advantage");
    assert_eq!(line(&app).unwrap().early, Some(40));

    let mut later = Vec::new();
    for _ in 0..10 {
        let mut fan = Fan::new();
        later.push(position(&fan.poll(&app).await).expect("a position at once after the opening"));
    }
    assert_eq!(later, (41..=50).collect::<Vec<i64>>(), "behind the early fans, in arrival order");
}

async fn a_booking_without_admission_while_fans_wait_is_429_and_a_confirmed_one_ends_the_admission(
    backend: Backend,
) {
    // Open two minutes ago, one admission a minute: the first fan comes in at once, the
    // second waits.
    let app = open_sale(backend, &[]).await;
    let (mut first, mut second) = (Fan::new(), Fan::new());
    let poll = first.poll(&app).await;
    assert_eq!((poll["state"].as_str(), position(&poll)), (Some("admitted"), Some(1)), "{poll}");
    assert!(first.cookie("tk_admit").is_some());
    let poll = second.poll(&app).await;
    assert_eq!(
        (poll["state"].as_str(), position(&poll), poll["ahead"].as_i64()),
        (Some("waiting"), Some(2), Some(0))
    );
    assert_eq!(poll["estimatedWaitSeconds"], 60);

    let refused = second.book_api(&app, "vip").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after").as_deref(), Some("5"));
    let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(body["queue"], "/api/queue");
    let mut stranger = Fan::new();
    assert_eq!(stranger.book_form(&app, "vip", false).await.status, 429);
    let in_place = stranger.book_form(&app, "vip", true).await;
    assert_eq!(in_place.status, 429);
    assert!(in_place.body.contains("/queue") && in_place.header("retry-after").is_some());
    assert!(app.bookings().is_empty(), "nothing reserved for them");
    assert_eq!(app.gateway.charges.load(std::sync::atomic::Ordering::SeqCst), 0);

    let admission = first.cookie("tk_admit").unwrap();
    let booked = first.book_api(&app, "vip").await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    assert_eq!(first.cookie("tk_admit"), None, "the answer removes the admission");
    first.set_cookie("tk_admit", &admission);
    assert_eq!(first.book_api(&app, "vip").await.status, 429, "a used admission counts as none");
    assert_eq!(app.count_with_status(BookingStatus::Confirmed), 1);
    eventually("the admission's end to be recorded", Duration::from_secs(10), || {
        use diesel::prelude::*;
        use techkraft_tickets::db::schema::queue_done::dsl as d;
        d::queue_done.select(d::position).load::<i64>(&mut app.conn()).unwrap() == vec![1]
    })
    .await;
    // The place it came from is spent: a poll gives a new one at the back.
    first.set_cookie("tk_admit", "");
    let poll = first.poll(&app).await;
    assert_eq!((poll["state"].as_str(), position(&poll)), (Some("waiting"), Some(3)), "{poll}");
}

async fn admission_goes_strictly_by_position(backend: Backend) {
    let app = open_sale(backend, &[("AVAILABILITY_MAX_AGE_MS", "25")]).await;
    let mut fans = vec![Fan::new(); 31];
    for (i, fan) in fans.iter_mut().enumerate() {
        assert_eq!(position(&fan.poll(&app).await), Some(i as i64 + 1));
    }
    let admin = app.sign_in().await;
    assert_eq!(app.admin_post(&admin, "/admin/queue/rate", &[("rate", "600")]).await.status, 303);
    // Polled from the back of the line to the front: once a fan is seen let in, every fan
    // polled after it (all ahead of it) must be let in too.
    let mut rounds = 0;
    loop {
        let mut seen_admitted = false;
        let mut waiting = 0;
        for fan in fans.iter_mut().rev() {
            let poll = fan.poll(&app).await;
            let admitted = poll["state"] == "admitted";
            assert!(admitted || !seen_admitted, "out of order: {poll} after someone behind was let in");
            seen_admitted |= admitted;
            waiting += usize::from(!admitted);
        }
        if waiting == 0 {
            break;
        }
        rounds += 1;
        assert!(rounds < 400, "everyone let in within a minute at 10 a second");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rounds > 1, "they came in over several polls, not at once");
}

async fn an_admitted_fan_books_with_the_form_and_the_turn_ends(backend: Backend) {
    let app = open_sale(backend, &[]).await;
    let mut fan = Fan::new();
    // Nobody waits: the first visit of / lets the fan in at once and shows the shop.
    let shop = fan.get(&app, "/").await;
    assert_eq!(shop.status, 200, "{}", shop.body);
    assert!(
        shop.body.contains("s your turn. Book by") && shop.body.contains("booking-form"),
        "{}",
        shop.body
    );
    assert!(fan.cookie("tk_queue").is_some() && fan.cookie("tk_admit").is_some());
    // The htmx poll of an admitted fan is sent on to the shop.
    let hx = fan.get_with(&app, "/queue", &[("HX-Request", "true")]).await;
    assert_eq!(hx.header("hx-redirect").as_deref(), Some("/"));
    let mut waiting = Fan::new();
    assert_eq!(waiting.get(&app, "/").await.location().as_deref(), Some("/queue"));
    let fragment = waiting.get_with(&app, "/queue", &[("HX-Request", "true")]).await;
    assert!(fragment.body.contains("You're next") && !fragment.body.contains("<html"), "{}", fragment.body);

    let booked = fan.book_form(&app, "front-row", false).await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    assert!(booked.reference().is_some());
    assert_eq!(fan.cookie("tk_admit"), None);
    let again = fan.book_form(&app, "front-row", true).await;
    assert_eq!(again.status, 429, "the turn ended with the booking: {}", again.body);
    assert_eq!(fan.get(&app, "/").await.location().as_deref(), Some("/queue"));
    app.assert_conservation();
}

/// Who of `fans` is let in now (polling each once).
async fn admitted(app: &crate::common::TestApp, fans: &mut [Fan]) -> Vec<bool> {
    let mut states = Vec::new();
    for fan in fans.iter_mut() {
        states.push(fan.poll(app).await["state"] == "admitted");
    }
    states
}

async fn at_most_queue_active_max_fans_shop_at_once_until_a_booking_or_the_session_ends(backend: Backend) {
    // A hundred admissions a second, but room for two shoppers at once, each for 4 s.
    let settings = [
        ("QUEUE_ADMIT_PER_MIN", "6000"),
        ("QUEUE_ACTIVE_MAX", "2"),
        ("QUEUE_SESSION_SECS", "4"),
        ("AVAILABILITY_MAX_AGE_MS", "25"),
    ];
    let app = open_sale(backend, &settings).await;
    let mut fans = vec![Fan::new(); 5];
    for (i, fan) in fans.iter_mut().enumerate() {
        assert_eq!(position(&fan.poll(&app).await), Some(i as i64 + 1));
    }
    let mut states = Vec::new();
    for _ in 0..100 {
        states = admitted(&app, &mut fans).await;
        if states[..2] == [true, true] {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(states, [true, true, false, false, false], "the first two are let in, and only they");
    // However much the rate has earned meanwhile, nobody else while both shop.
    for _ in 0..10 {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(admitted(&app, &mut fans).await, [true, true, false, false, false]);
    }

    // A confirmed booking ends a turn: the third comes in, the fourth and fifth still wait.
    assert_eq!(fans[0].book_api(&app, "vip").await.status, 201);
    let mut third_in = false;
    for _ in 0..100 {
        let states = admitted(&app, &mut fans[2..]).await;
        assert!(!states[1] && !states[2], "one turn ended, one fan more: {states:?}");
        if states[0] {
            third_in = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(third_in, "the third fan is let in once the first booked");

    // Turns that run out (`QUEUE_SESSION_SECS`) make room too, without a booking.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while admitted(&app, &mut fans[3..]).await != [true, true] {
        assert!(std::time::Instant::now() < deadline, "the last two let in after the first turns run out");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}
