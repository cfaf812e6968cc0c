//! The booking domain: reserve → pay → confirm (or release), the sweeper for holds that
//! outlive their time, and idempotent replays. Nothing here knows about HTTP.
//!
//! The steps that touch the database are plain functions on a connection with the time passed
//! in, so tests can drive every branch; [`Shop`] strings them together around the gateway,
//! holding no connection while the gateway thinks.

pub mod admin;
pub mod types;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::clock::now_millis;
use crate::db::models::{Booking, BookingStatus, Tier};
use crate::db::{DbConnection, DbError, DbPool, write_transaction};
use crate::metrics::{BookingOutcome, Metrics};
use crate::payment::PaymentGateway;
pub use types::{CustomerName, Email, IdempotencyKey, InvalidInput, Quantity, Reference, TierId};

/// Who is buying: a person at the web form or a client of the JSON API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buyer {
    Web { name: CustomerName, email: Email },
    Api { user_id: String },
}

/// A valid booking request.
#[derive(Debug, Clone)]
pub struct BookingRequest {
    pub tier: TierId,
    pub quantity: Quantity,
    pub buyer: Buyer,
    pub idempotency_key: Option<IdempotencyKey>,
}

/// Why a booking did not end confirmed.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("unknown ticket tier")]
    UnknownTier,
    #[error("not enough seats: {requested} requested, {available} left")]
    NotEnoughSeats { requested: i32, available: i32 },
    #[error("payment declined: {reason}")]
    PaymentDeclined { reason: String, reference: String },
    /// Charged after the hold had expired and the seats were gone: the charge was refunded.
    #[error("hold expired before payment completed; charge refunded")]
    Refunded { reference: String },
    /// A replay found an earlier attempt that ended without seats for another reason
    /// (expired hold, admin reset) or has not finished yet.
    #[error("the earlier attempt with this idempotency key ended {status:?}")]
    Unsettled { reference: String, status: BookingStatus },
    #[error("this idempotency key was already used for a different booking")]
    KeyReused,
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl From<DieselError> for BookingError {
    fn from(e: DieselError) -> Self {
        Self::Storage(DbError::Query(e))
    }
}

/// The outcome of the reserve step.
#[derive(Debug)]
pub enum Reservation {
    /// Seats taken and a `held` booking written.
    Held(Booking),
    /// The idempotency key was seen before: this is that attempt's booking.
    Replay(Booking),
}

/// Reserves seats: takes them with the conditional update and writes the `held` booking,
/// atomically. Answers a known idempotency key with that attempt's booking instead.
pub fn reserve(
    conn: &mut DbConnection,
    request: &BookingRequest,
    now: i64,
    hold_ttl: Duration,
) -> Result<Reservation, BookingError> {
    // A reference collision (1 in 2^50 per pair) would surface as a unique violation: retry.
    for _ in 0..3 {
        let result = match conn {
            DbConnection::Pg(pg) => reserve_in_one_statement(pg, request, now, hold_ttl),
            DbConnection::Sqlite(_) => reserve_in_transaction(conn, request, now, hold_ttl),
        };
        match result {
            Err(BookingError::Storage(DbError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                info,
            )))) => {
                // The same key committed first in a concurrent request: our attempt rolled
                // back (seats included), and its booking is the answer.
                if let Some(earlier) = earlier_attempt(conn, request)? {
                    return Ok(Reservation::Replay(earlier));
                }
                log::warn!("unique violation while reserving, retrying: {}", info.message());
            }
            // A repeated key can meet a tier that has sold out since: still a replay.
            Err(BookingError::NotEnoughSeats { .. }) if request.idempotency_key.is_some() => {
                return match earlier_attempt(conn, request)? {
                    Some(earlier) => Ok(Reservation::Replay(earlier)),
                    None => result,
                };
            }
            other => return other,
        }
    }
    Err(BookingError::Storage(DbError::Unavailable("could not allocate a unique booking reference".into())))
}

fn earlier_attempt(
    conn: &mut DbConnection,
    request: &BookingRequest,
) -> Result<Option<Booking>, BookingError> {
    match &request.idempotency_key {
        Some(key) => Ok(Booking::by_idempotency_key(conn, key.as_str())?),
        None => Ok(None),
    }
}

/// The booking row a reservation writes (the price comes from the tier).
fn held_booking(request: &BookingRequest, unit_price_cents: i64, now: i64, hold_ttl: Duration) -> Booking {
    let quantity = request.quantity.as_i32();
    let (name, email, user_id) = match &request.buyer {
        Buyer::Web { name, email } => (name.as_str().to_owned(), email.as_str().to_owned(), None),
        Buyer::Api { user_id } => (user_id.clone(), String::new(), Some(user_id.clone())),
    };
    Booking {
        id: crate::settings::random_token(24),
        reference: Reference::generate().to_string(),
        tier_id: request.tier.as_str().to_owned(),
        quantity,
        unit_price_cents,
        total_cents: unit_price_cents * i64::from(quantity),
        customer_name: name,
        customer_email: email,
        user_id,
        status: BookingStatus::Held.as_str().into(),
        idempotency_key: request.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
        transaction_id: None,
        failure_reason: None,
        hold_expires_at: now + hold_ttl.as_millis() as i64,
        created_at: now,
        updated_at: now,
    }
}

/// The portable reservation (SQLite): a write transaction that checks the key, reads the
/// tier, writes the booking and then takes the seats with the conditional update.
fn reserve_in_transaction(
    conn: &mut DbConnection,
    request: &BookingRequest,
    now: i64,
    hold_ttl: Duration,
) -> Result<Reservation, BookingError> {
    let quantity = request.quantity.as_i32();
    let tier_id = request.tier.as_str();
    write_transaction(conn, |c| {
        if let Some(earlier) = earlier_attempt(c, request)? {
            return Ok(Reservation::Replay(earlier));
        }
        // A tier that already looks too small is answered without writing anything (most
        // requests in a sold-out rush end here).
        let tier = Tier::find(c, tier_id)?.ok_or(BookingError::UnknownTier)?;
        if tier.available < quantity {
            return Err(BookingError::NotEnoughSeats { requested: quantity, available: tier.available });
        }
        let booking = held_booking(request, tier.price_cents, now, hold_ttl);
        booking.insert(c)?;
        // The conditional update decides; if it changes nothing, the rollback takes the
        // booking row back out.
        if !Tier::take_seats(c, tier_id, quantity)? {
            let available = Tier::available(c, tier_id)?.unwrap_or(0);
            return Err(BookingError::NotEnoughSeats { requested: quantity, available });
        }
        Ok(Reservation::Held(booking))
    })
}

/// PostgreSQL: the conditional update and the booking insert as one statement, so the hot
/// tier row is locked for a single round trip plus the commit, exactly as long as the bare
/// `UPDATE` itself would hold it. A repeated idempotency key or reference fails the whole
/// statement on the unique index (the seats are not taken); zero rows means not enough seats.
const RESERVE_POSTGRES: &str = "\
    WITH taken AS (
        UPDATE ticket_tiers SET available = available - $1
        WHERE id = $2 AND available >= $1
        RETURNING price_cents
    )
    INSERT INTO bookings (id, reference, tier_id, quantity, unit_price_cents, total_cents,
                          customer_name, customer_email, user_id, status, idempotency_key,
                          transaction_id, failure_reason, hold_expires_at, created_at, updated_at)
    SELECT $3, $4, $2, $1, price_cents, price_cents * $1, $5, $6, $7, 'held', $8, NULL, NULL, $9, $10, $10
    FROM taken
    RETURNING unit_price_cents";

#[derive(diesel::QueryableByName)]
struct Reserved {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    unit_price_cents: i64,
}

fn reserve_in_one_statement(
    pg: &mut diesel::PgConnection,
    request: &BookingRequest,
    now: i64,
    hold_ttl: Duration,
) -> Result<Reservation, BookingError> {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};
    let mut booking = held_booking(request, 0, now, hold_ttl);
    let reserved = diesel::sql_query(RESERVE_POSTGRES)
        .bind::<Integer, _>(booking.quantity)
        .bind::<Text, _>(&booking.tier_id)
        .bind::<Text, _>(&booking.id)
        .bind::<Text, _>(&booking.reference)
        .bind::<Text, _>(&booking.customer_name)
        .bind::<Text, _>(&booking.customer_email)
        .bind::<Nullable<Text>, _>(&booking.user_id)
        .bind::<Nullable<Text>, _>(&booking.idempotency_key)
        .bind::<BigInt, _>(booking.hold_expires_at)
        .bind::<BigInt, _>(booking.created_at)
        .get_result::<Reserved>(pg)
        .optional()?;
    match reserved {
        Some(Reserved { unit_price_cents }) => {
            booking.unit_price_cents = unit_price_cents;
            booking.total_cents = unit_price_cents * i64::from(booking.quantity);
            Ok(Reservation::Held(booking))
        }
        None => {
            let available = crate::db::schema::ticket_tiers::table
                .find(&booking.tier_id)
                .select(crate::db::schema::ticket_tiers::available)
                .first::<i32>(pg)
                .optional()?;
            match available {
                None => Err(BookingError::UnknownTier),
                Some(available) => {
                    Err(BookingError::NotEnoughSeats { requested: booking.quantity, available })
                }
            }
        }
    }
}

/// What became of a hold whose payment went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Confirmed,
    /// The hold had expired (or was voided) and no seats were left: the charge must be refunded.
    Refunded,
}

/// Confirms a paid hold. If the sweeper or an admin reset got there first, takes the seats
/// again if they are still there, and otherwise marks the booking refunded.
pub fn confirm(
    conn: &mut DbConnection,
    booking: &Booking,
    transaction_id: &str,
    now: i64,
) -> Result<Settlement, DbError> {
    // The usual case on PostgreSQL is one autocommitted statement. (SQLite's writers go
    // through `write_transaction`, which queues them.)
    if matches!(conn, DbConnection::Pg(_)) && Booking::confirm_held(conn, &booking.id, transaction_id, now)? {
        return Ok(Settlement::Confirmed);
    }
    write_transaction(conn, |c| {
        if Booking::confirm_held(c, &booking.id, transaction_id, now)? {
            return Ok(Settlement::Confirmed);
        }
        let current = Booking::by_id(c, &booking.id)?.ok_or(DieselError::NotFound)?;
        let status = current.status();
        if status == BookingStatus::Confirmed {
            return Ok(Settlement::Confirmed);
        }
        if Tier::take_seats(c, &booking.tier_id, booking.quantity)?
            && Booking::transition(c, &booking.id, status, BookingStatus::Confirmed, now)?
        {
            Booking::record_payment(c, &booking.id, Some(transaction_id), None)?;
            log::info!("{}: paid after its hold ended ({status:?}); seats taken again", booking.reference);
            return Ok(Settlement::Confirmed);
        }
        // Either no seats, or the status moved under us; in both cases the seats (if any
        // were taken above) go back with the rollback of this branch's changes below.
        Err(DbError::Query(DieselError::RollbackTransaction))
    })
    .or_else(|e| match e {
        DbError::Query(DieselError::RollbackTransaction) => write_transaction(conn, |c| {
            let current = Booking::by_id(c, &booking.id)?.ok_or(DieselError::NotFound)?;
            Booking::transition(c, &booking.id, current.status(), BookingStatus::Refunded, now)?;
            Booking::record_payment(
                c,
                &booking.id,
                Some(transaction_id),
                Some("Seat hold expired before payment completed and the seats were sold; charge refunded"),
            )?;
            Ok(Settlement::Refunded)
        }),
        other => Err(other),
    })
}

/// Records a declined payment and gives the held seats back.
pub fn release(conn: &mut DbConnection, booking: &Booking, reason: &str, now: i64) -> Result<(), DbError> {
    write_transaction(conn, |c| {
        if Booking::transition(c, &booking.id, BookingStatus::Held, BookingStatus::PaymentFailed, now)? {
            Tier::return_seats(c, &booking.tier_id, booking.quantity)?;
        } else {
            // Already expired or voided: the seats went back then. Keep the decline on record.
            let current = Booking::by_id(c, &booking.id)?.ok_or(DieselError::NotFound)?;
            Booking::transition(c, &booking.id, current.status(), BookingStatus::PaymentFailed, now)?;
        }
        Booking::record_payment(c, &booking.id, None, Some(reason))?;
        Ok(())
    })
}

/// Returns the seats of holds older than their expiry (`held → expired`), at most 500 per call,
/// and returns the bookings it expired. Safe to run in several processes at once.
pub fn sweep(conn: &mut DbConnection, now: i64) -> Result<Vec<Booking>, DbError> {
    write_transaction(conn, |c| {
        let mut expired = Vec::new();
        for hold in Booking::expired_holds(c, now, 500)? {
            if Booking::transition(c, &hold.id, BookingStatus::Held, BookingStatus::Expired, now)? {
                Tier::return_seats(c, &hold.tier_id, hold.quantity)?;
                expired.push(hold);
            }
        }
        Ok(expired)
    })
}

/// The shop: the pool, the gateway, and the settings the flow needs.
#[derive(Clone)]
pub struct Shop {
    pool: DbPool,
    gateway: Arc<dyn PaymentGateway>,
    hold_ttl: Duration,
    metrics: Arc<Metrics>,
}

/// How long a replay waits for an earlier attempt with the same key to finish paying.
const REPLAY_WAIT: Duration = Duration::from_secs(15);

impl Shop {
    pub fn new(
        pool: DbPool,
        gateway: Arc<dyn PaymentGateway>,
        hold_ttl: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { pool, gateway, hold_ttl, metrics }
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Runs `f` on a pooled connection on the blocking thread pool: Diesel is synchronous
    /// and must not stall the async executor.
    pub async fn with_conn<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .unwrap_or_else(|join| Err(DbError::Unavailable(format!("database task failed: {join}")).into()))
    }

    /// Books: reserve, pay with no connection held, then confirm or release.
    pub async fn book(&self, request: BookingRequest) -> Result<Booking, BookingError> {
        let result = self.book_inner(request).await;
        let outcome = match &result {
            Ok(_) => BookingOutcome::Confirmed,
            Err(BookingError::NotEnoughSeats { .. }) => BookingOutcome::SoldOut,
            Err(BookingError::PaymentDeclined { .. }) => BookingOutcome::PaymentFailed,
            Err(BookingError::Refunded { .. }) => BookingOutcome::Refunded,
            Err(BookingError::UnknownTier | BookingError::KeyReused) => BookingOutcome::Invalid,
            Err(BookingError::Unsettled { .. }) => BookingOutcome::Expired,
            Err(BookingError::Storage(_)) => BookingOutcome::Error,
        };
        self.metrics.record_booking(outcome);
        result
    }

    async fn book_inner(&self, request: BookingRequest) -> Result<Booking, BookingError> {
        let hold_ttl = self.hold_ttl;
        let req = request.clone();
        let reservation = self.with_conn(move |c| reserve(c, &req, now_millis(), hold_ttl)).await?;
        let held = match reservation {
            Reservation::Held(booking) => booking,
            Reservation::Replay(earlier) => return self.replay(&request, earlier).await,
        };

        let started = Instant::now();
        let charge = self.gateway.charge(held.total_cents, &held.reference).await;
        self.metrics.observe_payment(started.elapsed());

        match charge {
            Ok(charge) => {
                let settlement = self.settle_paid(&held, &charge.transaction_id).await?;
                match settlement {
                    Settlement::Confirmed => Ok(Booking {
                        status: BookingStatus::Confirmed.as_str().into(),
                        transaction_id: Some(charge.transaction_id),
                        ..held
                    }),
                    Settlement::Refunded => {
                        self.gateway.refund(&charge.transaction_id, held.total_cents).await;
                        Err(BookingError::Refunded { reference: held.reference })
                    }
                }
            }
            Err(declined) => {
                let (booking, reason) = (held.clone(), declined.reason.clone());
                self.with_conn(move |c| release(c, &booking, &reason, now_millis())).await?;
                Err(BookingError::PaymentDeclined { reason: declined.reason, reference: held.reference })
            }
        }
    }

    /// Confirms after a successful charge. The customer has paid, so a database hiccup here
    /// is retried for a while; if it never comes back the charge is refunded, so nobody pays
    /// for seats they do not get (the hold then expires and its seats return).
    async fn settle_paid(&self, held: &Booking, transaction_id: &str) -> Result<Settlement, BookingError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut backoff = Duration::from_millis(50);
        loop {
            let (booking, txn) = (held.clone(), transaction_id.to_owned());
            match self.with_conn(move |c| confirm(c, &booking, &txn, now_millis())).await {
                Ok(settlement) => return Ok(settlement),
                Err(e) if Instant::now() < deadline => {
                    log::warn!("{}: confirming failed, retrying: {e}", held.reference);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => {
                    log::error!(
                        "{}: could not record payment {transaction_id}; refunding it: {e}",
                        held.reference
                    );
                    self.gateway.refund(transaction_id, held.total_cents).await;
                    return Err(e.into());
                }
            }
        }
    }

    async fn reload(&self, booking: &Booking) -> Result<Booking, BookingError> {
        let id = booking.id.clone();
        self.with_conn(move |c| Booking::by_id(c, &id).map_err(DbError::from))
            .await?
            .ok_or_else(|| BookingError::Storage(DbError::Query(DieselError::NotFound)))
    }

    /// Answers a repeated key with the first attempt's outcome, waiting for it if it is
    /// still paying.
    async fn replay(&self, request: &BookingRequest, earlier: Booking) -> Result<Booking, BookingError> {
        if earlier.tier_id != request.tier.as_str() || earlier.quantity != request.quantity.as_i32() {
            return Err(BookingError::KeyReused);
        }
        let deadline = Instant::now() + REPLAY_WAIT;
        let mut booking = earlier;
        while booking.status() == BookingStatus::Held && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
            booking = self.reload(&booking).await?;
        }
        match booking.status() {
            BookingStatus::Confirmed => Ok(booking),
            BookingStatus::PaymentFailed => Err(BookingError::PaymentDeclined {
                reason: booking.failure_reason.clone().unwrap_or_else(|| "Payment failed".into()),
                reference: booking.reference,
            }),
            BookingStatus::Refunded => Err(BookingError::Refunded { reference: booking.reference }),
            status => Err(BookingError::Unsettled { reference: booking.reference, status }),
        }
    }

    /// Expires overdue holds now; returns how many.
    pub async fn sweep_now(&self) -> Result<usize, DbError> {
        let expired = self.with_conn(|c| sweep(c, now_millis())).await?;
        for hold in &expired {
            log::info!(
                "{}: hold expired, {} seat(s) of {} returned",
                hold.reference,
                hold.quantity,
                hold.tier_id
            );
            self.metrics.record_booking(BookingOutcome::Expired);
        }
        Ok(expired.len())
    }

    /// Runs the sweeper until the process ends.
    pub async fn run_sweeper(self) {
        // Often enough that a hold never outlives its TTL by much, rarely enough to be cheap.
        let period = (self.hold_ttl / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = self.sweep_now().await {
                log::warn!("sweeper: {e}");
            }
        }
    }

    pub async fn tiers(&self) -> Result<Vec<Tier>, DbError> {
        self.with_conn(|c| Tier::all(c).map_err(DbError::from)).await
    }

    pub async fn booking(&self, reference: Reference) -> Result<Option<Booking>, DbError> {
        self.with_conn(move |c| Booking::by_reference(c, reference.as_str()).map_err(DbError::from)).await
    }
}
