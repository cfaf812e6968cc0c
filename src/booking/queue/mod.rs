//! The waiting room of SPEC §13. `docs/ARCHITECTURE.md` ("The waiting room") has the design;
//! in short:
//!
//! - The line is one database row every process shares (`db::queue`). A place is an
//!   *arrival number*; the process that hands it out batches its arrivals and takes a block
//!   of numbers with one update of the row (group commit: one write per batch, never one per
//!   visitor), so numbers are 1, 2, 3, … without gaps, whichever process gave them.
//! - At the opening the first process to notice seals it: arrivals so far are the early ones,
//!   and their positions come from a shuffle ([`order`]) with a seed drawn then and stored
//!   with the line; later arrivals keep their number as their position.
//! - Admission is a frontier, "positions 1..=admitted are in", advanced under the row's lock
//!   at the rate ([`line`](mod@line)), so every process agrees and admissions go strictly in order.
//! - Each process keeps a [`View`] of the line in memory, refreshed by its keeper
//!   (`keeper`) at most once per `AVAILABILITY_MAX_AGE_MS`: a fan's poll reads only the
//!   view and the fan's signed cookie, never the database.

mod admin;
mod keeper;
pub mod line;
pub mod order;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use crate::settings::QueueSettings;

use self::order::Order;
use super::Shop;
use crate::clock::now_millis;
use crate::db::queue::QueueLine;
use crate::db::{DbError, DbPool};

/// How long a place in line lasts (the `tk_queue` cookie): a day is longer than any sale's
/// line, and short enough that an old cookie is not a place in a later sale.
pub const PLACE_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// The line as this process last read it.
#[derive(Debug, Clone)]
pub struct View {
    /// Names this line in the cookies.
    pub line_id: String,
    pub joined: i64,
    /// Whether the opening has been sealed.
    pub opened: bool,
    pub admitted: i64,
    /// Admitted fans still shopping, counted when admission had reached `active_admitted`.
    pub active: i64,
    pub active_admitted: i64,
    pub rate_per_min: i64,
    pub paused: bool,
    /// The early arrivals' positions (after the opening).
    pub order: Option<Arc<Order>>,
    /// Tier names with no seats left, in the shop's order; `all_sold_out` when every one is.
    pub sold_out: Vec<String>,
    pub all_sold_out: bool,
    /// When it was read (UTC ms).
    pub read_at: i64,
    /// When the line it shows was last changed (UTC ms): a view never goes back to an older
    /// line's pause or rate.
    pub version: i64,
}

impl View {
    /// Fans in line not yet let in.
    pub fn waiting(&self) -> i64 {
        (self.joined - self.admitted).max(0)
    }

    /// The position of `arrival`, once the opening is sealed.
    pub fn position(&self, arrival: i64) -> Option<i64> {
        if !self.opened {
            return None;
        }
        match &self.order {
            Some(order) if arrival <= order.len() => order.position(arrival),
            _ => Some(arrival),
        }
    }
}

/// Where a fan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// In line. `position` and `ahead` are known once the opening is sealed; the wait is
    /// unknown while admissions are paused.
    Waiting { position: Option<i64>, ahead: Option<i64>, wait_secs: Option<i64> },
    /// Let in: the admission of `position`, until `until` (UTC ms).
    Admitted { position: i64, until: i64 },
    /// The place was used (its booking was confirmed) or its turn ran out: it counts as none.
    Spent,
}

/// A valid admission, as its cookie carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub position: i64,
    pub until: i64,
}

/// Why a place could not be had.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the waiting room could not hand out a place: {message}")]
pub struct JoinError {
    /// Database trouble that passes (an answer of 503); otherwise a fault (500).
    pub transient: bool,
    pub message: String,
}

/// The waiting room of one process. Without `SALE_OPENS_AT` it is off and answers nothing.
pub struct Queue {
    settings: QueueSettings,
    /// `None` when off.
    inner: Option<Inner>,
}

struct Inner {
    shop: Shop,
    max_age: Duration,
    view: RwLock<Arc<View>>,
    /// Every step of admission: (admitted, at), ascending.
    advances: RwLock<Vec<(i64, i64)>>,
    /// Positions whose admission ended with a confirmed booking.
    done: RwLock<HashSet<i64>>,
    pending: Mutex<keeper::Pending>,
    wake: tokio::sync::Notify,
}

impl Queue {
    /// No waiting room.
    pub fn off() -> Self {
        Self { settings: QueueSettings::default(), inner: None }
    }

    /// The waiting room `settings` describe: off without `SALE_OPENS_AT`; otherwise the line
    /// is created in the database if it is not there yet (the first process to start does
    /// it) and read once. A changed `QUEUE_ADMIT_PER_MIN` replaces the stored rate (an
    /// admin's change of the rate stands until then).
    pub fn open(
        settings: QueueSettings,
        pool: &DbPool,
        shop: Shop,
        max_age: Duration,
    ) -> Result<Self, DbError> {
        if settings.opens_at.is_none() {
            return Ok(Self { settings, inner: None });
        }
        let mut conn = pool.get()?;
        let loaded = keeper::start(&mut conn, &settings)?;
        let inner = Inner {
            shop,
            max_age,
            view: RwLock::new(Arc::new(loaded.view)),
            advances: RwLock::new(loaded.advances),
            done: RwLock::new(loaded.done),
            pending: Mutex::default(),
            wake: tokio::sync::Notify::new(),
        };
        Ok(Self { settings, inner: Some(inner) })
    }

    /// Whether there is a waiting room.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// The line as this process last read it (`None` without a waiting room).
    pub fn view(&self) -> Option<Arc<View>> {
        let inner = self.inner.as_ref()?;
        Some(inner.view.read().map(|v| v.clone()).unwrap_or_else(|e| e.into_inner().clone()))
    }

    /// True before `SALE_OPENS_AT`: bookings are refused (403).
    pub fn before_opening(&self, now: i64) -> bool {
        self.is_on() && self.settings.opens_at_millis().is_some_and(|opens| now < opens)
    }

    /// True while anyone waits in line (then a booking needs an admission).
    pub fn holds_anyone(&self) -> bool {
        self.view().is_some_and(|v| v.waiting() > 0)
    }

    /// Where the fan with place `arrival` stands at `now`, from memory.
    pub fn standing(&self, arrival: i64, now: i64) -> Option<Standing> {
        let inner = self.inner.as_ref()?;
        let view = self.view()?;
        let Some(position) = view.position(arrival) else {
            return Some(Standing::Waiting { position: None, ahead: None, wait_secs: None });
        };
        if position > view.admitted {
            let ahead = position - view.admitted - 1;
            let wait_secs = (!view.paused).then(|| line::estimated_wait_secs(ahead, view.rate_per_min));
            return Some(Standing::Waiting { position: Some(position), ahead: Some(ahead), wait_secs });
        }
        let until =
            self.admitted_at(inner, position).unwrap_or(view.read_at) + self.settings.session_millis();
        if now >= until || self.is_done(inner, position) {
            return Some(Standing::Spent);
        }
        Some(Standing::Admitted { position, until })
    }

    /// Whether an admission (from its cookie) still lets its fan shop at `now`.
    pub fn admission_holds(&self, admission: Admission, now: i64) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|inner| now < admission.until && !self.is_done(inner, admission.position))
    }

    /// A new place at the back of the line: its arrival number. Waits for this process's
    /// next batch to be written (one round trip, shared by every fan who came meanwhile).
    pub async fn join(&self) -> Result<i64, JoinError> {
        let Some(inner) = self.inner.as_ref() else {
            return Err(JoinError { transient: false, message: "there is no waiting room".into() });
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        inner.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).joins.push(tx);
        inner.wake.notify_one();
        match tokio::time::timeout(Duration::from_secs(10), rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(JoinError { transient: true, message: "the keeper stopped".into() }),
            Err(_) => Err(JoinError { transient: true, message: "no answer within 10 s".into() }),
        }
    }

    /// Ends an admission whose booking was confirmed: this process refuses it at once, and it
    /// stops counting as shopping here, so another fan may come in. The keeper records it with
    /// its next regular round (within `AVAILABILITY_MAX_AGE_MS`, beside the admissions that
    /// round makes under the same lock), and the other processes read it with theirs: within
    /// twice that. It does not wake the keeper: at an on-sale's pace a round of its own for
    /// every confirmed booking was a tenth of a process's CPU and a turn of the line's lock.
    pub fn end(&self, admission: Admission) {
        let Some(inner) = self.inner.as_ref() else { return };
        inner.done.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(admission.position);
        inner.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).done.push(admission.position);
    }

    /// Runs the keeper until the process stops (nothing without a waiting room).
    pub async fn run_keeper(self: Arc<Self>) {
        if self.inner.is_some() {
            keeper::run(self).await;
        }
    }

    /// Pauses or resumes admissions, with an audit entry; returns whether anything changed.
    pub async fn pause(&self, paused: bool, actor: String) -> Result<bool, DbError> {
        self.admin_change(move |c, now| admin::pause(c, paused, &actor, now)).await
    }

    /// Sets the rate of admissions per minute, with an audit entry.
    pub async fn set_rate(&self, rate_per_min: i64, actor: String) -> Result<bool, DbError> {
        self.admin_change(move |c, now| admin::set_rate(c, rate_per_min, &actor, now)).await
    }

    async fn admin_change<F>(&self, change: F) -> Result<bool, DbError>
    where
        F: FnOnce(&mut crate::db::DbConnection, i64) -> diesel::QueryResult<Option<QueueLine>>
            + Send
            + 'static,
    {
        let Some(inner) = self.inner.as_ref() else { return Ok(false) };
        let changed = inner.shop.with_conn(move |c| change(c, now_millis()).map_err(DbError::from)).await?;
        if let Some(line) = &changed {
            keeper::apply_line(self, inner, line);
        }
        Ok(changed.is_some())
    }

    /// The Prometheus lines of the waiting room (none without one).
    pub fn metrics_text(&self) -> String {
        let Some(view) = self.view() else { return String::new() };
        format!(
            "# HELP techkraft_queue_waiting Fans in the waiting room's line not yet let in (the line is shared: the same on every process).\n\
             # TYPE techkraft_queue_waiting gauge\n\
             techkraft_queue_waiting {}\n\
             # HELP techkraft_queue_admitted_total Fans let in from the line since it opened (shared: aggregate with max, not sum).\n\
             # TYPE techkraft_queue_admitted_total counter\n\
             techkraft_queue_admitted_total {}\n\
             # HELP techkraft_queue_active Admitted fans still shopping.\n\
             # TYPE techkraft_queue_active gauge\n\
             techkraft_queue_active {}\n\
             # HELP techkraft_queue_admit_rate_per_min Fans let in per minute at most.\n\
             # TYPE techkraft_queue_admit_rate_per_min gauge\n\
             techkraft_queue_admit_rate_per_min {}\n\
             # HELP techkraft_queue_paused 1 while the box office has paused admissions.\n\
             # TYPE techkraft_queue_paused gauge\n\
             techkraft_queue_paused {}\n",
            view.waiting(),
            view.admitted,
            view.active,
            view.rate_per_min,
            u8::from(view.paused)
        )
    }

    /// When `position` was let in, from the steps of admission this process knows.
    fn admitted_at(&self, inner: &Inner, position: i64) -> Option<i64> {
        let advances = inner.advances.read().ok()?;
        let i = advances.partition_point(|(admitted, _)| *admitted < position);
        advances.get(i).map(|(_, at)| *at)
    }

    fn is_done(&self, inner: &Inner, position: i64) -> bool {
        inner.done.read().map(|d| d.contains(&position)).unwrap_or(false)
    }
}
