//! The server binary as a child process, for tests that kill, signal or restart it.

use std::sync::Arc;
use std::time::Duration;

use techkraft_tickets::booking::{Booking, BookingStatus};
use techkraft_tickets::db::{DbPool, build_pool};

use super::app::{eventually, form, test_settings};
use super::http::client;

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
        let mut cmd = std::process::Command::new(server_binary());
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("ADMIN_PASSWORD", "correct horse battery staple")
            .env("PAYMENT_SUCCESS_RATE", "1")
            .env("PAYMENT_DELAY_MS", "0")
            .env("RATE_LIMIT_BOOKINGS_PER_MIN", "0")
            .env("RATE_LIMIT_SIGNIN_PER_MIN", "0")
            .env("RATE_LIMIT_ADMIN_PER_MIN", "0")
            .env("RATE_LIMIT_LOOKUPS_PER_MIN", "0")
            // Tests play many clients from one address.
            .env("MAX_CONNECTIONS_PER_CLIENT", "100000")
            .env("EMAIL_OUTBOX_DIR", super::app::outbox_dir())
            .env("RUST_LOG", "info,actix_web::middleware::logger=warn")
            .envs(super::cluster::inherited_settings());
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

    /// The process's resident memory now (VmRSS), in KiB.
    pub fn resident_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
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
            .any(|b| b.status == BookingStatus::Held)
    })
    .await;
}

/// The server binary: `TK_SERVER_BIN` when set, else the one cargo built with the tests.
///
/// The benches set it to the binary `cargo build --release` makes: the one cargo builds with
/// tests and benches has the features their dev-dependencies ask of shared crates too (awc
/// turns on actix-http's HTTP/2, which doubles the memory every open connection's task takes),
/// so it is not the binary a newcomer or production runs.
pub fn server_binary() -> std::path::PathBuf {
    std::env::var_os("TK_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_techkraft-tickets").into())
}
