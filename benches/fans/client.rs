//! One client process of the fans benchmark: its share of the fans, each on a keep-alive
//! connection of its own from an address of its own in 127.0.0.0/8, joining at its scheduled
//! moment, polling `GET /api/queue` every `POLL` until let in, then booking one seat. A tiny
//! HTTP/1.1 client (the fans send three kinds of request, and 12,500 of them must fit in one
//! process), on one thread.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::common::http::read_raw_response;

/// Milliseconds since the Unix epoch (every process on this machine shares the clock).
pub fn epoch_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// The source address of fan `i`: 127.x.y.z, never .0 or .255 in the last place.
pub fn address_of(i: usize) -> Ipv4Addr {
    let n = i as u32;
    let (hi, lo) = (n / 254, n % 254 + 1);
    Ipv4Addr::new(127, 10 + (hi / 256) as u8, (hi % 256) as u8, lo as u8)
}

/// What one fan saw.
#[derive(Debug, Clone, Default)]
pub struct FanRecord {
    pub index: usize,
    pub position: Option<i64>,
    /// First poll that said "admitted" (epoch ms), and the last that said "waiting".
    pub admitted_at: Option<i64>,
    pub last_waiting_at: Option<i64>,
    /// The booking's status (201 expected), if the fan got that far.
    pub booked: Option<u16>,
    pub polls: u32,
    pub server_errors: u32,
    pub other_errors: u32,
    pub connect_errors: u32,
}

/// What a client process reports: its fans, and every queue request's latency (µs) with
/// when it was sent (epoch ms).
#[derive(Debug, Default)]
pub struct Report {
    pub fans: Vec<FanRecord>,
    pub poll_latencies_us: Vec<(u32, i64)>,
    pub join_latencies_us: Vec<(u32, i64)>,
}

/// A keep-alive connection with its cookies.
struct Conn {
    stream: Option<TcpStream>,
    source: Ipv4Addr,
    server: SocketAddr,
    host: String,
    cookies: Vec<(String, String)>,
    buf: Vec<u8>,
}

/// An answer: status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    async fn connect(&mut self) -> std::io::Result<()> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(self.source.into(), 0))?;
        self.stream = Some(socket.connect(self.server).await?);
        Ok(())
    }

    /// Sends one request (reconnecting once if the server had closed the connection).
    async fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> std::io::Result<Answer> {
        for attempt in 0..2 {
            if self.stream.is_none() {
                self.connect().await?;
            }
            match self.exchange(method, path, body).await {
                Ok(answer) => return Ok(answer),
                Err(e) if attempt == 0 => {
                    self.stream = None;
                    let _ = e;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("two attempts")
    }

    async fn exchange(&mut self, method: &str, path: &str, body: Option<&str>) -> std::io::Result<Answer> {
        let cookie = self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if !cookie.is_empty() {
            request.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            request.push_str("\r\n");
        }
        let stream = self.stream.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
        stream.write_all(request.as_bytes()).await?;
        let response = read_raw_response(stream, &mut self.buf).await?;
        let body = self.buf[response.body_start..].to_vec();
        let mut close = false;
        for (name, value) in response.headers() {
            if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("set-cookie") {
                self.absorb(value);
            }
        }
        if close {
            self.stream = None;
        }
        Ok(Answer { status: response.status, body })
    }

    fn absorb(&mut self, set_cookie: &str) {
        let pair = set_cookie.split(';').next().unwrap_or_default();
        let Some((name, value)) = pair.split_once('=') else { return };
        self.cookies.retain(|(n, _)| n != name);
        if !value.is_empty() && !set_cookie.contains("Max-Age=0") {
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// A field of the queue's JSON, as text (`"waiting"`, `12`, `null`), without a JSON parser.
fn field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let start = body.find(&format!("\"{name}\":"))? + name.len() + 3;
    let rest = &body[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().trim_matches('"'))
}

/// The plan of one fan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub index: usize,
    pub server: SocketAddr,
    /// When to join (epoch ms).
    pub join_at: i64,
    pub poll: Duration,
    /// Give up at this moment (epoch ms).
    pub deadline: i64,
}

/// Runs one fan; returns its record and its queue requests' latencies.
pub async fn fan(plan: Plan, latencies: &mut Vec<(u32, i64)>, joins: &mut Vec<(u32, i64)>) -> FanRecord {
    let mut record = FanRecord { index: plan.index, ..FanRecord::default() };
    let wait = plan.join_at - epoch_ms();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
    let mut conn = Conn {
        stream: None,
        source: address_of(plan.index),
        server: plan.server,
        host: plan.server.to_string(),
        cookies: Vec::new(),
        buf: Vec::with_capacity(1024),
    };
    let mut first = true;
    loop {
        if epoch_ms() > plan.deadline {
            return record;
        }
        let sent = Instant::now();
        let sent_ms = epoch_ms();
        let answer = match conn.send("GET", "/api/queue", None).await {
            Ok(answer) => answer,
            Err(_) => {
                record.connect_errors += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let took = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        if first {
            joins.push((took, sent_ms))
        } else {
            latencies.push((took, sent_ms))
        }
        first = false;
        record.polls += 1;
        if answer.status >= 500 {
            record.server_errors += 1;
        } else if answer.status != 200 {
            record.other_errors += 1;
        }
        let body = String::from_utf8_lossy(&answer.body);
        if let Some(p) = field(&body, "position").and_then(|p| p.parse().ok()) {
            record.position = Some(p);
        }
        match field(&body, "state") {
            Some("admitted") => {
                record.admitted_at = Some(epoch_ms());
                break;
            }
            // The answer was decided somewhere between sending and receiving: "waiting" is
            // dated at the send, "admitted" at the receipt, so the order check never blames
            // the network's delays on the line.
            Some("waiting") => record.last_waiting_at = Some(sent_ms),
            Some("sold-out") => return record,
            _ => {}
        }
        tokio::time::sleep(plan.poll).await;
    }
    let body = format!(r#"{{"ticketTypeId":"general","quantity":1,"userId":"fan-{}"}}"#, plan.index);
    record.booked = match conn.send("POST", "/api/bookings", Some(&body)).await {
        Ok(answer) => {
            if answer.status >= 500 {
                record.server_errors += 1;
            }
            Some(answer.status)
        }
        Err(_) => {
            record.connect_errors += 1;
            None
        }
    };
    record
}

/// Runs `plans` concurrently on this thread.
pub async fn run(plans: Vec<Plan>) -> Report {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let tasks: Vec<_> = plans
                .into_iter()
                .map(|plan| {
                    tokio::task::spawn_local(async move {
                        let (mut polls, mut joins) = (Vec::new(), Vec::new());
                        let record = fan(plan, &mut polls, &mut joins).await;
                        (record, polls, joins)
                    })
                })
                .collect();
            let mut report = Report::default();
            for task in tasks {
                if let Ok((record, polls, joins)) = task.await {
                    report.fans.push(record);
                    report.poll_latencies_us.extend(polls);
                    report.join_latencies_us.extend(joins);
                }
            }
            report
        })
        .await
}

/// Holds `count` idle keep-alive connections to `server` (from `count` addresses), each after
/// `requests` polls of `path`, until `hold` has passed. For the memory measurement.
///
/// At most `at_once` connections are being opened and asked at any time (the rest wait their
/// turn), so the server sees that many requests in flight at most.
pub async fn hold(
    server: SocketAddr,
    count: usize,
    requests: usize,
    path: String,
    hold: Duration,
    at_once: usize,
) -> usize {
    let local = tokio::task::LocalSet::new();
    let turns = std::rc::Rc::new(tokio::sync::Semaphore::new(at_once.max(1)));
    local
        .run_until(async move {
            let tasks: Vec<_> = (0..count)
                .map(|i| {
                    let path = path.clone();
                    let turns = turns.clone();
                    tokio::task::spawn_local(async move {
                        let turn = turns.acquire().await;
                        let mut conn = Conn {
                            stream: None,
                            source: address_of(i),
                            server,
                            host: server.to_string(),
                            cookies: Vec::new(),
                            buf: Vec::new(),
                        };
                        if conn.connect().await.is_err() {
                            return false;
                        }
                        for _ in 0..requests {
                            if conn.send("GET", &path, None).await.is_err() {
                                return false;
                            }
                        }
                        conn.buf = Vec::new();
                        drop(turn);
                        tokio::time::sleep(hold).await;
                        conn.stream.is_some()
                    })
                })
                .collect();
            let mut held = 0;
            for task in tasks {
                held += usize::from(task.await.unwrap_or(false));
            }
            held
        })
        .await
}
