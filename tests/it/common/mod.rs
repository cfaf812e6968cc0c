//! Test harness: start the real application on a random port with a fresh database (a new
//! SQLite file, or a new database in the PostgreSQL named by `TEST_DATABASE_URL`, dropped
//! again when the test ends), and talk HTTP to it.
//!
//! - `app`: the application in the test's runtime, its database, and looking inside it;
//! - `http`: the client and the answers it reads;
//! - `process`: the server binary as a child process, for tests that kill or restart it;
//! - `pg`: PostgreSQL clusters and proxies of a test's own, for outages;
//! - `admin`: signing in and posting admin forms;
//! - `door`: door staff and ticket codes;
//! - `queue`: fans of the waiting room, with their cookies;
//! - `rush`: many buyers at once;
//! - `smtp`: a real SMTP server (aiosmtpd) and reading what it received.

pub mod admin;
pub mod app;
pub mod cluster;
pub mod door;
pub mod http;
pub mod pg;
pub mod process;
pub mod queue;
pub mod rush;
pub mod smtp;

pub use admin::*;
pub use app::*;
pub use door::*;
pub use http::*;
pub use pg::*;
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
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )+
    };
}
