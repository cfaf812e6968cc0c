//! Queries on `ticket_tiers`: the seat counts and the conditional update at the heart of the
//! shop.

use diesel::prelude::*;

use super::models::Tier;
use super::schema::ticket_tiers;
use super::{DbConnection, Prepared};

/// The concert's tiers, seeded on first start.
pub fn default_tiers() -> Vec<Tier> {
    [
        ("vip", "VIP", 100_00, 100),
        ("front-row", "Front Row", 50_00, 200),
        ("general", "General Admission", 10_00, 1000),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (id, name, price_cents, capacity))| Tier {
        id: id.into(),
        name: name.into(),
        price_cents,
        capacity,
        available: capacity,
        withheld: 0,
        sort_order: i as i32,
        version: 0,
    })
    .collect()
}

impl Tier {
    /// All tiers, highest price first.
    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Tier>> {
        ticket_tiers::table
            .order((ticket_tiers::price_cents.desc(), ticket_tiers::sort_order.asc()))
            .select(Tier::as_select())
            .load(conn)
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Tier>> {
        ticket_tiers::table.find(id).select(Tier::as_select()).first(conn).optional()
    }

    /// Inserts the default tiers when the table is empty. Safe to run from several processes
    /// at once: the caller runs it in a write transaction, and a lost race is a no-op.
    pub fn seed_if_empty(conn: &mut DbConnection) -> QueryResult<usize> {
        let count: i64 = ticket_tiers::table.count().get_result(conn)?;
        if count > 0 {
            return Ok(0);
        }
        // One row at a time: three rows (a batch insert through `MultiConnection` needs the
        // per-backend `insert_all!`).
        let mut inserted = 0;
        for tier in default_tiers() {
            inserted += diesel::insert_into(ticket_tiers::table).values(&tier).execute(conn)?;
        }
        Ok(inserted)
    }

    /// The conditional update at the heart of the shop: takes `quantity` seats only if that
    /// many are left, in one statement. `None` (and nothing changed) otherwise.
    pub fn take_seats(conn: &mut DbConnection, tier_id: &str, quantity: i32) -> QueryResult<Option<Seats>> {
        use ticket_tiers::{available, version};
        /// The statement's name among those kept prepared.
        struct TakeSeats;
        let update = diesel::update(
            ticket_tiers::table.filter(ticket_tiers::id.eq(tier_id).and(available.ge(quantity))),
        )
        .set((available.eq(available - quantity), version.eq(version + 1)))
        .returning(Seats::RETURNED);
        Prepared::<TakeSeats, _>::new(update)
            .get_result::<SeatsRow>(conn)
            .optional()
            .map(|row| row.map(Seats::from))
    }

    /// Gives `quantity` seats back. Only called together with a status change of the booking
    /// that held them, in the same transaction.
    pub fn return_seats(conn: &mut DbConnection, tier_id: &str, quantity: i32) -> QueryResult<Seats> {
        use ticket_tiers::{available, version};
        /// The statement's name among those kept prepared.
        struct ReturnSeats;
        let update = diesel::update(ticket_tiers::table.find(tier_id))
            .set((available.eq(available + quantity), version.eq(version + 1)))
            .returning(Seats::RETURNED);
        Prepared::<ReturnSeats, _>::new(update).get_result::<SeatsRow>(conn).map(Seats::from)
    }

    /// Seats currently left in a tier (None for an unknown tier).
    pub fn available(conn: &mut DbConnection, tier_id: &str) -> QueryResult<Option<i32>> {
        ticket_tiers::table.find(tier_id).select(ticket_tiers::available).first(conn).optional()
    }

    /// Takes the tier's row lock and returns the row as it stands (`SELECT … FOR UPDATE` on
    /// PostgreSQL; on SQLite the write transaction already excludes every other writer).
    ///
    /// Lock order: every transaction that changes seats or bookings takes the rows of the
    /// tiers it touches first, in id order, and only then booking rows, so no two of them can
    /// wait on each other in a cycle. The lock is exclusive, so two transactions that change
    /// bookings of one tier never run side by side.
    pub fn lock(conn: &mut DbConnection, tier_id: &str) -> QueryResult<Option<Tier>> {
        match conn {
            DbConnection::Pg(pg) => {
                ticket_tiers::table.find(tier_id).select(Tier::as_select()).for_update().first(pg).optional()
            }
            DbConnection::Sqlite(_) => Tier::find(conn, tier_id),
        }
    }

    /// Sets `available` to `target`, moving the difference to or from `withheld`, only if
    /// `available + withheld >= target` (one conditional update). `None` if it did not fit.
    pub fn set_available(conn: &mut DbConnection, tier_id: &str, target: i32) -> QueryResult<Option<Seats>> {
        use ticket_tiers::{available, version, withheld};
        diesel::update(
            ticket_tiers::table.filter(ticket_tiers::id.eq(tier_id).and((available + withheld).ge(target))),
        )
        .set((available.eq(target), withheld.eq(withheld + available - target), version.eq(version + 1)))
        .returning(Seats::RETURNED)
        .get_result::<SeatsRow>(conn)
        .optional()
        .map(|row| row.map(Seats::from))
    }

    /// Makes every seat of the tier available again and clears `withheld`.
    pub fn restore_capacity(conn: &mut DbConnection, tier_id: &str) -> QueryResult<Seats> {
        use ticket_tiers::{available, capacity, version, withheld};
        diesel::update(ticket_tiers::table.find(tier_id))
            .set((available.eq(capacity), withheld.eq(0), version.eq(version + 1)))
            .returning(Seats::RETURNED)
            .get_result::<SeatsRow>(conn)
            .map(Seats::from)
    }
}

/// A tier's seats after a change, with the change's version and the tier's price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seats {
    pub tier_id: String,
    pub available: i32,
    pub withheld: i32,
    pub version: i64,
    pub price_cents: i64,
}

type SeatsRow = (String, i32, i32, i64, i64);

impl Seats {
    /// The columns a seat change answers.
    const RETURNED: (
        ticket_tiers::id,
        ticket_tiers::available,
        ticket_tiers::withheld,
        ticket_tiers::version,
        ticket_tiers::price_cents,
    ) = (
        ticket_tiers::id,
        ticket_tiers::available,
        ticket_tiers::withheld,
        ticket_tiers::version,
        ticket_tiers::price_cents,
    );

    /// The seats as a locked row shows them.
    pub fn of(tier: &Tier) -> Self {
        Self {
            tier_id: tier.id.clone(),
            available: tier.available,
            withheld: tier.withheld,
            version: tier.version,
            price_cents: tier.price_cents,
        }
    }
}

impl From<SeatsRow> for Seats {
    fn from((tier_id, available, withheld, version, price_cents): SeatsRow) -> Self {
        Self { tier_id, available, withheld, version, price_cents }
    }
}
