//! Abuse that used to hurt: label explosions in `/metrics`, and slow clients holding
//! connections. Each runs against a real server process.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rand::Rng;

use crate::common::{Backend, ServerProcess, TestApp, client, form, fresh_database};

async fn random_requests(address: &str, n: usize) {
    let client = client();
    for chunk in (0..n).collect::<Vec<_>>().chunks(32) {
        join_all(chunk.iter().map(|_| {
            let (method, path) = {
                let mut rng = rand::rng();
                let len = rng.random_range(1..4096);
                let method: String = (0..len).map(|_| rng.random_range(b'A'..=b'Z') as char).collect();
                (method, format!("/{}", rng.random_range(0..u64::MAX)))
            };
            let method = awc::http::Method::from_bytes(method.as_bytes()).expect("a token");
            let request = client.request(method, format!("{address}{path}"));
            async move {
                let _ = request.send().await;
            }
        }))
        .await;
    }
}

#[actix_rt::test]
async fn random_methods_and_paths_leave_metrics_small_and_memory_flat() {
    let database = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(&database, &[("RUST_LOG", "warn,techkraft_tickets=info")]);
    random_requests(&server.address, 1_000).await; // warm up buffers and the allocator
    let before = server.resident_kib();
    random_requests(&server.address, 10_000).await;
    let after = server.resident_kib();
    let metrics = client()
        .get(format!("{}/metrics", server.address))
        .send()
        .await
        .unwrap()
        .body()
        .limit(1 << 24)
        .await
        .unwrap();
    println!("resident {before} KiB -> {after} KiB; /metrics {} bytes", metrics.len());
    assert!(metrics.len() < 64 * 1024, "/metrics is {} bytes", metrics.len());
    assert!(after <= before + 5 * 1024, "resident memory grew from {before} KiB to {after} KiB");
    let text = String::from_utf8_lossy(&metrics);
    assert!(text.contains(r#"method="other",route="unmatched""#), "{text}");
}

/// Opens a connection from `source` and starts an admin POST whose body trickles in a byte at
/// a time and never finishes; returns the status the server answers with, if any.
async fn trickle(source: &str, address: std::net::SocketAddr, cookie: String) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(format!("{source}:0").parse().ok()?).ok()?;
    let stream = socket.connect(address).await.ok()?;
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /admin/reset HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 1000\r\nCookie: {cookie}\r\n\r\ntier="
    );
    writer.write_all(head.as_bytes()).await.ok()?;
    let drip = actix_rt::spawn(async move {
        for _ in 0..40 {
            actix_rt::time::sleep(Duration::from_millis(500)).await;
            if writer.write_all(b"v").await.is_err() {
                break;
            }
        }
    });
    let mut answer = [0u8; 12];
    let read = actix_rt::time::timeout(Duration::from_secs(20), reader.read_exact(&mut answer)).await;
    drip.abort();
    match read {
        Ok(Ok(_)) => std::str::from_utf8(&answer[9..12]).ok()?.parse().ok(),
        _ => None,
    }
}

#[actix_rt::test]
async fn a_thousand_trickling_admin_posts_cannot_starve_anyone_else() {
    let database = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(
        &database,
        &[
            ("CLIENT_BODY_TIMEOUT_SECS", "2"),
            ("MAX_CONNECTIONS_PER_CLIENT", "256"),
            ("RATE_LIMIT_ADMIN_PER_MIN", "0"),
        ],
    );
    let app = TestApp::attach(&server.address, &database);
    let admin = app.sign_in().await; // signed in, so the session check lets the body be read
    let address: std::net::SocketAddr = server.address.trim_start_matches("http://").parse().unwrap();

    let attackers: Vec<_> =
        (0..1000).map(|_| actix_rt::spawn(trickle("127.0.0.2", address, admin.cookie.clone()))).collect();
    actix_rt::time::sleep(Duration::from_millis(500)).await; // let them connect

    // Meanwhile, from another address, everything answers at once.
    let started = Instant::now();
    let health = client().get(format!("{}/healthz", server.address)).send().await.expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(1), "healthz took {:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(app.book(&form("vip", "1")).await.status, 303);
    assert!(started.elapsed() < Duration::from_secs(1), "a booking took {:?}", started.elapsed());

    let statuses: Vec<Option<u16>> =
        join_all(attackers).await.into_iter().map(|r| r.ok().flatten()).collect();
    let timed_out = statuses.iter().filter(|s| **s == Some(408)).count();
    let refused = statuses.iter().filter(|s| **s == Some(429)).count();
    println!(
        "trickling connections: {timed_out} got 408, {refused} got 429, {} other",
        1000 - timed_out - refused
    );
    assert!(timed_out > 0 && timed_out <= 256, "at most the per-client limit waits for a body: {timed_out}");
    assert_eq!(timed_out + refused, 1000, "every trickler gets 408 or 429: {statuses:?}");
    assert_eq!(app.tier("vip").available, 99, "no reset happened");
}
