//! Per-client rate limits (token buckets in process memory) and the client address they key
//! on. Each process limits on its own: behind a load balancer with N processes a client gets
//! up to N times the limit, which is fine for the abuse this guards against (scripts hammering
//! "Book" or guessing the admin password).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::HttpRequest;

/// A token bucket per client address: `per_minute` requests, refilled evenly, bursts up to
/// `per_minute`. Zero turns the limit off.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets kept before idle ones are dropped.
const MAX_TRACKED: usize = 50_000;

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `client`; `Err(seconds)` says how long until the next one.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(()); // a poisoned lock must not take the shop down
        };
        if buckets.len() >= MAX_TRACKED {
            // Full buckets carry no information: forget them.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second < capacity
            });
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: capacity, updated: now });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

/// The client's address: the TCP peer, or, when `trust_forwarded_for` is set, the last
/// address in `X-Forwarded-For` (the one your own proxy appended; earlier entries are
/// whatever the client claimed and are ignored).
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = req
            .headers()
            .get_all("X-Forwarded-For")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .last()
    {
        return ip;
    }
    req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// The limits the server enforces.
#[derive(Debug)]
pub struct Limits {
    pub bookings: RateLimiter,
    pub sign_in: RateLimiter,
    pub trust_forwarded_for: bool,
}

impl Limits {
    /// Checks the booking limit for this request.
    pub fn booking(&self, req: &HttpRequest) -> Result<(), u64> {
        self.bookings.check(client_ip(req, self.trust_forwarded_for))
    }

    /// Checks the sign-in limit for this request.
    pub fn sign_in(&self, req: &HttpRequest) -> Result<(), u64> {
        self.sign_in.check(client_ip(req, self.trust_forwarded_for))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_client_gets_its_burst_then_waits() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at(A, t0), Ok(()));
        }
        assert_eq!(limiter.check_at(A, t0), Err(20), "one token per 20 s at 3/min");
        assert_eq!(limiter.check_at(B, t0), Ok(()), "other clients are not affected");
        assert_eq!(limiter.check_at(A, t0 + Duration::from_secs(20)), Ok(()));
        assert!(limiter.check_at(A, t0 + Duration::from_secs(21)).is_err());
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::new(0);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(limiter.check_at(A, t0), Ok(()));
        }
    }
}
