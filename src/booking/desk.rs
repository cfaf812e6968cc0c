//! The desks: per process and per tier, one thread that serves its tier's work in batches
//! (group commit). Whatever queued while the previous batch ran (at most [`BATCH_CAP`]) is
//! served together by `pipeline::serve` in one transaction: new holds, paid holds to confirm
//! and declined holds to release, so under load one commit carries many buyers' reservations
//! and confirmations, and the hot tier row is locked once per batch. Under no load a batch is
//! one piece of work and waits for nothing.
//!
//! On PostgreSQL a batch is first offered to `pipeline::serve_quick`: the common batch (new
//! holds that all fit, paid holds still held) is one autocommit statement, one round trip
//! instead of six. What it declines is served by `serve` at once; a paid booking it leaves open
//! (its hold ended meanwhile) is served by `serve` in the next batch, which starts at once.
//!
//! A desk exists only for a tier the database has: the shop checks the tier against its
//! availability snapshot before it queues a reservation, and confirmations and releases name
//! bookings that were reserved. A made-up tier name costs no thread and no queue.
//!
//! While its tier is busy a desk keeps its pooled connection from one batch to the next (the
//! pool checks a connection on every checkout, one round trip of a batch's eight), and gives it
//! back after 200 ms (`HOLD_IDLE`) without work, or at once when the pool has no other connection
//! idle and no room for one. A batch whose connection meets a read-only server (a switchover,
//! SQLSTATE 25006) committed nothing: it runs again on a fresh connection, which the pool
//! checks as ever.
//!
//! A crash mid-batch loses nothing: a batch is one transaction.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::availability::Availability;
use super::pipeline::{self, Done, Reserved, Settlement, Work};
use crate::clock::now_millis;
use crate::db::{DbError, DbPool, PooledConn};

/// The most pieces of work one batch serves.
pub const BATCH_CAP: usize = 128;

/// How long a desk keeps its connection with no work queued.
const HOLD_IDLE: Duration = Duration::from_millis(200);

/// Why a desk could not answer. Keeps the real cause, and whether it is worth a retry.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    /// The batch's transaction failed; every piece of work in it gets this.
    #[error("the {tier} batch failed")]
    Batch {
        tier: String,
        #[source]
        cause: Arc<DbError>,
    },
    /// No answer within the patience (the database is slow or unreachable).
    #[error("no answer from the {tier} desk within {waited:?}")]
    TimedOut { tier: String, waited: Duration },
    /// The desk's thread is gone (it panicked): a bug.
    #[error("the {tier} desk stopped")]
    Stopped { tier: String },
}

impl PipelineError {
    /// True for trouble that goes away by itself (a 503 and a retry); false for a fault.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Batch { cause, .. } => cause.is_transient(),
            Self::TimedOut { .. } => true,
            Self::Stopped { .. } => false,
        }
    }
}

type Reply = tokio::sync::oneshot::Sender<Result<Done, PipelineError>>;

/// A piece of work and whom to answer (nobody, for work the desk gives itself).
struct Job {
    work: Work,
    reply: Option<Reply>,
    /// Left open by a quick batch (a paid booking no longer held): `serve`'s alone.
    careful: bool,
}

impl Job {
    /// A reservation whose buyer stopped waiting is not served.
    fn abandoned(&self) -> bool {
        matches!(self.work, Work::Reserve(_)) && self.reply.as_ref().is_none_or(|r| r.is_closed())
    }
}

/// What the desks tell the rest of the process after each batch.
#[derive(Clone)]
pub struct Listeners {
    pub availability: Arc<Availability>,
    pub refunds_due: Arc<tokio::sync::Notify>,
    pub emails_due: Arc<tokio::sync::Notify>,
}

/// The desks of one process.
pub struct Desks {
    pool: DbPool,
    listeners: Listeners,
    queues: Mutex<HashMap<String, Sender<Job>>>,
    /// When (millis) a desk last finished a batch: the process is busy booking.
    last_batch: Arc<AtomicI64>,
}

/// How recent a batch must be for the process to count as busy booking.
const BUSY_FOR_MILLIS: i64 = 250;

impl std::fmt::Debug for Desks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Desks")
    }
}

impl Desks {
    pub fn new(pool: DbPool, listeners: Listeners) -> Self {
        Self { pool, listeners, queues: Mutex::default(), last_batch: Arc::default() }
    }

    /// True while the desks are serving bookings (a batch finished in the last 250 ms): work
    /// that can wait (sending email) waits, so the booking threads keep the CPU in a burst.
    pub fn busy(&self) -> bool {
        now_millis() - self.last_batch.load(Ordering::Relaxed) < BUSY_FOR_MILLIS
    }

    /// Queues `work` at the desk of its booking's tier and waits for the answer, no longer
    /// than a pooled connection would be waited for (`DB_POOL_TIMEOUT_MS`): a stuck database
    /// is a quick 503 here too. The caller must know the tier exists (see the module header).
    pub async fn submit(&self, work: Work) -> Result<Done, PipelineError> {
        let tier = work.booking().tier_id.clone();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let mut job = Job { work, reply: Some(reply), careful: false };
        let patience = self.pool.connection_timeout();
        // A queue whose thread is gone (it cannot be, short of a panic) is started again.
        for _ in 0..2 {
            match self.queue(&tier).send(job) {
                Ok(()) => {
                    return match tokio::time::timeout(patience, answer).await {
                        Ok(Ok(answer)) => answer,
                        Ok(Err(_)) => Err(PipelineError::Stopped { tier }),
                        Err(_) => Err(PipelineError::TimedOut { tier, waited: patience }),
                    };
                }
                Err(mpsc::SendError(returned)) => {
                    job = returned;
                    if let Ok(mut queues) = self.queues.lock() {
                        queues.remove(&tier);
                    }
                }
            }
        }
        Err(PipelineError::Stopped { tier })
    }

    /// How many desks (threads) this process runs.
    pub fn count(&self) -> usize {
        self.queues.lock().map(|q| q.len()).unwrap_or(0)
    }

    fn queue(&self, tier_id: &str) -> Sender<Job> {
        let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues
            .entry(tier_id.to_owned())
            .or_insert_with(|| {
                let (sender, receiver) = mpsc::channel();
                let desk = Desk {
                    pool: self.pool.clone(),
                    tier: tier_id.to_owned(),
                    listeners: self.listeners.clone(),
                    ticket_key: None,
                    last_batch: self.last_batch.clone(),
                    held: None,
                };
                let spawned = std::thread::Builder::new()
                    .name(format!("desk-{tier_id}"))
                    .spawn(move || desk.run(receiver));
                if let Err(e) = spawned {
                    log::error!("cannot start the {tier_id} desk: {e}");
                }
                sender
            })
            .clone()
    }
}

/// One tier's desk thread.
struct Desk {
    pool: DbPool,
    tier: String,
    listeners: Listeners,
    /// The ticket signing key, read once (it is fixed for the database's lifetime).
    ticket_key: Option<String>,
    last_batch: Arc<AtomicI64>,
    /// The connection kept from the last batch while the tier is busy.
    held: Option<PooledConn>,
}

impl Desk {
    /// Serves batches until every sender (the shop) is gone.
    fn run(mut self, queue: Receiver<Job>) {
        // Work carried to the next batch: repeats of a key, and holds to give back.
        let mut carried: Vec<Job> = Vec::new();
        loop {
            if carried.is_empty() {
                let next = match self.held {
                    Some(_) => match queue.recv_timeout(HOLD_IDLE) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            self.held = None;
                            queue.recv().ok()
                        }
                        other => other.ok(),
                    },
                    None => queue.recv().ok(),
                };
                match next {
                    Some(job) => carried.push(job),
                    None => return,
                }
            }
            while carried.len() < BATCH_CAP {
                match queue.try_recv() {
                    Ok(job) => carried.push(job),
                    Err(_) => break,
                }
            }
            let (batch, later) = split_repeats(std::mem::take(&mut carried));
            carried = later;
            if !batch.is_empty() {
                carried.extend(self.serve(batch));
            }
        }
    }

    /// Serves one batch; returns the work it gives itself for the next one (holds reserved
    /// for buyers who stopped waiting go straight back).
    fn serve(&mut self, batch: Vec<Job>) -> Vec<Job> {
        let mut conn = match self.held.take().map_or_else(|| crate::db::checkout(&self.pool), Ok) {
            Ok(conn) => conn,
            Err(e) => {
                self.fail(batch, DbError::from(e));
                return Vec::new();
            }
        };
        let key = match &self.ticket_key {
            Some(key) => key.clone(),
            None => match super::tickets::signing_key(&mut conn) {
                Ok(key) => self.ticket_key.insert(key).clone(),
                Err(e) => {
                    self.fail(batch, e);
                    return Vec::new();
                }
            },
        };
        let mut work: Vec<Work> = batch.iter().map(|job| job.work.clone()).collect();
        if batch.iter().all(|job| !job.careful) {
            match pipeline::serve_quick(&mut conn, &self.tier, &work, &key, now_millis()) {
                Ok(Some(quick)) => return self.finish(conn, batch, quick.answers, Some(&quick.seats), false),
                // Declined (the holds do not all fit), a key already on a booking, or a
                // read-only server: nothing was changed, and `serve` answers each as ever.
                Ok(None)
                | Err(DbError::Query(DieselError::DatabaseError(
                    DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::ReadOnlyTransaction,
                    _,
                ))) => {}
                // Anything else (the database went away) is the batch's answer, as it would be
                // `serve`'s.
                Err(e) => {
                    self.fail(batch, e);
                    return Vec::new();
                }
            }
        }
        let mut tries = 0;
        let mut switches = 0;
        let served = loop {
            tries += 1;
            match pipeline::serve(&mut conn, &self.tier, &work, &key, now_millis()) {
                // Another process committed one of these keys (or, 1 in 2^50, a reference)
                // meanwhile: again, when the key is seen as a replay.
                Err(DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)))
                    if tries < 3 =>
                {
                    log::info!(
                        "{} batch met a key or reference committed meanwhile ({}); again",
                        self.tier,
                        info.message()
                    );
                    for w in &mut work {
                        if let Work::Reserve(hold) = w {
                            hold.reference = super::Reference::generate().to_string();
                        }
                    }
                }
                // Nothing was committed: again on a connection the pool checks, which finds
                // the host that now takes writes (or fails as a checkout would). Twice at most:
                // a session applies a configuration reload only after its next command, so an
                // idle one made read-only that way passes one check and fails its next write.
                Err(DbError::Query(DieselError::DatabaseError(
                    DatabaseErrorKind::ReadOnlyTransaction,
                    _,
                ))) if switches < 2 => {
                    switches += 1;
                    log::info!("{} batch met a read-only server; again on a fresh connection", self.tier);
                    self.pool.met_read_only();
                    drop(conn);
                    conn = match crate::db::checkout(&self.pool) {
                        Ok(conn) => conn,
                        Err(e) => {
                            self.fail(batch, DbError::from(e));
                            return Vec::new();
                        }
                    };
                }
                other => break other,
            }
        };
        let served = match served {
            Ok(served) => served,
            Err(e) => {
                // The connection goes back to the pool, which drops it if it is broken.
                self.fail(batch, e);
                return Vec::new();
            }
        };
        let answers = served.answers.into_iter().map(Some).collect();
        self.finish(conn, batch, answers, served.seats.as_ref(), served.refunds_owed)
    }

    /// After a batch committed: keeps the connection while the tier is busy, tells the rest of
    /// the process, and answers each job. Returns the work for the next batch: holds reserved
    /// for buyers who stopped waiting go straight back, and jobs a quick batch left open
    /// (`None`) are served the careful way.
    fn finish(
        &mut self,
        conn: PooledConn,
        batch: Vec<Job>,
        answers: Vec<Option<Done>>,
        seats: Option<&crate::db::tiers::Seats>,
        refunds_owed: bool,
    ) -> Vec<Job> {
        if self.pool.has_spare() {
            self.held = Some(conn);
        }
        self.last_batch.store(now_millis(), Ordering::Relaxed);
        if let Some(seats) = seats {
            self.listeners.availability.observe(seats);
        }
        if refunds_owed {
            self.listeners.refunds_due.notify_one();
        }
        if answers.iter().any(|d| matches!(d, Some(Done::Settled(Settlement::Confirmed)))) {
            // Their tickets' emails were queued with the confirmations: send them soon.
            self.listeners.emails_due.notify_one();
        }
        let mut next = Vec::new();
        for (job, done) in batch.into_iter().zip(answers) {
            let Some(done) = done else {
                next.push(Job { careful: true, ..job });
                continue;
            };
            let Some(reply) = job.reply else { continue };
            if let Err(Ok(Done::Reserved(Reserved::Held(hold)))) = reply.send(Ok(done)) {
                log::warn!("{}: reserved after its buyer stopped waiting; giving it back", hold.reference);
                let reason = "Abandoned: the buyer stopped waiting".to_owned();
                // No charge was ever asked for: the answer is final.
                next.push(Job {
                    work: Work::Release { booking: hold, reason, checked: true },
                    reply: None,
                    careful: true,
                });
            }
        }
        next
    }

    /// Tells every job of a failed batch why. Work nobody waits for any more is left to the
    /// sweeper and the reconciliation, which settle it from the database and the gateway.
    fn fail(&self, batch: Vec<Job>, cause: DbError) {
        let error = PipelineError::Batch { tier: self.tier.clone(), cause: Arc::new(cause) };
        log::warn!("{}", crate::db::error::chain(&error));
        for job in batch {
            if let Some(reply) = job.reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

/// Splits off the work a batch must not hold twice: a reservation whose idempotency key an
/// earlier one in the batch carries (a double click within a millisecond) goes to the next
/// batch, where it finds the first one's booking. Abandoned reservations are dropped.
fn split_repeats(jobs: Vec<Job>) -> (Vec<Job>, Vec<Job>) {
    let mut keys = HashSet::new();
    let mut batch = Vec::new();
    let mut later = Vec::new();
    for job in jobs {
        if job.abandoned() {
            continue;
        }
        let repeat = match &job.work {
            Work::Reserve(hold) => hold.idempotency_key.as_ref().is_some_and(|key| !keys.insert(key.clone())),
            _ => false,
        };
        if repeat { later.push(job) } else { batch.push(job) }
    }
    (batch, later)
}
