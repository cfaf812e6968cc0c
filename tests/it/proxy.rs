//! Behind a proxy (SPEC §15): only the header the proxy writes names the client, IPv6
//! clients count by their /64, the public origin is `PUBLIC_BASE_URL` (and `X-Forwarded-Proto`
//! counts only from a trusted proxy); and through the shipped HAProxy configuration, a client's
//! own `Forwarded` header changes nothing.

use std::time::{Duration, Instant};

use crate::common::cluster::{Haproxy, free_port};
use crate::common::{Backend, ServerProcess, TestApp, form, fresh_database, spawn_app};

const FORM: &str = "application/x-www-form-urlencoded";

/// Wrong admin passwords, each request with its own extra headers; the statuses.
async fn wrong_passwords(
    app: &TestApp,
    n: usize,
    headers: impl Fn(usize) -> Vec<(String, String)>,
) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..n {
        let login = app.get("/admin/login").await;
        let token = crate::common::hidden_field(&login.body, "csrf_token").expect("csrf");
        let cookie: Vec<String> =
            crate::common::set_cookies(&login).into_iter().map(|(n, v, _)| format!("{n}={v}")).collect();
        let body = serde_urlencoded::to_string([("csrf_token", token.as_str()), ("password", "wrong guess")])
            .unwrap();
        let extra = headers(i);
        let mut all: Vec<(&str, &str)> = vec![("Cookie", cookie[0].as_str())];
        all.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        statuses.push(app.post_raw("/admin/login", FORM, body, &all).await.status);
    }
    statuses
}

#[actix_rt::test]
async fn only_the_configured_forwarded_header_names_the_client() {
    let limits = [("TRUST_FORWARDED_FOR", "true"), ("RATE_LIMIT_SIGNIN_PER_MIN", "5")];
    // The proxy writes X-Forwarded-For (the default); each attempt brings a Forwarded of its own.
    let app = spawn_app(Backend::Sqlite, &limits).await;
    let statuses = wrong_passwords(&app, 8, |i| {
        vec![
            ("Forwarded".into(), format!("for=5.5.0.{i}")),
            ("X-Forwarded-For".into(), "198.51.100.7".into()),
        ]
    })
    .await;
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429], "a made-up Forwarded is ignored");

    // The proxy writes Forwarded: now X-Forwarded-For is the client's own, and ignored.
    let app = spawn_app(Backend::Sqlite, &[limits[0], limits[1], ("FORWARDED_HEADER", "forwarded")]).await;
    let statuses = wrong_passwords(&app, 8, |i| {
        vec![
            ("X-Forwarded-For".into(), format!("5.5.0.{i}")),
            ("Forwarded".into(), "for=198.51.100.7".into()),
        ]
    })
    .await;
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429], "a made-up X-Forwarded-For is ignored");
}

async fn ipv6_clients_share_one_budget_per_64(backend: Backend) {
    let app =
        spawn_app(backend, &[("TRUST_FORWARDED_FOR", "true"), ("RATE_LIMIT_BOOKINGS_PER_MIN", "5")]).await;
    let mut statuses = Vec::new();
    for i in 1..=10 {
        let body = serde_urlencoded::to_string(form("general", "1")).unwrap();
        let from = format!("2001:db8:1:2::{i:x}");
        statuses.push(app.post_raw("/bookings", FORM, body, &[("X-Forwarded-For", &from)]).await.status);
    }
    assert_eq!(statuses, [303, 303, 303, 303, 303, 429, 429, 429, 429, 429]);
    let body = serde_urlencoded::to_string(form("general", "1")).unwrap();
    let other = app.post_raw("/bookings", FORM, body, &[("X-Forwarded-For", "2001:db8:1:3::1")]).await;
    assert_eq!(other.status, 303, "the next /64 has its own budget");
    assert_eq!(app.bookings().len(), 6);
    app.assert_conservation();
}

both_backends!(ipv6_clients_share_one_budget_per_64);

/// Posts a booking form with `headers`; the status.
async fn post(app: &TestApp, headers: Vec<(String, String)>) -> u16 {
    let body = serde_urlencoded::to_string(form("general", "1")).unwrap();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.post_raw("/bookings", FORM, body, &headers).await.status
}

#[actix_rt::test]
async fn the_public_origin_is_public_base_url_and_forwarded_proto_needs_trust() {
    let origin = |v: &str| vec![("Origin".to_owned(), v.to_owned())];

    // Behind a TLS-terminating proxy that sends no X-Forwarded-Proto: PUBLIC_BASE_URL decides.
    let app = spawn_app(Backend::Sqlite, &[("PUBLIC_BASE_URL", "https://shop.example/")]).await;
    assert_eq!(post(&app, origin("https://shop.example")).await, 303);
    assert_eq!(
        post(&app, origin("https://shop.example:443")).await,
        303,
        "the default port is the same origin"
    );
    assert_eq!(post(&app, origin("http://shop.example")).await, 403);
    assert_eq!(post(&app, origin("https://evil.example")).await, 403);
    assert_eq!(post(&app, origin(&app.address)).await, 403, "with PUBLIC_BASE_URL, only it is ours");

    // No PUBLIC_BASE_URL: the Host the request came to, in the scheme this server can know.
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let https_self = app.address.replace("http://", "https://");
    assert_eq!(post(&app, origin(&app.address)).await, 303);
    let claimed =
        vec![("Origin".to_owned(), https_self.clone()), ("X-Forwarded-Proto".into(), "https".into())];
    assert_eq!(post(&app, claimed.clone()).await, 403, "X-Forwarded-Proto from anyone is not believed");
    let trusting = spawn_app(Backend::Sqlite, &[("TRUST_FORWARDED_FOR", "true")]).await;
    let https_self = trusting.address.replace("http://", "https://");
    let claimed = vec![("Origin".to_owned(), https_self), ("X-Forwarded-Proto".into(), "https".into())];
    assert_eq!(post(&trusting, claimed).await, 303, "from a trusted proxy it is");
}

/// One server process behind the shipped HAProxy configuration, trusting it as the README says.
async fn behind_shipped_haproxy(database_url: &str) -> (ServerProcess, Haproxy, TestApp) {
    let port = free_port();
    let url = database_url.to_owned();
    let server = actix_rt::task::spawn_blocking(move || {
        let bind = format!("127.0.0.1:{port}");
        let env = [
            ("BIND_ADDR", bind.as_str()),
            ("TRUST_FORWARDED_FOR", "true"),
            ("RATE_LIMIT_SIGNIN_PER_MIN", "10"),
        ];
        ServerProcess::start(&url, &env)
    })
    .await
    .unwrap();
    let haproxy = Haproxy::start_shipped(&[port]);
    haproxy.until_all_up(Duration::from_secs(10)).await;
    let front = TestApp::attach(&format!("http://127.0.0.1:{}", haproxy.port), database_url);
    (server, haproxy, front)
}

#[actix_rt::test]
async fn through_the_shipped_haproxy_a_clients_own_forwarded_headers_change_nothing() {
    let database = fresh_database(Backend::Sqlite);
    let (server, _haproxy, front) = behind_shipped_haproxy(&database).await;
    let statuses = wrong_passwords(&front, 40, |i| {
        vec![
            ("Forwarded".into(), format!("for=5.5.0.{i}")),
            ("X-Forwarded-For".into(), format!("5.5.1.{i}")),
            ("X-Real-IP".into(), format!("5.5.2.{i}")),
        ]
    })
    .await;
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 10, "{statuses:?}");
    assert_eq!(limited, 30, "RATE_LIMIT_SIGNIN_PER_MIN=10 for the one real client: {statuses:?}");
    let log = server.log_text();
    assert!(log.contains("failed admin sign-in from 127.0.0.1"), "the real address is logged:\n{log}");
    assert!(!log.contains("5.5."), "no made-up address reaches the log:\n{log}");

    // The scheme is the proxy's to say: a client claiming https is not believed, and the
    // shop's own pages (Origin = the proxy's address, http) book.
    assert_eq!(post(&front, vec![("Origin".into(), front.address.clone())]).await, 303);
    let https = front.address.replace("http://", "https://");
    assert_eq!(
        post(&front, vec![("Origin".into(), https), ("X-Forwarded-Proto".into(), "https".into())]).await,
        403
    );
}

/// Reads what a raw connection answers within `limit` (empty if it was closed without an answer).
fn answer_of(stream: &mut std::net::TcpStream, limit: Duration) -> String {
    use std::io::Read;
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(_) => String::new(),
    }
}

#[actix_rt::test]
async fn the_shipped_haproxy_bounds_connections_per_source_and_slow_request_heads() {
    use std::io::Write;
    let database = fresh_database(Backend::Sqlite);
    let (_server, haproxy, _front) = behind_shipped_haproxy(&database).await;
    let front = ("127.0.0.1", haproxy.port);

    // 100 open connections from one address are allowed; HAProxy refuses the rest at once.
    let mut held: Vec<std::net::TcpStream> =
        (0..110).map(|_| std::net::TcpStream::connect(front).expect("TCP accepts")).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut answered = 0;
    for stream in &mut held {
        let _ = stream.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
        answered += usize::from(answer_of(stream, Duration::from_secs(5)).contains(" 200 OK"));
    }
    assert_eq!(answered, 100, "100 connections served, 10 refused");
    drop(held);

    // A request head sent one byte at a time: HAProxy answers 408 after `timeout http-request`
    // (5 s), long before its 30 s client timeout.
    let mut slow = std::net::TcpStream::connect(front).expect("connect");
    let started = Instant::now();
    let head = b"GET / HTTP/1.1\r\nHost: shop\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut answer = String::new();
    for byte in head.iter().cycle() {
        if slow.write_all(&[*byte]).is_err() {
            break;
        }
        answer = answer_of(&mut slow, Duration::from_millis(500));
        if !answer.is_empty() || started.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "a trickled head gets 408, got {answer:?} after {took:?}");
    assert!(took < Duration::from_secs(10), "after about 5 s, not {took:?}");
}
