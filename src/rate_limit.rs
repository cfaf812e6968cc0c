//! Per-client rate limits (token buckets in process memory) and the key they count under
//! ([`client_key`]: an IPv4 address, or an IPv6 client's /64; the address itself comes from
//! `client_addr`). The door counts per signed-in session instead. Each process limits on its own: behind a load balancer with N processes a client gets
//! up to N times the limit, which is fine for the abuse this guards against (scripts hammering
//! "Book", guessing the admin password or booking references).
//!
//! Cheap with a crowd: the buckets are spread over 32 shards, each behind its own lock, and
//! each request touches one bucket, O(1). Memory is bounded without scanning: a shard keeps two
//! generations of buckets and drops the older one every minute (a bucket idle for a whole
//! minute has refilled, so forgetting it loses nothing), or early when a shard is full.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

use crate::client_addr::ClientAddr;

const SHARDS: usize = 32;
/// Buckets kept per shard and generation: 32 × 2 × 4,096 ≈ 262,000 clients at most.
const MAX_PER_SHARD: usize = 4096;
/// A generation's lifetime: the time a bucket takes to refill completely.
const GENERATION: Duration = Duration::from_secs(60);

/// A token bucket per key (a client's [`client_key`], or a door session): `per_minute`
/// requests, refilled evenly, bursts up to `per_minute`. Zero turns the limit off.
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    per_minute: u32,
    shards: Vec<Mutex<Shard<K>>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
struct Shard<K> {
    current: HashMap<K, Bucket>,
    previous: HashMap<K, Bucket>,
    started: Instant,
}

impl<K> Shard<K> {
    fn rotate_if_due(&mut self, now: Instant) {
        if now.duration_since(self.started) >= GENERATION || self.current.len() >= MAX_PER_SHARD {
            self.previous = std::mem::take(&mut self.current);
            self.started = now;
        }
    }
}

impl<K: Hash + Eq> RateLimiter<K> {
    pub fn new(per_minute: u32) -> Self {
        let now = Instant::now();
        let shard = || Mutex::new(Shard { current: HashMap::new(), previous: HashMap::new(), started: now });
        Self { per_minute, shards: (0..SHARDS).map(|_| shard()).collect() }
    }

    /// Takes one token for `client`; `Err(seconds)` says how long until the next one.
    pub fn check(&self, client: K) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    fn shard_of(client: &K) -> usize {
        use std::hash::Hasher;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        client.hash(&mut hasher);
        hasher.finish() as usize % SHARDS
    }

    fn check_at(&self, client: K, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let Ok(mut shard) = self.shards[Self::shard_of(&client)].lock() else {
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

/// The key an address is limited under: an IPv4 address as it is, an IPv6 client by its /64
/// (one subscriber's network: whoever holds a /64 has 2^64 addresses, so keying by /128 would
/// hand out unlimited budgets). An IPv4-mapped IPv6 address counts as the IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The limits the server enforces.
#[derive(Debug)]
pub struct Limits {
    pub bookings: RateLimiter,
    pub sign_in: RateLimiter,
    /// Admin POSTs, per client address.
    pub admin: RateLimiter,
    /// Door POSTs, per signed-in door session (`RATE_LIMIT_DOOR_PER_MIN`): phones behind one
    /// venue NAT each have their own budget, and the door never spends the box office's.
    pub door: RateLimiter<String>,
    /// Booking reference lookups, on the page and in the API.
    pub lookups: RateLimiter,
    /// Where the client's address comes from.
    pub client: ClientAddr,
}

impl Limits {
    fn check(&self, limiter: &RateLimiter, req: &HttpRequest) -> Result<(), u64> {
        limiter.check(client_key(self.client.of(req)))
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

    /// Checks the door limit of the door session `session_id`.
    pub fn door(&self, session_id: &str) -> Result<(), u64> {
        self.door.check(session_id.to_owned())
    }

    /// Checks the reference lookup limit for this request.
    pub fn lookup(&self, req: &HttpRequest) -> Result<(), u64> {
        self.check(&self.lookups, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn an_ipv6_client_is_keyed_by_its_64_and_ipv4_by_its_address() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_key(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), ip("2001:db8:1:2::"));
        assert_ne!(client_key(ip("2001:db8:1:3::1")), client_key(ip("2001:db8:1:2::1")));
        assert_eq!(client_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_ne!(client_key(ip("203.0.113.7")), client_key(ip("203.0.113.8")));
        assert_eq!(client_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"), "v4-mapped is the v4 client");
        assert_eq!(client_key(ip("::1")), ip("::"));
    }

    #[test]
    fn one_64_shares_one_budget() {
        let limiter = RateLimiter::new(5);
        let t0 = Instant::now();
        let answers: Vec<bool> = (1..=10u16)
            .map(|i| {
                let ip = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, i));
                limiter.check_at(client_key(ip), t0).is_ok()
            })
            .collect();
        assert_eq!(answers.iter().filter(|ok| **ok).count(), 5, "{answers:?}");
    }

    #[test]
    fn door_sessions_have_budgets_of_their_own() {
        let limiter: RateLimiter<String> = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(limiter.check_at("a".into(), t0).is_ok() && limiter.check_at("a".into(), t0).is_ok());
        assert!(limiter.check_at("a".into(), t0).is_err());
        assert!(limiter.check_at("b".into(), t0).is_ok());
    }
}
