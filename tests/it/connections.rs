//! Connections (SPEC §12): the accept queue the kernel is asked for (`LISTEN_BACKLOG`), the
//! warning when the system caps it, and keep-alive that outlives the pages' poll interval.

use std::io::{Read, Write};
use std::time::Duration;

use crate::common::{Backend, ServerProcess, fresh_database, spawn_app};

/// The accept queue of the socket listening on `port`, as `ss` shows it (Send-Q).
fn backlog_of(port: &str) -> u32 {
    let output = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("run ss (iproute2)");
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    // State Recv-Q Send-Q Local Peer: for a listener, Send-Q is the backlog.
    fields.get(2).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no listener on {port}: {text}"))
}

fn port_of(server: &ServerProcess) -> String {
    server.address.rsplit(':').next().expect("a port").to_owned()
}

fn somaxconn() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap().trim().parse().unwrap()
}

#[test]
fn the_listener_asks_the_kernel_for_the_configured_backlog() {
    let database = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(&database, &[]);
    assert_eq!(backlog_of(&port_of(&server)), 4096.min(somaxconn()), "LISTEN_BACKLOG defaults to 4096");
    drop(server);
    let server = ServerProcess::start(&database, &[("LISTEN_BACKLOG", "1000")]);
    assert_eq!(backlog_of(&port_of(&server)), 1000.min(somaxconn()));
    assert!(!server.log_text().contains("net.core.somaxconn"), "no warning when the kernel gives it all");
}

#[test]
fn a_backlog_above_the_system_cap_is_warned_about_at_start() {
    let cap = somaxconn();
    if cap >= 65_535 {
        eprintln!("skipped: net.core.somaxconn is {cap}, nothing can exceed it");
        return;
    }
    let database = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(&database, &[("LISTEN_BACKLOG", "65535")]);
    let log = server.log_text();
    let warning = log.lines().find(|l| l.contains("LISTEN_BACKLOG=65535")).unwrap_or_else(|| panic!("{log}"));
    assert!(warning.contains("WARN") && warning.contains("sysctl -w net.core.somaxconn"), "{warning}");
    assert_eq!(backlog_of(&port_of(&server)), cap, "the kernel gives its cap");
}

/// Sends `GET /healthz` on `stream` and reads the answer; `None` when the server closed it.
fn ask(stream: &mut std::net::TcpStream) -> Option<String> {
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n").ok()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.ends_with(b"ok") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&answer).into_owned())
}

#[actix_rt::test]
async fn a_connection_idle_longer_than_the_poll_interval_stays_open() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let answers = actix_rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let first = ask(&mut stream);
        // A page polls every POLL_SECONDS (5): the next poll comes a little after that.
        std::thread::sleep(Duration::from_millis(5_500));
        (first, ask(&mut stream))
    })
    .await
    .unwrap();
    assert!(answers.0.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 200")), "{answers:?}");
    assert!(
        answers.1.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 200")),
        "the second poll reuses the connection: {answers:?}"
    );
}

#[actix_rt::test]
async fn keep_alive_secs_closes_idle_connections_after_its_time() {
    let app = spawn_app(Backend::Sqlite, &[("KEEP_ALIVE_SECS", "1")]).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let second = actix_rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert!(ask(&mut stream).is_some());
        std::thread::sleep(Duration::from_millis(2_500));
        ask(&mut stream)
    })
    .await
    .unwrap();
    assert_eq!(second, None, "closed after KEEP_ALIVE_SECS idle");
}

/// Opens a connection, asks for `path` once, reads the whole answer and keeps the connection.
fn ask_once_and_keep(addr: &str, path: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").expect("send");
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).expect("the answer");
        assert!(n > 0, "closed before the answer ended");
        answer.extend_from_slice(&buf[..n]);
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("a content-length");
        if answer.len() >= end + 4 + length {
            return stream;
        }
    }
}

/// Fifty thousand fans keep a connection open each between their polls (SPEC §13): an idle
/// connection must cost the server its state only, not the 8 KiB read and 8 KiB write buffers
/// actix-http keeps for every connection as published (more after a larger answer). The
/// concert page (about 10 KiB) is the largest answer a fan's connection carries.
#[test]
fn an_idle_keep_alive_connection_holds_no_buffers() {
    const CONNECTIONS: usize = 2_000;
    let database = fresh_database(Backend::Sqlite);
    let server = ServerProcess::start(&database, &[("RUST_LOG", "warn,techkraft_tickets=info")]);
    let addr = server.address.trim_start_matches("http://").to_owned();
    // Warm up: the pool, the snapshot, the templates and the allocator's arenas.
    for _ in 0..3 {
        let warm: Vec<_> = (0..200).map(|_| ask_once_and_keep(&addr, "/")).collect();
        drop(warm);
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = server.resident_kib();
    let held: Vec<_> = (0..CONNECTIONS).map(|_| ask_once_and_keep(&addr, "/")).collect();
    std::thread::sleep(Duration::from_millis(500));
    let with = server.resident_kib();
    let per_connection = (with.saturating_sub(before)) as f64 / CONNECTIONS as f64;
    println!(
        "resident {before} KiB, with {CONNECTIONS} idle connections {with} KiB: {per_connection:.2} KiB each"
    );
    // As published: 20 KiB and more each. Held without buffers: the connection's task
    // (1.3 KiB; 2.6 KiB in the test build, whose actix-http has HTTP/2 for awc) and its socket.
    assert!(per_connection < 6.0, "{per_connection:.2} KiB per idle connection");
    drop(held);
}
