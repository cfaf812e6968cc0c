//! HAProxy (Debian's `haproxy`) in front of server processes: either a configuration of the
//! test's own, or the shipped `deploy/haproxy.cfg` with its placeholders filled in, as
//! `deploy/drill` does. Stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::cluster::{free_port, wait_for};

/// HAProxy in front of some server ports, health-checking `/readyz`.
pub struct Haproxy {
    child: Child,
    pub port: u16,
    stats_port: u16,
    dir: PathBuf,
    /// The backend whose servers `server_states` reports.
    backend: &'static str,
}

impl Haproxy {
    /// `deploy/haproxy.cfg` with shorter intervals and no retries: a request that meets a
    /// stopping server fails, as it would behind a balancer that does not retry, so the test
    /// shows the drain itself.
    pub fn start(backends: &[u16]) -> Haproxy {
        let (port, stats_port) = (free_port(), free_port());
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| format!("    server app{i} 127.0.0.1:{p} check inter 200ms fall 2 rise 2\n"))
            .collect();
        let config = format!(
            "global\n    maxconn 2000\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n    timeout check 1s\n\
             \x20   retries 0\n\
             frontend shop\n    bind 127.0.0.1:{port}\n    default_backend app\n\
             frontend stats\n    bind 127.0.0.1:{stats_port}\n    stats enable\n    stats uri /stats\n\
             backend app\n    balance roundrobin\n    option httpchk GET /readyz\n    http-check expect status 200\n{servers}"
        );
        Self::launch(&config, port, stats_port, "app")
    }

    /// The shipped `deploy/haproxy.cfg`, unchanged but for its placeholders (the listening
    /// addresses and the server lines), in front of `backends`.
    pub fn start_shipped(backends: &[u16]) -> Haproxy {
        let (port, stats_port) = (free_port(), free_port());
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| format!("    server app{i} 127.0.0.1:{p} check\n"))
            .collect();
        let shipped = std::fs::read_to_string("deploy/haproxy.cfg").expect("deploy/haproxy.cfg");
        let config = shipped
            .replace("@BIND@", &format!("127.0.0.1:{port}"))
            .replace("@STATS_BIND@", &format!("127.0.0.1:{stats_port}"))
            .replace("@SERVERS@", servers.trim_end());
        Self::launch(&config, port, stats_port, "servers")
    }

    fn launch(config: &str, port: u16, stats_port: u16, backend: &'static str) -> Haproxy {
        let dir = std::env::current_dir()
            .unwrap()
            .join("target")
            .join(format!("haproxy-{}", techkraft_tickets::settings::random_token(8).to_lowercase()));
        std::fs::create_dir_all(&dir).unwrap();
        let config_path = dir.join("haproxy.cfg");
        std::fs::write(&config_path, config).unwrap();
        let binary = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("haproxy is installed (Debian: apt-get install haproxy)");
        let child = Command::new(binary)
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy");
        let proxy = Haproxy { child, port, stats_port, dir, backend };
        wait_for("haproxy to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", proxy.stats_port)).is_ok()
        });
        proxy
    }

    /// HAProxy's view of each server (`UP`, `DOWN`, …), from its CSV statistics.
    pub fn server_states(&self) -> Vec<(String, String)> {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.stats_port)) else {
            return Vec::new();
        };
        let _ = stream.write_all(b"GET /stats;csv HTTP/1.0\r\n\r\n");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        let prefix = format!("{},", self.backend);
        text.lines()
            .filter(|l| l.starts_with(&prefix) && !l.starts_with(&format!("{prefix}BACKEND")))
            .filter_map(|l| {
                let fields: Vec<&str> = l.split(',').collect();
                Some((fields.get(1)?.to_string(), fields.get(17)?.to_string()))
            })
            .collect()
    }

    /// Waits until HAProxy sees every server up.
    pub async fn until_all_up(&self, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let states = self.server_states();
            if !states.is_empty() && states.iter().all(|(_, s)| s == "UP") {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "haproxy did not see every server up: {states:?}");
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
