//! Queries on `ticket_tiers`: the seat counts and the conditional update at the heart of the
//! shop.

use diesel::prelude::*;

use super::DbConnection;
use super::models::Tier;
use super::schema::ticket_tiers;

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
        // One row at a time: `MultiConnection` has no batch insert.
        let mut inserted = 0;
        for tier in default_tiers() {
            inserted += diesel::insert_into(ticket_tiers::table).values(&tier).execute(conn)?;
        }
        Ok(inserted)
    }

    /// The conditional update at the heart of the shop: takes `quantity` seats only if that
    /// many are left, in one statement. Returns false (and changes nothing) otherwise.
    pub fn take_seats(conn: &mut DbConnection, tier_id: &str, quantity: i32) -> QueryResult<bool> {
        use ticket_tiers::available;
        let changed = diesel::update(
            ticket_tiers::table.filter(ticket_tiers::id.eq(tier_id).and(available.ge(quantity))),
        )
        .set(available.eq(available - quantity))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// [`Tier::take_seats`], answering the tier's price when the seats were taken.
    pub fn take_seats_priced(
        conn: &mut DbConnection,
        tier_id: &str,
        quantity: i32,
    ) -> QueryResult<Option<i64>> {
        use ticket_tiers::available;
        diesel::update(ticket_tiers::table.filter(ticket_tiers::id.eq(tier_id).and(available.ge(quantity))))
            .set(available.eq(available - quantity))
            .returning(ticket_tiers::price_cents)
            .get_result(conn)
            .optional()
    }

    /// Gives `quantity` seats back. Only called together with a status change of the booking
    /// that held them, in the same transaction.
    pub fn return_seats(conn: &mut DbConnection, tier_id: &str, quantity: i32) -> QueryResult<()> {
        use ticket_tiers::available;
        diesel::update(ticket_tiers::table.find(tier_id))
            .set(available.eq(available + quantity))
            .execute(conn)?;
        Ok(())
    }

    /// Seats currently left in a tier (None for an unknown tier).
    pub fn available(conn: &mut DbConnection, tier_id: &str) -> QueryResult<Option<i32>> {
        ticket_tiers::table.find(tier_id).select(ticket_tiers::available).first(conn).optional()
    }

    /// Takes the tier's row lock (a no-op write; on SQLite the write transaction already
    /// excludes other writers) and returns the row as it stands.
    ///
    /// Lock order: every transaction that changes a tier and its bookings takes the tier row
    /// first, then booking rows, so two of them can never wait on each other.
    pub fn lock(conn: &mut DbConnection, tier_id: &str) -> QueryResult<Option<Tier>> {
        diesel::update(ticket_tiers::table.find(tier_id))
            .set(ticket_tiers::available.eq(ticket_tiers::available))
            .execute(conn)?;
        Tier::find(conn, tier_id)
    }

    /// Sets `available` to `target`, moving the difference to or from `withheld`, only if
    /// `available + withheld >= target` (one conditional update). False if it did not fit.
    pub fn set_available(conn: &mut DbConnection, tier_id: &str, target: i32) -> QueryResult<bool> {
        use ticket_tiers::{available, withheld};
        let changed = diesel::update(
            ticket_tiers::table.filter(ticket_tiers::id.eq(tier_id).and((available + withheld).ge(target))),
        )
        .set((available.eq(target), withheld.eq(withheld + available - target)))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// Makes every seat of the tier available again and clears `withheld`.
    pub fn restore_capacity(conn: &mut DbConnection, tier_id: &str) -> QueryResult<()> {
        diesel::update(ticket_tiers::table.find(tier_id))
            .set((ticket_tiers::available.eq(ticket_tiers::capacity), ticket_tiers::withheld.eq(0)))
            .execute(conn)
            .map(|_| ())
    }
}
