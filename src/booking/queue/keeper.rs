//! The keeper: one task per process that is the process's only way to the line in the
//! database. It wakes when fans wait for a place, and otherwise once per
//! `AVAILABILITY_MAX_AGE_MS` (at least every 25 ms, at most every 500 ms… as set), and each
//! time runs one short transaction under the line's row lock:
//!
//! 1. seal the opening if it has come (the shuffle's seed is drawn here);
//! 2. hand the waiting fans their arrival numbers: one block, `joined + 1 ..= joined + n`;
//! 3. record admissions that ended with a confirmed booking;
//! 4. advance admission by what the rate has earned, within `QUEUE_ACTIVE_MAX`;
//!
//! then (at most once per `AVAILABILITY_MAX_AGE_MS`) reads what every process needs: the
//! line, new steps of admission, admissions ended elsewhere, and which tiers are sold out,
//! and publishes them as the process's [`View`]. With nothing to write it only reads.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use super::admin::{audit, rate_text};
use super::order::Order;
use super::{Inner, JoinError, Queue, QueueSettings, View, line};
use crate::clock::now_millis;
use crate::db::models::Tier;
use crate::db::queue::{self as q, QueueLine};
use crate::db::{DbConnection, DbError, write_transaction};

/// Fans waiting for a place, and ended admissions to record.
#[derive(Default)]
pub(super) struct Pending {
    pub joins: Vec<tokio::sync::oneshot::Sender<Result<i64, JoinError>>>,
    pub done: Vec<i64>,
}

/// Done admissions are read back with this much overlap, so one committed late by another
/// process (its `at` older than the last read) is still seen.
const DONE_OVERLAP_MS: i64 = 3_000;

/// What one round of the keeper read.
struct Round {
    /// The line after this round's writes.
    line: QueueLine,
    /// The first arrival number handed out in this round.
    first_arrival: i64,
    /// Filled on a full round (a read of everything the view shows).
    full: Option<Full>,
    /// The step of admission this round made: (admitted, at).
    step: Option<(i64, i64)>,
}

struct Full {
    advances: Vec<(i64, i64)>,
    done: Vec<i64>,
    tiers: Vec<Tier>,
}

/// What a process starts with.
pub(super) struct Loaded {
    pub view: View,
    pub advances: Vec<(i64, i64)>,
    pub done: HashSet<i64>,
}

/// Creates the line if need be and reads everything once: the first view.
pub(super) fn start(conn: &mut DbConnection, settings: &QueueSettings) -> Result<Loaded, DbError> {
    let now = now_millis();
    let fresh = QueueLine::new(crate::settings::random_token(16), settings.admit_per_min, now);
    let mut line = QueueLine::get_or_create(conn, &fresh)?;
    if line.configured_rate != settings.admit_per_min {
        line = write_transaction(conn, |c| {
            let mut line = QueueLine::lock(c)?;
            if line.configured_rate != settings.admit_per_min {
                let before = line.rate_per_min;
                line::set_rate(&mut line, settings.admit_per_min, now);
                line.configured_rate = settings.admit_per_min;
                line.updated_at = now;
                line.save(c)?;
                audit(c, "settings", "queue rate", format!("{before}/min"), rate_text(&line), now)?;
                log::warn!("QUEUE_ADMIT_PER_MIN changed: the line admits {}/min from now", line.rate_per_min);
            }
            Ok::<_, DbError>(line)
        })?;
    }
    let full = read_full(conn, 0, 0)?;
    let done: HashSet<i64> = full.done.iter().copied().collect();
    let active = line::active_from(line.admitted, &full.advances, &done, now - settings.session_millis());
    let view = view_of(&line, &full, active, None, now);
    Ok(Loaded { view, advances: full.advances, done })
}

/// The keeper's loop.
pub(super) async fn run(queue: Arc<Queue>) {
    let Some(inner) = queue.inner.as_ref() else { return };
    let tick = inner.max_age.clamp(Duration::from_millis(25), Duration::from_secs(60));
    let mut last_full = Instant::now();
    let mut done_read_at = now_millis();
    // The steps of admission read from the database so far (this process's own steps are
    // known at once, but the next read must not skip another's step made just before).
    let mut read_cursor = inner.advances.read().map(|a| a.last().map_or(0, |l| l.0)).unwrap_or(0);
    let mut last_error_logged: Option<Instant> = None;
    loop {
        let due = last_full + tick;
        tokio::select! {
            () = inner.wake.notified() => {}
            () = tokio::time::sleep_until(due.into()) => {}
        }
        let full = last_full.elapsed() >= tick;
        let (joins, done) = {
            let mut pending = inner.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (std::mem::take(&mut pending.joins), std::mem::take(&mut pending.done))
        };
        let started = now_millis();
        let view = queue.view().unwrap_or_else(|| unreachable!("the keeper runs only with a waiting room"));
        let work = Work {
            joins: joins.len() as i64,
            done: done.clone(),
            // Only a full round advances admission: every process tries once per tick.
            advance: full && view.opened && !view.paused && view.waiting() > 0,
            full,
            sealed: view.opened,
            active: view.active,
            active_admitted: view.active_admitted,
            known_admitted: read_cursor,
            done_since: done_read_at - DONE_OVERLAP_MS,
        };
        let settings = queue.settings.clone();
        let result = inner.shop.with_conn(move |c| round(c, &work, &settings)).await;
        match result {
            Ok(r) => {
                if let Some(step) = r.step {
                    merge_steps(inner, &[step]);
                }
                // The view first: a fan told their number finds it there at once.
                if let Some(full) = &r.full {
                    read_cursor = full.advances.last().map_or(read_cursor, |l| l.0);
                    publish(&queue, inner, &r.line, full);
                    last_full = Instant::now();
                    done_read_at = started;
                } else {
                    apply_line(&queue, inner, &r.line);
                }
                for (i, tx) in joins.into_iter().enumerate() {
                    let _ = tx.send(Ok(r.first_arrival + i as i64));
                }
            }
            Err(e) => {
                let transient = e.is_transient();
                if last_error_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    log::warn!(
                        "waiting room: the line could not be read or written: {}",
                        crate::db::error::chain(&e)
                    );
                    last_error_logged = Some(Instant::now());
                }
                let message = e.to_string();
                for tx in joins {
                    let _ = tx.send(Err(JoinError { transient, message: message.clone() }));
                }
                // Ended admissions are kept for the next round; the view stays as it was.
                inner.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).done.extend(done);
                last_full = Instant::now();
            }
        }
    }
}

/// What one round is asked to do.
struct Work {
    joins: i64,
    done: Vec<i64>,
    advance: bool,
    full: bool,
    /// Whether this process has seen the opening sealed.
    sealed: bool,
    /// Admitted fans still shopping as last read, when admission had reached
    /// `active_admitted`: every admission since counts as shopping too (no query under the
    /// lock; the estimate errs on the full side).
    active: i64,
    active_admitted: i64,
    /// The last step of admission this process knows.
    known_admitted: i64,
    done_since: i64,
}

fn round(c: &mut DbConnection, work: &Work, settings: &QueueSettings) -> Result<Round, DbError> {
    let now = now_millis();
    let opens_at = settings.opens_at_millis().unwrap_or(i64::MAX);
    let write = work.joins > 0 || !work.done.is_empty() || work.advance || (now >= opens_at && !work.sealed);
    // Sealed: read everything back (below).
    let mut changed = false;
    let mut step = None;
    let (line, first_arrival) = if write {
        write_transaction(c, |c| {
            let mut line = QueueLine::lock(c)?;
            let before = line.clone();
            if line::seal(&mut line, now, opens_at, rand::rng().random()) {
                log::info!("waiting room: the sale opened; {} early fan(s) shuffled", line.joined);
                changed = true;
            }
            let first_arrival = line.joined + 1;
            line.joined += work.joins;
            if !work.done.is_empty() {
                q::record_done(c, &work.done, now)?;
            }
            if line.opened_at.is_some() && line.paused_at.is_none() && line.joined > line.admitted {
                let active = work.active + (line.admitted - work.active_admitted).max(0);
                if line::advance(&mut line, now, active, settings.active_max) > 0 {
                    q::record_advance(c, line.admitted, now)?;
                    step = Some((line.admitted, now));
                }
            }
            if line != before {
                line.updated_at = now;
                line.save(c)?;
            }
            Ok::<_, DbError>((line, first_arrival))
        })?
    } else {
        let line = QueueLine::get(c)?.ok_or(diesel::result::Error::NotFound)?;
        let next = line.joined + 1;
        (line, next)
    };
    // A round that sealed the opening reads everything back, so this process's view shows it
    // at once. (A round that let fans in knows its own step: see `merge_steps`.)
    // Once the places are written they are the fans': a failed read after it must not turn
    // into an error for them (their numbers would be lost); the next round reads again.
    let full = if work.full || changed {
        read_full(c, work.known_admitted, work.done_since)
            .inspect_err(|e| {
                log::warn!("waiting room: reading the line failed: {}", crate::db::error::chain(e))
            })
            .ok()
    } else {
        None
    };
    Ok(Round { line, first_arrival, full, step })
}

/// What a full round reads besides the line: steps of admission after `known_admitted`,
/// admissions ended since `done_since`, and the tiers. Each is what changed since the last
/// read (or an index range of it), so its cost does not grow with the line: the fans still
/// shopping are counted from what the process keeps ([`line::active_from`]).
fn read_full(c: &mut DbConnection, known_admitted: i64, done_since: i64) -> Result<Full, DbError> {
    Ok(Full {
        advances: q::advances_after(c, known_admitted)?,
        done: q::done_since(c, done_since)?,
        tiers: Tier::all(c)?,
    })
}

fn view_of(line: &QueueLine, full: &Full, active: i64, order: Option<Arc<Order>>, now: i64) -> View {
    let sold_out: Vec<String> =
        full.tiers.iter().filter(|t| t.available <= 0).map(|t| t.name.clone()).collect();
    let all_sold_out = !full.tiers.is_empty() && sold_out.len() == full.tiers.len();
    let order = match (line.early, line.seed) {
        (Some(early), Some(seed)) if early > 0 => match order {
            Some(order) if order.len() == early => Some(order),
            _ => Some(Arc::new(Order::draw(seed, early))),
        },
        _ => None,
    };
    View {
        line_id: line.line_id.clone(),
        joined: line.joined,
        opened: line.opened_at.is_some(),
        admitted: line.admitted,
        active,
        rate_per_min: line.rate_per_min,
        paused: line.paused_at.is_some(),
        order,
        sold_out,
        all_sold_out,
        read_at: now,
        version: line.updated_at,
        active_admitted: line.admitted,
    }
}

/// Publishes a full round: new steps of admission and ended admissions first, then the view
/// (so a poll that sees a position admitted also finds when).
fn publish(queue: &Queue, inner: &Inner, line: &QueueLine, full: &Full) {
    merge_steps(inner, &full.advances);
    if let Ok(mut done) = inner.done.write() {
        done.extend(full.done.iter().copied());
    }
    let now = now_millis();
    let active = match (inner.advances.read(), inner.done.read()) {
        (Ok(steps), Ok(done)) => {
            line::active_from(line.admitted, &steps, &done, now - queue.settings.session_millis())
        }
        // A poisoned lock (a panic elsewhere): count the room as full rather than guess.
        _ => queue.settings.active_max,
    };
    let old = queue.view();
    let mut view = view_of(line, full, active, old.as_ref().and_then(|v| v.order.clone()), now);
    if let Some(old) = old {
        keep_newer(&mut view, &old);
    }
    if let Ok(mut current) = inner.view.write() {
        *current = Arc::new(view);
    }
}

/// Adds steps of admission to the ones this process knows, in order, once each.
fn merge_steps(inner: &Inner, steps: &[(i64, i64)]) {
    if let Ok(mut advances) = inner.advances.write() {
        for step in steps {
            if let Err(i) = advances.binary_search_by_key(&step.0, |s| s.0) {
                advances.insert(i, *step);
            }
        }
    }
}

/// A round read the line before a change this process made meanwhile (the box office's, in
/// `apply_line`) must not undo it: the line's settings come from the newer of the two, and
/// counts only grow.
fn keep_newer(view: &mut View, old: &View) {
    if old.version > view.version {
        view.paused = old.paused;
        view.rate_per_min = old.rate_per_min;
        view.version = old.version;
    }
    view.joined = view.joined.max(old.joined);
    view.admitted = view.admitted.max(old.admitted);
    view.opened |= old.opened;
}

/// Applies a line read between full rounds (a batch of places, an admin's change) to the
/// view, keeping the rest of it.
pub(super) fn apply_line(queue: &Queue, inner: &Inner, line: &QueueLine) {
    let Some(old) = queue.view() else { return };
    // An admission this process made is published only with its step, on the next full
    // round: a poll must find when a position was let in.
    let known = inner.advances.read().map(|a| a.last().map_or(0, |l| l.0)).unwrap_or(0);
    let mut view = View {
        joined: line.joined,
        paused: line.paused_at.is_some(),
        rate_per_min: line.rate_per_min,
        admitted: line.admitted.min(known),
        version: line.updated_at,
        ..(*old).clone()
    };
    keep_newer(&mut view, &old);
    if let Ok(mut current) = inner.view.write() {
        *current = Arc::new(view);
    }
}
