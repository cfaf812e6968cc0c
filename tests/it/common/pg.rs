//! PostgreSQL of a test's own: a cluster it can stop and start, and a proxy it can cut.

use std::sync::Arc;
use std::sync::atomic::Ordering;

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
                // Checked again under the lock `cut` takes: a connection accepted while the
                // proxy was being cut is dropped, never forwarded past the cut.
                let mut list = open2.lock().unwrap();
                if !up2.load(Ordering::SeqCst) {
                    let _ = (client.shutdown(Shutdown::Both), server.shutdown(Shutdown::Both));
                    continue;
                }
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
        let mut open = self.open.lock().unwrap();
        self.up.store(false, Ordering::SeqCst);
        for s in open.drain(..) {
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
        self.stop("fast");
    }

    /// Stops the server in `mode` (`fast`, or `immediate`: a crash, with no shutdown
    /// checkpoint; it recovers from its WAL at the next start).
    pub fn stop(&self, mode: &str) {
        assert!(
            self.run("pg_ctl", &["-D", self.data.to_str().unwrap(), "-m", mode, "-w", "stop"]),
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
