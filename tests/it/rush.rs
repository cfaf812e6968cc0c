//! The on-sale rush and its faults, on PostgreSQL with several server processes: the promise
//! of SPEC §5 and §10 under load, under a SIGKILL, a database restart and pool exhaustion.

use std::time::{Duration, Instant};

use crate::common::rush::{report, rush, start_servers, vip_accounts, wait_until_settled};
use crate::common::{Backend, ThrowawayPg, form, fresh_database, pool_for, spawn_app, spawn_app_on};
use futures_util::future::join_all;
use techkraft_tickets::booking::{Booking, BookingStatus};

const BUYERS: usize = 500;

#[actix_rt::test]
async fn an_on_sale_rush_across_three_servers_never_oversells() {
    require_postgres!();
    let database_url = fresh_database(Backend::Postgres);
    let servers = start_servers(&database_url, 3, &[]);
    let addresses: Vec<String> = servers.iter().map(|s| s.address.clone()).collect();
    let pool = pool_for(&database_url);

    let outcomes = rush(&addresses, BUYERS).await;
    println!("{}", report(&outcomes));

    assert!(outcomes.iter().all(|o| o.status.is_some()), "every buyer got an answer");
    for o in &outcomes {
        assert!([303, 402, 409].contains(&o.status.unwrap()), "unexpected answer {o:?}");
    }
    wait_until_settled(&pool, Duration::from_secs(10)).await;
    let (confirmed, vip) = vip_accounts(&pool);
    assert!(vip.available >= 0);
    assert_eq!(confirmed + vip.available, 100, "exactly 100 VIP seats confirmed or available");
    assert_eq!(outcomes.iter().filter(|o| o.status == Some(303)).map(|o| o.quantity).sum::<i32>(), confirmed);
    let declined: i32 = outcomes.iter().filter(|o| o.status == Some(402)).map(|o| o.quantity).sum();
    assert!(
        vip.available <= 3 + declined,
        "500 buyers sell out 100 seats ({} left, {declined} declined)",
        vip.available
    );
    for s in &servers {
        assert!(!s.log_text().contains(" ERROR "), "no server logged an error:\n{}", s.log_text());
    }
}

#[actix_rt::test]
async fn killing_a_server_in_the_middle_of_a_rush_loses_no_seats() {
    require_postgres!();
    let database_url = fresh_database(Backend::Postgres);
    // Short holds so the sweepers return the victim's quickly. The victim (server 1) pays for
    // 5 s, so every hold it takes is still in flight when it dies; the others pay in 150-400 ms.
    let extra = [("PAYMENT_DELAY_MS", "150-400"), ("HOLD_TTL_SECS", "2")];
    let mut servers = start_servers(&database_url, 2, &extra);
    let victim = [("PAYMENT_DELAY_MS", "5000"), ("HOLD_TTL_SECS", "2")];
    servers.insert(1, start_servers(&database_url, 1, &victim).remove(0));
    let addresses: Vec<String> = servers.iter().map(|s| s.address.clone()).collect();
    let pool = pool_for(&database_url);

    // The victim certainly holds seats: five buyers reach it before the rush.
    let _early: Vec<_> = (0..5).map(|_| servers[1].book_in_background("vip", "1")).collect();
    crate::common::eventually("the victim holds seats", Duration::from_secs(30), || held_on(&pool) >= 5)
        .await;
    let buyers = rush(&addresses, 300);
    let killer = async {
        // Kill in the middle of the rush. (Generous: on a busy machine 300 connections take a
        // while to be served.)
        crate::common::eventually("the rush under way", Duration::from_secs(60), || {
            count(&pool, BookingStatus::Held) + count(&pool, BookingStatus::Confirmed) >= 20
        })
        .await;
        servers[1].signal("KILL");
    };
    let (outcomes, ()) = futures_util::future::join(buyers, killer).await;
    println!("{}", report(&outcomes));
    // Every survivor's buyer has an answer, so what is still held is the dead server's.
    let orphaned = held_on(&pool);
    println!("holds left by the killed server: {orphaned}");
    assert!(orphaned > 0, "the kill must leave holds behind for the sweepers to return");

    for o in outcomes.iter().filter(|o| o.server != 1) {
        assert!(matches!(o.status, Some(303 | 402 | 409)), "survivors answer every buyer: {o:?}");
    }
    // A replacement starts; its sweeper (and the survivors') return the dead server's holds.
    servers.push(crate::common::ServerProcess::start(
        &database_url,
        &[("HOLD_TTL_SECS", "2"), ("RUST_LOG", "info")],
    ));
    wait_until_settled(&pool, Duration::from_secs(20)).await;
    let expired = count(&pool, BookingStatus::Expired);
    assert!(expired >= orphaned, "every orphaned hold was swept: {expired} expired of {orphaned} orphaned");
    let (confirmed, vip) = vip_accounts(&pool);
    assert!(vip.available >= 0);
    assert_eq!(confirmed + vip.available, 100, "conservation after the crash");
}

fn count(pool: &techkraft_tickets::db::DbPool, status: BookingStatus) -> usize {
    let bookings = Booking::recent(&mut pool.get().unwrap(), 1_000_000).unwrap();
    bookings.iter().filter(|b| b.status == status).count()
}

fn held_on(pool: &techkraft_tickets::db::DbPool) -> usize {
    count(pool, BookingStatus::Held)
}

#[actix_rt::test]
async fn stopping_postgres_during_traffic_gives_quick_503s_and_then_recovers() {
    require_postgres!();
    let pg = ThrowawayPg::start();
    let app = spawn_app_on(&pg.url(), &[]).await;
    assert_eq!(app.book(&form("general", "1")).await.status, 303);

    pg.down();
    let mut statuses = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let started = Instant::now();
        let f = form("general", "1");
        let (page, booking, api) =
            futures_util::future::join3(app.get("/"), app.book(&f), app.get("/api/tickets")).await;
        for a in [page, booking, api] {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "an answer took {:?}: a hang",
                started.elapsed()
            );
            assert!(!a.body.contains("panicked"));
            statuses.push(a.status);
        }
    }
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| *s == 503), "only 503s while the database is down: {statuses:?}");
    assert_eq!(app.get("/readyz").await.status, 503);

    pg.up();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = app.book(&form("general", "1")).await;
        if answer.status == 303 {
            break;
        }
        assert_eq!(answer.status, 503);
        assert!(Instant::now() < deadline, "traffic did not succeed again after the database returned");
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/").await.status, 200);
    assert_eq!(app.tier("general").available, 998);
    app.assert_conservation();
}

#[actix_rt::test]
async fn a_slow_gateway_cannot_exhaust_the_pool_but_a_stuck_database_gives_503s_without_leaks() {
    require_postgres!();
    // Two connections, 40 bookings each waiting 300 ms on the gateway: nobody holds a
    // connection while paying, so all succeed.
    let app = spawn_app(Backend::Postgres, &[("DB_POOL_SIZE", "2"), ("PAYMENT_DELAY_MS", "300")]).await;
    let forms: Vec<_> = (0..40).map(|_| form("general", "1")).collect();
    let answers = join_all(forms.iter().map(|f| app.book(f))).await;
    assert!(
        answers.iter().all(|a| a.status == 303),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );

    // Now something really holds the database: a transaction locks the tiers table, every
    // query queues behind it holding its pooled connection, and the rest wait out the pool
    // timeout and get 503.
    let mut locker = app.conn();
    use diesel::connection::SimpleConnection;
    locker.batch_execute("BEGIN; LOCK TABLE ticket_tiers IN ACCESS EXCLUSIVE MODE;").unwrap();
    let forms: Vec<_> = (0..12).map(|_| form("general", "1")).collect();
    let started = Instant::now();
    let blocked = join_all(forms.iter().map(|f| app.book(f)));
    let release = async {
        actix_rt::time::sleep(Duration::from_secs(3)).await;
        locker.batch_execute("COMMIT;").unwrap();
    };
    let (answers, ()) = futures_util::future::join(blocked, release).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert!(statuses.iter().all(|s| [303, 503].contains(s)), "{statuses:?}");
    assert!(statuses.contains(&503), "more requests than connections: some must time out: {statuses:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Nothing leaked: the pool is idle again, seats and bookings agree, and service is normal.
    // (The reservation thread may still be giving back the seats of buyers who gave up.)
    let idle = r#"techkraft_db_pool_connections{state="in_use"} 0"#;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut metrics = app.get("/metrics").await;
    while !metrics.body.contains(idle) && Instant::now() < deadline {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        metrics = app.get("/metrics").await;
    }
    assert!(metrics.body.contains(idle), "{}", metrics.body);
    assert_eq!(app.book(&form("general", "1")).await.status, 303);
    assert_eq!(app.count_with_status(BookingStatus::Held), 0);
    app.assert_conservation();
}
