//! The on-sale rush: several server processes on one PostgreSQL, N buyers at once posting the
//! booking form for VIP with random quantities. Shared by the CI test (`tests/it/rush.rs`, small
//! N, with faults) and the benchmark (`benches/rush.rs`, N = 5,000, prints latencies).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rand::Rng;
use techkraft_tickets::booking::{Booking, BookingStatus, Tier};
use techkraft_tickets::db::DbPool;

use super::{ServerProcess, eventually};

/// What one buyer saw.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Which server the buyer talked to.
    pub server: usize,
    pub quantity: i32,
    /// HTTP status, or `None` when the connection failed (a killed server).
    pub status: Option<u16>,
    pub latency: Duration,
    /// When the answer arrived, counted from the start of the rush.
    pub finished_at: Duration,
}

/// Settings every rush server runs with (payment 0–50 ms, 95% success, no rate limit).
pub const RUSH_ENV: [(&str, &str); 4] = [
    ("PAYMENT_DELAY_MS", "0-50"),
    ("PAYMENT_SUCCESS_RATE", "0.95"),
    ("RATE_LIMIT_BOOKINGS_PER_MIN", "0"),
    ("RUST_LOG", "warn"),
];

/// Starts `count` server processes on one database.
pub fn start_servers(database_url: &str, count: usize, extra: &[(&str, &str)]) -> Vec<ServerProcess> {
    let mut env: Vec<(&str, &str)> = RUSH_ENV.to_vec();
    env.extend_from_slice(extra);
    // RUST_LOG=warn would hide the "listening on" line the harness waits for.
    env.retain(|(k, _)| *k != "RUST_LOG");
    env.push(("RUST_LOG", "warn,techkraft_tickets=info"));
    (0..count).map(|_| ServerProcess::start(database_url, &env)).collect()
}

/// `buyers` buyers at once, spread round-robin over `servers`, each posting the form for
/// 1–4 VIP tickets with its own idempotency key.
pub async fn rush(servers: &[String], buyers: usize) -> Vec<Outcome> {
    rush_from(servers, buyers, false).await
}

/// As [`rush`]; with `distinct_addresses`, every buyer connects from an address of its own in
/// 127.0.0.0/8 (127.1.x.y), as a real crowd does, so per-address rate limits see a crowd.
///
/// Every buyer opens a connection of its own, posts the form, reads the whole answer and hangs
/// up, as a browser does for one booking. The client is a plain socket, not an HTTP client
/// library: it shares the machine's two cores with the servers and PostgreSQL, and a client
/// per buyer from `awc` cost 0.6-0.97 CPU seconds of a 1.3-1.8 s rush (a quarter of the
/// machine), time the servers then waited for (see docs/PERFORMANCE.md).
pub async fn rush_from(servers: &[String], buyers: usize, distinct_addresses: bool) -> Vec<Outcome> {
    let start = Instant::now();
    let requests = (0..buyers).map(|i| {
        let server = i % servers.len();
        let quantity: i32 = rand::rng().random_range(1..=4);
        let body = serde_urlencoded::to_string(super::form("vip", &quantity.to_string())).unwrap();
        let authority = servers[server].trim_start_matches("http://").to_owned();
        let request = format!(
            "POST /bookings HTTP/1.1\r\nHost: {authority}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let local = distinct_addresses.then(|| {
            let n = i as u32 + 1;
            std::net::Ipv4Addr::new(127, 1, (n >> 8) as u8, n as u8)
        });
        async move {
            let sent = Instant::now();
            let status = tokio::time::timeout(Duration::from_secs(120), post(&authority, local, &request))
                .await
                .ok()
                .and_then(Result::ok);
            Outcome { server, quantity, status, latency: sent.elapsed(), finished_at: start.elapsed() }
        }
    });
    join_all(requests).await
}

/// Sends one HTTP/1.1 request on a new connection (from `local`, if given) and reads the whole
/// response; returns its status.
async fn post(authority: &str, local: Option<std::net::Ipv4Addr>, request: &str) -> std::io::Result<u16> {
    use tokio::io::AsyncWriteExt;
    let addr: std::net::SocketAddr = authority
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "server address"))?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(local) = local {
        socket.bind((local, 0).into())?;
    }
    let mut stream = socket.connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(4096);
    Ok(super::http::read_raw_response(&mut stream, &mut buf).await?.status)
}

/// Waits until no booking is `held` (every payment settled, every orphaned hold swept).
pub async fn wait_until_settled(pool: &DbPool, timeout: Duration) {
    eventually("every hold to settle", timeout, || {
        Booking::recent(&mut pool.get().unwrap(), 1_000_000)
            .unwrap()
            .iter()
            .all(|b| b.status != BookingStatus::Held)
    })
    .await;
}

/// Seats of VIP that are confirmed, and VIP as stored.
pub fn vip_accounts(pool: &DbPool) -> (i32, Tier) {
    let mut conn = pool.get().unwrap();
    let confirmed = Booking::recent(&mut conn, 1_000_000)
        .unwrap()
        .iter()
        .filter(|b| b.tier_id == "vip" && b.status == BookingStatus::Confirmed)
        .map(|b| b.quantity)
        .sum();
    (confirmed, Tier::find(&mut conn, "vip").unwrap().unwrap())
}

/// The `p`th percentile (0..=100) of some durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A one-paragraph account of a rush.
pub fn report(outcomes: &[Outcome]) -> String {
    let mut latencies: Vec<Duration> =
        outcomes.iter().filter(|o| o.status.is_some()).map(|o| o.latency).collect();
    latencies.sort();
    let count = |s: u16| outcomes.iter().filter(|o| o.status == Some(s)).count();
    let failed = outcomes.iter().filter(|o| o.status.is_none()).count();
    let other = outcomes.iter().filter(|o| o.status.is_some_and(|s| ![303, 402, 409].contains(&s))).count();
    let sold_out_after =
        outcomes.iter().filter(|o| o.status == Some(303)).map(|o| o.finished_at).max().unwrap_or_default();
    let last_answer = outcomes.iter().map(|o| o.finished_at).max().unwrap_or_default();
    format!(
        "buyers {}: 303 booked {}, 409 sold out {}, 402 declined {}, other {}, no answer {}\n\
         latency p50 {:?}  p95 {:?}  p99 {:?}  max {:?}\n\
         last successful booking (sold out) after {:?}; every buyer answered after {:?}",
        outcomes.len(),
        count(303),
        count(409),
        count(402),
        other,
        failed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
        sold_out_after,
        last_answer,
    )
}
