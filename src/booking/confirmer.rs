//! Batched confirmations (group commit). Paid holds from every request of this process queue
//! here; one thread confirms the ones that queued while its previous batch ran in one
//! transaction with one statement (`Booking::confirm_held_many`). A hold that is no longer
//! held (expired or voided while its buyer paid) takes the careful path of `steps::confirm`
//! on its own: the seats again, or the refund owed.

use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};

use super::steps::{self, Settlement};
use crate::clock::now_millis;
use crate::db::models::Booking;
use crate::db::{DbError, DbPool, write_transaction};

/// The most confirmations one batch records.
const BATCH_CAP: usize = 128;

type Reply = tokio::sync::oneshot::Sender<Result<Settlement, DbError>>;

struct Job {
    booking: Booking,
    transaction_id: String,
    reply: Reply,
}

/// The confirmation queue of one process.
pub struct Confirmer {
    pool: DbPool,
    queue: Mutex<Option<Sender<Job>>>,
}

impl std::fmt::Debug for Confirmer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Confirmer")
    }
}

impl Confirmer {
    pub fn new(pool: DbPool) -> Self {
        Self { pool, queue: Mutex::new(None) }
    }

    /// Confirms `booking`, paid as `transaction_id`, in the next batch. Waits no longer than a
    /// pooled connection would; the caller retries (a confirmation is safe to repeat).
    pub async fn confirm(&self, booking: Booking, transaction_id: String) -> Result<Settlement, DbError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job { booking, transaction_id, reply };
        if self.sender().send(job).is_err() {
            if let Ok(mut queue) = self.queue.lock() {
                *queue = None; // the thread is gone: the next call starts another
            }
            return Err(super::batcher::failure("the confirmation thread stopped", false));
        }
        match tokio::time::timeout(self.pool.connection_timeout(), answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(super::batcher::failure("the confirmation thread stopped", false)),
            Err(_) => Err(super::batcher::failure("timed out waiting for the database to confirm", true)),
        }
    }

    fn sender(&self) -> Sender<Job> {
        let mut queue = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        queue
            .get_or_insert_with(|| {
                let (sender, receiver) = mpsc::channel();
                let pool = self.pool.clone();
                if let Err(e) =
                    std::thread::Builder::new().name("confirm".into()).spawn(move || run(pool, receiver))
                {
                    log::error!("cannot start the confirmation thread: {e}");
                }
                sender
            })
            .clone()
    }
}

fn run(pool: DbPool, queue: Receiver<Job>) {
    super::batcher::serve_batches(&pool, &queue, BATCH_CAP, serve);
}

fn serve(pool: &DbPool, batch: Vec<Job>) {
    let Some((mut conn, batch)) = super::batcher::connection_for(pool, batch, |job, e| {
        let _ = job.reply.send(Err(e));
    }) else {
        return;
    };
    let paid: Vec<(String, String)> =
        batch.iter().map(|j| (j.booking.id.clone(), j.transaction_id.clone())).collect();
    let now = now_millis();
    // One transaction: the confirmations, and the tickets and email of each (as `steps::confirm`
    // writes them for one booking).
    let confirmed = write_transaction(&mut conn, |c| -> Result<Vec<String>, DbError> {
        let ids = crate::db::models::Booking::confirm_held_many(c, &paid, now)?;
        let confirmed: Vec<&Booking> =
            batch.iter().map(|job| &job.booking).filter(|b| ids.contains(&b.id)).collect();
        super::tickets::issue_all(c, &confirmed, now)?;
        Ok(ids)
    });
    match confirmed {
        Ok(ids) => {
            for job in batch {
                if ids.contains(&job.booking.id) {
                    let _ = job.reply.send(Ok(Settlement::Confirmed));
                } else {
                    // Not held any more: the seats again if they are there, else a refund.
                    let answer = steps::confirm(&mut conn, &job.booking, &job.transaction_id, now_millis());
                    let _ = job.reply.send(answer);
                }
            }
        }
        Err(e) => {
            let (message, transient) = (crate::db::error::chain(&e), e.is_transient());
            log::warn!("a confirmation batch failed: {message}");
            for job in batch {
                let _ = job.reply.send(Err(super::batcher::failure(&message, transient)));
            }
        }
    }
}
