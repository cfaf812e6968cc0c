//! What the benchmark reads about the server processes from /proc, and the memory
//! measurement (`--idle`): one server, N connections held open, the resident memory per
//! connection.

use std::time::Duration;

use crate::common::{Backend, ServerProcess, fresh_database};
use crate::{arg, client, number};

/// Resident memory now and at its peak (VmRSS, VmHWM), in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds (user + system) the process has used.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    let hz = clock_ticks_per_sec();
    (ticks(11) + ticks(12)) / hz
}

fn clock_ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// `--idle N`: the resident memory of one server before and while N connections are open,
/// each after `--requests K` requests of `--path` (default `/api/queue`, with a waiting room
/// open for an hour so the answer is the poll's). Extra server settings: `--env NAME=VALUE`.
/// `--at-once M`: at most M connections being opened and asked at a time (default N: all at
/// once, every first request a join waiting for the same round of the line).
pub fn idle(count: usize) {
    let requests = number("--requests", 1) as usize;
    let path = arg("--path").unwrap_or_else(|| "/api/queue".into());
    let database = fresh_database(Backend::Postgres);
    let opens = (chrono::Utc::now() - chrono::Duration::seconds(60)).to_rfc3339();
    let mut env: Vec<(String, String)> = vec![
        ("SALE_OPENS_AT".into(), opens),
        ("QUEUE_ADMIT_PER_MIN".into(), "1".into()),
        ("RUST_LOG".into(), "warn,techkraft_tickets=info".into()),
    ];
    let args: Vec<String> = std::env::args().collect();
    for (i, a) in args.iter().enumerate() {
        if a == "--env"
            && let Some((k, v)) = args.get(i + 1).and_then(|kv| kv.split_once('='))
        {
            env.push((k.to_owned(), v.to_owned()));
        }
    }
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = ServerProcess::start(&database, &env_refs);
    let pid = server.child.id();
    let addr = server.address.trim_start_matches("http://").parse().expect("address");
    // Warm up: the pool, the snapshot, the allocator's first arenas.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(client::hold(addr, 200, requests.max(1), path.clone(), Duration::ZERO, 200));
    std::thread::sleep(Duration::from_secs(2));
    let (before, _) = rss_kib(pid);
    let hold = Duration::from_secs(number("--hold-secs", 20) as u64);
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        for _ in 0..hold.as_secs() * 4 {
            std::thread::sleep(Duration::from_millis(250));
            peak = peak.max(rss_kib(pid).0);
        }
        peak
    });
    let at_once = number("--at-once", count as i64).max(1) as usize;
    let held = runtime.block_on(client::hold(addr, count, requests, path.clone(), hold, at_once));
    let with = sampler.join().unwrap_or(0);
    let (_, hwm) = rss_kib(pid);
    println!(
        "idle: {held} of {count} connections held after {requests} request(s) of {path} each, \
         at most {at_once} being opened at once; settings {:?}",
        &env[3..]
    );
    println!(
        "idle: resident {:.1} MiB before, {:.1} MiB with them (peak {:.1} MiB): {:.2} KiB per connection",
        before as f64 / 1024.0,
        with as f64 / 1024.0,
        hwm as f64 / 1024.0,
        (with.saturating_sub(before)) as f64 / held.max(1) as f64
    );
}
