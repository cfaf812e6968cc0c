//! Real infrastructure for the uptime tests: a PostgreSQL primary with a synchronous standby
//! (initdb, `pg_basebackup -R`), a cluster with password authentication, HAProxy in front of
//! server processes (`haproxy.rs`), and free ports on 127.0.0.1. Everything stops when dropped.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;

pub use super::haproxy::Haproxy;

/// Settings that the test runner's environment passes on to every application under test:
/// `scripts/test` sets `DB_STATEMENT_CACHE=off` for its pass through PgBouncer.
pub fn inherited_settings() -> Vec<(String, String)> {
    ["DB_STATEMENT_CACHE"]
        .into_iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_owned(), v)))
        .collect()
}

/// A port nobody listens on right now, below Linux's ephemeral range (32768 and up), so that
/// the client end of some connection cannot take it while a server restarts on it.
pub fn free_port() -> u16 {
    use rand::Rng;
    let start: u16 = rand::rng().random_range(20_000..32_000);
    (start..32_000)
        .chain(20_000..start)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 32000")
}

/// The PostgreSQL server programs (`TEST_PG_BIN`, else the newest under /usr/lib/postgresql).
pub fn pg_bin() -> PathBuf {
    std::env::var("TEST_PG_BIN").map(PathBuf::from).unwrap_or_else(|_| {
        let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server programs under /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .collect();
        found.sort();
        found.pop().expect("initdb found")
    })
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

/// A folder under target/ for one test's clusters, owned by the user PostgreSQL runs as.
struct Scratch {
    dir: PathBuf,
    as_postgres: bool,
}

impl Scratch {
    fn new(prefix: &str) -> Scratch {
        let dir = std::env::current_dir()
            .unwrap()
            .join("target")
            .join(format!("{prefix}-{}", techkraft_tickets::settings::random_token(8).to_lowercase()));
        std::fs::create_dir_all(&dir).unwrap();
        let as_postgres = running_as_root();
        if as_postgres {
            // initdb refuses to run as root.
            assert!(Command::new("chown").arg("postgres:").arg(&dir).status().unwrap().success());
        }
        Scratch { dir, as_postgres }
    }

    /// Runs a PostgreSQL program (as the postgres user when we are root); its output goes to
    /// `log` in the scratch folder. Panics with that output when it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let path = pg_bin().join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let output = cmd.args(args).stdin(Stdio::null()).output().expect("run a PostgreSQL program");
        assert!(
            output.status.success(),
            "{program} {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        if self.as_postgres {
            assert!(Command::new("chown").arg("postgres:").arg(&path).status().unwrap().success());
        }
        path
    }
}

/// One PostgreSQL server of a test's own.
pub struct PgNode {
    pub port: u16,
    data: PathBuf,
}

impl PgNode {
    /// A new cluster in `scratch`'s folder `name` (clients trusted), on a free port, not started.
    fn init(scratch: &Scratch, name: &str) -> PgNode {
        let node = PgNode { port: free_port(), data: scratch.dir.join(name) };
        scratch.run(
            "initdb",
            &["-D", node.data.to_str().unwrap(), "-U", "postgres", "--auth=trust", "--no-instructions"],
        );
        node
    }

    fn start(&self, scratch: &Scratch, options: &[&str]) {
        let mut o = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, scratch.dir.display());
        for option in options {
            o.push_str(" -c ");
            o.push_str(option);
        }
        let log = self.data.with_extension("log");
        scratch.run(
            "pg_ctl",
            &["-D", self.data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "-o", &o, "start"],
        );
    }

    /// The process id of the postmaster, from its pid file.
    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?.lines().next()?.trim().parse().ok()
    }

    /// SIGKILL to the postmaster and every backend: the machine is gone, as far as clients
    /// can tell (connections reset, new ones refused).
    pub fn kill(&self) {
        let pid = self.postmaster_pid().expect("the server is running");
        let children = Command::new("ps").args(["-o", "pid=", "--ppid", &pid.to_string()]).output().unwrap();
        let mut pids = vec![pid.to_string()];
        pids.extend(String::from_utf8_lossy(&children.stdout).split_whitespace().map(str::to_owned));
        let mut kill = Command::new("kill");
        kill.arg("-KILL").args(&pids).stderr(Stdio::null());
        let _ = kill.status();
        // Gone (or a zombie) before this returns: a postmaster started again refuses while one
        // of them still holds the old shared memory.
        let alive = |pid: &String| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z'))
            })
        };
        wait_for("the killed server's processes to exit", Duration::from_secs(10), || {
            !pids.iter().any(alive)
        });
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A direct connection (no pool) for looking at rows.
    pub fn connect(&self, database: &str) -> diesel::PgConnection {
        diesel::PgConnection::establish(&self.url(database)).expect("connect to a test node")
    }
}

/// A primary with a synchronous standby streaming from it, on two free ports, both started.
/// A commit returns only once the standby has it (`synchronous_standby_names = '*'`,
/// `synchronous_commit = on`): that is what lets an answered booking survive the primary.
/// `fsync` is off to keep a busy CI machine fast; a SIGKILLed process loses nothing the
/// kernel already has, so the test proves the same thing.
pub struct ReplicatedPg {
    scratch: Scratch,
    pub primary: PgNode,
    pub standby: PgNode,
}

impl ReplicatedPg {
    /// Builds both clusters and a database `shop`, and waits until the standby is synchronous.
    pub fn start() -> ReplicatedPg {
        let scratch = Scratch::new("replicated-pg");
        let primary = PgNode::init(&scratch, "primary");
        primary.start(
            &scratch,
            &[
                "wal_level=replica",
                "max_wal_senders=4",
                "synchronous_standby_names='*'",
                "max_connections=100",
                "fsync=off",
            ],
        );
        let standby = PgNode { port: free_port(), data: scratch.dir.join("standby") };
        let primary_port = primary.port.to_string();
        scratch.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port,
                "-U",
                "postgres",
                "-D",
                standby.data.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
            ],
        );
        standby.start(&scratch, &["hot_standby=on", "max_connections=100", "fsync=off"]);
        let cluster = ReplicatedPg { scratch, primary, standby };
        let mut conn = cluster.primary.connect("postgres");
        wait_for("the standby to be synchronous", Duration::from_secs(30), || {
            diesel::sql_query("SELECT 1 AS one FROM pg_stat_replication WHERE sync_state = 'sync'")
                .execute(&mut conn)
                .is_ok_and(|rows| rows == 1)
        });
        // Created on the primary, replicated to the standby.
        diesel::sql_query("CREATE DATABASE shop").execute(&mut conn).expect("create database shop");
        cluster
    }

    /// The libpq multi-host URL the servers use: whichever of the two takes writes.
    pub fn multi_host_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/shop?target_session_attrs=read-write",
            self.primary.port, self.standby.port
        )
    }

    /// `pg_ctl promote` on the standby, waiting until it accepts writes.
    pub fn promote_standby(&self) {
        self.scratch.run("pg_ctl", &["-D", self.standby.data.to_str().unwrap(), "-w", "promote"]);
    }

    /// Makes the primary refuse writes without closing its sessions (SQLSTATE 25006 for
    /// every write from then on), as a demoted primary or a switchover does.
    pub fn make_primary_read_only(&self) {
        let mut conn = self.primary.connect("postgres");
        diesel::sql_query("ALTER SYSTEM SET default_transaction_read_only = on").execute(&mut conn).unwrap();
        diesel::sql_query("SELECT pg_reload_conf()").execute(&mut conn).unwrap();
    }
}

impl Drop for ReplicatedPg {
    fn drop(&mut self) {
        for node in [&self.primary, &self.standby] {
            if node.postmaster_pid().is_some() {
                node.kill();
            }
        }
        let _ = std::fs::remove_dir_all(&self.scratch.dir);
    }
}

/// One PostgreSQL server with no standby, durable as production runs it (`fsync` off only:
/// a SIGKILLed server loses what it had not yet written to the kernel, its WAL buffers, and
/// the kernel keeps the rest), which can be killed and started again.
pub struct LonePg {
    scratch: Scratch,
    pub node: PgNode,
}

impl LonePg {
    /// Builds the cluster and a database `shop`.
    pub fn start() -> LonePg {
        let scratch = Scratch::new("lone-pg");
        let node = PgNode::init(&scratch, "data");
        node.start(&scratch, &Self::OPTIONS);
        let mut conn = node.connect("postgres");
        diesel::sql_query("CREATE DATABASE shop").execute(&mut conn).expect("create database shop");
        LonePg { scratch, node }
    }

    const OPTIONS: [&'static str; 3] = ["max_connections=100", "fsync=off", "synchronous_commit=on"];

    /// Starts the server again after [`PgNode::kill`]: crash recovery replays its WAL. Waits
    /// until no process works in the data directory any more (backends that connected after
    /// the kill's snapshot end by themselves when they notice), then removes the killed
    /// postmaster's lock files: where nobody reaps the dead (a container's init), its zombie
    /// still answers `kill -0`, and a new postmaster would take it for a live one.
    pub fn restart(&self) {
        let data = std::fs::canonicalize(&self.node.data).unwrap();
        wait_for("the killed server's backends to exit", Duration::from_secs(10), || {
            !std::fs::read_dir("/proc").unwrap().filter_map(Result::ok).any(|entry| {
                let live = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
                    stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z'))
                });
                live && std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd == data)
            })
        });
        let _ = std::fs::remove_file(self.node.data.join("postmaster.pid"));
        let _ = std::fs::remove_file(self.scratch.dir.join(format!(".s.PGSQL.{}.lock", self.node.port)));
        self.node.start(&self.scratch, &Self::OPTIONS);
    }
}

impl Drop for LonePg {
    fn drop(&mut self) {
        if self.node.postmaster_pid().is_some() {
            self.node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.scratch.dir);
    }
}

/// A cluster that asks for a password (scram-sha-256 on TCP), for the tests of what the log
/// says when the database refuses.
pub struct PasswordPg {
    scratch: Scratch,
    pub node: PgNode,
}

impl PasswordPg {
    pub const PASSWORD: &'static str = "s3cret-Pa55word";

    pub fn start() -> PasswordPg {
        let scratch = Scratch::new("password-pg");
        let pwfile = scratch.write("pwfile", Self::PASSWORD);
        let node = PgNode { port: free_port(), data: scratch.dir.join("data") };
        scratch.run(
            "initdb",
            &[
                "-D",
                node.data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--pwfile",
                pwfile.to_str().unwrap(),
                "--no-instructions",
            ],
        );
        node.start(&scratch, &["fsync=off"]);
        PasswordPg { scratch, node }
    }

    pub fn url_with(&self, password: &str, database: &str) -> String {
        format!("postgres://postgres:{password}@127.0.0.1:{}/{database}", self.node.port)
    }
}

impl Drop for PasswordPg {
    fn drop(&mut self) {
        if self.node.postmaster_pid().is_some() {
            self.node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.scratch.dir);
    }
}

/// Polls `check` (a blocking condition) until it holds; panics naming `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
