//! Batched reservations (group commit). Per process and per tier, one thread takes the holds
//! that queued while its previous batch ran (at most [`BATCH_CAP`]) and reserves them in one
//! transaction (`db::reserve::reserve_batch`): one conditional update for the sum, one
//! multi-row insert, one commit, instead of one of each per buyer. Under no load a batch is a
//! single hold and waits for nothing; under load the window is the time the previous batch took
//! (a millisecond or two), so the hot tier row is locked once per batch rather than once per
//! buyer. A crash mid-batch loses nothing: a batch is one transaction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::models::Booking;
use crate::db::reserve::{self, Reserved};
use crate::db::{DbError, DbPool};

/// The most holds one batch reserves.
pub const BATCH_CAP: usize = 64;

type Reply = tokio::sync::oneshot::Sender<Result<Reserved, DbError>>;

struct Job {
    hold: Booking,
    reply: Reply,
}

/// The per-tier queues of one process.
#[derive(Debug)]
pub struct Batcher {
    pool: DbPool,
    queues: Mutex<HashMap<String, Sender<Job>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hold.reference)
    }
}

impl Batcher {
    pub fn new(pool: DbPool) -> Self {
        Self { pool, queues: Mutex::default() }
    }

    /// Reserves `hold` in the next batch of its tier. Waits no longer than a pooled connection
    /// would (`DB_POOL_TIMEOUT_MS`): a stuck database is a quick 503 here too. A hold reserved
    /// after its buyer stopped waiting is released at once by the batch thread.
    pub async fn reserve(&self, hold: Booking) -> Result<Reserved, DbError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let mut job = Job { hold, reply };
        let patience = self.pool.connection_timeout();
        // A queue whose thread is gone (it cannot be, short of a panic) is started again.
        for _ in 0..2 {
            match self.queue(&job.hold.tier_id).send(job) {
                Ok(()) => {
                    return match tokio::time::timeout(patience, answer).await {
                        Ok(Ok(answer)) => answer,
                        Ok(Err(_)) => Err(failure("the reservation thread stopped", false)),
                        Err(_) => Err(failure("timed out waiting for the database to reserve", true)),
                    };
                }
                Err(mpsc::SendError(returned)) => {
                    job = returned;
                    if let Ok(mut queues) = self.queues.lock() {
                        queues.remove(&job.hold.tier_id);
                    }
                }
            }
        }
        Err(failure("the reservation thread cannot start", false))
    }

    fn queue(&self, tier_id: &str) -> Sender<Job> {
        let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues
            .entry(tier_id.to_owned())
            .or_insert_with(|| {
                let (sender, receiver) = mpsc::channel();
                let pool = self.pool.clone();
                let name = format!("reserve-{tier_id}");
                let spawned = std::thread::Builder::new().name(name).spawn(move || run(pool, receiver));
                if let Err(e) = spawned {
                    log::error!("cannot start a reservation thread: {e}");
                }
                sender
            })
            .clone()
    }
}

/// An error for every waiter of a failed batch (errors are not `Clone`), transient or not as
/// the original was.
pub(super) fn failure(message: &str, transient: bool) -> DbError {
    let kind = if transient { DatabaseErrorKind::ClosedConnection } else { DatabaseErrorKind::Unknown };
    DbError::Query(DieselError::DatabaseError(kind, Box::new(message.to_owned())))
}

fn run(pool: DbPool, queue: Receiver<Job>) {
    serve_batches(&pool, &queue, BATCH_CAP, serve);
}

/// A batch thread's loop: waits for one job, takes what else queued meanwhile (at most `cap`),
/// and serves them together. Ends when every sender (the shop) is gone.
pub(super) fn serve_batches<J>(pool: &DbPool, queue: &Receiver<J>, cap: usize, serve: fn(&DbPool, Vec<J>)) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < cap {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        serve(pool, batch);
    }
}

/// A pooled connection for a batch; without one, every job is told why with `tell`.
pub(super) fn connection_for<J>(
    pool: &DbPool,
    batch: Vec<J>,
    tell: impl Fn(J, DbError),
) -> Option<(crate::db::PooledConn, Vec<J>)> {
    match pool.get() {
        Ok(conn) => Some((conn, batch)),
        Err(e) => {
            let message = format!("no database connection: {e}");
            for job in batch {
                tell(job, failure(&message, true));
            }
            None
        }
    }
}

fn serve(pool: &DbPool, batch: Vec<Job>) {
    // Buyers who stopped waiting are not served.
    let batch: Vec<Job> = batch.into_iter().filter(|job| !job.reply.is_closed()).collect();
    if batch.is_empty() {
        return;
    }
    let Some((mut conn, batch)) = connection_for(pool, batch, |job, e| {
        let _ = job.reply.send(Err(e));
    }) else {
        return;
    };
    // The wait for a connection may have outlasted some buyers' patience.
    let batch: Vec<Job> = batch.into_iter().filter(|job| !job.reply.is_closed()).collect();
    // A key twice in one batch (a double click within a millisecond): the first goes in the
    // batch, the repeat after it, where it finds the first one's booking.
    let mut seen = std::collections::HashSet::new();
    let (batched, repeats): (Vec<Job>, Vec<Job>) = batch
        .into_iter()
        .partition(|job| job.hold.idempotency_key.as_ref().is_none_or(|key| seen.insert(key.clone())));
    let holds: Vec<Booking> = batched.iter().map(|job| job.hold.clone()).collect();
    let mut abandoned = Vec::new();
    let mut answer = |job: Job, answer: Result<Reserved, DbError>| {
        if let Err(Ok(Reserved::Held(hold))) = job.reply.send(answer) {
            abandoned.push(hold);
        }
    };
    match reserve::reserve_batch(&mut conn, holds) {
        Ok(answers) => {
            for (job, reserved) in batched.into_iter().zip(answers) {
                answer(job, Ok(reserved));
            }
        }
        // Another process committed one of these keys meanwhile: one at a time, then.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            for job in batched {
                let reserved = one(&mut conn, job.hold.clone());
                answer(job, reserved);
            }
        }
        Err(e) => {
            let e = DbError::Query(e);
            let (message, transient) = (crate::db::error::chain(&e), e.is_transient());
            log::warn!("a reservation batch failed: {message}");
            for job in batched {
                answer(job, Err(failure(&message, transient)));
            }
        }
    }
    for job in repeats {
        let reserved = one(&mut conn, job.hold.clone());
        answer(job, reserved);
    }
    // Seats taken for buyers who gave up waiting go straight back.
    for hold in abandoned {
        match super::steps::release(
            &mut conn,
            &hold,
            "Abandoned: the buyer stopped waiting",
            crate::clock::now_millis(),
        ) {
            Ok(_) => log::warn!("{}: reserved after its buyer stopped waiting; released", hold.reference),
            Err(e) => log::warn!(
                "{}: abandoned hold left to the sweeper: {}",
                hold.reference,
                crate::db::error::chain(&e)
            ),
        }
    }
}

/// One hold on its own; a reference that collides (1 in 2^50) is drawn again.
fn one(conn: &mut crate::db::DbConnection, mut hold: Booking) -> Result<Reserved, DbError> {
    for _ in 0..3 {
        match reserve::reserve(conn, hold.clone()) {
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                hold.reference = super::Reference::generate().to_string();
            }
            other => return other.map_err(DbError::from),
        }
    }
    Err(failure("could not allocate a unique booking reference", false))
}
