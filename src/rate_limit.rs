//! Per-client rate limits (token buckets in process memory) and the client address they key
//! on. Each process limits on its own: behind a load balancer with N processes a client gets
//! up to N times the limit, which is fine for the abuse this guards against (scripts hammering
//! "Book", guessing the admin password or booking references).
//!
//! Cheap with a crowd: the buckets are spread over 32 shards, each behind its own lock, and
//! each request touches one bucket, O(1). Memory is bounded without scanning: a shard keeps two
//! generations of buckets and drops the older one every minute (a bucket idle for a whole
//! minute has refilled, so forgetting it loses nothing), or early when a shard is full.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

const SHARDS: usize = 32;
/// Buckets kept per shard and generation: 32 × 2 × 4,096 ≈ 262,000 clients at most.
const MAX_PER_SHARD: usize = 4096;
/// A generation's lifetime: the time a bucket takes to refill completely.
const GENERATION: Duration = Duration::from_secs(60);

/// A token bucket per client address: `per_minute` requests, refilled evenly, bursts up to
/// `per_minute`. Zero turns the limit off.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    shards: Vec<Mutex<Shard>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
struct Shard {
    current: HashMap<IpAddr, Bucket>,
    previous: HashMap<IpAddr, Bucket>,
    started: Instant,
}

impl Shard {
    fn rotate_if_due(&mut self, now: Instant) {
        if now.duration_since(self.started) >= GENERATION || self.current.len() >= MAX_PER_SHARD {
            self.previous = std::mem::take(&mut self.current);
            self.started = now;
        }
    }
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        let now = Instant::now();
        let shard = || Mutex::new(Shard { current: HashMap::new(), previous: HashMap::new(), started: now });
        Self { per_minute, shards: (0..SHARDS).map(|_| shard()).collect() }
    }

    /// Takes one token for `client`; `Err(seconds)` says how long until the next one.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    fn shard_of(client: IpAddr) -> usize {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        client.hash(&mut hasher);
        hasher.finish() as usize % SHARDS
    }

    fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let Ok(mut shard) = self.shards[Self::shard_of(client)].lock() else {
            return Ok(()); // a poisoned lock must not take the shop down
        };
        shard.rotate_if_due(now);
        let known = match shard.current.get(&client) {
            Some(bucket) => Some(*bucket),
            None => shard.previous.remove(&client),
        };
        let mut bucket = known.unwrap_or(Bucket { tokens: capacity, updated: now });
        let refill = now.saturating_duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        let answer = if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        };
        shard.current.insert(client, bucket);
        answer
    }

    /// Buckets held now (for tests of the memory bound).
    pub fn tracked(&self) -> usize {
        self.shards.iter().filter_map(|s| s.lock().ok()).map(|s| s.current.len() + s.previous.len()).sum()
    }
}

/// Parses one hop of `X-Forwarded-For` or `Forwarded: for=`: `ip`, `ip:port`, `[v6]` or
/// `[v6]:port`, optionally quoted.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    // `v4:port` (a bare v6 address has several colons and parsed above).
    let (ip, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The last hop a proxy of ours wrote: the standard `Forwarded: for=` header if present, else
/// `X-Forwarded-For`. `None` if that last hop does not parse (never an earlier entry, which the
/// client may have written).
fn forwarded_client(req: &HttpRequest) -> Option<IpAddr> {
    let headers = req.headers();
    let last = |name: &str, split: char| {
        headers
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(split))
            .last()
            .map(str::to_owned)
    };
    if let Some(element) = last("Forwarded", ',') {
        let value = element.split(';').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            key.trim().eq_ignore_ascii_case("for").then(|| value.to_owned())
        })?;
        return parse_hop(&value);
    }
    parse_hop(&last("X-Forwarded-For", ',')?)
}

/// The client's address: the TCP peer, or, when `trust_forwarded_for` is set, the last hop
/// of `Forwarded` / `X-Forwarded-For` (the one your own proxy appended; earlier entries are
/// whatever the client claimed and are ignored). A last hop that does not parse falls back to
/// the peer.
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> IpAddr {
    let peer = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if trust_forwarded_for {
        return forwarded_client(req).unwrap_or(peer);
    }
    peer
}

/// The limits the server enforces.
#[derive(Debug)]
pub struct Limits {
    pub bookings: RateLimiter,
    pub sign_in: RateLimiter,
    /// Admin (and door) POSTs.
    pub admin: RateLimiter,
    /// Booking reference lookups, on the page and in the API.
    pub lookups: RateLimiter,
    pub trust_forwarded_for: bool,
}

impl Limits {
    fn check(&self, limiter: &RateLimiter, req: &HttpRequest) -> Result<(), u64> {
        limiter.check(client_ip(req, self.trust_forwarded_for))
    }

    /// Checks the booking limit for this request.
    pub fn booking(&self, req: &HttpRequest) -> Result<(), u64> {
        self.check(&self.bookings, req)
    }

    /// Checks the sign-in limit for this request.
    pub fn sign_in(&self, req: &HttpRequest) -> Result<(), u64> {
        self.check(&self.sign_in, req)
    }

    /// Checks the admin POST limit for this request.
    pub fn admin(&self, req: &HttpRequest) -> Result<(), u64> {
        self.check(&self.admin, req)
    }

    /// Checks the reference lookup limit for this request.
    pub fn lookup(&self, req: &HttpRequest) -> Result<(), u64> {
        self.check(&self.lookups, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

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
    fn a_limited_client_stays_limited_across_a_generation_change() {
        // 2 a minute: one token back every 30 s.
        let limiter = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(limiter.check_at(A, t0).is_ok() && limiter.check_at(A, t0).is_ok());
        assert!(limiter.check_at(A, t0 + Duration::from_secs(10)).is_err());
        let t50 = t0 + Duration::from_secs(50);
        assert!(limiter.check_at(A, t50).is_ok(), "1.67 tokens, one spent");
        // The generation turns at 60 s; the bucket (0.67 tokens) moves along with its state:
        // at 61 s it holds 1.03 tokens, so one request passes and the next does not. A
        // forgotten bucket would start full and let both through.
        let t61 = t0 + Duration::from_secs(61);
        assert!(limiter.check_at(A, t61).is_ok());
        assert!(limiter.check_at(A, t61).is_err());
    }

    #[test]
    fn a_crowd_of_clients_keeps_memory_bounded() {
        let limiter = RateLimiter::new(60);
        let t0 = Instant::now();
        for i in 0..1_000_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            assert!(limiter.check_at(ip, t0).is_ok());
        }
        assert!(limiter.tracked() <= SHARDS * MAX_PER_SHARD * 2, "{}", limiter.tracked());
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::new(0);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(limiter.check_at(A, t0), Ok(()));
        }
    }

    fn client(headers: &[(&str, &str)]) -> IpAddr {
        let mut req = TestRequest::default().peer_addr("192.0.2.1:4000".parse().unwrap());
        for (k, v) in headers {
            req = req.append_header((*k, *v));
        }
        client_ip(&req.to_http_request(), true)
    }

    #[test]
    fn the_last_forwarded_hop_is_read_in_every_form() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client(&[("X-Forwarded-For", "1.1.1.1, 203.0.113.7")]), ip("203.0.113.7"));
        assert_eq!(client(&[("X-Forwarded-For", "1.1.1.1, 203.0.113.7:51234")]), ip("203.0.113.7"));
        assert_eq!(client(&[("X-Forwarded-For", "1.1.1.1, [2001:db8::7]:443")]), ip("2001:db8::7"));
        assert_eq!(client(&[("X-Forwarded-For", "2001:db8::8")]), ip("2001:db8::8"));
        assert_eq!(
            client(&[("Forwarded", "for=1.1.1.1, for=\"[2001:db8::9]:80\";proto=https")]),
            ip("2001:db8::9")
        );
        assert_eq!(client(&[("Forwarded", "for=198.51.100.4:9999")]), ip("198.51.100.4"));
        // An unparseable last hop never falls back to an earlier, client-written entry.
        assert_eq!(client(&[("X-Forwarded-For", "1.1.1.1, garbage")]), ip("192.0.2.1"));
        assert_eq!(client(&[("Forwarded", "for=1.1.1.1, for=unknown")]), ip("192.0.2.1"));
        assert_eq!(client(&[]), ip("192.0.2.1"));
    }
}
