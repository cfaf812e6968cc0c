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
//! **Answered once durable.** The quick statement commits without waiting for its WAL to reach
//! the disk (and a synchronous standby), so the tier row's lock is held for the statement
//! alone, not for the flush too, and the desk starts its next batch at once. Its answers wait
//! at the process's flusher: a thread that makes everything committed so far durable with one
//! small synchronous commit (a WAL record only: `pg_logical_emit_message`), then answers every
//! batch that waited for it. Nobody is answered, charged or mailed on a commit that is not yet
//! durable: a hold is paid for only after its answer, the email sender claims a message with a
//! synchronous commit of its own, which flushes everything before it, and so does every other
//! transaction that changes something. What a crash of the database before the flush takes
//! with it was never answered (its buyer gets a 503, as for a commit whose outcome is unknown).
//! The flush must reach the server that committed the batch (its postmaster's start time is
//! compared): a flush on a standby promoted meanwhile, or on the same server restarted, or a
//! read-only server, is tried again on a fresh connection, and a batch still not flushed after
//! three tries is answered `NotDurable`. `serve`'s transactions commit synchronously and
//! answer at once. Readers of the database (a booking's page) may see a quick batch's rows a
//! flush (about a millisecond) before they are durable, as they may see a commit before a
//! standby has it.
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
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::availability::Availability;
use super::pipeline::{self, Done, Reserved, Settlement, Work};
use crate::clock::now_millis;
use crate::db::{DbError, DbPool, PooledConn};

/// The most pieces of work one batch serves.
pub const BATCH_CAP: usize = 128;

/// How many times the flusher tries to make a batch durable (see `Flusher::run`).
const FLUSH_TRIES: usize = 3;

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
    /// The batch committed, but could not be made durable: it may be lost with the database.
    /// Every piece of work in it gets this, as for a commit whose outcome is unknown.
    #[error("the {tier} batch committed but could not be made durable")]
    NotDurable {
        tier: String,
        #[source]
        cause: Arc<FlushError>,
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
            // Asking again is the way to learn what became of it.
            Self::NotDurable { .. } | Self::TimedOut { .. } => true,
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

/// Every desk's queue, by tier.
type Queues = Mutex<HashMap<String, Sender<Job>>>;

/// The desks of one process.
pub struct Desks {
    pool: DbPool,
    listeners: Listeners,
    /// The only strong reference: dropping the desks closes every queue, and each desk's
    /// thread (and then the flusher's) ends.
    queues: Arc<Queues>,
    /// When (millis) a desk last finished a batch: the process is busy booking.
    last_batch: Arc<AtomicI64>,
    /// The flusher's inbox, opened by the first quick batch (PostgreSQL only).
    flusher: Arc<OnceLock<Sender<Answers>>>,
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
        Self { pool, listeners, queues: Arc::default(), last_batch: Arc::default(), flusher: Arc::default() }
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
                    queues: Arc::downgrade(&self.queues),
                    flusher: self.flusher.clone(),
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

/// A desk's pooled connection. While the desk holds it, its plans are generic and made with
/// sequential scans discouraged (`db::plan_by_key`): the quick statement is prepared and
/// planned once per connection and its plan kept while `bookings` grows, and every statement a
/// desk runs finds its rows by a key. Given back to the pool as it was taken.
struct DeskConn {
    conn: PooledConn,
    /// Whether `plan_by_key` was applied (and is to be undone).
    by_key: bool,
}

impl DeskConn {
    fn take(pool: &DbPool) -> Result<Self, r2d2::Error> {
        let mut conn = crate::db::checkout(pool)?;
        // A connection that fails this fails the batch's statement next, which says why.
        let by_key = pool.keeps_plans() && crate::db::plan_by_key(&mut conn).is_ok();
        Ok(Self { conn, by_key })
    }
}

impl std::ops::Deref for DeskConn {
    type Target = PooledConn;
    fn deref(&self) -> &PooledConn {
        &self.conn
    }
}

impl std::ops::DerefMut for DeskConn {
    fn deref_mut(&mut self) -> &mut PooledConn {
        &mut self.conn
    }
}

impl Drop for DeskConn {
    fn drop(&mut self) {
        if self.by_key && crate::db::plan_plainly(&mut self.conn).is_err() {
            // Broken: the pool drops it (`has_broken`).
            log::debug!("a desk's connection could not be given back as taken");
        }
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
    held: Option<DeskConn>,
    /// For starting the flusher, which sends back holds whose buyers stopped waiting.
    queues: Weak<Queues>,
    flusher: Arc<OnceLock<Sender<Answers>>>,
}

impl Desk {
    /// Serves batches until every sender (the shop) is gone.
    fn run(mut self, queue: Receiver<Job>) {
        // Work carried to the next batch: repeats of a key, and holds to give back.
        let mut carried: Vec<Job> = Vec::new();
        loop {
            if carried.is_empty() {
                match next_keeping_for_a_while(&queue, &mut self.held) {
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
        let mut conn = match self.held.take().map_or_else(|| DeskConn::take(&self.pool), Ok) {
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
                Ok(Some(quick)) => {
                    return self.finish(
                        conn,
                        batch,
                        quick.answers,
                        Some(&quick.seats),
                        false,
                        Commit::Unflushed { server: quick.server },
                    );
                }
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
                    conn = match DeskConn::take(&self.pool) {
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
        self.finish(conn, batch, answers, served.seats.as_ref(), served.refunds_owed, Commit::Durable)
    }

    /// After a batch committed: keeps the connection while the tier is busy, tells the rest of
    /// the process, and answers each job (a quick batch's once the flusher has made it
    /// durable). Returns the work for the next batch: holds reserved for buyers who stopped
    /// waiting go straight back, and jobs a quick batch left open (`None`) are served the
    /// careful way.
    fn finish(
        &mut self,
        mut conn: DeskConn,
        batch: Vec<Job>,
        answers: Vec<Option<Done>>,
        seats: Option<&crate::db::tiers::Seats>,
        refunds_owed: bool,
        commit: Commit,
    ) -> Vec<Job> {
        self.last_batch.store(now_millis(), Ordering::Relaxed);
        if let Some(seats) = seats {
            // Counts for the pages: a display, so it need not wait for the flush.
            self.listeners.availability.observe(seats);
        }
        if refunds_owed {
            self.listeners.refunds_due.notify_one();
        }
        let mut next = Vec::new();
        let mut answered = Vec::new();
        for (job, done) in batch.into_iter().zip(answers) {
            match done {
                None => next.push(Job { careful: true, ..job }),
                Some(done) => answered.push((job.reply, done)),
            }
        }
        match commit {
            Commit::Unflushed { server } => {
                let answers = Answers { tier: self.tier.clone(), server, answered };
                match self.flusher().send(answers) {
                    Ok(()) => {}
                    // No flusher (its thread could not start): made durable here, on the
                    // connection that committed it.
                    Err(mpsc::SendError(answers)) => {
                        let flushed = make_durable(&mut conn, &self.pool).map(drop).map_err(Arc::new);
                        next.extend(answers.give(flushed, &self.listeners.emails_due));
                    }
                }
            }
            Commit::Durable => {
                let answers = Answers { tier: self.tier.clone(), server: String::new(), answered };
                next.extend(answers.give(Ok(()), &self.listeners.emails_due));
            }
        }
        if self.pool.has_spare() {
            self.held = Some(conn);
        }
        next
    }

    /// The flusher's inbox; its thread starts with the first quick batch.
    fn flusher(&self) -> &Sender<Answers> {
        self.flusher.get_or_init(|| {
            let (inbox, waiting) = mpsc::channel();
            let flusher = Flusher {
                pool: self.pool.clone(),
                queues: self.queues.clone(),
                emails_due: self.listeners.emails_due.clone(),
                held: None,
            };
            let spawned =
                std::thread::Builder::new().name("flusher".into()).spawn(move || flusher.run(waiting));
            if let Err(e) = spawned {
                log::error!("cannot start the flusher; desks will flush their own batches: {e}");
            }
            inbox
        })
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

/// Whether a batch's commit is durable when it returns: `serve`'s transaction commits
/// synchronously, the quick statement does not (see the module header).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Commit {
    Durable,
    /// Committed on the server named (`Quick::server`), not yet flushed.
    Unflushed {
        server: String,
    },
}

/// Why a quick batch could not be made durable. Its buyers get a 503 and ask again.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error("the flush failed")]
    Database(#[from] DbError),
    /// The server takes no writes now (a switchover): its flush would wait for a standby
    /// that is gone.
    #[error("the database server is read-only now")]
    ReadOnly,
    /// The flush reached another server than the commit (a standby promoted meanwhile, or the
    /// same one restarted): what it flushed says nothing of the batch.
    #[error("the database server changed between the commit ({committed}) and the flush ({flushed})")]
    ServerChanged { committed: String, flushed: String },
}

/// A batch's answers, given once its commit is durable.
struct Answers {
    tier: String,
    /// The server that committed it (empty for a batch that committed synchronously).
    server: String,
    /// Each answered job's reply (none for work a desk gave itself) and its answer.
    answered: Vec<(Option<Reply>, Done)>,
}

impl Answers {
    /// Answers each job, or tells each why it cannot be answered. Returns the holds reserved
    /// for buyers who stopped waiting meanwhile, to be given back.
    fn give(self, durable: Result<(), Arc<FlushError>>, emails_due: &tokio::sync::Notify) -> Vec<Job> {
        let mut back = Vec::new();
        if let Err(cause) = durable {
            let error = PipelineError::NotDurable { tier: self.tier, cause };
            log::warn!("{}", crate::db::error::chain(&error));
            for (reply, _) in self.answered {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(error.clone()));
                }
            }
            return back;
        }
        if self.answered.iter().any(|(_, done)| matches!(done, Done::Settled(Settlement::Confirmed))) {
            // Their tickets' emails were queued with the confirmations: send them soon.
            emails_due.notify_one();
        }
        for (reply, done) in self.answered {
            let Some(reply) = reply else { continue };
            if let Err(Ok(Done::Reserved(Reserved::Held(hold)))) = reply.send(Ok(done)) {
                log::warn!("{}: reserved after its buyer stopped waiting; giving it back", hold.reference);
                let reason = "Abandoned: the buyer stopped waiting".to_owned();
                // No charge was ever asked for: the answer is final.
                back.push(Job {
                    work: Work::Release { booking: hold, reason, checked: true },
                    reply: None,
                    careful: true,
                });
            }
        }
        back
    }
}

/// Makes every commit so far on this connection's server durable: one small synchronous
/// commit, whose flush takes the WAL of every earlier commit with it (to the disk, and to a
/// synchronous standby). A transactional logical-decoding message is the smallest commit that
/// writes WAL; a transaction that writes none (`SELECT txid_current()`) commits without a
/// flush. Nothing is written on a read-only server (a switchover: the commit would wait for a
/// standby that is gone). Returns the server's name (its postmaster's start time).
fn make_durable(conn: &mut PooledConn, pool: &DbPool) -> Result<String, FlushError> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Bool, Text};

    #[derive(diesel::QueryableByName)]
    struct Flushed {
        #[diesel(sql_type = Text)]
        server: String,
        #[diesel(sql_type = Bool)]
        flushed: bool,
    }
    let crate::db::DbConnection::Pg(pg) = &mut **conn else {
        unreachable!("only PostgreSQL's quick batches wait for a flush")
    };
    let flushed: Flushed = Flush.get_result(pg).map_err(DbError::from)?;
    if !flushed.flushed {
        pool.met_read_only();
        return Err(FlushError::ReadOnly);
    }
    Ok(flushed.server)
}

/// The flush's statement. One text with no parameters, so diesel prepares it once per
/// connection (unless `DB_STATEMENT_CACHE` is off) instead of PostgreSQL parsing and planning
/// it for every flush, as it would through `sql_query`.
struct Flush;

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Flush {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(
            "SELECT pg_postmaster_start_time()::text AS server,
                    (SELECT pg_logical_emit_message(true, 'techkraft', 'durable')
                      WHERE current_setting('transaction_read_only') = 'off') IS NOT NULL AS flushed",
        );
        Ok(())
    }
}

impl diesel::query_builder::QueryId for Flush {
    type QueryId = Flush;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for Flush {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::RunQueryDsl<diesel::PgConnection> for Flush {}

/// The process's flusher thread: makes quick batches durable, several per flush when they
/// queue while one runs, and gives their answers.
struct Flusher {
    pool: DbPool,
    queues: Weak<Queues>,
    emails_due: Arc<tokio::sync::Notify>,
    /// The connection kept while batches keep coming, as a desk keeps its own.
    held: Option<PooledConn>,
}

impl Flusher {
    /// Flushes until every desk is gone.
    fn run(mut self, waiting: Receiver<Answers>) {
        loop {
            let Some(first) = next_keeping_for_a_while(&waiting, &mut self.held) else { return };
            let mut batches: Vec<Answers> = std::iter::once(first).chain(waiting.try_iter()).collect();
            // A flush that failed, or reached another server than a batch's commit, is tried
            // again on a fresh connection (the pool's, which finds the host that takes writes
            // after a switchover): a batch committed there is answered after all. What is still
            // not flushed after three tries may be lost: its buyers are told to ask again.
            let mut failure = None;
            for _ in 0..FLUSH_TRIES {
                let server = match self.flush() {
                    Ok(server) => server,
                    Err(e) => {
                        failure = Some(Arc::new(e));
                        continue;
                    }
                };
                let (durable, elsewhere): (Vec<_>, Vec<_>) =
                    batches.into_iter().partition(|answers| answers.server == server);
                for answers in durable {
                    self.give(answers, Ok(()));
                }
                batches = elsewhere;
                let Some(other) = batches.first() else { break };
                failure = Some(Arc::new(FlushError::ServerChanged {
                    committed: other.server.clone(),
                    flushed: server,
                }));
                self.held = None;
            }
            for answers in batches {
                let cause = failure.clone().unwrap_or_else(|| Arc::new(FlushError::ReadOnly));
                self.give(answers, Err(cause));
            }
        }
    }

    /// Answers a batch; holds whose buyers stopped waiting go back to the tier's desk (none
    /// once the desks are gone: the sweeper ends them).
    fn give(&self, answers: Answers, durable: Result<(), Arc<FlushError>>) {
        let tier = answers.tier.clone();
        let back = answers.give(durable, &self.emails_due);
        if back.is_empty() {
            return;
        }
        if let Some(queues) = self.queues.upgrade()
            && let Some(desk) = queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&tier)
        {
            for job in back {
                let _ = desk.send(job);
            }
        }
    }

    fn flush(&mut self) -> Result<String, FlushError> {
        let mut conn = match self.held.take() {
            Some(conn) => conn,
            None => crate::db::checkout(&self.pool).map_err(DbError::from)?,
        };
        let flushed = make_durable(&mut conn, &self.pool);
        // A connection that failed goes back to the pool, which drops it if it is broken.
        if flushed.is_ok() && self.pool.has_spare() {
            self.held = Some(conn);
        }
        flushed
    }
}

/// Waits for the next message (`None` once every sender is gone). A connection kept from the
/// last use is given back to the pool after `HOLD_IDLE` without one.
fn next_keeping_for_a_while<T, C>(queue: &Receiver<T>, held: &mut Option<C>) -> Option<T> {
    if held.is_some() {
        match queue.recv_timeout(HOLD_IDLE) {
            Err(mpsc::RecvTimeoutError::Timeout) => *held = None,
            other => return other.ok(),
        }
    }
    queue.recv().ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::{Booking, BookingStatus};

    fn hold() -> Booking {
        Booking {
            id: "b1".into(),
            reference: "TK-TEST-TEST-01".into(),
            tier_id: "vip".into(),
            quantity: 2,
            unit_price_cents: 10_000,
            total_cents: 20_000,
            customer_name: "Ada".into(),
            customer_email: "ada@example.com".into(),
            user_id: None,
            status: BookingStatus::Held,
            idempotency_key: None,
            transaction_id: None,
            failure_reason: None,
            hold_expires_at: 60_000,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn answers(
        dones: Vec<Done>,
    ) -> (Answers, Vec<tokio::sync::oneshot::Receiver<Result<Done, PipelineError>>>) {
        let mut answered = Vec::new();
        let mut waiting = Vec::new();
        for done in dones {
            let (reply, answer) = tokio::sync::oneshot::channel();
            answered.push((Some(reply), done));
            waiting.push(answer);
        }
        (Answers { tier: "vip".into(), server: "s1".into(), answered }, waiting)
    }

    #[test]
    fn a_batch_that_could_not_be_made_durable_answers_every_buyer_try_again_and_gives_nothing_back() {
        let held = Done::Reserved(Reserved::Held(hold()));
        let confirmed = Done::Settled(Settlement::Confirmed);
        let (batch, mut waiting) = answers(vec![held, confirmed]);
        let emails = tokio::sync::Notify::new();
        let cause = Arc::new(FlushError::ServerChanged { committed: "s1".into(), flushed: "s2".into() });

        let back = batch.give(Err(cause), &emails);

        assert!(back.is_empty(), "nothing is given back for a batch whose fate is unknown");
        for answer in &mut waiting {
            match answer.try_recv() {
                Ok(Err(e @ PipelineError::NotDurable { .. })) => {
                    assert!(e.is_transient(), "a 503 and a retry, never a 500: {e}");
                }
                other => panic!("expected NotDurable, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_durable_batch_answers_each_buyer_and_gives_back_a_hold_nobody_waits_for() {
        let (batch, mut waiting) =
            answers(vec![Done::Reserved(Reserved::Held(hold())), Done::Settled(Settlement::Confirmed)]);
        // The first buyer stopped waiting while the batch was being flushed.
        drop(waiting.remove(0));
        let emails = tokio::sync::Notify::new();

        let back = batch.give(Ok(()), &emails);

        assert!(
            matches!(waiting[0].try_recv(), Ok(Ok(Done::Settled(Settlement::Confirmed)))),
            "the confirmation is answered"
        );
        assert_eq!(
            back.len(),
            1,
            "the abandoned hold goes back: {:?}",
            back.iter().map(|j| &j.work).collect::<Vec<_>>()
        );
        assert!(
            matches!(&back[0].work, Work::Release { booking, checked: true, .. } if booking.id == "b1"),
            "as a release whose answer is final: {:?}",
            back[0].work
        );
        assert!(back[0].reply.is_none() && back[0].careful);
    }
}
