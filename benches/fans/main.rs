//! Fifty thousand fans at an on-sale (issue 18, SPEC §13): four server processes on one
//! PostgreSQL; the fans (several client processes, each fan on a keep-alive connection of its
//! own from an address of its own in 127.0.0.0/8) join within ten seconds around the opening,
//! poll `GET /api/queue` every five seconds until let in, then book one seat. Prints: fans
//! that got a position, 5xx, queue-poll p99, admissions out of position order, seats sold
//! against seats taken, the admission rate against `QUEUE_ADMIT_PER_MIN`, peak resident
//! memory per server, CPU seconds per 10,000 polls.
//!
//! `cargo bench --bench fans -- [--fans 50000] [--servers 4] [--clients 4] [--rate 30000]
//! [--active-max 5000] [--lead-secs 30]` with `TEST_DATABASE_URL` naming a PostgreSQL where
//! it may create a database (`bench/run` sets one up).
//!
//! `-- --idle N [--at-once M] [--requests K] [--path /api/queue] [--env NAME=VALUE]…`: the memory
//! measurement instead: one server, N connections held open after K requests each; prints the
//! resident memory before and with them, and the cost per connection.

mod client;
// The bench uses only part of the test harness it shares.
#[allow(dead_code, unused_imports)]
#[path = "../../tests/it/common/mod.rs"]
mod common;
mod measure;
mod report;

use std::net::SocketAddr;
use std::time::Duration;

use client::{Plan, epoch_ms};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn number(name: &str, default: i64) -> i64 {
    arg(name).map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number"))).unwrap_or(default)
}

fn main() {
    if arg("--client").is_some() {
        return client_process();
    }
    if let Some(count) = arg("--idle") {
        return measure::idle(count.parse().expect("--idle takes a number"));
    }
    if !report::scenario() {
        eprintln!("fans: a guarantee failed");
        std::process::exit(1);
    }
}

/// A child: `--client i --of C --fans N --servers a,b --opens-at MS --poll-secs S
/// --deadline MS --out FILE`; writes its report to FILE.
fn client_process() {
    let me = number("--client", 0) as usize;
    let of = number("--of", 1) as usize;
    let fans = number("--fans", 0) as usize;
    let opens_at = number("--opens-at", 0);
    let window = number("--window-ms", 10_000);
    let poll = Duration::from_secs(number("--poll-secs", 5) as u64);
    let deadline = number("--deadline", epoch_ms() + 600_000);
    let servers: Vec<SocketAddr> = arg("--servers")
        .expect("--servers")
        .split(',')
        .map(|a| a.trim_start_matches("http://").parse().expect("a server address"))
        .collect();
    let plans: Vec<Plan> = (0..fans)
        .filter(|i| i % of == me)
        .map(|index| Plan {
            index,
            server: servers[index % servers.len()],
            join_at: opens_at - window / 2 + (index as i64 * window) / fans.max(1) as i64,
            poll,
            deadline,
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let report = runtime.block_on(client::run(plans));
    report::write(&report, &arg("--out").expect("--out"));
}
