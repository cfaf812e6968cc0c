//! The application under test, in the test's own runtime, on a database of its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use techkraft_tickets::booking::{Booking, BookingStatus, Tier};
use techkraft_tickets::db::{DbPool, build_pool};
use techkraft_tickets::payment::{
    ChargeFuture, LookupFuture, PaymentGateway, RefundFuture, SimulatedGateway,
};
use techkraft_tickets::settings::Settings;
use techkraft_tickets::startup::Application;

use super::Backend;
use super::http::client;

/// A database of one test's own; dropped (PostgreSQL) or deleted (SQLite) with this value.
/// Dereferences to its URL.
pub struct TestDatabase {
    pub url: String,
    backend: Backend,
    name: String,
}

impl std::ops::Deref for TestDatabase {
    type Target = str;

    fn deref(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{path}{suffix}"));
                }
            }
            Backend::Postgres => {
                // Never panic here: this may run while a failed test unwinds.
                let Ok(base) = std::env::var("TEST_DATABASE_URL") else { return };
                if let Ok(mut admin) = diesel::PgConnection::establish(&base) {
                    let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
                    if let Err(e) = diesel::sql_query(drop).execute(&mut admin) {
                        eprintln!("could not drop test database {}: {e}", self.name);
                    }
                }
            }
        }
    }
}

/// A fresh, empty database for one test; the URL to give `DATABASE_URL`.
pub fn fresh_database(backend: Backend) -> TestDatabase {
    let name = format!("tk_test_{}", techkraft_tickets::settings::random_token(12).to_lowercase());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("techkraft-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            let url = format!("sqlite://{}", dir.join(format!("{name}.sqlite3")).display());
            TestDatabase { url, backend, name }
        }
        Backend::Postgres => {
            let base = std::env::var("TEST_DATABASE_URL").expect(
                "PostgreSQL tests need TEST_DATABASE_URL (a server to create test databases in); \
                 run ./scripts/test, which starts a throwaway one",
            );
            let mut admin = diesel::PgConnection::establish(&base).expect("connect to TEST_DATABASE_URL");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .expect("create test database");
            let (server, _db) = base.rsplit_once('/').expect("TEST_DATABASE_URL has a database name");
            TestDatabase { url: format!("{server}/{name}"), backend, name }
        }
    }
}

/// Where emails go as `.eml` files in tests that set no `SMTP_URL`.
pub fn outbox_dir() -> &'static str {
    static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIR.get_or_init(|| std::env::temp_dir().join("techkraft-tests").join("outbox").display().to_string())
}

/// A folder of one test's own under the system's temp dir, removed with everything in it when
/// dropped, also when the test fails.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("{prefix}-{}", techkraft_tickets::settings::random_token(8)));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Settings for a test: quiet, fast and deterministic unless overridden.
pub fn test_settings(database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url),
        ("BIND_ADDR", "127.0.0.1:0"),
        ("ADMIN_PASSWORD", "correct horse battery staple"),
        ("PAYMENT_SUCCESS_RATE", "1"),
        ("PAYMENT_DELAY_MS", "0"),
        ("RATE_LIMIT_BOOKINGS_PER_MIN", "0"),
        ("RATE_LIMIT_SIGNIN_PER_MIN", "0"),
        ("RATE_LIMIT_ADMIN_PER_MIN", "0"),
        ("RATE_LIMIT_LOOKUPS_PER_MIN", "0"),
        // Tests play many clients from one address.
        ("MAX_CONNECTIONS_PER_CLIENT", "100000"),
        // Tests change the database behind the app's back: no availability snapshot unless a
        // test asks for one (the snapshot's own tests set a bound).
        ("AVAILABILITY_MAX_AGE_MS", "0"),
        // Emails as files in a folder of the tests' own (never the working copy's data/).
        ("EMAIL_OUTBOX_DIR", outbox_dir()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain(super::cluster::inherited_settings())
    .collect();
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

/// A payment gateway that counts what it is asked to do.
pub struct CountingGateway {
    inner: Arc<dyn PaymentGateway>,
    pub charges: AtomicUsize,
    /// Refund calls, failed ones included.
    pub refunds: AtomicUsize,
    /// Successful refund answers per idempotency key (a booking): more than one means a
    /// refund already paid was asked for again.
    pub refunded: Arc<std::sync::Mutex<HashMap<String, usize>>>,
}

impl CountingGateway {
    pub fn new(inner: Arc<dyn PaymentGateway>) -> Self {
        Self { inner, charges: AtomicUsize::new(0), refunds: AtomicUsize::new(0), refunded: Arc::default() }
    }

    /// Bookings refunded, each with how many successful refund answers it got.
    pub fn refunded(&self) -> HashMap<String, usize> {
        self.refunded.lock().expect("refunds").clone()
    }
}

impl Default for CountingGateway {
    fn default() -> Self {
        Self::new(Arc::new(SimulatedGateway::new(
            1.0,
            techkraft_tickets::settings::DelayRange { min_ms: 0, max_ms: 0 },
        )))
    }
}

impl PaymentGateway for CountingGateway {
    fn charge(&self, amount_cents: i64, idempotency_key: &str) -> ChargeFuture {
        self.charges.fetch_add(1, Ordering::SeqCst);
        self.inner.charge(amount_cents, idempotency_key)
    }

    fn find_charge(&self, idempotency_key: &str) -> LookupFuture {
        self.inner.find_charge(idempotency_key)
    }

    fn refund(&self, charge_id: &str, amount_cents: i64, idempotency_key: &str) -> RefundFuture {
        self.refunds.fetch_add(1, Ordering::SeqCst);
        let refund = self.inner.refund(charge_id, amount_cents, idempotency_key);
        let (refunded, key) = (self.refunded.clone(), idempotency_key.to_owned());
        Box::pin(async move {
            let result = refund.await;
            if result.is_ok() {
                *refunded.lock().expect("refunds").entry(key).or_default() += 1;
            }
            result
        })
    }
}

/// A running application and a way to look inside its database.
pub struct TestApp {
    pub address: String,
    pub pool: DbPool,
    pub gateway: Arc<CountingGateway>,
    pub client: awc::Client,
    /// The database, when this app owns it (dropped last).
    pub database: Option<TestDatabase>,
}

/// Starts the app in this test's runtime on a random port with a fresh database.
pub async fn spawn_app(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let _ = env_logger::builder().is_test(true).try_init();
    let database = fresh_database(backend);
    let mut app = spawn_app_on(&database, overrides).await;
    app.database = Some(database);
    app
}

/// Starts the app on a given database URL.
pub async fn spawn_app_on(database_url: &str, overrides: &[(&str, &str)]) -> TestApp {
    let settings = test_settings(database_url, overrides);
    let gateway = Arc::new(techkraft_tickets::startup::simulated_gateway(&settings));
    spawn_app_with_gateway(database_url, overrides, gateway).await
}

/// Starts the app on a given database URL with a gateway of the test's own (counted).
pub async fn spawn_app_with_gateway(
    database_url: &str,
    overrides: &[(&str, &str)],
    inner: Arc<dyn PaymentGateway>,
) -> TestApp {
    let settings = test_settings(database_url, overrides);
    let gateway = Arc::new(CountingGateway::new(inner));
    let pool = build_pool(&settings).expect("test pool");
    let app = Application::build_with_gateway(settings, gateway.clone()).expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_rt::spawn(app.run_until_stopped());
    TestApp { address, pool, gateway, client: client(), database: None }
}

impl TestApp {
    /// A handle on a server running elsewhere (a child process) on `database_url`, to talk to
    /// it and look into its database.
    pub fn attach(address: &str, database_url: &str) -> TestApp {
        TestApp {
            address: address.to_owned(),
            pool: build_pool(&test_settings(database_url, &[])).expect("pool"),
            gateway: Arc::new(CountingGateway::default()),
            client: client(),
            database: None,
        }
    }

    /// A database connection for looking at (or arranging) rows.
    pub fn conn(&self) -> techkraft_tickets::db::PooledConn {
        self.pool.get().expect("test connection")
    }

    pub fn tier(&self, id: &str) -> Tier {
        Tier::find(&mut self.conn(), id).expect("query").expect("tier exists")
    }

    pub fn bookings(&self) -> Vec<Booking> {
        Booking::recent(&mut self.conn(), 100_000).expect("query")
    }

    /// Sets a tier's available seats directly, moving the difference to or from `withheld` so
    /// the conservation rule holds (as the admin action does).
    pub fn set_available(&self, tier_id: &str, available: i32) {
        use techkraft_tickets::db::schema::ticket_tiers::dsl as t;
        diesel::update(t::ticket_tiers.find(tier_id))
            .set((
                t::withheld.eq(t::withheld + t::available - available),
                t::available.eq(available),
                t::version.eq(t::version + 1),
            ))
            .execute(&mut self.conn())
            .expect("set available");
    }

    /// Asserts SPEC §5's conservation rule for every tier:
    /// available + seats in held and confirmed bookings + withheld = capacity, available >= 0.
    pub fn assert_conservation(&self) {
        let bookings = self.bookings();
        for tier in Tier::all(&mut self.conn()).expect("tiers") {
            let occupied: i32 = bookings
                .iter()
                .filter(|b| b.tier_id == tier.id && b.status.occupies_seats())
                .map(|b| b.quantity)
                .sum();
            assert!(tier.available >= 0, "{} has negative availability: {tier:?}", tier.id);
            assert_eq!(
                tier.available + occupied + tier.withheld,
                tier.capacity,
                "conservation broken for {}: available {} + held/confirmed {occupied} + withheld {} != capacity {}",
                tier.id,
                tier.available,
                tier.withheld,
                tier.capacity
            );
        }
    }

    pub fn count_with_status(&self, status: BookingStatus) -> usize {
        self.bookings().iter().filter(|b| b.status == status).count()
    }
}

/// A valid booking form for `tier` and `quantity` with a fresh idempotency key.
pub fn form(tier: &str, quantity: &str) -> Vec<(&'static str, String)> {
    vec![
        ("tier", tier.to_owned()),
        ("quantity", quantity.to_owned()),
        ("name", "Ada Lovelace".to_owned()),
        ("email", "ada@example.com".to_owned()),
        ("idempotency_key", techkraft_tickets::settings::random_token(20)),
    ]
}

/// Waits until `check` holds, polling; panics with `what` after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for: {what}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}
