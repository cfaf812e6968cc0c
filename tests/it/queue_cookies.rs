//! The waiting room's cookies and memory (SPEC §13): a forged, altered or expired cookie (or
//! one from another line) counts as none; a poll is answered without the database; every
//! process honours every other's cookies, agrees on the line, and refuses an admission that
//! was used on another.

use std::time::Duration;

use actix_web::cookie::{Cookie, CookieJar, Key};

use crate::common::queue::{Fan, admitted_and_waiting, line, open_sale, open_sale_on, opens_in, position};
use crate::common::{Backend, ServerProcess, TcpProxy, TestApp, eventually, fresh_database, pg_socket};

const SECRET: &str = "a-session-secret-of-the-tests-that-is-at-least-sixty-four-characters-long";

/// `value` signed as cookie `name` with the key `secret` gives (as every process does).
fn signed(secret: &str, name: &str, value: &str) -> String {
    let mut jar = CookieJar::new();
    jar.signed_mut(&Key::derive_from(secret.as_bytes())).add(Cookie::new(name.to_owned(), value.to_owned()));
    jar.get(name).expect("signed").value().to_owned()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A line open for two minutes with one admission a minute: fan 1 is let in, fan 2 waits.
async fn two_fans(backend: Backend) -> (TestApp, Fan, Fan, String) {
    let app = open_sale(backend, &[("SESSION_SECRET", SECRET)]).await;
    let (first, second) = admitted_and_waiting(&app).await;
    let line_id = line(&app).expect("a line").line_id;
    (app, first, second, line_id)
}

#[actix_rt::test]
async fn a_forged_altered_or_expired_admission_counts_as_none() {
    let (app, first, _second, line) = two_fans(Backend::Sqlite).await;
    let until = now_ms() + 60_000;
    // The harness signs as the server does: a well-made admission is honoured.
    let mut genuine = Fan::new();
    genuine.set_cookie("tk_admit", &signed(SECRET, "tk_admit", &format!("{line}.2.{until}")));
    let cases = [
        ("forged (another key)", signed(&SECRET.replace('a', "b"), "tk_admit", &format!("{line}.2.{until}"))),
        ("altered (position changed, signature kept)", {
            let real = first.cookie("tk_admit").unwrap();
            real.replace(&format!("{line}.1."), &format!("{line}.2."))
        }),
        ("expired", signed(SECRET, "tk_admit", &format!("{line}.2.{}", now_ms() - 1_000))),
        ("of another line", signed(SECRET, "tk_admit", &format!("otherline.2.{until}"))),
        ("malformed", signed(SECRET, "tk_admit", "2")),
    ];
    for (what, value) in cases {
        let mut fan = Fan::new();
        fan.set_cookie("tk_admit", &value);
        let answer = fan.book_api(&app, "vip").await;
        assert_eq!(answer.status, 429, "{what}: {}", answer.body);
        let page = fan.get(&app, "/").await;
        assert_eq!(page.location().as_deref(), Some("/queue"), "{what}");
    }
    assert!(app.bookings().is_empty(), "nothing reserved for any of them");
    assert_eq!(genuine.book_api(&app, "vip").await.status, 201, "the well-made admission books");
}

#[actix_rt::test]
async fn a_forged_altered_or_expired_place_counts_as_none() {
    let (app, _first, second, line) = two_fans(Backend::Sqlite).await;
    let cases = [
        (
            "forged (another key)",
            signed(&SECRET.replace('a', "b"), "tk_queue", &format!("{line}.2.{}", now_ms())),
        ),
        ("altered (arrival changed, signature kept)", {
            second.cookie("tk_queue").unwrap().replace(&format!("{line}.2."), &format!("{line}.1."))
        }),
        (
            "expired (a day old)",
            signed(SECRET, "tk_queue", &format!("{line}.2.{}", now_ms() - 25 * 3_600_000)),
        ),
        ("of another line", signed(SECRET, "tk_queue", &format!("otherline.2.{}", now_ms()))),
    ];
    for (next, (what, value)) in (3..).zip(cases) {
        let mut fan = Fan::new();
        fan.set_cookie("tk_queue", &value);
        let poll = fan.poll(&app).await;
        assert_eq!(position(&poll), Some(next), "{what}: a new place at the back, not place 2: {poll}");
        assert_ne!(fan.cookie("tk_queue").as_deref(), Some(value.as_str()), "{what}: a new cookie");
    }
    let mut same = second.clone();
    assert_eq!(position(&same.poll(&app).await), Some(2), "the genuine place still holds");
}

#[actix_rt::test]
async fn a_queue_poll_is_answered_without_the_database() {
    let direct = fresh_database(Backend::Postgres);
    let proxy = TcpProxy::start(pg_socket(&direct));
    let (server, db) = direct.rsplit_once('/').unwrap();
    let (scheme_user, _) = server.rsplit_once('@').unwrap();
    let through_proxy = format!("{scheme_user}@127.0.0.1:{}/{db}", proxy.port);
    let app = open_sale_on(&through_proxy, &[("AVAILABILITY_MAX_AGE_MS", "100")]).await;
    let (mut first, mut second) = (Fan::new(), Fan::new());
    assert_eq!(first.poll(&app).await["state"], "admitted");
    let before = second.poll(&app).await;
    assert_eq!(position(&before), Some(2));

    proxy.cut();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503, "the database is gone");
    for _ in 0..50 {
        assert_eq!(second.poll(&app).await, before, "polled from memory");
        let page = second.get(&app, "/queue").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("You're next"), "{}", page.body);
        assert_eq!(first.poll(&app).await["state"], "admitted");
    }
    // A newcomer needs a place, which needs the database: a quick, honest 503.
    assert_eq!(Fan::new().get(&app, "/api/queue").await.status, 503);
    proxy.restore();
}

#[actix_rt::test]
async fn every_process_honours_the_others_cookies_and_agrees_on_the_line() {
    let database = fresh_database(Backend::Postgres);
    let opens = opens_in(5);
    let env =
        [("SALE_OPENS_AT", opens.as_str()), ("QUEUE_ADMIT_PER_MIN", "1"), ("AVAILABILITY_MAX_AGE_MS", "100")];
    let processes = [ServerProcess::start(&database, &env), ServerProcess::start(&database, &env)];
    let apps: Vec<TestApp> = processes.iter().map(|p| TestApp::attach(&p.address, &database)).collect();
    let mut fans = vec![Fan::new(); 20];
    for (i, fan) in fans.iter_mut().enumerate() {
        assert_eq!(position(&fan.poll(&apps[i % 2]).await), None);
    }
    let opens_at = chrono::DateTime::parse_from_rfc3339(&opens).unwrap();
    assert!(chrono::Utc::now() < opens_at, "the early fans joined before the opening (a slow machine?)");
    eventually("the opening", Duration::from_secs(20), || {
        line(&apps[0]).is_some_and(|l| l.opened_at.is_some())
    })
    .await;
    let mut positions = Vec::new();
    for fan in &mut fans {
        let mut seen = [None, None];
        for (i, app) in apps.iter().enumerate() {
            while seen[i].is_none() {
                seen[i] = position(&fan.poll(app).await);
                if seen[i].is_none() {
                    actix_rt::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        assert_eq!(seen[0], seen[1], "both processes give the fan the same place");
        positions.push(seen[0].unwrap());
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=20).collect::<Vec<i64>>());
    let mut later = Vec::new();
    for i in 0..6 {
        later.push(position(&Fan::new().poll(&apps[i % 2]).await).expect("a place"));
    }
    later.sort_unstable();
    assert_eq!(later, (21..=26).collect::<Vec<i64>>(), "places from both processes, without gaps");
}

/// A confirmed booking ends its admission everywhere: the process that booked refuses it at
/// once; another process once its keeper has read the ended admission, which the booking
/// process records with its next regular round (two ticks of `AVAILABILITY_MAX_AGE_MS`).
#[actix_rt::test]
async fn an_admission_used_on_one_process_is_refused_by_the_others_soon_after() {
    let database = fresh_database(Backend::Postgres);
    let settings = [("AVAILABILITY_MAX_AGE_MS", "100")];
    let (a, b) = (open_sale_on(&database, &settings).await, open_sale_on(&database, &settings).await);
    let (mut first, _second) = admitted_and_waiting(&a).await;
    let (place, admission) =
        (first.cookie("tk_queue").expect("a place"), first.cookie("tk_admit").expect("in"));
    assert_eq!(first.poll(&b).await["state"], "admitted", "the other process honours the admission");
    let booked = first.book_api(&a, "vip").await;
    assert_eq!(booked.status, 201, "{}", booked.body);
    let used = std::time::Instant::now();
    first.set_cookie("tk_admit", &admission);
    assert_eq!(first.book_api(&a, "vip").await.status, 429, "refused at once where it was used");
    // The other process: admitted until it has read the ended admission (polled with the
    // fan's cookies as they were, since a spent place is answered with a new one).
    loop {
        first.set_cookie("tk_queue", &place);
        first.set_cookie("tk_admit", &admission);
        if first.poll(&b).await["state"] != "admitted" {
            break;
        }
        assert!(
            used.elapsed() < Duration::from_secs(5),
            "the other process still lets the used admission in"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    println!("refused by the other process {:?} after the booking", used.elapsed());
    first.set_cookie("tk_queue", &place);
    first.set_cookie("tk_admit", &admission);
    let elsewhere = first.book_api(&b, "vip").await;
    assert_eq!(elsewhere.status, 429, "{}", elsewhere.body);
    assert_eq!(a.count_with_status(techkraft_tickets::booking::BookingStatus::Confirmed), 1);
}
