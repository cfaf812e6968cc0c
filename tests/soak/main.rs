//! `./scripts/soak SECONDS`: the randomized, fault-injecting history check of SPEC §14.
//!
//! For each backend (SQLite with one server process, then a throwaway PostgreSQL of its own
//! with three), simulated clients book through the form and the API (retrying with the same
//! key, sometimes twice at once), look their bookings up, check tickets in at the door, and the
//! box office changes seats and resets tiers, while payments succeed, decline, are slow or hang
//! past the shop's timeout, holds expire and refunds fail and are retried. Faults: a server
//! process is SIGKILLed and restarted; on PostgreSQL the database also crashes and comes back.
//! Every answer a client saw is recorded. When the time is up the faults stop, everything is
//! left to settle, and `checker.rs` checks the history against the database and the gateway's
//! ledger. One line per backend; exit code 1 if an invariant broke.
//!
//! `SOAK_SEED=S` replays the same schedule of operations and faults (the timing of a real
//! machine still differs run to run); `SOAK_BACKENDS=sqlite` or `postgres` runs one backend.

#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../it/common/mod.rs"]
mod common;

mod checker;
mod clients;
mod cluster;

use std::time::Duration;

use checker::{Ledger, Observed};
use common::Backend;
use diesel::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use techkraft_tickets::booking::{Booking, Refund, Ticket, Tier};
use techkraft_tickets::db::charge_checks::ChargeCheck;
use techkraft_tickets::db::schema::{email_outbox, tickets};

fn main() -> std::process::ExitCode {
    let Some(seconds) = std::env::args().nth(1).and_then(|s| s.parse::<u64>().ok()) else {
        eprintln!("usage: soak SECONDS   (SOAK_SEED=S replays a run; SOAK_BACKENDS=sqlite,postgres)");
        return std::process::ExitCode::from(2);
    };
    let seed: u64 = std::env::var("SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let backends = std::env::var("SOAK_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut failed = false;
    for name in backends.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let backend = match name {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            other => {
                eprintln!("unknown backend {other:?}");
                return std::process::ExitCode::from(2);
            }
        };
        let label = if backend == Backend::Sqlite { "SQLite" } else { "PostgreSQL" };
        let outcome = actix_rt::System::new().block_on(run(backend, Duration::from_secs(seconds), seed));
        match outcome {
            Ok((operations, faults)) => println!(
                "soak: {label}: {operations} operations, {faults} faults, seed {seed}: every invariant held"
            ),
            Err(violation) => {
                println!("soak: {label}: seed {seed}: invariant broken: {violation}");
                println!("soak: replay with SOAK_SEED={seed} SOAK_BACKENDS={name}");
                failed = true;
            }
        }
    }
    if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS }
}

/// One backend's run: the operations and faults it made, or the first broken invariant.
async fn run(backend: Backend, length: Duration, seed: u64) -> Result<(usize, usize), checker::Violation> {
    let cluster = cluster::Cluster::start(backend, seed);
    let deadline = std::time::Instant::now() + length;
    let shared = clients::Shared::signed_in(&cluster).await;
    let faults = cluster.inject_faults(StdRng::seed_from_u64(seed ^ 0xfa17), deadline);
    let buyers = clients::run_all(&cluster, &shared, seed, deadline);
    let (faults, ()) = futures_util::future::join(faults, buyers).await;
    cluster.settle(Duration::from_secs(120)).await;
    let observed = observe(&cluster, shared.history());
    let operations = observed.history.len();
    if let Err(violation) = checker::check(&observed) {
        // The servers' logs and the history, for whoever looks into it.
        let name = format!("target/soak-{seed}-{backend:?}.log").to_lowercase();
        let history: Vec<String> = observed.history.iter().map(|e| format!("{e:?}")).collect();
        let report = format!("{violation}\n\n{}\n\nhistory:\n{}", cluster.logs(), history.join("\n"));
        if std::fs::write(&name, report).is_ok() {
            eprintln!("soak: the servers' logs and the history are in {name}");
        }
        return Err(violation);
    }
    Ok((operations, faults))
}

/// What the database and the ledger hold now, with the history.
fn observe(cluster: &cluster::Cluster, history: Vec<checker::Event>) -> Observed {
    let mut c = cluster.pool.get().expect("a connection to look at the end");
    let emails: Vec<(String, String)> = email_outbox::table
        .select((email_outbox::booking_id, email_outbox::kind))
        .load(&mut c)
        .expect("emails");
    Observed {
        tiers: Tier::all(&mut c).expect("tiers"),
        bookings: Booking::recent(&mut c, i64::MAX).expect("bookings"),
        tickets: tickets::table.select(Ticket::as_select()).load(&mut c).expect("tickets"),
        refunds: Refund::all(&mut c).expect("refunds"),
        emails,
        charge_checks: ChargeCheck::count(&mut c).expect("charge checks") as usize,
        ledger: Ledger::parse(&std::fs::read_to_string(&cluster.ledger).unwrap_or_default()),
        history,
    }
}
