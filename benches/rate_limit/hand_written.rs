//! The hand-written limiter the shop had before governor (src/rate_limit.rs at commit 10ca285),
//! kept here only so that benches/rate_limit/main.rs can measure the two side by side: 32
//! shards, each a `Mutex` over two generations of `HashMap`s of token buckets, the older
//! generation dropped every minute or when a shard holds 4,096 buckets.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

    pub fn check_at(&self, client: K, now: Instant) -> Result<(), u64> {
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
