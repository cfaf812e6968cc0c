//! Repeated idempotency keys, looked up in batches. A booking the availability snapshot refuses
//! (sold out) still owes a repeated key its first attempt's answer, so the refusal first asks
//! whether the key is on a booking. In a rush that is every refused buyer at once: one thread
//! per process takes the keys that queued while its previous query ran and asks for all of them
//! in one query (`WHERE idempotency_key IN (…)`), instead of one checkout and one query each.

use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};

use crate::db::models::Booking;
use crate::db::{DbError, DbPool};

/// The most keys one query asks for.
const BATCH_CAP: usize = 512;

struct Lookup {
    key: String,
    reply: tokio::sync::oneshot::Sender<Option<Booking>>,
}

/// The process's lookup thread, started on first use.
pub struct KeyLookups {
    pool: DbPool,
    queue: Mutex<Option<Sender<Lookup>>>,
}

impl KeyLookups {
    pub fn new(pool: DbPool) -> Self {
        Self { pool, queue: Mutex::default() }
    }

    /// The booking that carries `key`; `None` if none does, or if the database did not answer
    /// within the pool's timeout (the caller's refusal then stands).
    pub async fn find(&self, key: String) -> Option<Booking> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sender = {
            let mut queue = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            queue
                .get_or_insert_with(|| {
                    let (sender, receiver) = mpsc::channel();
                    let pool = self.pool.clone();
                    let spawned = std::thread::Builder::new()
                        .name("key-lookups".into())
                        .spawn(move || run(&pool, &receiver));
                    if let Err(e) = spawned {
                        log::error!("cannot start the key lookup thread: {e}");
                    }
                    sender
                })
                .clone()
        };
        if sender.send(Lookup { key, reply }).is_err() {
            if let Ok(mut queue) = self.queue.lock() {
                *queue = None; // the thread is gone: the next call starts another
            }
            return None;
        }
        tokio::time::timeout(self.pool.connection_timeout(), answer).await.ok()?.ok()?
    }
}

fn run(pool: &DbPool, queue: &Receiver<Lookup>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH_CAP {
            match queue.try_recv() {
                Ok(lookup) => batch.push(lookup),
                Err(_) => break,
            }
        }
        // Buyers who stopped waiting are not asked about.
        batch.retain(|l| !l.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let keys: Vec<&str> = batch.iter().map(|l| l.key.as_str()).collect();
        let found = crate::db::checkout(pool)
            .map_err(DbError::from)
            .and_then(|mut c| Booking::by_idempotency_keys(&mut c, &keys).map_err(DbError::from));
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                log::warn!("looking up repeated keys: {}", crate::db::error::chain(&e));
                Vec::new()
            }
        };
        for lookup in batch {
            let earlier = found.iter().find(|b| b.idempotency_key.as_deref() == Some(lookup.key.as_str()));
            let _ = lookup.reply.send(earlier.cloned());
        }
    }
}
