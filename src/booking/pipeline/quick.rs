//! PostgreSQL's quick batch: the common batch (new holds that all fit, paid holds still held)
//! in one statement, so one round trip and one commit serve it instead of the six of
//! `serve`'s transaction (begin, the tier, the holds, the confirmations, the tickets, commit).
//!
//! The statement is one autocommit `WITH`: the tier's conditional update first, then the new
//! holds (their deadlines are the database's trigger's), the confirmations, and the confirmed
//! bookings' tickets and emails. Each later part reads the tier's updated row (the
//! confirmations through a subquery, evaluated before the first row they update), so none of
//! them touches a booking row before the tier's row is locked: the lock order of the module
//! header holds. Either all of it is committed or none of it:
//!
//! - the holds do not all fit, or the tier does not exist: the tier's update matches no row,
//!   nothing else happens, and the caller serves the batch with `serve`, which serves the
//!   first comers while seats last;
//! - a key or reference is already on a booking (a replay, or one another process committed
//!   meanwhile): a unique violation rolls the statement back, and `serve` finds the key;
//! - a paid booking that is no longer held (its hold expired or was voided, or a repeated
//!   confirmation) is not confirmed here: its answer is left open, and the caller serves it
//!   with `serve`, which settles it late. Everything else in the batch is answered.
//!
//! The statement commits without waiting for its WAL to be flushed (`synchronous_commit` off
//! for it alone, set inside it): the tier row's lock is released when it returns, not after a
//! flush. Its answers must not be given before the flush: the desk hands them to the flusher
//! (see `desk.rs`), which makes them durable first.
//!
//! Batches that give seats back take `serve`'s path: they are one in twenty under load, and
//! their decline bookkeeping (charge checks) is `serve`'s.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

use super::{Done, Reserved, Settlement, Work};
use crate::booking::tickets;
use crate::db::tiers::Seats;
use crate::db::{DbConnection, DbError};

/// A quick batch's answers (`None` for a paid booking left to `serve`) and the tier's seats.
#[derive(Debug)]
pub struct Quick {
    pub answers: Vec<Option<Done>>,
    pub seats: Seats,
    /// Which server committed it (its postmaster's start time): the flush that makes it
    /// durable must happen on the same one, not on a standby promoted meanwhile or after a
    /// restart.
    pub server: String,
}

/// Serves `work` in one statement when it can (see the module header): `None` when nothing was
/// changed and the batch is `serve`'s (on SQLite always). An error also changed nothing. What
/// it commits is not yet durable when it returns: answer only after a synchronous commit.
pub fn serve_quick(
    conn: &mut DbConnection,
    tier_id: &str,
    work: &[Work],
    ticket_key: &str,
    now: i64,
) -> Result<Option<Quick>, DbError> {
    let DbConnection::Pg(pg) = conn else { return Ok(None) };
    if work.iter().any(|w| matches!(w, Work::Release { .. })) {
        return Ok(None);
    }
    let holds: Vec<_> = work
        .iter()
        .filter_map(|w| match w {
            Work::Reserve(hold) => Some(hold),
            _ => None,
        })
        .collect();
    // A booking queued twice (a retry while the first attempt still waited) is confirmed once.
    let mut paid: Vec<(&crate::db::models::Booking, &str)> = Vec::new();
    for w in work {
        if let Work::Confirm { booking, transaction_id } = w
            && !paid.iter().any(|(b, _)| b.id == booking.id)
        {
            paid.push((booking, transaction_id));
        }
    }
    let wanted: i32 = holds.iter().map(|h| h.quantity).sum();
    let to_issue: Vec<_> = paid.iter().map(|(b, _)| *b).collect();
    let (tickets, emails) = tickets::prepare(ticket_key, &to_issue, now);

    let statement = Statement {
        tier: tier_id,
        wanted,
        now,
        hold_ids: column(&holds, |h| h.id.as_str()),
        hold_references: column(&holds, |h| h.reference.as_str()),
        hold_quantities: column(&holds, |h| h.quantity),
        hold_names: column(&holds, |h| h.customer_name.as_str()),
        hold_emails: column(&holds, |h| h.customer_email.as_str()),
        hold_users: column(&holds, |h| h.user_id.as_deref()),
        hold_keys: column(&holds, |h| h.idempotency_key.as_deref()),
        hold_expiries: column(&holds, |h| h.hold_expires_at),
        hold_created: column(&holds, |h| h.created_at),
        paid_ids: column(&paid, |(b, _)| b.id.as_str()),
        paid_transactions: column(&paid, |(_, txn)| *txn),
        ticket_codes: column(&tickets, |t| t.code.as_str()),
        ticket_bookings: column(&tickets, |t| t.booking_id.as_str()),
        ticket_seats: column(&tickets, |t| t.seat),
        ticket_created: column(&tickets, |t| t.created_at),
        email_ids: column(&emails, |e| e.id.as_str()),
        email_bookings: column(&emails, |e| e.booking_id.as_str()),
        email_kinds: column(&emails, |e| e.kind.as_str()),
        email_recipients: column(&emails, |e| e.recipient.as_str()),
        email_statuses: column(&emails, |e| e.status.as_str()),
        email_attempts: column(&emails, |e| e.attempts),
        email_next: column(&emails, |e| e.next_attempt_at),
        email_created: column(&emails, |e| e.created_at),
        email_updated: column(&emails, |e| e.updated_at),
    };
    let row: Option<Row> = statement.get_results(pg)?.pop();
    let Some(row) = row else { return Ok(None) };
    let seats = Seats {
        tier_id: row.id,
        available: row.available,
        withheld: row.withheld,
        version: row.version,
        price_cents: row.price_cents,
    };
    let answers = work
        .iter()
        .map(|w| match w {
            Work::Reserve(hold) => {
                let mut hold = hold.clone();
                hold.unit_price_cents = seats.price_cents;
                hold.total_cents = seats.price_cents * i64::from(hold.quantity);
                Some(Done::Reserved(Reserved::Held(hold)))
            }
            Work::Confirm { booking, .. } => {
                row.confirmed.contains(&booking.id).then_some(Done::Settled(Settlement::Confirmed))
            }
            Work::Release { .. } => unreachable!("checked above"),
        })
        .collect();
    Ok(Some(Quick { answers, seats, server: row.server }))
}

fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

/// The statement's answer: the tier's seats after it, and the bookings it confirmed.
#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Integer)]
    available: i32,
    #[diesel(sql_type = Integer)]
    withheld: i32,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = BigInt)]
    price_cents: i64,
    #[diesel(sql_type = Array<Text>)]
    confirmed: Vec<String>,
    #[diesel(sql_type = Text)]
    server: String,
}

/// The quick batch's statement. Its rows come as one array per column (through `unnest`), so
/// its text is the same for every batch and diesel prepares it once per connection (a query
/// through `sql_query` is planned again on every call: 0.17 ms of this statement's 0.36). A
/// prepared statement may still be planned again for every run (PostgreSQL's choice, on an
/// analysed table of many bookings), so a desk's connection plans generically
/// (`db::plan_by_key`; `burst::the_quick_statement_is_planned_once_on_a_grown_table`).
///
/// The confirmations find their rows with `id = ANY(…)` on `bookings` alone. For a table of a
/// few pages the planner prefers reading it whole, and a plan prepared then is kept while the
/// table grows, until the next `ANALYZE` (measured: 391 to 527 pages read per statement, half
/// the bookings per second); so a desk plans with sequential scans discouraged
/// (`db::plan_by_key`), and the primary key serves them whatever the table's size
/// (`burst::confirmations_find_their_bookings_by_key_after_the_table_grew`). No index names
/// `status` (see the migration `2026-12-07-100001_hold_deadlines`), so a confirmation updates
/// its row in place and writes no index entry.
const SQL: &str = "WITH unflushed AS (
   SELECT set_config('synchronous_commit', 'off', true) AS setting),
 tier AS (
   UPDATE ticket_tiers
      SET available = available - $2, version = version + CASE WHEN $2 > 0 THEN 1 ELSE 0 END
    WHERE id = $1 AND available >= $2 AND (SELECT setting FROM unflushed) IS NOT NULL
   RETURNING id, available, withheld, version, price_cents),
 held AS (
   INSERT INTO bookings (id, reference, tier_id, quantity, unit_price_cents, total_cents,
     customer_name, customer_email, user_id, status, idempotency_key, hold_expires_at,
     created_at, updated_at)
   SELECT h.id, h.reference, tier.id, h.quantity, tier.price_cents,
     tier.price_cents * h.quantity, h.name, h.email, h.user_id, 'held', h.key, h.expires,
     h.created, h.created
     FROM tier, unnest($3::text[], $4::text[], $5::int4[], $6::text[], $7::text[],
       $8::text[], $9::text[], $10::int8[], $11::int8[])
       AS h(id, reference, quantity, name, email, user_id, key, expires, created)),
 confirmed AS (
   UPDATE bookings SET status = 'confirmed', updated_at = $12,
          transaction_id = ($14::text[])[array_position($13::text[], bookings.id)]
    WHERE bookings.id = ANY($13::text[]) AND bookings.tier_id = (SELECT id FROM tier)
      AND bookings.status = 'held'
   RETURNING bookings.id),
 issued AS (
   INSERT INTO tickets (code, booking_id, seat, created_at)
   SELECT * FROM unnest($15::text[], $16::text[], $17::int4[], $18::int8[])
       AS k(code, booking_id, seat, created_at)
    WHERE k.booking_id IN (SELECT id FROM confirmed)),
 mailed AS (
   INSERT INTO email_outbox (id, booking_id, kind, recipient, status, attempts,
     next_attempt_at, created_at, updated_at)
   SELECT * FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[],
       $24::int4[], $25::int8[], $26::int8[], $27::int8[])
       AS e(id, booking_id, kind, recipient, status, attempts, next_attempt_at,
         created_at, updated_at)
    WHERE e.booking_id IN (SELECT id FROM confirmed))
 SELECT id, available, withheld, version, price_cents,
        ARRAY(SELECT id FROM confirmed) AS confirmed, pg_postmaster_start_time()::text AS server
   FROM tier";

/// [`SQL`] with its parameters: `$n` in the text is the n-th below.
struct Statement<'a> {
    tier: &'a str,
    wanted: i32,
    now: i64,
    hold_ids: Vec<&'a str>,
    hold_references: Vec<&'a str>,
    hold_quantities: Vec<i32>,
    hold_names: Vec<&'a str>,
    hold_emails: Vec<&'a str>,
    hold_users: Vec<Option<&'a str>>,
    hold_keys: Vec<Option<&'a str>>,
    hold_expiries: Vec<i64>,
    hold_created: Vec<i64>,
    paid_ids: Vec<&'a str>,
    paid_transactions: Vec<&'a str>,
    ticket_codes: Vec<&'a str>,
    ticket_bookings: Vec<&'a str>,
    ticket_seats: Vec<i32>,
    ticket_created: Vec<i64>,
    email_ids: Vec<&'a str>,
    email_bookings: Vec<&'a str>,
    email_kinds: Vec<&'a str>,
    email_recipients: Vec<&'a str>,
    email_statuses: Vec<&'a str>,
    email_attempts: Vec<i32>,
    email_next: Vec<i64>,
    email_created: Vec<i64>,
    email_updated: Vec<i64>,
}

impl<'b> Statement<'_> {
    /// Binds parameter `n` where the text names it.
    fn bind(&'b self, n: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        match n {
            1 => out.push_bind_param::<Text, _>(&self.tier),
            2 => out.push_bind_param::<Integer, _>(&self.wanted),
            3 => out.push_bind_param::<Array<Text>, _>(&self.hold_ids),
            4 => out.push_bind_param::<Array<Text>, _>(&self.hold_references),
            5 => out.push_bind_param::<Array<Integer>, _>(&self.hold_quantities),
            6 => out.push_bind_param::<Array<Text>, _>(&self.hold_names),
            7 => out.push_bind_param::<Array<Text>, _>(&self.hold_emails),
            8 => out.push_bind_param::<Array<Nullable<Text>>, _>(&self.hold_users),
            9 => out.push_bind_param::<Array<Nullable<Text>>, _>(&self.hold_keys),
            10 => out.push_bind_param::<Array<BigInt>, _>(&self.hold_expiries),
            11 => out.push_bind_param::<Array<BigInt>, _>(&self.hold_created),
            12 => out.push_bind_param::<BigInt, _>(&self.now),
            13 => out.push_bind_param::<Array<Text>, _>(&self.paid_ids),
            14 => out.push_bind_param::<Array<Text>, _>(&self.paid_transactions),
            15 => out.push_bind_param::<Array<Text>, _>(&self.ticket_codes),
            16 => out.push_bind_param::<Array<Text>, _>(&self.ticket_bookings),
            17 => out.push_bind_param::<Array<Integer>, _>(&self.ticket_seats),
            18 => out.push_bind_param::<Array<BigInt>, _>(&self.ticket_created),
            19 => out.push_bind_param::<Array<Text>, _>(&self.email_ids),
            20 => out.push_bind_param::<Array<Text>, _>(&self.email_bookings),
            21 => out.push_bind_param::<Array<Text>, _>(&self.email_kinds),
            22 => out.push_bind_param::<Array<Text>, _>(&self.email_recipients),
            23 => out.push_bind_param::<Array<Text>, _>(&self.email_statuses),
            24 => out.push_bind_param::<Array<Integer>, _>(&self.email_attempts),
            25 => out.push_bind_param::<Array<BigInt>, _>(&self.email_next),
            26 => out.push_bind_param::<Array<BigInt>, _>(&self.email_created),
            27 => out.push_bind_param::<Array<BigInt>, _>(&self.email_updated),
            _ => unreachable!("the statement names parameters 1 to 27"),
        }
    }
}

impl QueryFragment<Pg> for Statement<'_> {
    /// The text with each `$n` replaced by its bind, in the order they appear (diesel numbers
    /// binds as it pushes them; a parameter named twice is bound twice).
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = SQL;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
            let n = rest[at + 1..at + 1 + digits].parse().expect("a parameter number after $");
            self.bind(n, &mut out)?;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// One statement text for every batch: prepared once per connection (unless
/// `DB_STATEMENT_CACHE` is off), as diesel's own statements are.
impl QueryId for Statement<'_> {
    type QueryId = Statement<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Statement<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<diesel::PgConnection> for Statement<'_> {}
