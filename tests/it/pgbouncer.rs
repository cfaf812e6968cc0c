//! Start-up through a transaction-mode pooler (SPEC §10): migrations keep no session state, so
//! several processes starting at once through PgBouncer migrate and seed exactly once; and
//! `DATABASE_MIGRATION_URL` takes migrations over a direct connection. `scripts/test` runs
//! this file in its PgBouncer pass (and in the direct pass, where the first test is the same
//! race without a pooler).

use crate::common::{Backend, ServerProcess, form, fresh_database, pool_for};
use techkraft_tickets::booking::Tier;

#[actix_rt::test]
async fn three_servers_starting_at_once_migrate_and_seed_exactly_once() {
    require_postgres!();
    let database_url = fresh_database(Backend::Postgres);
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let url = database_url.url.clone();
            std::thread::spawn(move || ServerProcess::start(&url, &[]))
        })
        .collect();
    let servers: Vec<ServerProcess> =
        starts.into_iter().map(|t| t.join().expect("a server starts")).collect();
    let seeded = servers.iter().filter(|s| s.log_text().contains("seeded 3 ticket tiers")).count();
    assert_eq!(seeded, 1, "one process seeds, the others find the tiers");
    let tiers = Tier::all(&mut pool_for(&database_url).get().unwrap()).unwrap();
    assert_eq!(tiers.len(), 3);
    for server in &servers {
        let app = crate::common::TestApp::attach(&server.address, &database_url);
        assert_eq!(app.book(&form("general", "1")).await.status, 303);
        assert!(!server.log_text().contains(" ERROR "), "{}", server.log_text());
    }
}

#[actix_rt::test]
async fn migrations_can_take_a_direct_url_while_requests_go_through_the_pooler() {
    require_postgres!();
    // Set by scripts/test in its PgBouncer pass: the server behind the pooler.
    let Ok(direct_base) = std::env::var("TEST_DIRECT_DATABASE_URL") else {
        eprintln!("skipped: runs in the PgBouncer pass of scripts/test (TEST_DIRECT_DATABASE_URL)");
        return;
    };
    let pooled = fresh_database(Backend::Postgres);
    let name = pooled.rsplit_once('/').unwrap().1;
    let direct = format!("{}/{name}", direct_base.rsplit_once('/').unwrap().0);
    let server = ServerProcess::start(&pooled, &[("DATABASE_MIGRATION_URL", &direct)]);
    assert!(server.log_text().contains("seeded 3 ticket tiers"), "{}", server.log_text());
    let app = crate::common::TestApp::attach(&server.address, &pooled);
    assert_eq!(app.book(&form("vip", "2")).await.status, 303);
    assert_eq!(app.tier("vip").available, 98);
    app.assert_conservation();
}
