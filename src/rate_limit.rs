//! Per-client rate limits and the key they count under ([`client_key`]: an IPv4 address, or an
//! IPv6 client's /64; the address itself comes from `client_addr`). The door counts per
//! signed-in session instead. Each process limits on its own: behind a load balancer with N
//! processes a client gets up to N times the limit, which is fine for the abuse this guards
//! against (scripts hammering "Book", guessing the admin password or booking references).
//!
//! Each limit is `governor`'s keyed limiter (GCRA: `per_minute` requests, refilled evenly, bursts
//! up to `per_minute`). It replaced a hand-written one that measured twice as slow per check and
//! held half as much again per client (benches/rate_limit, docs/ARCHITECTURE.md).
//!
//! Memory: governor keeps a state per key until told to forget it. Once a second (a thread
//! started by [`Limits::from_settings`]) each limit forgets clients whose budget has refilled,
//! who are no different from new ones. Past [`MAX_KEYS`] clients (a flood of addresses) it
//! forgets first those with at least half their budget left, then those with any left, and all
//! only as a last resort: a flood of new addresses cannot wash out the state of a client that
//! is being limited.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter as Governor};

use crate::client_addr::ClientAddr;
use crate::settings::Settings;

/// Clients each limit keeps track of before it forgets some early (about 4 MB each).
pub const MAX_KEYS: usize = 100_000;

/// The states of one limit: governor's own store, shared with the housekeeping.
struct Store<K: Hash + Eq + Clone>(Arc<DashMapStateStore<K>>);

impl<K: Hash + Eq + Clone> StateStore for Store<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.measure_and_replace(key, f)
    }
}

struct Limit<K: Hash + Eq + Clone, C: Clock> {
    governor: Governor<K, Store<K>, C, NoOpMiddleware<C::Instant>>,
    states: Arc<DashMapStateStore<K>>,
    /// When the limit started: states count time from here.
    start: C::Instant,
    per_minute: u32,
    /// How long an empty budget takes to fill (a minute).
    full: Duration,
}

/// A limit of `per_minute` requests per key (a client's [`client_key`], or a door session).
/// Zero turns it off.
pub struct RateLimiter<K: Hash + Eq + Clone = IpAddr, C: Clock = DefaultClock> {
    limit: Option<Limit<K, C>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(per_minute: u32) -> Self {
        Self::with_clock(per_minute, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock> RateLimiter<K, C> {
    /// As [`RateLimiter::new`], on `clock` (tests pass governor's `FakeRelativeClock`).
    pub fn with_clock(per_minute: u32, clock: C) -> Self {
        let limit = NonZeroU32::new(per_minute).map(|n| {
            let states = Arc::new(DashMapStateStore::default());
            // Governor's own start is a moment later (it reads the clock again): the
            // housekeeping sees states that much older, microseconds at most.
            let start = clock.now();
            Limit {
                governor: Governor::new(Quota::per_minute(n), Store(states.clone()), clock),
                states,
                start,
                per_minute: n.get(),
                full: Duration::from_secs(60),
            }
        });
        Self { limit }
    }

    /// Takes one request from `client`'s budget; `Err(seconds)` says how long until the next.
    pub fn check(&self, client: K) -> Result<(), u64> {
        let Some(limit) = &self.limit else { return Ok(()) };
        limit.governor.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(limit.governor.clock().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.limit.as_ref().map_or(0, |l| l.states.len())
    }

    /// Forgets clients whose budget has refilled and, past [`MAX_KEYS`], those with the most
    /// budget left first (see the module's words). Returns the clients still tracked.
    pub fn housekeeping(&self) -> usize {
        let Some(limit) = &self.limit else { return 0 };
        let before = limit.states.len();
        // A client's state is GCRA's theoretical arrival time, counted from the limit's start: at
        // or below `now + x`, at least `(full - x) / full` of the budget is left.
        let now = limit.governor.clock().now().duration_since(limit.start);
        let one = limit.full / limit.per_minute;
        let forget_below = [
            // Full again: no different from a new client (governor's `retain_recent`).
            now.saturating_sub(Nanos::from(one)),
            // Half the budget or more left.
            now + Nanos::from(limit.full / 2),
            // Any left: only clients refused right now are kept.
            now + Nanos::from(limit.full.saturating_sub(one)),
        ];
        for (step, below) in forget_below.into_iter().enumerate() {
            if step > 0 && limit.states.len() <= MAX_KEYS {
                break;
            }
            ShrinkableKeyedStateStore::retain_recent(&*limit.states, below);
        }
        if limit.states.len() > MAX_KEYS {
            limit.states.clear();
        }
        let after = limit.states.len();
        if after < before / 2 {
            limit.states.shrink_to_fit();
        }
        after
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
pub struct Limits {
    pub bookings: Arc<RateLimiter>,
    pub sign_in: Arc<RateLimiter>,
    /// Admin POSTs, per client address.
    pub admin: Arc<RateLimiter>,
    /// Door POSTs, per signed-in door session (`RATE_LIMIT_DOOR_PER_MIN`): phones behind one
    /// venue NAT each have their own budget, and the door never spends the box office's.
    pub door: Arc<RateLimiter<String>>,
    /// Booking reference lookups, on the page and in the API.
    pub lookups: Arc<RateLimiter>,
    /// Where the client's address comes from.
    pub client: ClientAddr,
}

/// What the housekeeping thread holds of each limit: nothing that keeps it alive.
trait Housekeeping: Send + Sync {
    fn housekeeping(&self) -> usize;
}

impl<K: Hash + Eq + Clone + Send + Sync> Housekeeping for RateLimiter<K> {
    fn housekeeping(&self) -> usize {
        RateLimiter::housekeeping(self)
    }
}

impl Limits {
    /// The limits the settings ask for, kept bounded once a second by a thread of their own
    /// that ends when they are dropped.
    pub fn from_settings(settings: &Settings) -> Self {
        let limits = Self {
            bookings: Arc::new(RateLimiter::new(settings.rate_limit_bookings_per_min)),
            sign_in: Arc::new(RateLimiter::new(settings.rate_limit_signin_per_min)),
            admin: Arc::new(RateLimiter::new(settings.rate_limit_admin_per_min)),
            lookups: Arc::new(RateLimiter::new(settings.rate_limit_lookups_per_min)),
            door: Arc::new(RateLimiter::new(settings.edges.rate_limit_door_per_min)),
            client: ClientAddr {
                trust_proxy: settings.trust_forwarded_for,
                header: settings.edges.forwarded_header,
            },
        };
        let weak = |l: &Arc<dyn Housekeeping>| Arc::downgrade(l);
        let held: Vec<Weak<dyn Housekeeping>> = [
            limits.bookings.clone() as Arc<dyn Housekeeping>,
            limits.sign_in.clone(),
            limits.admin.clone(),
            limits.lookups.clone(),
            limits.door.clone(),
        ]
        .iter()
        .map(weak)
        .collect();
        let spawned = std::thread::Builder::new().name("rate-limits".into()).spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let alive: Vec<_> = held.iter().filter_map(Weak::upgrade).collect();
                if alive.is_empty() {
                    return;
                }
                for limit in alive {
                    limit.housekeeping();
                }
            }
        });
        if let Err(e) = spawned {
            log::error!("rate limits: no housekeeping thread ({e}); memory grows with clients");
        }
        limits
    }

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

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").field("client", &self.client).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
