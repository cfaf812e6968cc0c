//! Test harness: start the real application on a random port with a fresh database (a new
//! SQLite file, or a new database in the PostgreSQL named by `TEST_DATABASE_URL`), and talk
//! HTTP to it.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod cluster;
pub mod rush;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use techkraft_tickets::db::models::{Booking, BookingStatus, Tier};
use techkraft_tickets::db::{DbPool, build_pool};
use techkraft_tickets::payment::{ChargeFuture, PaymentGateway, RefundFuture, SimulatedGateway};
use techkraft_tickets::settings::Settings;
use techkraft_tickets::startup::Application;

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one async test body against both backends, as two tests named `<name>::sqlite` and
/// `<name>::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[actix_rt::test]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[actix_rt::test]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )+
    };
}

/// A fresh, empty database for one test; the URL to give `DATABASE_URL`.
pub fn fresh_database(backend: Backend) -> String {
    let name = format!("tk_test_{}", techkraft_tickets::settings::random_token(12).to_lowercase());
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("techkraft-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}", dir.join(format!("{name}.sqlite3")).display())
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
            format!("{server}/{name}")
        }
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
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain(cluster::inherited_settings())
    .collect();
    for (k, v) in overrides {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

/// A payment gateway that counts what it is asked to do.
pub struct CountingGateway {
    inner: SimulatedGateway,
    pub charges: AtomicUsize,
    pub refunds: AtomicUsize,
}

impl Default for CountingGateway {
    fn default() -> Self {
        Self {
            inner: SimulatedGateway {
                success_rate: 1.0,
                delay: techkraft_tickets::settings::DelayRange { min_ms: 0, max_ms: 0 },
            },
            charges: AtomicUsize::new(0),
            refunds: AtomicUsize::new(0),
        }
    }
}

impl PaymentGateway for CountingGateway {
    fn charge(&self, amount_cents: i64, reference: &str) -> ChargeFuture {
        self.charges.fetch_add(1, Ordering::SeqCst);
        self.inner.charge(amount_cents, reference)
    }

    fn refund(&self, transaction_id: &str, amount_cents: i64) -> RefundFuture {
        self.refunds.fetch_add(1, Ordering::SeqCst);
        self.inner.refund(transaction_id, amount_cents)
    }
}

/// A running application and a way to look inside its database.
pub struct TestApp {
    pub address: String,
    pub database_url: String,
    pub pool: DbPool,
    pub gateway: Arc<CountingGateway>,
    pub client: awc::Client,
}

/// Starts the app in this test's runtime on a random port with a fresh database.
pub async fn spawn_app(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_on(&fresh_database(backend), overrides).await
}

/// Starts the app on a given database URL.
pub async fn spawn_app_on(database_url: &str, overrides: &[(&str, &str)]) -> TestApp {
    let database_url = database_url.to_owned();
    let settings = test_settings(&database_url, overrides);
    let gateway = Arc::new(CountingGateway {
        inner: SimulatedGateway {
            success_rate: settings.payment_success_rate,
            delay: settings.payment_delay,
        },
        charges: AtomicUsize::new(0),
        refunds: AtomicUsize::new(0),
    });
    let pool = build_pool(&settings).expect("test pool");
    let app = Application::build_with_gateway(settings, gateway.clone()).expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_rt::spawn(app.run_until_stopped());
    TestApp { address, database_url, pool, gateway, client: client() }
}

/// An HTTP client that shows redirects instead of following them.
pub fn client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(60))
        .connector(awc::Connector::new().limit(0))
        .finish()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> Option<String> {
        self.headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// The booking reference a `303` points at.
    pub fn reference(&self) -> Option<String> {
        self.location().and_then(|l| l.strip_prefix("/bookings/").map(str::to_owned))
    }
}

async fn read<S>(mut response: awc::ClientResponse<S>) -> Answer
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = response.body().limit(8 * 1024 * 1024).await.expect("read body");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Answer {
        read(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = self.client.get(self.url(path));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        read(req.send().await.expect("GET")).await
    }

    /// Posts raw bytes with a content type and extra headers.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.client.post(self.url(path)).insert_header(("content-type", content_type));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        read(req.send_body(body.into()).await.expect("POST")).await
    }

    /// Posts the booking form (any serialisable list of pairs). The body is encoded before
    /// the future starts, so the fields need not outlive it.
    pub fn book<T: serde::Serialize + ?Sized>(&self, fields: &T) -> impl Future<Output = Answer> + '_ {
        let body = serde_urlencoded::to_string(fields).expect("form");
        async move { self.post_raw("/bookings", "application/x-www-form-urlencoded", body, &[]).await }
    }

    /// Posts the booking form as htmx does.
    pub fn book_htmx<T: serde::Serialize + ?Sized>(&self, fields: &T) -> impl Future<Output = Answer> + '_ {
        let body = serde_urlencoded::to_string(fields).expect("form");
        async move {
            self.post_raw("/bookings", "application/x-www-form-urlencoded", body, &[("HX-Request", "true")])
                .await
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

    /// Sets a tier's available seats directly, moving the difference into `withheld` so the
    /// conservation rule holds (as the admin action does).
    pub fn set_available(&self, tier_id: &str, available: i32) {
        use techkraft_tickets::db::schema::ticket_tiers::dsl as t;
        let tier = self.tier(tier_id);
        let withheld = tier.capacity - available;
        diesel::update(t::ticket_tiers.find(tier_id))
            .set((t::available.eq(available), t::withheld.eq(withheld)))
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
                .filter(|b| b.tier_id == tier.id && b.status().occupies_seats())
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
        self.bookings().iter().filter(|b| b.status() == status).count()
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

/// The server binary running as a child process, for tests that kill or restart it.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub address: String,
    /// Everything the process wrote to stderr (its log), line by line.
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `techkraft-tickets` with test settings plus `envs`, and waits until it listens.
    pub fn start(database_url: &str, envs: &[(&str, &str)]) -> ServerProcess {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_techkraft-tickets"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("ADMIN_PASSWORD", "correct horse battery staple")
            .env("PAYMENT_SUCCESS_RATE", "1")
            .env("PAYMENT_DELAY_MS", "0")
            .env("RATE_LIMIT_BOOKINGS_PER_MIN", "0")
            .env("RATE_LIMIT_SIGNIN_PER_MIN", "0")
            .env("RUST_LOG", "info,actix_web::middleware::logger=warn")
            .envs(cluster::inherited_settings());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the server binary");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
                sink.lock().expect("log").push(line);
            }
        });
        let address = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; its log:\n{}", log.lock().expect("log").join("\n"));
            }
        };
        ServerProcess { child, address, log }
    }

    /// Sends a signal by name (`KILL`, `TERM`) to the process.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    pub fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pool on an existing test database (to look at what a server process did).
pub fn pool_for(database_url: &str) -> DbPool {
    build_pool(&test_settings(database_url, &[])).expect("pool")
}

/// The `value` of the first `<input … name="NAME" value="…">` in a page.
pub fn hidden_field(body: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_owned())
}

/// `name=value` pairs of the cookies a response sets (attributes dropped).
pub fn set_cookies(answer: &Answer) -> Vec<(String, String, String)> {
    answer
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned(), attributes.to_owned()))
        })
        .collect()
}

/// A signed-in admin: the session cookie and the CSRF token its pages carry.
pub struct Admin {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// Tries to sign in with `password`; returns the answer of the POST.
    pub async fn try_sign_in(&self, password: &str) -> Answer {
        let form = self.get("/admin/login").await;
        let token = hidden_field(&form.body, "csrf_token").expect("sign-in form has a CSRF token");
        let cookie =
            set_cookies(&form).into_iter().map(|(n, v, _)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
        let body =
            serde_urlencoded::to_string([("csrf_token", token.as_str()), ("password", password)]).unwrap();
        self.post_raw("/admin/login", "application/x-www-form-urlencoded", body, &[("Cookie", &cookie)]).await
    }

    /// Signs in with the test password.
    pub async fn sign_in(&self) -> Admin {
        let answer = self.try_sign_in("correct horse battery staple").await;
        assert_eq!(answer.status, 303, "sign-in: {}", answer.body);
        let (name, value, _) = set_cookies(&answer)
            .into_iter()
            .find(|(n, v, _)| n == "tk_admin" && !v.is_empty())
            .expect("session cookie");
        let cookie = format!("{name}={value}");
        let dashboard = self.get_with("/admin", &[("Cookie", &cookie)]).await;
        assert_eq!(dashboard.status, 200);
        let csrf = hidden_field(&dashboard.body, "csrf_token").expect("dashboard has a CSRF token");
        Admin { cookie, csrf }
    }

    /// Posts an admin form as `admin`, with its CSRF token unless `fields` brings one. The
    /// body is encoded before the future starts.
    pub fn admin_post<'a>(
        &'a self,
        admin: &Admin,
        path: &str,
        fields: &[(&str, &str)],
    ) -> impl Future<Output = Answer> + use<'a> {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(k, _)| *k == "csrf_token") {
            all.push(("csrf_token", &admin.csrf));
        }
        let body = serde_urlencoded::to_string(&all).unwrap();
        let (path, cookie) = (path.to_owned(), admin.cookie.clone());
        async move {
            self.post_raw(&path, "application/x-www-form-urlencoded", body, &[("Cookie", &cookie)]).await
        }
    }
}

/// A TCP forwarder between the app and its PostgreSQL that a test can cut (every open
/// connection dropped, new ones refused) and restore: a database outage without stopping the
/// server other tests share.
pub struct TcpProxy {
    pub port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl TcpProxy {
    pub fn start(upstream: std::net::SocketAddr) -> TcpProxy {
        use std::net::{Shutdown, TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listens");
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let open: Arc<std::sync::Mutex<Vec<TcpStream>>> = Arc::default();
        let (up2, open2) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                let mut list = open2.lock().unwrap();
                for s in [&client, &server] {
                    if let Ok(clone) = s.try_clone() {
                        list.push(clone);
                    }
                }
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        TcpProxy { port, up, open }
    }

    /// The database "goes away".
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The database is back.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The host:port of a PostgreSQL URL such as `postgres://user@127.0.0.1:5432/db`.
pub fn pg_socket(url: &str) -> std::net::SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h).split('/').next().unwrap();
    let host_port = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:5432") };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port).unwrap().next().unwrap()
}

/// A PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port), for tests that stop
/// and start the database itself. Removed on drop.
pub struct ThrowawayPg {
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
    as_postgres: bool,
}

impl ThrowawayPg {
    pub fn start() -> ThrowawayPg {
        let bin = std::env::var("TEST_PG_BIN").map(std::path::PathBuf::from).unwrap_or_else(|_| {
            let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
                .expect("PostgreSQL server programs under /usr/lib/postgresql")
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect();
            found.sort();
            found.pop().expect("initdb found")
        });
        let dir = std::env::current_dir()
            .unwrap()
            .join("target")
            .join(format!("throwaway-pg-{}", techkraft_tickets::settings::random_token(8).to_lowercase()));
        std::fs::create_dir_all(&dir).unwrap();
        let as_postgres =
            std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
        if as_postgres {
            let ok =
                std::process::Command::new("chown").arg("postgres:").arg(&dir).status().unwrap().success();
            assert!(ok, "chown the cluster folder to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = ThrowawayPg { data: dir.join("data"), bin, dir, port, as_postgres };
        let initdb = pg.run(
            "initdb",
            &["-D", pg.data.to_str().unwrap(), "-U", "postgres", "--auth=trust", "--no-instructions"],
        );
        assert!(initdb, "initdb");
        pg.up();
        pg
    }

    fn run(&self, program: &str, args: &[&str]) -> bool {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            std::process::Command::new(&path)
        };
        cmd.args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn up(&self) {
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let log = self.dir.join("server.log");
        let ok = self.run(
            "pg_ctl",
            &["-D", self.data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "-o", &options, "start"],
        );
        assert!(ok, "pg_ctl start");
    }

    /// Stops the server (fast shutdown: sessions are cut).
    pub fn down(&self) {
        assert!(
            self.run("pg_ctl", &["-D", self.data.to_str().unwrap(), "-m", "fast", "-w", "stop"]),
            "pg_ctl stop"
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ThrowawayPg {
    fn drop(&mut self) {
        self.run("pg_ctl", &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl ServerProcess {
    /// Posts a booking form to this process in the background; the task resolves to the
    /// status, or `None` if the process died before answering.
    pub fn book_in_background(&self, tier: &str, quantity: &str) -> actix_rt::task::JoinHandle<Option<u16>> {
        let body = serde_urlencoded::to_string(form(tier, quantity)).expect("form");
        let url = format!("{}/bookings", self.address);
        actix_rt::spawn(async move {
            client()
                .post(url)
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .send_body(body)
                .await
                .ok()
                .map(|r| r.status().as_u16())
        })
    }
}

/// Waits until some booking in the database is `held` (a payment is in flight).
pub async fn until_a_booking_is_held(pool: &DbPool) {
    eventually("a booking to be held", Duration::from_secs(10), || {
        Booking::recent(&mut pool.get().expect("connection"), 10)
            .expect("query")
            .iter()
            .any(|b| b.status() == BookingStatus::Held)
    })
    .await;
}
