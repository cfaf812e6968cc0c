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
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::db::models::Tier;

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

/// The process's snapshot.
#[derive(Debug)]
pub struct Availability {
    current: RwLock<Option<Arc<Snapshot>>>,
    refreshing: tokio::sync::Mutex<()>,
    max_age: Duration,
}

impl Availability {
    pub fn new(max_age: Duration) -> Self {
        Self { current: RwLock::new(None), refreshing: tokio::sync::Mutex::new(()), max_age }
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    fn read(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok()?.clone()
    }

    /// The snapshot if it is within the bound.
    pub fn fresh(&self) -> Option<Arc<Snapshot>> {
        self.read().filter(|s| s.age() <= self.max_age)
    }

    /// The snapshot within the bound, refreshed with `load` if it is not. Only one refresh runs
    /// at a time: the requests that find it stale wait for that one, then share its result.
    pub async fn get<E, F, Fut>(&self, load: F) -> Result<Arc<Snapshot>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Tier>, E>>,
    {
        if let Some(snapshot) = self.fresh() {
            return Ok(snapshot);
        }
        let _turn = self.refreshing.lock().await;
        if let Some(snapshot) = self.fresh() {
            return Ok(snapshot); // refreshed while this request waited
        }
        let started = Instant::now();
        let tiers = load().await?;
        let snapshot = Arc::new(Snapshot::new(tiers, started));
        if let Ok(mut current) = self.current.write() {
            *current = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// Applies a change this process made: `seats` more (or, negative, fewer) available in
    /// `tier_id`. The snapshot keeps its age: the other tiers are no fresher for it.
    pub fn apply(&self, tier_id: &str, seats: i32) {
        let Ok(mut current) = self.current.write() else { return };
        let Some(old) = current.as_ref() else { return };
        let mut tiers = old.tiers.clone();
        if let Some(t) = tiers.iter_mut().find(|t| t.id == tier_id) {
            t.available = (t.available + seats).clamp(0, t.capacity);
            *current = Some(Arc::new(Snapshot::new(tiers, old.taken_at)));
        }
    }

    /// Forgets the snapshot: the next read refreshes (after a change the snapshot cannot
    /// apply by itself, such as an admin reset).
    pub fn invalidate(&self) {
        if let Ok(mut current) = self.current.write() {
            *current = None;
        }
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
        }]
    }

    #[actix_rt::test]
    async fn many_stale_readers_share_one_refresh() {
        let availability = Arc::new(Availability::new(Duration::from_secs(60)));
        let loads = Arc::new(AtomicUsize::new(0));
        let readers = (0..50).map(|_| {
            let (availability, loads) = (availability.clone(), loads.clone());
            async move {
                availability
                    .get(|| async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        actix_rt::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(tiers(100))
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
        let availability = Availability::new(Duration::from_secs(60));
        let first = availability.get(|| async { Ok::<_, ()>(tiers(100)) }).await.unwrap();
        availability.apply("vip", -3);
        let after = availability.fresh().unwrap();
        assert_eq!(after.tier("vip").unwrap().available, 97);
        assert_ne!(first.etag, after.etag);
        availability.apply("vip", 3);
        assert_eq!(availability.fresh().unwrap().etag, first.etag, "same counts, same validator");
        availability.invalidate();
        assert!(availability.fresh().is_none());
    }

    #[actix_rt::test]
    async fn a_snapshot_past_its_age_is_refreshed() {
        let availability = Availability::new(Duration::from_millis(1));
        availability.get(|| async { Ok::<_, ()>(tiers(100)) }).await.unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let again = availability.get(|| async { Ok::<_, ()>(tiers(42)) }).await.unwrap();
        assert_eq!(again.tier("vip").unwrap().available, 42);
    }
}
