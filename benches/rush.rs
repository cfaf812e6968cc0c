//! The on-sale rush at full size: three server processes on one PostgreSQL, 5,000 buyers at
//! once for the 100 VIP seats. Prints latency percentiles and how long until sold out, and
//! fails if a seat was lost or sold twice.
//!
//! `cargo bench --bench rush -- [--buyers N] [--servers N]` with `TEST_DATABASE_URL` naming a
//! PostgreSQL where it may create a database (`bench/run` sets one up).

// The bench uses only part of the test harness it shares.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::Duration;

use common::rush::{report, rush_from, start_servers, vip_accounts, wait_until_settled};
use common::{Backend, fresh_database, pool_for};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

/// The kernel's count of connections dropped because an accept queue was full
/// (`TcpExtListenOverflows` in /proc/net/netstat, for this network namespace).
fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let index = names.split_whitespace().position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(index)?.parse().ok()
}

/// CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second)
}

fn main() {
    // `cargo bench` passes `--bench`; anything else we do not know is ignored.
    let buyers = arg("--buyers", 5000);
    let servers = arg("--servers", 3);
    // `--limits`: the default rate limits on, every buyer from an address of its own.
    let limits = std::env::args().any(|a| a == "--limits");
    let ok = actix_rt::System::new().block_on(async move {
        let database_url = fresh_database(Backend::Postgres);
        let mut env = vec![("DB_POOL_SIZE", "16")];
        if limits {
            env.extend([
                ("RATE_LIMIT_BOOKINGS_PER_MIN", "60"),
                ("MAX_CONNECTIONS_PER_CLIENT", "256"),
                ("RATE_LIMIT_LOOKUPS_PER_MIN", "120"),
            ]);
        }
        let processes = start_servers(&database_url, servers, &env);
        let addresses: Vec<String> = processes.iter().map(|p| p.address.clone()).collect();
        let pool = pool_for(&database_url);

        let pids: Vec<String> =
            std::iter::once("self".to_owned()).chain(processes.iter().map(|p| p.child.id().to_string())).collect();
        let cpu_before: Vec<Option<f64>> = pids.iter().map(|p| cpu_seconds(p)).collect();
        let overflows_before = listen_overflows();
        let started = std::time::Instant::now();
        let outcomes = rush_from(&addresses, buyers, limits).await;
        let wall = started.elapsed();
        let overflows_after = listen_overflows();
        let cpu: Vec<String> = pids
            .iter()
            .zip(&cpu_before)
            .map(|(p, before)| match (before, cpu_seconds(p)) {
                (Some(b), Some(a)) => format!("{:.2}", a - b),
                _ => "?".to_owned(),
            })
            .collect();
        let how = if limits { ", default rate limits on, one address per buyer" } else { "" };
        println!("rush: {servers} servers, {buyers} buyers, 100 VIP seats, payment 0-50 ms at 95%{how}");
        println!("{}", report(&outcomes));
        let mut latencies: Vec<Duration> =
            outcomes.iter().filter(|o| o.status.is_some()).map(|o| o.latency).collect();
        latencies.sort();
        let server_errors = outcomes.iter().filter(|o| o.status.is_some_and(|s| s >= 500)).count();
        let overflowed = match (overflows_before, overflows_after) {
            (Some(before), Some(after)) => {
                format!("{} (TcpExtListenOverflows {before} -> {after})", after.saturating_sub(before))
            }
            _ => "unknown (no /proc/net/netstat)".to_owned(),
        };
        println!(
            "p99 {:?}; 5xx {server_errors}; connections dropped by full accept queues during the rush: {overflowed}",
            common::rush::percentile(&latencies, 99.0)
        );

        println!(
            "CPU seconds during the rush's {:.2} s: the client {}, the servers {}",
            wall.as_secs_f64(),
            cpu[0],
            cpu[1..].join(" / ")
        );

        wait_until_settled(&pool, Duration::from_secs(30)).await;
        let (confirmed, vip) = vip_accounts(&pool);
        let answered = outcomes.iter().all(|o| o.status.is_some());
        let no_5xx = outcomes.iter().all(|o| o.status.is_none_or(|s| s < 500));
        let conserved = vip.available >= 0 && confirmed + vip.available == 100;
        println!(
            "VIP: {confirmed} confirmed + {} available = {} (must be 100); every buyer answered: {answered}; no 5xx: {no_5xx}",
            vip.available,
            confirmed + vip.available
        );
        answered && no_5xx && conserved
    });
    if !ok {
        eprintln!("rush: a guarantee failed");
        std::process::exit(1);
    }
}
