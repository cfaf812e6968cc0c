//! Repeated idempotency keys, looked up in batches. A booking the availability snapshot refuses
//! (sold out) still owes a repeated key its first attempt's answer, so the refusal first asks
//! whether the key is on a booking. In a rush that is every refused buyer at once: one thread
//! per process takes the keys that queued while its previous query ran and asks for all of them
//! in one query (`WHERE idempotency_key IN (…)`), instead of one checkout and one query each.
//! While keys keep coming it keeps its connection, so the checkout's validation query is not
//! paid per batch either. (Waiting a little for more keys per query was tried: 2 ms made
//! queries three times fewer in a rush, no faster, and cost a closed-loop client a third of its
//! refusals per second.)

use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crate::db::models::Booking;
use crate::db::{DbError, DbPool};

/// The most keys one query asks for.
const BATCH_CAP: usize = 512;

/// The longest the thread keeps one connection, however busy.
const HOLD_MAX: Duration = Duration::from_secs(1);

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
    // The connection is held while keys are already waiting when a batch ends, so a rush pays
    // one checkout (and its validation query) instead of one per batch, and goes back to the
    // pool as soon as none is. At most `HOLD_MAX` in a row, so after a switchover the next
    // checkout's validation finds the server that now takes writes within that.
    let mut held: Option<(crate::db::PooledConn, Instant)> = None;
    let mut waiting: Option<Lookup> = None;
    loop {
        let first = match waiting.take() {
            Some(first) => first,
            None => {
                held = None;
                match queue.recv() {
                    Ok(first) => first,
                    Err(_) => return,
                }
            }
        };
        let mut batch = vec![first];
        while batch.len() < BATCH_CAP {
            match queue.try_recv() {
                Ok(lookup) => batch.push(lookup),
                Err(_) => break,
            }
        }
        // Buyers who stopped waiting are not asked about.
        batch.retain(|l| !l.reply.is_closed());
        if !batch.is_empty() {
            let keys: Vec<&str> = batch.iter().map(|l| l.key.as_str()).collect();
            let found = find_all(pool, &mut held, &keys).unwrap_or_else(|e| {
                log::warn!("looking up repeated keys: {}", crate::db::error::chain(&e));
                Vec::new()
            });
            for lookup in batch {
                let earlier =
                    found.iter().find(|b| b.idempotency_key.as_deref() == Some(lookup.key.as_str()));
                let _ = lookup.reply.send(earlier.cloned());
            }
        }
        waiting = queue.try_recv().ok();
    }
}

/// The bookings that carry any of `keys`, on the held connection while it is young enough, else
/// on a fresh checkout that is then held. A connection that failed a query is not kept.
fn find_all(
    pool: &DbPool,
    held: &mut Option<(crate::db::PooledConn, Instant)>,
    keys: &[&str],
) -> Result<Vec<Booking>, DbError> {
    let (mut conn, since) = match held.take() {
        Some((conn, since)) if since.elapsed() < HOLD_MAX => (conn, since),
        _ => (crate::db::checkout(pool)?, Instant::now()),
    };
    let found = Booking::by_idempotency_keys(&mut conn, keys)?;
    *held = Some((conn, since));
    Ok(found)
}
