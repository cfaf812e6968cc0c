//! Replacing every server behind a load balancer under load, with zero failed requests
//! (SPEC §10): Debian's HAProxy health-checks `/readyz`; each server in turn gets SIGTERM
//! (`/readyz` turns 503 at once, so HAProxy takes it out while it still serves), exits, and
//! is started again on its port.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::common::cluster::{Haproxy, free_port};
use crate::common::{Backend, ServerProcess, fresh_database, pool_for};

/// Whether a request was a booking, and its status (`None`: no HTTP answer).
type Answer = (bool, Option<u16>);

fn server_env(port: u16) -> Vec<(String, String)> {
    [
        ("BIND_ADDR", format!("127.0.0.1:{port}")),
        ("SHUTDOWN_DRAIN_SECS", "2".to_owned()),
        ("PAYMENT_DELAY_MS", "0-30".to_owned()),
        ("PAYMENT_SUCCESS_RATE", "1".to_owned()),
        ("DB_POOL_SIZE", "4".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Starts a server on `port` off the test's runtime thread (start-up blocks).
async fn start_on(database_url: &str, port: u16) -> ServerProcess {
    let url = database_url.to_owned();
    actix_rt::task::spawn_blocking(move || {
        let env = server_env(port);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ServerProcess::start(&url, &env)
    })
    .await
    .expect("a server starts")
}

async fn until_all_up(haproxy: &Haproxy, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let states = haproxy.server_states();
        if !states.is_empty() && states.iter().all(|(_, s)| s == "UP") {
            return;
        }
        assert!(Instant::now() < deadline, "haproxy did not see every server up: {states:?}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn restarting_every_server_in_turn_behind_haproxy_fails_no_request() {
    require_postgres!();
    let database_url = fresh_database(Backend::Postgres);
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut servers = Vec::new();
    for port in &ports {
        servers.push(start_on(&database_url, *port).await);
    }
    let app_pool = pool_for(&database_url);
    // A tier that cannot sell out during the run.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(
            "UPDATE ticket_tiers SET capacity = 1000000, available = 1000000 WHERE id = 'general'",
        ),
        &mut *app_pool.get().unwrap(),
    )
    .unwrap();
    let haproxy = Haproxy::start(&ports);
    until_all_up(&haproxy, Duration::from_secs(10)).await;
    let front = format!("http://127.0.0.1:{}", haproxy.port);

    // Six buyers and three pollers, each on its own keep-alive connection to HAProxy.
    let answers: Rc<RefCell<Vec<Answer>>> = Rc::default();
    let stop = Rc::new(Cell::new(false));
    let mut load = Vec::new();
    for worker in 0..9 {
        let (answers, stop, front) = (answers.clone(), stop.clone(), front.clone());
        let booking = worker < 6;
        load.push(actix_rt::spawn(async move {
            let client = crate::common::client();
            while !stop.get() {
                let answer = if booking {
                    let body = serde_urlencoded::to_string(crate::common::form("general", "1")).unwrap();
                    client
                        .post(format!("{front}/bookings"))
                        .insert_header(("content-type", "application/x-www-form-urlencoded"))
                        .send_body(body)
                        .await
                } else {
                    client.get(format!("{front}/availability")).send().await
                };
                let status = match answer {
                    Ok(mut response) => {
                        let _ = response.body().limit(1 << 20).await;
                        Some(response.status().as_u16())
                    }
                    Err(_) => None,
                };
                answers.borrow_mut().push((booking, status));
            }
        }));
    }

    let started = Instant::now();
    for (i, port) in ports.iter().enumerate() {
        let mut old = servers.remove(0);
        old.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(40);
        while old.child.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "server {i} did not exit");
            actix_rt::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(old.child.wait().unwrap().success(), "server {i} exits cleanly:\n{}", old.log_text());
        servers.push(start_on(&database_url, *port).await);
        until_all_up(&haproxy, Duration::from_secs(10)).await;
    }
    // A little traffic on the replaced set, then stop.
    let settled = answers.borrow().len();
    while answers.borrow().len() < settled + 100 {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    stop.set(true);
    for task in load {
        task.await.unwrap();
    }

    let answers = answers.borrow();
    let mut tally: HashMap<Answer, usize> = HashMap::new();
    for a in answers.iter() {
        *tally.entry(*a).or_default() += 1;
    }
    println!("{} requests in {:?} while restarting 3 servers: {tally:?}", answers.len(), started.elapsed());
    let failed: Vec<_> =
        answers.iter().filter(|(booking, s)| *s != Some(if *booking { 303 } else { 200 })).collect();
    assert!(failed.is_empty(), "{} of {} requests failed: {tally:?}", failed.len(), answers.len());
    assert!(answers.iter().filter(|(b, _)| *b).count() >= 100, "enough bookings to mean something");

    let confirmed = techkraft_tickets::db::models::Booking::recent(&mut app_pool.get().unwrap(), 1_000_000)
        .unwrap()
        .iter()
        .filter(|b| b.status == techkraft_tickets::db::models::BookingStatus::Confirmed)
        .count();
    assert_eq!(confirmed, answers.iter().filter(|(b, _)| *b).count(), "every 303 is a confirmed booking");
}
