//! Connections per client address. Each accepted connection carries a guard that counts it
//! against its peer address until the connection closes; a request on a connection beyond
//! `MAX_CONNECTIONS_PER_CLIENT` is answered `429` at once, before its body is read, and the
//! connection is closed. So one address trickling bytes into a thousand connections cannot
//! take every worker or file descriptor from the others.
//!
//! Behind a reverse proxy (`TRUST_FORWARDED_FOR`) every connection comes from the proxy, so
//! the limit is not applied there: the proxy limits its clients.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, http::header};

/// Open connections per address.
#[derive(Debug, Default)]
pub struct ConnectionCounter {
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One open connection, counted until it is dropped with the connection.
#[derive(Debug)]
pub struct ConnectionGuard {
    counter: Arc<ConnectionCounter>,
    ip: IpAddr,
    /// How many connections the address held, this one included, when it opened.
    pub nth: u32,
}

impl ConnectionCounter {
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> ConnectionGuard {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(ip).or_default();
        *n += 1;
        ConnectionGuard { counter: self.clone(), ip, nth: *n }
    }

    /// Connections `ip` holds now.
    pub fn held_by(&self, ip: IpAddr) -> u32 {
        self.open.lock().map(|open| open.get(&ip).copied().unwrap_or(0)).unwrap_or(0)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.counter.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Middleware: refuses requests on a connection over the address's limit.
pub async fn limit(
    max: u32,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let over = req.conn_data::<ConnectionGuard>().is_some_and(|guard| guard.nth > max);
    if over {
        let response = HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, "5"))
            .force_close()
            .content_type("text/plain; charset=utf-8")
            .body("Too many connections from your address.");
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_until_they_close() {
        let counter = Arc::new(ConnectionCounter::default());
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let first = counter.open(ip);
        let second = counter.open(ip);
        assert_eq!((first.nth, second.nth), (1, 2));
        assert_eq!(counter.held_by(ip), 2);
        drop(first);
        assert_eq!(counter.held_by(ip), 1);
        drop(second);
        assert_eq!(counter.held_by(ip), 0);
    }
}
