//! Queries on `bookings`. Every status change is a compare-and-set: it names the status it
//! expects, and reports whether it made the change.

use diesel::prelude::*;

use super::DbConnection;
use super::models::{Booking, BookingStatus};
use super::schema::bookings;

/// What [`Booking::take_back_active`] took back.
#[derive(Debug)]
pub struct TakenBack {
    /// Paid bookings, now `refunded`.
    pub refunded: Vec<Booking>,
    /// Holds, now `voided`: id and creation time.
    pub voided: Vec<(String, i64)>,
}

impl Booking {
    /// Inserts many bookings, all or none (`insert_all!`; the database records the holds' deadlines:
    /// see `hold_deadlines`).
    pub fn insert_all(conn: &mut DbConnection, rows: Vec<Booking>) -> QueryResult<()> {
        super::insert_all!(conn, bookings::table, rows)
    }

    /// The bookings that carry any of `keys`.
    pub fn by_idempotency_keys(conn: &mut DbConnection, keys: &[&str]) -> QueryResult<Vec<Booking>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        match conn {
            DbConnection::Sqlite(sqlite) => {
                // One text whatever the number of keys (`eq_any` writes a placeholder for each),
                // so a desk's batches do not parse it again every time: the keys as a JSON array.
                use diesel::sql_types::{Bool, Text};
                struct ByIdempotencyKeys;
                let keys = serde_json::to_string(keys).expect("strings serialise");
                let known = diesel::dsl::sql::<Bool>("idempotency_key IN (SELECT value FROM json_each(")
                    .bind::<Text, _>(keys)
                    .sql("))");
                let query = bookings::table.filter(known).select(Booking::as_select());
                super::Prepared::<ByIdempotencyKeys, _>::new(query).load(sqlite)
            }
            _ => bookings::table
                .filter(bookings::idempotency_key.eq_any(keys))
                .select(Booking::as_select())
                .load(conn),
        }
    }

    pub fn by_reference(conn: &mut DbConnection, reference: &str) -> QueryResult<Option<Booking>> {
        bookings::table
            .filter(bookings::reference.eq(reference))
            .select(Booking::as_select())
            .first(conn)
            .optional()
    }

    pub fn by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Booking>> {
        bookings::table.find(id).select(Booking::as_select()).first(conn).optional()
    }

    /// The bookings with these ids that exist, in no particular order.
    pub fn by_ids(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<Vec<Booking>> {
        bookings::table.filter(bookings::id.eq_any(ids)).select(Booking::as_select()).load(conn)
    }

    pub fn by_idempotency_key(conn: &mut DbConnection, key: &str) -> QueryResult<Option<Booking>> {
        bookings::table
            .filter(bookings::idempotency_key.eq(key))
            .select(Booking::as_select())
            .first(conn)
            .optional()
    }

    /// Moves a booking from one status to another if, and only if, it is still in `from`.
    /// Returns whether this call made the change (the compare-and-set every transition uses).
    pub fn transition(
        conn: &mut DbConnection,
        booking_id: &str,
        from: BookingStatus,
        to: BookingStatus,
        now: i64,
    ) -> QueryResult<bool> {
        debug_assert!(from.may_become(to), "{from:?} → {to:?} is not a transition");
        let changed = diesel::update(
            bookings::table.filter(bookings::id.eq(booking_id).and(bookings::status.eq(from.as_str()))),
        )
        .set((bookings::status.eq(to.as_str()), bookings::updated_at.eq(now)))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// `from → to` with the gateway's answer recorded (the charge, and why it ended so), as
    /// one compare-and-set; false if the booking was no longer in `from`.
    pub fn settle(
        conn: &mut DbConnection,
        booking_id: &str,
        (from, to): (BookingStatus, BookingStatus),
        transaction_id: &str,
        reason: Option<&str>,
        now: i64,
    ) -> QueryResult<bool> {
        debug_assert!(from.may_become(to), "{from:?} → {to:?} is not a transition");
        let changed = diesel::update(
            bookings::table.filter(bookings::id.eq(booking_id).and(bookings::status.eq(from.as_str()))),
        )
        .set((
            bookings::status.eq(to.as_str()),
            bookings::transaction_id.eq(transaction_id),
            bookings::failure_reason.eq(reason),
            bookings::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// `held → payment_failed` with the gateway's reason; false if the booking was no longer
    /// held.
    pub fn fail_held(conn: &mut DbConnection, booking_id: &str, reason: &str, now: i64) -> QueryResult<bool> {
        let changed = diesel::update(
            bookings::table
                .filter(bookings::id.eq(booking_id).and(bookings::status.eq(BookingStatus::Held.as_str()))),
        )
        .set((
            bookings::status.eq(BookingStatus::PaymentFailed.as_str()),
            bookings::failure_reason.eq(reason),
            bookings::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// `held → confirmed` for many bookings at once, each with its transaction id, in one
    /// statement (group commit of confirmations). Returns the ids it confirmed; a booking no
    /// longer held is left alone.
    pub fn confirm_held_many(
        conn: &mut DbConnection,
        paid: &[(String, String)],
        now: i64,
    ) -> QueryResult<Vec<String>> {
        use diesel::sql_types::{Array, BigInt, Text};
        if paid.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(QueryableByName)]
        struct Confirmed {
            #[diesel(sql_type = Text)]
            id: String,
        }
        // Both backends: UPDATE … FROM (SQLite 3.33+), RETURNING (3.35+); one text whatever the
        // batch (the pairs as two arrays, or as one JSON array), so it is prepared once per
        // connection instead of parsed again for every batch.
        let ids: Vec<Confirmed> = match conn {
            DbConnection::Pg(pg) => {
                struct ConfirmHeldMany;
                let ids: Vec<&str> = paid.iter().map(|(id, _)| id.as_str()).collect();
                let txns: Vec<&str> = paid.iter().map(|(_, txn)| txn.as_str()).collect();
                let update = diesel::sql_query(
                    "UPDATE bookings SET status = 'confirmed', transaction_id = v.txn, updated_at = $1 \
                     FROM unnest($2::text[], $3::text[]) AS v(id, txn) \
                     WHERE bookings.id = v.id AND bookings.status = 'held' RETURNING bookings.id",
                )
                .bind::<BigInt, _>(now)
                .bind::<Array<Text>, _>(ids)
                .bind::<Array<Text>, _>(txns);
                super::Prepared::<ConfirmHeldMany, _>::new(update).load(pg)?
            }
            DbConnection::Sqlite(sqlite) => {
                struct ConfirmHeldMany;
                let pairs = serde_json::to_string(paid).expect("strings serialise");
                let update = diesel::sql_query(
                    "UPDATE bookings SET status = 'confirmed', transaction_id = v.value ->> 1, updated_at = ? \
                     FROM json_each(?) AS v \
                     WHERE bookings.id = v.value ->> 0 AND bookings.status = 'held' RETURNING bookings.id",
                )
                .bind::<BigInt, _>(now)
                .bind::<Text, _>(pairs);
                super::Prepared::<ConfirmHeldMany, _>::new(update).load(sqlite)?
            }
        };
        Ok(ids.into_iter().map(|c| c.id).collect())
    }

    /// Takes back every active booking of a tier in one statement: paid (`confirmed`) ones
    /// become `refunded`, held ones `voided`. One statement, so a booking confirmed while this
    /// runs is seen as confirmed (PostgreSQL re-reads a row it waited for), never voided with
    /// its money kept. Returns the bookings it refunded and those it voided (id and creation
    /// time). The caller holds the tier's row lock.
    pub fn take_back_active(conn: &mut DbConnection, tier_id: &str, now: i64) -> QueryResult<TakenBack> {
        use diesel::sql_types::{BigInt, Text};
        #[derive(QueryableByName)]
        struct Taken {
            #[diesel(sql_type = Text)]
            id: String,
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = BigInt)]
            created_at: i64,
        }
        const SET: &str = "SET status = CASE WHEN status = 'confirmed' THEN 'refunded' ELSE 'voided' END";
        let taken: Vec<Taken> = match conn {
            DbConnection::Pg(pg) => diesel::sql_query(format!(
                "UPDATE bookings {SET}, updated_at = $1 WHERE tier_id = $2 AND status IN ('held', 'confirmed') \
                 RETURNING id, status, created_at"
            ))
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(tier_id)
            .load(pg)?,
            DbConnection::Sqlite(sqlite) => diesel::sql_query(format!(
                "UPDATE bookings {SET}, updated_at = ? WHERE tier_id = ? AND status IN ('held', 'confirmed') \
                 RETURNING id, status, created_at"
            ))
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(tier_id)
            .load(sqlite)?,
        };
        let voided: Vec<(String, i64)> = taken
            .iter()
            .filter(|t| t.status == BookingStatus::Voided.as_str())
            .map(|t| (t.id.clone(), t.created_at))
            .collect();
        let ids: Vec<&str> = taken
            .iter()
            .filter(|t| t.status == BookingStatus::Refunded.as_str())
            .map(|t| t.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(TakenBack { refunded: Vec::new(), voided });
        }
        let refunded =
            bookings::table.filter(bookings::id.eq_any(&ids)).select(Booking::as_select()).load(conn)?;
        Ok(TakenBack { refunded, voided })
    }

    /// The most recent bookings, newest first.
    pub fn recent(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<Booking>> {
        bookings::table
            .order((bookings::created_at.desc(), bookings::id.asc()))
            .limit(limit)
            .select(Booking::as_select())
            .load(conn)
    }

    /// Paid (confirmed) bookings per tier: how many, and their total in cents.
    pub fn paid_by_tier(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64, i64)>> {
        // Summed here: SUM of a BIGINT is NUMERIC on PostgreSQL, a type MultiConnection lacks.
        // A tier has at most `capacity` paid bookings, so the rows are few.
        let rows: Vec<(String, i64)> = bookings::table
            .filter(bookings::status.eq(BookingStatus::Confirmed.as_str()))
            .select((bookings::tier_id, bookings::total_cents))
            .load(conn)?;
        let mut totals: Vec<(String, i64, i64)> = Vec::new();
        for (tier, cents) in rows {
            match totals.iter_mut().find(|(t, _, _)| *t == tier) {
                Some((_, n, sum)) => {
                    *n += 1;
                    *sum += cents;
                }
                None => totals.push((tier, 1, cents)),
            }
        }
        Ok(totals)
    }

    /// Seats per (tier, status), for the conservation check and the admin figures.
    pub fn seats_by_tier_and_status(
        conn: &mut DbConnection,
    ) -> QueryResult<Vec<(String, BookingStatus, i64)>> {
        let rows: Vec<(String, String, Option<i64>)> = bookings::table
            .group_by((bookings::tier_id, bookings::status))
            .select((bookings::tier_id, bookings::status, diesel::dsl::sum(bookings::quantity)))
            .load(conn)?;
        rows.into_iter()
            .map(|(tier, status, seats)| {
                let status = BookingStatus::try_from(status)
                    .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
                Ok((tier, status, seats.unwrap_or(0)))
            })
            .collect()
    }
}
