//! The shop under test: its database (a SQLite file, or a PostgreSQL cluster of its own that
//! can crash), its server processes, and the faults.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rand::Rng;
use rand::rngs::StdRng;
use techkraft_tickets::booking::{Booking, BookingStatus, Refund, RefundStatus};
use techkraft_tickets::db::DbPool;
use techkraft_tickets::db::charge_checks::ChargeCheck;
use techkraft_tickets::db::schema::email_outbox;

use crate::common::{Backend, ServerProcess, TestDatabase, ThrowawayPg, fresh_database, pool_for};

/// The longest the soak waits for everything to settle after its load stops.
const MAX_SETTLE: Duration = Duration::from_secs(360);

/// The door staff's password in every run.
pub const DOOR_PASSWORD: &str = "door staff of the soak";

pub struct Cluster {
    pub database_url: String,
    pub ledger: PathBuf,
    /// A pool of the soak's own, to look at the database at the end.
    pub pool: DbPool,
    env: Vec<(String, String)>,
    servers: RefCell<Vec<Option<ServerProcess>>>,
    pg: Option<ThrowawayPg>,
    _sqlite: Option<TestDatabase>,
    dir: PathBuf,
}

impl Cluster {
    /// Starts the database and the server processes (one on SQLite, three on PostgreSQL).
    pub fn start(backend: Backend, seed: u64) -> Cluster {
        let dir = std::env::temp_dir().join(format!("tk-soak-{seed}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for the run");
        let (database_url, pg, sqlite) = match backend {
            Backend::Sqlite => {
                let database = fresh_database(Backend::Sqlite);
                (database.url.clone(), None, Some(database))
            }
            Backend::Postgres => {
                let pg = ThrowawayPg::start();
                let mut admin = diesel::PgConnection::establish(&pg.url()).expect("the soak's PostgreSQL");
                diesel::sql_query("CREATE DATABASE soak").execute(&mut admin).expect("create the database");
                let url = pg.url();
                let (server, _) = url.rsplit_once('/').expect("a database name");
                (format!("{server}/soak"), Some(pg), None)
            }
        };
        let ledger = dir.join("ledger");
        let env: Vec<(String, String)> = [
            // Payments: a quarter declined, some slower than one-second holds, a few made at
            // once but answered long after the shop stopped waiting (HOLD_TTL_SECS is set per
            // process, see `spawn`).
            ("PAYMENT_SUCCESS_RATE", "0.75"),
            ("PAYMENT_DELAY_MS", "0-1200"),
            ("PAYMENT_HANG_RATE", "0.03"),
            ("PAYMENT_TIMEOUT_MS", "1500"),
            ("PAYMENT_REFUND_FAILURE_RATE", "0.3"),
            ("REFUND_RETRY_BASE_MS", "100"),
            ("PAYMENT_LEDGER", ledger.to_str().expect("a path")),
            ("DOOR_PASSWORD", DOOR_PASSWORD),
            ("EMAIL_OUTBOX_DIR", dir.join("outbox").to_str().expect("a path")),
            ("EMAIL_RETRY_BASE_MS", "100"),
            ("RUST_LOG", "warn,techkraft_tickets=info"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let count = if backend == Backend::Sqlite { 1 } else { 3 };
        let cluster = Cluster {
            pool: pool_for(&database_url),
            database_url,
            ledger,
            env,
            servers: RefCell::new(Vec::new()),
            pg,
            _sqlite: sqlite,
            dir,
        };
        let servers = (0..count).map(|i| Some(cluster.spawn(i))).collect();
        *cluster.servers.borrow_mut() = servers;
        cluster
    }

    /// The settings of the `n`th process started: every other one holds seats for one second
    /// (shorter than the payment timeout, so slow payments outlive their holds and are settled
    /// late), the others for three (so a payment that hangs is given up on while its hold is
    /// still held, and a charge found later settles a `payment_failed` booking).
    fn env_for(&self, n: usize) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.push(("HOLD_TTL_SECS".into(), if n % 2 == 0 { "1" } else { "3" }.into()));
        env
    }

    fn spawn(&self, n: usize) -> ServerProcess {
        let env = self.env_for(n);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        ServerProcess::start(&self.database_url, &env)
    }

    /// The address of a live process, chosen by `rng` (`None` while all are down).
    pub fn address(&self, rng: &mut StdRng) -> Option<String> {
        let servers = self.servers.borrow();
        let live: Vec<&ServerProcess> = servers.iter().flatten().collect();
        (!live.is_empty()).then(|| live[rng.random_range(0..live.len())].address.clone())
    }

    /// Until `deadline`: every 3–7 s a fault. A server process is SIGKILLed and restarted
    /// 0.2–1.5 s later; on PostgreSQL, one fault in four instead crashes the database
    /// (immediate stop) and starts it again 0.5–2 s later. Returns how many faults it made.
    pub async fn inject_faults(&self, mut rng: StdRng, deadline: Instant) -> usize {
        let mut faults = 0;
        loop {
            let pause = Duration::from_millis(rng.random_range(3_000..7_000));
            if Instant::now() + pause >= deadline {
                break;
            }
            actix_rt::time::sleep(pause).await;
            let down = Duration::from_millis(rng.random_range(200..1_500));
            match &self.pg {
                Some(pg) if rng.random_bool(0.25) => {
                    pg.stop("immediate");
                    actix_rt::time::sleep(down + Duration::from_millis(300)).await;
                    pg.up();
                }
                _ => {
                    let i = rng.random_range(0..self.servers.borrow().len());
                    let victim = self.servers.borrow_mut()[i].take();
                    if let Some(victim) = victim {
                        victim.signal("KILL");
                        drop(victim);
                    }
                    actix_rt::time::sleep(down).await;
                    let (url, env) = (self.database_url.clone(), self.env_for(faults + i + 1));
                    let restarted = actix_rt::task::spawn_blocking(move || {
                        let env: Vec<(&str, &str)> =
                            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                        ServerProcess::start(&url, &env)
                    })
                    .await
                    .expect("restart the server");
                    self.servers.borrow_mut()[i] = Some(restarted);
                }
            }
            faults += 1;
        }
        faults
    }

    /// Waits until nothing is left half done: no hold, no charge the reconciliation has yet to
    /// ask about, no refund owed, no email unsent. The checker says what did not settle.
    ///
    /// The wait is `timeout`, or longer while a refund owed has its next attempt scheduled
    /// later (then until that attempt has had time to run; at most [`MAX_SETTLE`]): a refund
    /// the gateway refused many times in a row waits out its backoff, which doubles per attempt
    /// up to five minutes, and an attempt cut off by a SIGKILL counts too. (A run once ended
    /// with a refund at attempt 11, due again 102 s later, while the wait was a flat 120 s.)
    pub async fn settle(&self, timeout: Duration) {
        let started = Instant::now();
        let mut deadline = started + timeout;
        loop {
            if self.is_settled().unwrap_or(false) {
                return;
            }
            if let Ok(Some(next)) = self.next_refund_attempt() {
                deadline = deadline.max(Instant::now() + next + Duration::from_secs(10));
            }
            if Instant::now() >= deadline.min(started + MAX_SETTLE) {
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// How long until the latest scheduled attempt of a refund owed, if one is owed.
    fn next_refund_attempt(&self) -> Result<Option<Duration>, Box<dyn std::error::Error>> {
        let mut c = self.pool.get()?;
        let now = techkraft_tickets::clock::now_millis();
        let latest = Refund::all(&mut c)?
            .iter()
            .filter(|r| r.status != RefundStatus::Done)
            .map(|r| r.next_attempt_at)
            .max();
        Ok(latest.map(|at| Duration::from_millis(at.saturating_sub(now).max(0) as u64)))
    }

    fn is_settled(&self) -> Result<bool, Box<dyn std::error::Error>> {
        let mut c = self.pool.get()?;
        let held = Booking::recent(&mut c, i64::MAX)?.iter().any(|b| b.status == BookingStatus::Held);
        let refunds_owed = Refund::all(&mut c)?.iter().any(|r| r.status != RefundStatus::Done);
        let unsent: i64 =
            email_outbox::table.filter(email_outbox::status.ne("sent")).count().get_result(&mut c)?;
        Ok(!held && !refunds_owed && unsent == 0 && ChargeCheck::count(&mut c)? == 0)
    }

    /// The log of every process running now, for a failed run's report.
    pub fn logs(&self) -> String {
        self.servers.borrow().iter().flatten().map(ServerProcess::log_text).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.servers.borrow_mut().clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
