//! The database goes away under a running server (PostgreSQL behind a TCP proxy that the test
//! cuts): pages and the API answer 503 within about a second, `/readyz` says so, nothing is
//! booked, and service resumes by itself when the database is back.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::common::{
    Backend, ServerProcess, TcpProxy, form, fresh_database, pg_socket, pool_for, spawn_app_on,
};
use techkraft_tickets::booking::{Booking, Tier};

#[actix_rt::test]
async fn a_database_outage_is_a_quick_503_and_service_resumes_by_itself() {
    require_postgres!();
    let direct = fresh_database(Backend::Postgres);
    let proxy = TcpProxy::start(pg_socket(&direct));
    let (server, db) = direct.rsplit_once('/').unwrap();
    let (scheme_user, _) = server.rsplit_once('@').unwrap();
    let through_proxy = format!("{scheme_user}@127.0.0.1:{}/{db}", proxy.port);
    // A snapshot that is always stale: every page asks the database (the outage is the point).
    let app = spawn_app_on(&through_proxy, &[("AVAILABILITY_MAX_AGE_MS", "0")]).await;
    let pool = pool_for(&direct);

    assert_eq!(app.book(&form("vip", "2")).await.status, 303);
    proxy.cut();

    let started = Instant::now();
    let page = app.get("/").await;
    let took = started.elapsed();
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        page.body.contains("cannot reach its database")
            && page.body.contains("Nothing was booked or charged")
    );
    assert!(
        !page.body.contains("Error(") && !page.body.contains("panicked"),
        "no internals shown: {}",
        page.body
    );
    assert!(
        took < Duration::from_secs(5),
        "503 took {took:?}; it must come after the pool timeout (1 s), not hang"
    );
    assert_eq!(page.header("retry-after").as_deref(), Some("2"));

    let api = app.get("/api/tickets").await;
    assert_eq!(api.status, 503);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&api.body).unwrap()["error"],
        "Service temporarily unavailable"
    );
    assert_eq!(app.get("/readyz").await.status, 503);
    assert_eq!(app.get("/healthz").await.status, 200, "the process itself is alive");
    // The scrape still answers, and says the process is not ready (what the alert watches).
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("\ntechkraft_ready 0\n"), "{}", metrics.body);
    assert!(!metrics.body.contains("techkraft_refunds_owed"), "no figures from a database that is away");
    let refused = app.book(&form("vip", "1")).await;
    assert_eq!(refused.status, 503);
    assert_eq!(
        app.gateway.charges.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "no charge during the outage"
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/readyz").await.status != 200 {
        assert!(Instant::now() < deadline, "service did not resume");
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/").await.status, 200);
    assert!(app.get("/metrics").await.body.contains("\ntechkraft_ready 1\n"));
    assert_eq!(app.book(&form("vip", "1")).await.status, 303);
    let vip = Tier::find(&mut pool.get().unwrap(), "vip").unwrap().unwrap();
    assert_eq!(vip.available, 97);
    assert_eq!(Booking::recent(&mut pool.get().unwrap(), 10).unwrap().len(), 2);
}

#[actix_rt::test]
async fn while_postgresql_is_stopped_pages_answer_503_within_a_second_and_the_log_says_so_once_a_second() {
    let pg = crate::common::ThrowawayPg::start();
    // The default snapshot bound: requests that find it stale queue for one refresh at a time.
    let server = ServerProcess::start(&pg.url(), &[("AVAILABILITY_MAX_AGE_MS", "500")]);
    let client = crate::common::client();
    let get = |path: &str| {
        let request = client.get(format!("{}{path}", server.address));
        async move {
            let started = Instant::now();
            let status = request.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
            (status, started.elapsed())
        }
    };
    assert_eq!(get("/").await.0, 200);
    pg.down();
    actix_rt::time::sleep(Duration::from_millis(600)).await;

    // Four rounds of twenty page loads at once, half a second apart.
    let started = Instant::now();
    let mut answers = Vec::new();
    for _ in 0..4 {
        let paths = ["/", "/availability", "/api/tickets", "/bookings/TK-AAAA-BBBB-CC", "/readyz"];
        answers.extend(join_all((0..20).map(|i| get(paths[i % paths.len()]))).await);
        actix_rt::time::sleep(Duration::from_millis(500)).await;
    }
    let outage = started.elapsed();
    let slowest = answers.iter().map(|(_, took)| *took).max().unwrap();
    println!("{} requests during the outage, slowest answer {slowest:?}", answers.len());
    assert!(answers.iter().all(|(status, _)| *status == 503), "{answers:?}");
    assert!(slowest < Duration::from_secs(1), "every 503 within a second, slowest {slowest:?}");

    let log = server.log_text();
    let lines = |needle: &str| log.lines().filter(|l| l.contains(needle) && !l.contains("api 503")).count();
    let seconds = outage.as_secs() as usize + 1;
    println!(
        "log lines over {outage:?}: {} of 503, {} of failed connections",
        lines("503: "),
        lines("database connection to")
    );
    assert!(lines("503: ") <= seconds, "once a second, not per request:\n{log}");
    let api = log.lines().filter(|l| l.contains("api 503")).count();
    assert!(api <= seconds, "the API's too:\n{log}");
    assert!(lines("database connection to") <= seconds + 1, "once a second:\n{log}");
    assert!(lines("more like it") >= 1, "with a count of the rest:\n{log}");

    pg.up();
    let deadline = Instant::now() + Duration::from_secs(15);
    while get("/readyz").await.0 != 200 {
        assert!(Instant::now() < deadline, "service did not resume");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get("/").await.0, 200);
    assert!(server.log_text().contains("database reachable again after"), "{}", server.log_text());
}
