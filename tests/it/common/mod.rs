//! Test harness: start the real application on a random port with a fresh database (a new
//! SQLite file, or a new database in the PostgreSQL named by `TEST_DATABASE_URL`, dropped
//! again when the test ends), and talk HTTP to it.
//!
//! - `app`: the application in the test's runtime, its database, and looking inside it;
//! - `http`: the client and the answers it reads;
//! - `process`: the server binary as a child process, for tests that kill or restart it;
//! - `pg`: PostgreSQL clusters and proxies of a test's own, for outages;
//! - `pipeline`: the booking pipeline's batches driven directly, and a gateway on cue;
//! - `admin`: signing in and posting admin forms;
//! - `door`: door staff and ticket codes;
//! - `queue`: fans of the waiting room, with their cookies;
//! - `rush`: many buyers at once;
//! - `smtp`: a real SMTP server (aiosmtpd) and reading what it received.

pub mod admin;
pub mod app;
pub mod cluster;
pub mod door;
pub mod haproxy;
pub mod http;
pub mod pg;
pub mod pipeline;
pub mod process;
pub mod queue;
pub mod rush;
pub mod smtp;

pub use admin::*;
pub use app::*;
pub use door::*;
pub use http::*;
pub use pg::*;
pub use pipeline::*;
pub use process::*;
pub use smtp::*;

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
                    require_postgres!();
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )+
    };
}

/// Whether the PostgreSQL tests can run: they need `TEST_DATABASE_URL`, a server to create
/// test databases in (`./scripts/test` starts a throwaway one and sets it). Without it, says
/// so in one line (once per test binary, past the output capture) and the test passes.
pub fn postgres_configured() -> bool {
    static SAID: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("TEST_DATABASE_URL").is_some() {
        return true;
    }
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipping the PostgreSQL tests: TEST_DATABASE_URL is unset; run ./scripts/test (it starts a \
             throwaway PostgreSQL), or set TEST_DATABASE_URL=postgres://USER@HOST/DB (a user that may create databases)"
        );
    });
    false
}

/// The first line of a test that needs PostgreSQL: returns at once without `TEST_DATABASE_URL`.
#[macro_export]
macro_rules! require_postgres {
    () => {
        if !$crate::common::postgres_configured() {
            return;
        }
    };
}
