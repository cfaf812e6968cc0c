//! The listening socket and the life of a connection (SPEC §12, "Connections"):
//!
//! - `LISTEN_BACKLOG` (default 4096): the accept queue. `std::net::TcpListener::bind` always
//!   asks for 128, so in a rush the kernel dropped connections whose handshake had finished
//!   while the workers were busy (`TcpExtListenOverflows`), and their clients waited 1 s, then
//!   3 s, to retry. The socket is bound through socket2 with the backlog asked for; the kernel
//!   caps it at `net.core.somaxconn`, and start-up says so when it does.
//! - `KEEP_ALIVE_SECS` (default 75): how long an idle connection stays open, well past the
//!   pages' poll interval, so a page polling every `POLL_SECONDS` keeps its connection (and,
//!   behind TLS, its handshake).

use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, TcpListener};

/// Where Linux keeps the cap on every listen backlog.
const SOMAXCONN: &str = "/proc/sys/net/core/somaxconn";

/// Binds `addr` and listens with an accept queue of `backlog` connections (capped by the
/// kernel at `net.core.somaxconn`). Like std, it sets `SO_REUSEADDR`, so a restarted server
/// can bind while its old connections linger in `TIME_WAIT`.
pub fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// The kernel's cap on listen backlogs, where it can be read (Linux).
pub fn system_cap() -> Option<u32> {
    std::fs::read_to_string(SOMAXCONN).ok()?.trim().parse().ok()
}

/// The warning to log when the kernel gives less than `backlog`, naming the sysctl to raise.
pub fn cap_warning(backlog: u32, cap: Option<u32>) -> Option<String> {
    let cap = cap?;
    (cap < backlog).then(|| {
        format!(
            "LISTEN_BACKLOG={backlog}, but the kernel caps accept queues at {cap} (net.core.somaxconn): \
             a rush beyond {cap} waiting connections is dropped. Raise it: sysctl -w net.core.somaxconn={backlog}"
        )
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_cap_below_the_backlog_is_worth_a_warning_that_names_the_sysctl() {
        let warning = cap_warning(4096, Some(128)).expect("capped");
        assert!(warning.contains("net.core.somaxconn") && warning.contains("128"), "{warning}");
        assert_eq!(cap_warning(4096, Some(4096)), None);
        assert_eq!(cap_warning(4096, None), None);
    }

    #[test]
    fn the_listener_queues_more_than_std_s_128_connections_before_accepting_any() {
        // Nothing accepts: every handshake waits in the accept queue. With std's backlog of
        // 128, connections past ~129 are not completed (their SYNs are dropped).
        let listener = bind("127.0.0.1:0".parse().unwrap(), 1024).expect("bind");
        let addr = listener.local_addr().unwrap();
        let wanted = 300.min(system_cap().unwrap_or(300).saturating_sub(8) as usize);
        let connected = (0..wanted)
            .filter_map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok())
            .collect::<Vec<_>>();
        assert_eq!(connected.len(), wanted, "every connection waited in the queue");
    }
}
