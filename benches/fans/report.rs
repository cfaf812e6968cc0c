//! The scenario (servers, client processes, the opening) and its report.

use std::io::Write;
use std::time::Duration;

use diesel::prelude::*;

use crate::client::{FanRecord, Report, epoch_ms};
use crate::common::rush::wait_until_settled;
use crate::common::{Backend, ServerProcess, fresh_database, pool_for};
use crate::measure::{cpu_secs, rss_kib};
use crate::number;

/// Runs the scenario and prints the report; false if a guarantee failed.
pub fn scenario() -> bool {
    check_the_checker();
    let fans = number("--fans", 50_000) as usize;
    let servers = number("--servers", 4) as usize;
    let clients = number("--clients", 4) as usize;
    let rate = number("--rate", 30_000);
    let active_max = number("--active-max", 5_000);
    let lead = number("--lead-secs", 30);
    let poll_secs = 5;
    let max_age_ms = 500;

    let database = fresh_database(Backend::Postgres);
    let opens_at = epoch_ms() + lead * 1000;
    let opens = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(opens_at).expect("time").to_rfc3339();
    let (rate_s, active_s, age_s, poll_s) =
        (rate.to_string(), active_max.to_string(), max_age_ms.to_string(), poll_secs.to_string());
    let env = [
        ("SALE_OPENS_AT", opens.as_str()),
        ("QUEUE_ADMIT_PER_MIN", rate_s.as_str()),
        ("QUEUE_ACTIVE_MAX", active_s.as_str()),
        ("AVAILABILITY_MAX_AGE_MS", age_s.as_str()),
        ("POLL_SECONDS", poll_s.as_str()),
        ("PAYMENT_DELAY_MS", "0-50"),
        ("DB_POOL_SIZE", "16"),
        ("RUST_LOG", "warn,techkraft_tickets=info,techkraft_tickets::booking=warn"),
    ];
    let processes: Vec<ServerProcess> = (0..servers).map(|_| ServerProcess::start(&database, &env)).collect();
    let pool = pool_for(&database);
    {
        // Enough General seats for every fan: every admitted fan books, and the count of
        // seats taken can be checked against the answers exactly.
        use techkraft_tickets::db::schema::ticket_tiers::dsl as t;
        let seats = fans as i32 * 2;
        diesel::update(t::ticket_tiers.find("general"))
            .set((t::capacity.eq(seats), t::available.eq(seats), t::withheld.eq(0)))
            .execute(&mut pool.get().expect("connection"))
            .expect("a big General tier");
    }
    let pids: Vec<u32> = processes.iter().map(|p| p.child.id()).collect();
    let cpu_before: Vec<f64> = pids.iter().map(|p| cpu_secs(*p)).collect();
    let addresses: Vec<String> = processes.iter().map(|p| p.address.clone()).collect();
    let deadline = opens_at + 60_000 * (fans as i64 / rate.max(1) + 3);
    println!(
        "fans: {fans} fans over {clients} client processes, {servers} servers on one PostgreSQL; opening in {lead} s; \
         joins within 10 s around it; polls every {poll_secs} s; QUEUE_ADMIT_PER_MIN={rate}, QUEUE_ACTIVE_MAX={active_max}"
    );
    let dir = std::path::Path::new("target/bench");
    std::fs::create_dir_all(dir).expect("target/bench");
    let children: Vec<(std::process::Child, std::path::PathBuf)> = (0..clients)
        .map(|i| {
            let out = dir.join(format!("fans-client-{i}.txt"));
            let child = std::process::Command::new(std::env::current_exe().expect("this program"))
                .args(["--client", &i.to_string(), "--of", &clients.to_string(), "--fans", &fans.to_string()])
                .args(["--servers", &addresses.join(","), "--opens-at", &opens_at.to_string()])
                .args(["--poll-secs", &poll_secs.to_string(), "--deadline", &deadline.to_string()])
                .arg("--out")
                .arg(&out)
                .spawn()
                .expect("start a client process");
            (child, out)
        })
        .collect();
    let mut report = Report::default();
    for (mut child, out) in children {
        let status = child.wait().expect("client process");
        assert!(status.success(), "a client process failed: {status}");
        read(&out, &mut report);
    }
    let settle = actix_rt::System::new();
    settle.block_on(wait_until_settled(&pool, Duration::from_secs(60)));
    let cpu: f64 = pids.iter().zip(&cpu_before).map(|(p, before)| cpu_secs(*p) - before).sum();
    let server_side = server_latency(&addresses);
    let peaks: Vec<f64> = pids.iter().map(|p| rss_kib(*p).1 as f64 / 1024.0).collect();
    let ok = print(&report, &pool, Run { fans, rate, max_age_ms, opens_at }, cpu, &peaks);
    println!("{server_side}");
    ok
}

/// The servers' own account of `GET /api/queue` (their latency histograms, summed): how many
/// answers took longer than 50 ms inside the server, and the bucket holding the 99th
/// percentile. Time spent in the kernel's queues or the clients is not in it.
fn server_latency(addresses: &[String]) -> String {
    let mut buckets: std::collections::BTreeMap<String, f64> = Default::default();
    for address in addresses {
        let Some(text) = http_get(address, "/metrics") else { continue };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(r#"techkraft_http_request_duration_seconds_bucket{method="GET",route="/api/queue",status="200",le=""#) else { continue };
            let Some((le, count)) = rest.split_once("\"} ") else { continue };
            *buckets.entry(le.to_owned()).or_default() += count.trim().parse::<f64>().unwrap_or(0.0);
        }
    }
    let total = buckets.get("+Inf").copied().unwrap_or(0.0);
    let within_50ms = buckets.get("0.05").copied().unwrap_or(0.0);
    let mut bounds: Vec<(f64, f64)> =
        buckets.iter().filter_map(|(le, n)| le.parse::<f64>().ok().map(|b| (b, *n))).collect();
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let p99 = bounds
        .iter()
        .find(|(_, n)| *n >= total * 0.99)
        .map_or("over 5 s".to_owned(), |(b, _)| format!("<= {} ms", b * 1000.0));
    format!(
        "inside the servers: {total:.0} GET /api/queue answers, {:.0} over 50 ms; p99 {p99} (from the servers' histograms)",
        total - within_50ms
    )
}

/// A plain GET (one connection, read to the end).
fn http_get(address: &str, path: &str) -> Option<String> {
    use std::io::Read;
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

/// Writes a client's report: one line per fan, then the latencies.
pub fn write(report: &Report, path: &str) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("report file"));
    for f in &report.fans {
        let opt = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
        let _ = writeln!(
            out,
            "F {} {} {} {} {} {} {} {} {}",
            f.index,
            opt(f.position),
            opt(f.admitted_at),
            opt(f.last_waiting_at),
            opt(f.booked.map(i64::from)),
            f.polls,
            f.server_errors,
            f.other_errors,
            f.connect_errors
        );
    }
    for (l, at) in &report.poll_latencies_us {
        let _ = writeln!(out, "P {l} {at}");
    }
    for (l, at) in &report.join_latencies_us {
        let _ = writeln!(out, "J {l} {at}");
    }
}

fn read(path: &std::path::Path, report: &mut Report) {
    let text = std::fs::read_to_string(path).expect("a client's report");
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let opt = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
        match f.first().copied() {
            Some("F") => report.fans.push(FanRecord {
                index: opt(1).unwrap_or(0) as usize,
                position: opt(2),
                admitted_at: opt(3),
                last_waiting_at: opt(4),
                booked: opt(5).map(|s| s as u16),
                polls: opt(6).unwrap_or(0) as u32,
                server_errors: opt(7).unwrap_or(0) as u32,
                other_errors: opt(8).unwrap_or(0) as u32,
                connect_errors: opt(9).unwrap_or(0) as u32,
            }),
            Some("P") => report.poll_latencies_us.push((opt(1).unwrap_or(0) as u32, opt(2).unwrap_or(0))),
            Some("J") => report.join_latencies_us.push((opt(1).unwrap_or(0) as u32, opt(2).unwrap_or(0))),
            _ => {}
        }
    }
}

/// Fans who saw themselves waiting later than `tolerance_ms` after a fan behind them had been
/// let in: admissions out of position order, as the fans saw them. Processes may differ by
/// `AVAILABILITY_MAX_AGE_MS`, which the tolerance allows.
pub fn out_of_order(fans: &[FanRecord], tolerance_ms: i64) -> usize {
    let mut by_position: Vec<&FanRecord> = fans.iter().filter(|f| f.position.is_some()).collect();
    by_position.sort_by_key(|f| f.position);
    let mut earliest_behind = i64::MAX;
    let mut count = 0;
    for f in by_position.iter().rev() {
        if f.last_waiting_at.is_some_and(|w| w > earliest_behind.saturating_add(tolerance_ms)) {
            count += 1;
        }
        if let Some(a) = f.admitted_at {
            earliest_behind = earliest_behind.min(a);
        }
    }
    count
}

fn percentile_ms(values: &mut [u32], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_unstable();
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)] as f64 / 1000.0
}

/// The scenario's parameters the report needs.
struct Run {
    fans: usize,
    rate: i64,
    max_age_ms: i64,
    opens_at: i64,
}

fn print(report: &Report, pool: &techkraft_tickets::db::DbPool, run: Run, cpu: f64, peaks: &[f64]) -> bool {
    let Run { fans, rate, max_age_ms, opens_at } = run;
    use techkraft_tickets::db::schema::{bookings::dsl as b, queue_advances::dsl as a};
    let mut conn = pool.get().expect("connection");
    let positioned = report.fans.iter().filter(|f| f.position.is_some()).count();
    let server_errors: u32 = report.fans.iter().map(|f| f.server_errors).sum();
    let connect_errors: u32 = report.fans.iter().map(|f| f.connect_errors).sum();
    let other: u32 = report.fans.iter().map(|f| f.other_errors).sum();
    let booked = report.fans.iter().filter(|f| f.booked == Some(201)).count();
    let polls = report.poll_latencies_us.len() + report.join_latencies_us.len();
    let taken: i64 = b::bookings
        .filter(b::tier_id.eq("general").and(b::status.eq("confirmed")))
        .select(diesel::dsl::sum(b::quantity))
        .first::<Option<i64>>(&mut conn)
        .expect("seats")
        .unwrap_or(0);
    let advances: Vec<(i64, i64)> = a::queue_advances
        .order(a::admitted.asc())
        .select((a::admitted, a::at))
        .load(&mut conn)
        .expect("steps");
    let measured_rate = match (advances.first(), advances.last()) {
        (Some(first), Some(last)) if last.1 > first.1 => {
            (last.0 - first.0) as f64 * 60_000.0 / (last.1 - first.1) as f64
        }
        _ => 0.0,
    };
    let tolerance = max_age_ms + 250;
    let inversions = out_of_order(&report.fans, tolerance);
    let all = |v: &[(u32, i64)]| v.iter().map(|(l, _)| *l).collect::<Vec<u32>>();
    let (mut polls_us, mut joins_us) = (all(&report.poll_latencies_us), all(&report.join_latencies_us));
    // During the joins (the 10 s around the opening, and the first polls after them) and after.
    let storm_end = opens_at + 10_000;
    let mut storm: Vec<u32> =
        report.poll_latencies_us.iter().filter(|(_, at)| *at < storm_end).map(|(l, _)| *l).collect();
    let mut calm: Vec<u32> =
        report.poll_latencies_us.iter().filter(|(_, at)| *at >= storm_end).map(|(l, _)| *l).collect();
    println!("fans that got a position: {positioned} of {fans} (goal: all)");
    println!(
        "5xx answers: {server_errors} (goal 0); other non-200 queue answers {other}; connection failures {connect_errors}"
    );
    println!(
        "queue polls: {} , p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 <= 50 ms); joins: {}, p99 {:.1} ms",
        polls_us.len(),
        percentile_ms(&mut polls_us, 50.0),
        percentile_ms(&mut polls_us, 99.0),
        percentile_ms(&mut polls_us, 100.0),
        joins_us.len(),
        percentile_ms(&mut joins_us, 99.0)
    );
    println!(
        "  polls sent until 10 s after the opening: {}, p99 {:.1} ms; after: {}, p50 {:.1} ms, p99 {:.1} ms",
        storm.len(),
        percentile_ms(&mut storm, 99.0),
        calm.len(),
        percentile_ms(&mut calm, 50.0),
        percentile_ms(&mut calm, 99.0)
    );
    println!(
        "admissions out of position order: {inversions} (goal 0; a fan told \"waiting\" more than {tolerance} ms after someone behind was let in)"
    );
    println!(
        "seats sold (201 answers) {booked}, seats taken (confirmed in the database) {taken}: {}",
        if booked as i64 == taken { "exact" } else { "MISMATCH" }
    );
    println!(
        "admission rate: {measured_rate:.0}/min over {} steps, QUEUE_ADMIT_PER_MIN {rate}: {:+.1}% (goal within 5%)",
        advances.len(),
        (measured_rate / rate as f64 - 1.0) * 100.0
    );
    let peaks_text: Vec<String> = peaks.iter().map(|p| format!("{p:.1}")).collect();
    println!("peak resident memory per server (MiB): {} (goal <= 64)", peaks_text.join(", "));
    println!(
        "server CPU: {cpu:.1} s for {polls} queue requests and {booked} bookings: {:.2} CPU-seconds per 10,000 polls",
        cpu * 10_000.0 / polls.max(1) as f64
    );
    booked as i64 == taken
}

/// The order checker's own test, run before every scenario: it must find a planted
/// inversion, and only it.
pub fn check_the_checker() {
    let fan = |position: i64, admitted_at: i64, last_waiting_at: i64| FanRecord {
        position: Some(position),
        admitted_at: Some(admitted_at),
        last_waiting_at: Some(last_waiting_at),
        ..FanRecord::default()
    };
    let fine = [fan(1, 100, 90), fan(2, 200, 150), fan(3, 300, 250)];
    assert_eq!(out_of_order(&fine, 0), 0, "no inversion in order");
    let planted = [fan(1, 400, 390), fan(2, 200, 150), fan(3, 300, 250)];
    assert_eq!(out_of_order(&planted, 0), 1, "1 waited at 390 after 2 came in at 200");
    assert_eq!(out_of_order(&planted, 500), 0, "within the tolerance");
}
