//! Availability served from memory: a per-process snapshot of the tiers, at most
//! `AVAILABILITY_MAX_AGE_MS` old, refreshed by one query at a time however many requests wait
//! for it (single flight). Changes this process makes are applied to it at once (a booking
//! takes seats, a decline or an expiry gives them back; an admin change forces a refresh);
//! changes other processes make show within the bound.
//!
//! Why stale is safe: the snapshot only ever answers reads and refuses bookings that it shows
//! cannot fit. Every seat is still taken by the database's conditional update, so a snapshot
//! that shows too many seats costs a database round trip, never an oversell; one that shows
//! too few (seats came back elsewhere) refuses for at most the bound.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::db::models::Tier;
use crate::db::tiers::Seats;

/// The tiers as of `taken_at`, and what has been rendered from them (filled on first use by
/// whoever renders; opaque here).
#[derive(Debug)]
pub struct Snapshot {
    pub tiers: Vec<Tier>,
    taken_at: Instant,
    /// A strong validator of the seat counts: equal for equal counts, on every process.
    pub etag: String,
    /// The availability fragment, rendered once per snapshot.
    pub fragment: OnceLock<Vec<u8>>,
    /// `GET /api/tickets`, rendered once per snapshot.
    pub json: OnceLock<Vec<u8>>,
}

impl Snapshot {
    fn new(tiers: Vec<Tier>, taken_at: Instant) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for t in &tiers {
            (&t.id, &t.name, t.price_cents, t.capacity, t.available).hash(&mut hasher);
        }
        let etag = format!("\"{:016x}\"", hasher.finish());
        Self { tiers, taken_at, etag, fragment: OnceLock::new(), json: OnceLock::new() }
    }

    pub fn tier(&self, id: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.id == id)
    }

    fn age(&self) -> Duration {
        self.taken_at.elapsed()
    }
}

/// Waiting for the snapshot took longer than the caller's patience.
#[derive(Debug, Clone, Copy)]
pub struct TooSlow(pub Duration);

impl From<TooSlow> for crate::db::DbError {
    fn from(slow: TooSlow) -> Self {
        Self::Slow(slow.0)
    }
}

/// The process's snapshot.
#[derive(Debug)]
pub struct Availability {
    current: RwLock<Option<Arc<Snapshot>>>,
    refreshing: Arc<tokio::sync::Mutex<()>>,
    /// The last refresh failed (the database is down, not merely slow).
    failing: AtomicBool,
    max_age: Duration,
}

impl Availability {
    pub fn new(max_age: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            refreshing: Arc::default(),
            failing: AtomicBool::new(false),
            max_age,
        }
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    fn read(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok()?.clone()
    }

    /// Whether the snapshot, however old, has this tier (`None` before the first). Tiers are
    /// never deleted, so an old snapshot's "yes" still holds.
    pub fn knows(&self, tier_id: &str) -> Option<bool> {
        self.read().map(|s| s.tier(tier_id).is_some())
    }

    /// The snapshot if it is within the bound.
    pub fn fresh(&self) -> Option<Arc<Snapshot>> {
        self.read().filter(|s| s.age() <= self.max_age)
    }

    /// The snapshot within the bound, refreshed with `load` if it is not. Only one refresh runs
    /// at a time: the requests that find it stale wait for that one, then share its result.
    /// A request waits at most `patience`; the refresh itself runs in a task of its own and
    /// finishes for the others even when the request that started it gave up, so a stuck
    /// database costs one connection, not one per waiting request. A request whose patience
    /// runs out gets the last snapshot, older than the bound (a database too slow to answer
    /// within a second is no reason to refuse a page), or [`TooSlow`] if there is none, or if
    /// the last refresh failed: a database that is down fails every waiter, never shows old
    /// figures as if all were well.
    pub async fn get<E, F, Fut>(self: &Arc<Self>, patience: Duration, load: F) -> Result<Arc<Snapshot>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Tier>, E>> + 'static,
        E: From<TooSlow> + 'static,
    {
        if let Some(snapshot) = self.fresh() {
            return Ok(snapshot);
        }
        let arrived = Instant::now();
        let deadline = tokio::time::Instant::now() + patience;
        let too_slow = || E::from(TooSlow(patience));
        let late = || match self.read().filter(|_| !self.failing.load(Ordering::SeqCst)) {
            Some(last) => {
                log::warn!(
                    "availability: the database did not answer within {patience:?}; showing the last snapshot"
                );
                Ok(last)
            }
            None => Err(too_slow()),
        };
        let Ok(turn) = tokio::time::timeout_at(deadline, self.refreshing.clone().lock_owned()).await else {
            return late();
        };
        // Refreshed while this request waited: a snapshot read after the request arrived is as
        // good as one it would read itself (so with AVAILABILITY_MAX_AGE_MS=0 the waiters still
        // share one query, not one each in a row).
        if let Some(snapshot) = self.read().filter(|s| s.taken_at >= arrived || s.age() <= self.max_age) {
            return Ok(snapshot);
        }
        let (me, query) = (self.clone(), load());
        let refresh = actix_web::rt::spawn(async move {
            let _turn = turn; // held until the refresh is stored
            let started = Instant::now();
            let tiers = query.await;
            me.failing.store(tiers.is_err(), Ordering::SeqCst);
            Ok(me.store(tiers?, started))
        });
        match tokio::time::timeout_at(deadline, refresh).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => {
                log::error!("bug: the availability refresh failed: {join}");
                Err(too_slow())
            }
            Err(_) => late(),
        }
    }

    /// Stores a refresh read at `started`. A change this process applied while the query ran
    /// may be newer than what it read: the newer version wins, tier by tier.
    fn store(&self, mut tiers: Vec<Tier>, started: Instant) -> Arc<Snapshot> {
        let Ok(mut current) = self.current.write() else {
            return Arc::new(Snapshot::new(tiers, started));
        };
        if let Some(old) = current.as_ref() {
            for tier in &mut tiers {
                if let Some(seen) = old.tier(&tier.id)
                    && seen.version > tier.version
                {
                    (tier.available, tier.withheld, tier.version) =
                        (seen.available, seen.withheld, seen.version);
                }
            }
        }
        let snapshot = Arc::new(Snapshot::new(tiers, started));
        *current = Some(snapshot.clone());
        snapshot
    }

    /// Applies a change this process made (or saw): the tier's seats as of `seats.version`,
    /// if that is newer than what the snapshot holds. The snapshot keeps its age: the other
    /// tiers are no fresher for it.
    pub fn observe(&self, seats: &Seats) {
        let Ok(mut current) = self.current.write() else { return };
        let Some(old) = current.as_ref() else { return };
        if old.tier(&seats.tier_id).is_none_or(|t| t.version >= seats.version) {
            return;
        }
        let mut tiers = old.tiers.clone();
        if let Some(t) = tiers.iter_mut().find(|t| t.id == seats.tier_id) {
            (t.available, t.withheld, t.version) = (seats.available, seats.withheld, seats.version);
        }
        *current = Some(Arc::new(Snapshot::new(tiers, old.taken_at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tiers(available: i32) -> Vec<Tier> {
        vec![Tier {
            id: "vip".into(),
            name: "VIP".into(),
            price_cents: 100_00,
            capacity: 100,
            available,
            withheld: 0,
            sort_order: 0,
            version: 10,
        }]
    }

    fn seats(available: i32, version: i64) -> Seats {
        Seats { tier_id: "vip".into(), available, withheld: 100 - available, version, price_cents: 100_00 }
    }

    #[actix_rt::test]
    async fn many_stale_readers_share_one_refresh() {
        let availability = Arc::new(Availability::new(Duration::from_secs(60)));
        let loads = Arc::new(AtomicUsize::new(0));
        let readers = (0..50).map(|_| {
            let (availability, loads) = (availability.clone(), loads.clone());
            async move {
                availability
                    .get(Duration::from_secs(5), || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        actix_rt::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, TooSlow>(tiers(100))
                    })
                    .await
                    .unwrap()
            }
        });
        let snapshots = futures_util::future::join_all(readers).await;
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one query for fifty readers");
        assert!(snapshots.iter().all(|s| s.tier("vip").unwrap().available == 100));
    }

    #[actix_rt::test]
    async fn local_changes_apply_at_once_and_the_etag_follows_the_counts() {
        let availability = Arc::new(Availability::new(Duration::from_secs(60)));
        let first = availability
            .get(Duration::from_secs(5), || async { Ok::<_, TooSlow>(tiers(100)) })
            .await
            .unwrap();
        availability.observe(&seats(97, 11));
        let after = availability.fresh().unwrap();
        assert_eq!(after.tier("vip").unwrap().available, 97);
        assert_ne!(first.etag, after.etag);
        availability.observe(&seats(100, 12));
        assert_eq!(availability.fresh().unwrap().etag, first.etag, "same counts, same validator");
    }

    #[actix_rt::test]
    async fn the_newest_version_wins_whatever_order_the_changes_are_reported_in() {
        let availability = Arc::new(Availability::new(Duration::from_secs(60)));
        availability.get(Duration::from_secs(5), || async { Ok::<_, TooSlow>(tiers(100)) }).await.unwrap();
        availability.observe(&seats(50, 13));
        availability.observe(&seats(99, 11)); // an older change, reported late
        assert_eq!(availability.fresh().unwrap().tier("vip").unwrap().available, 50);
        availability.observe(&seats(50, 9)); // older than the snapshot itself
        assert_eq!(availability.fresh().unwrap().tier("vip").unwrap().version, 13);
    }

    #[actix_rt::test]
    async fn a_refresh_that_read_before_a_local_change_keeps_the_change() {
        let availability = Arc::new(Availability::new(Duration::from_millis(1)));
        availability.get(Duration::from_secs(5), || async { Ok::<_, TooSlow>(tiers(100)) }).await.unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let during = availability.clone();
        let refreshed = availability
            .get(Duration::from_secs(5), || async move {
                // The query read version 10; meanwhile this process changed the tier.
                during.observe(&seats(40, 14));
                Ok::<_, TooSlow>(tiers(100))
            })
            .await
            .unwrap();
        assert_eq!(refreshed.tier("vip").unwrap().available, 40);
        assert_eq!(refreshed.tier("vip").unwrap().version, 14);
    }

    #[actix_rt::test]
    async fn a_stuck_refresh_costs_waiters_their_patience_only_and_still_lands() {
        let availability = Arc::new(Availability::new(Duration::from_secs(60)));
        let loads = Arc::new(AtomicUsize::new(0));
        let waiters = (0..10).map(|_| {
            let (availability, loads) = (availability.clone(), loads.clone());
            async move {
                availability
                    .get(Duration::from_millis(50), || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        actix_rt::time::sleep(Duration::from_millis(300)).await;
                        Ok::<_, TooSlow>(tiers(7))
                    })
                    .await
            }
        });
        let answers = futures_util::future::join_all(waiters).await;
        assert!(answers.iter().all(|a| a.is_err()), "no snapshot yet: every waiter gave up after 50 ms");
        actix_rt::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one query for all of them");
        assert_eq!(availability.fresh().expect("the refresh landed").tier("vip").unwrap().available, 7);

        // With a snapshot to fall back on, a waiter out of patience gets it instead.
        let stale = Arc::new(Availability::new(Duration::from_millis(1)));
        stale.get(Duration::from_secs(5), || async { Ok::<_, TooSlow>(tiers(3)) }).await.unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let answer = stale
            .get(Duration::from_millis(50), || async {
                actix_rt::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, TooSlow>(tiers(9))
            })
            .await
            .expect("the last snapshot");
        assert_eq!(answer.tier("vip").unwrap().available, 3);
    }

    #[actix_rt::test]
    async fn a_snapshot_past_its_age_is_refreshed() {
        let availability = Arc::new(Availability::new(Duration::from_millis(1)));
        availability.get(Duration::from_secs(5), || async { Ok::<_, TooSlow>(tiers(100)) }).await.unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let again =
            availability.get(Duration::from_secs(5), || async { Ok::<_, TooSlow>(tiers(42)) }).await.unwrap();
        assert_eq!(again.tier("vip").unwrap().available, 42);
    }
}
