//! Driving the booking pipeline's database side directly, with the clock where a test wants
//! it: the very functions the desks run in production (`pipeline::serve`, `pipeline::sweep`).
//! And a gateway that charges only when the test says so.

use std::sync::Arc;
use std::time::Duration;

use techkraft_tickets::booking::pipeline::{self, Done, Reserved, Settlement, Work};
use techkraft_tickets::booking::{Booking, BookingStatus, tickets};
use techkraft_tickets::payment::{
    ChargeFuture, LookupFuture, PaymentGateway, RefundFuture, SimulatedGateway,
};
use techkraft_tickets::settings::DelayRange;

use super::TestApp;

/// A `held` booking of `quantity` seats of `tier`, made at `now` (not yet reserved).
pub fn new_hold(tier: &str, quantity: i32, now: i64) -> Booking {
    Booking {
        id: techkraft_tickets::settings::random_token(24),
        reference: techkraft_tickets::booking::Reference::generate().to_string(),
        tier_id: tier.into(),
        quantity,
        unit_price_cents: 0,
        total_cents: 0,
        customer_name: "Ada".into(),
        customer_email: "ada@example.com".into(),
        user_id: None,
        status: BookingStatus::Held,
        idempotency_key: Some(techkraft_tickets::settings::random_token(20)),
        transaction_id: None,
        failure_reason: None,
        hold_expires_at: now + 60_000,
        created_at: now,
        updated_at: now,
    }
}

impl TestApp {
    /// Serves one batch of `tier` at `now`, as a desk would: on PostgreSQL the quick statement
    /// first, then `serve` for what it leaves open (or for all of it, when it declines).
    pub fn serve(&self, tier: &str, work: &[Work], now: i64) -> Vec<Done> {
        let mut conn = self.conn();
        let key = tickets::signing_key(&mut conn).expect("ticket key");
        let quick = pipeline::serve_quick(&mut conn, tier, work, &key, now).unwrap_or_else(|e| {
            // A quick batch that fails has changed nothing (a replayed key, say): `serve`'s.
            eprintln!("quick batch declined: {e}");
            None
        });
        let Some(quick) = quick else {
            return pipeline::serve(&mut conn, tier, work, &key, now).expect("batch").answers;
        };
        let open: Vec<usize> = (0..work.len()).filter(|&i| quick.answers[i].is_none()).collect();
        let left: Vec<Work> = open.iter().map(|&i| work[i].clone()).collect();
        let mut later = if left.is_empty() {
            Vec::new()
        } else {
            pipeline::serve(&mut conn, tier, &left, &key, now).expect("batch").answers
        }
        .into_iter();
        quick
            .answers
            .into_iter()
            .map(|done| done.unwrap_or_else(|| later.next().expect("an answer")))
            .collect()
    }

    /// Whether the quick statement alone serves `work` (PostgreSQL; never on SQLite). Changes
    /// nothing: it runs in a transaction that is rolled back.
    pub fn served_quickly(&self, tier: &str, work: &[Work], now: i64) -> bool {
        use diesel::Connection;
        let mut conn = self.conn();
        let key = tickets::signing_key(&mut conn).expect("ticket key");
        let mut whole = false;
        let _ = conn.transaction::<(), diesel::result::Error, _>(|c| {
            whole = matches!(
                pipeline::serve_quick(c, tier, work, &key, now),
                Ok(Some(quick)) if quick.answers.iter().all(Option::is_some)
            );
            Err(diesel::result::Error::RollbackTransaction)
        });
        whole
    }

    /// Reserves `quantity` seats of `tier` at `now` (a hold of 60 s); panics if they do not fit.
    pub fn hold(&self, tier: &str, quantity: i32, now: i64) -> Booking {
        match self.serve(tier, &[Work::Reserve(new_hold(tier, quantity, now))], now).remove(0) {
            Done::Reserved(Reserved::Held(booking)) => booking,
            other => panic!("not held: {other:?}"),
        }
    }

    /// The hold was paid as `transaction_id` at `now`.
    pub fn pay(&self, booking: &Booking, transaction_id: &str, now: i64) -> Settlement {
        let work = Work::Confirm { booking: booking.clone(), transaction_id: transaction_id.into() };
        match self.serve(&booking.tier_id, &[work], now).remove(0) {
            Done::Settled(settlement) => settlement,
            other => panic!("not settled: {other:?}"),
        }
    }

    /// The hold's payment was declined at `now`; true if seats went back.
    pub fn decline(&self, booking: &Booking, reason: &str, now: i64) -> bool {
        let work = Work::Release { booking: booking.clone(), reason: reason.into(), checked: true };
        match self.serve(&booking.tier_id, &[work], now).remove(0) {
            Done::Released(released) => released,
            other => panic!("not released: {other:?}"),
        }
    }

    /// Expires the holds past their time at `now`; the bookings expired.
    pub fn sweep(&self, now: i64) -> Vec<Booking> {
        pipeline::sweep(&mut self.conn(), now).expect("sweep").0
    }

    /// How many hold deadlines the sweeper has yet to deal with.
    pub fn deadlines(&self) -> i64 {
        techkraft_tickets::db::hold_deadlines::HoldDeadline::count(&mut self.conn()).expect("query")
    }

    pub fn status_of(&self, booking: &Booking) -> BookingStatus {
        Booking::by_id(&mut self.conn(), &booking.id).expect("query").expect("booking").status
    }
}

/// A gateway whose charges wait until the test opens the gate (each charge succeeds then);
/// refunds and lookups as the simulated gateway's, which records the charges.
pub struct GatedGateway {
    gate: Arc<tokio::sync::Semaphore>,
    pub inner: SimulatedGateway,
}

impl Default for GatedGateway {
    fn default() -> Self {
        Self {
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
            inner: SimulatedGateway::new(1.0, DelayRange { min_ms: 0, max_ms: 0 }),
        }
    }
}

impl GatedGateway {
    /// Lets every charge through, those waiting now and those to come.
    pub fn open(&self) {
        self.gate.add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }
}

impl PaymentGateway for GatedGateway {
    fn charge(&self, amount_cents: i64, idempotency_key: &str) -> ChargeFuture {
        let (gate, charge) = (self.gate.clone(), self.inner.charge(amount_cents, idempotency_key));
        Box::pin(async move {
            // At most a minute: a test that forgot to open the gate fails, it does not hang.
            if let Ok(Ok(permit)) = tokio::time::timeout(Duration::from_secs(60), gate.acquire()).await {
                permit.forget();
            }
            charge.await
        })
    }

    fn find_charge(&self, idempotency_key: &str) -> LookupFuture {
        self.inner.find_charge(idempotency_key)
    }

    fn refund(&self, charge_id: &str, amount_cents: i64, idempotency_key: &str) -> RefundFuture {
        self.inner.refund(charge_id, amount_cents, idempotency_key)
    }
}

/// A transaction of the test's own that holds tiers' row locks (PostgreSQL) or the write lock
/// (SQLite) until dropped: every batch of those tiers waits behind it, as behind a stuck or
/// slow database.
pub struct TierLock {
    conn: TierLockConn,
}

enum TierLockConn {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

impl TierLock {
    pub fn take(database_url: &str, tiers: &[&str]) -> TierLock {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let conn = match database_url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut c = diesel::SqliteConnection::establish(path).expect("sqlite");
                c.batch_execute("PRAGMA busy_timeout = 10000; BEGIN IMMEDIATE").expect("write lock");
                TierLockConn::Sqlite(c)
            }
            None => {
                let mut c = diesel::PgConnection::establish(database_url).expect("postgres");
                let ids: Vec<String> = tiers.iter().map(|t| format!("'{t}'")).collect();
                c.batch_execute(&format!(
                    "BEGIN; SELECT id FROM ticket_tiers WHERE id IN ({}) ORDER BY id FOR UPDATE",
                    ids.join(", ")
                ))
                .expect("row locks");
                TierLockConn::Pg(c)
            }
        };
        TierLock { conn }
    }
}

impl TierLock {
    /// Ends the statements waiting behind these locks, as a database ends the sessions of a
    /// host that went down. A killed process's statement that waits for a row lock does not
    /// notice its client is gone, and an autocommit one (PostgreSQL's quick batch) would commit
    /// once the lock is released; ended here, nothing of it is recorded. (SQLite: a killed
    /// process's writes die with it.)
    pub fn end_waiters(&mut self) {
        use diesel::connection::SimpleConnection;
        if let TierLockConn::Pg(c) = &mut self.conn {
            c.batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
            )
            .expect("end the waiting sessions");
        }
    }
}

impl Drop for TierLock {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        let _ = match &mut self.conn {
            TierLockConn::Pg(c) => c.batch_execute("ROLLBACK"),
            TierLockConn::Sqlite(c) => c.batch_execute("ROLLBACK"),
        };
    }
}
