//! The reservation: take the seats with the conditional update and write the `held`
//! booking, atomically. Both backends' versions side by side; they differ only in how many
//! round trips the hot tier row stays locked.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::models::{Booking, Tier};
use super::{DbConnection, schema, write_transaction};

/// What the reservation found.
#[derive(Debug)]
pub enum Reserved {
    /// Seats taken and the booking written (with the tier's price filled in).
    Held(Booking),
    /// The idempotency key is already on a booking: this one. Nothing was changed.
    KeyExists(Booking),
    /// Fewer seats than asked are left. Nothing was changed.
    NotEnough {
        available: i32,
    },
    UnknownTier,
}

/// Reserves `hold.quantity` seats of `hold.tier_id` and inserts `hold` (status `held`; its
/// price fields are set from the tier). A reference collision comes back as the unique
/// violation it is; the caller draws a new reference.
pub fn reserve(conn: &mut DbConnection, hold: Booking) -> QueryResult<Reserved> {
    let result = match conn {
        DbConnection::Pg(pg) => reserve_postgres(pg, hold.clone()),
        DbConnection::Sqlite(_) => reserve_sqlite(conn, hold.clone()),
    };
    match result {
        // The same key committed first in a concurrent request: this attempt rolled back
        // (seats included), and the earlier booking is the answer.
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
            match earlier(conn, &hold)? {
                Some(earlier) => Ok(Reserved::KeyExists(earlier)),
                None => Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)),
            }
        }
        other => other,
    }
}

fn earlier(conn: &mut DbConnection, hold: &Booking) -> QueryResult<Option<Booking>> {
    match &hold.idempotency_key {
        Some(key) => Booking::by_idempotency_key(conn, key),
        None => Ok(None),
    }
}

fn priced(mut hold: Booking, unit_price_cents: i64) -> Booking {
    hold.unit_price_cents = unit_price_cents;
    hold.total_cents = unit_price_cents * i64::from(hold.quantity);
    hold
}

/// Reserves several holds of one tier in one transaction (group commit): one conditional
/// update for the sum and one multi-row insert when they all fit; when they do not, the tier row
/// is locked and the holds are served in arrival order, each taking seats if they still fit
/// (so the first comers get the last seats; a later, smaller request can take seats an earlier,
/// larger one could not use). Holds whose idempotency key is already on a booking are answered
/// `KeyExists` and take nothing.
///
/// All holds must be for the same tier and carry distinct idempotency keys. A unique violation
/// (a key or reference committed concurrently by another process) fails the whole batch, and
/// the caller reserves those holds one by one.
pub fn reserve_batch(conn: &mut DbConnection, holds: Vec<Booking>) -> QueryResult<Vec<Reserved>> {
    write_transaction(conn, |c| {
        let keys: Vec<&str> = holds.iter().filter_map(|h| h.idempotency_key.as_deref()).collect();
        let known = Booking::by_idempotency_keys(c, &keys)?;
        let mut answers: Vec<Option<Reserved>> = holds
            .iter()
            .map(|h| {
                let key = h.idempotency_key.as_deref()?;
                known
                    .iter()
                    .find(|b| b.idempotency_key.as_deref() == Some(key))
                    .cloned()
                    .map(Reserved::KeyExists)
            })
            .collect();
        let Some(tier_id) = holds.first().map(|h| h.tier_id.clone()) else { return Ok(Vec::new()) };
        let wanted: i32 =
            holds.iter().zip(&answers).filter(|(_, a)| a.is_none()).map(|(h, _)| h.quantity).sum();

        // The usual case while seats last: everything fits, one update (answering the price).
        let mut price = if wanted > 0 { Tier::take_seats_priced(c, &tier_id, wanted)? } else { None };
        if price.is_none() {
            // Lock the row, then serve in arrival order what still fits.
            let Some(tier) = Tier::lock(c, &tier_id)? else {
                return Ok(answers.into_iter().map(|a| a.unwrap_or(Reserved::UnknownTier)).collect());
            };
            let mut left = tier.available;
            let mut taken = 0;
            for (hold, answer) in holds.iter().zip(answers.iter_mut()) {
                if answer.is_some() {
                    continue;
                }
                if hold.quantity <= left {
                    left -= hold.quantity;
                    taken += hold.quantity;
                } else {
                    *answer = Some(Reserved::NotEnough { available: left });
                }
            }
            if taken > 0 && !Tier::take_seats(c, &tier_id, taken)? {
                return Err(DieselError::RollbackTransaction); // impossible under the row lock
            }
            price = Some(tier.price_cents);
        }
        let price = price.unwrap_or_default();
        let mut rows = Vec::new();
        let answers: Vec<Reserved> = holds
            .into_iter()
            .zip(answers)
            .map(|(hold, answer)| match answer {
                Some(done) => done,
                None => {
                    let booking = priced(hold, price);
                    rows.push(booking.clone());
                    Reserved::Held(booking)
                }
            })
            .collect();
        Booking::insert_all(c, rows)?;
        Ok(answers)
    })
}

/// SQLite: one `BEGIN IMMEDIATE` transaction that checks the key, reads the tier, takes the
/// seats with the conditional update and writes the booking (a failed insert rolls the seats
/// back with it).
fn reserve_sqlite(conn: &mut DbConnection, hold: Booking) -> QueryResult<Reserved> {
    write_transaction(conn, |c| {
        if let Some(earlier) = earlier(c, &hold)? {
            return Ok(Reserved::KeyExists(earlier));
        }
        let Some(tier) = Tier::find(c, &hold.tier_id)? else {
            return Ok(Reserved::UnknownTier);
        };
        // The conditional update decides; when it changes nothing, nothing was written.
        if !Tier::take_seats(c, &tier.id, hold.quantity)? {
            return Ok(Reserved::NotEnough { available: tier.available });
        }
        let booking = priced(hold, tier.price_cents);
        booking.insert(c)?;
        Ok(Reserved::Held(booking))
    })
}

/// PostgreSQL: the conditional update and the booking insert as one statement, so the hot
/// tier row is locked for a single round trip plus the commit, exactly as long as the bare
/// `UPDATE` itself would hold it. A repeated idempotency key or reference fails the whole
/// statement on the unique index (the seats are not taken); zero rows means not enough seats.
///
/// The column list is [`RESERVE_COLUMNS`]; a unit test compares it with `schema.rs`, so a new
/// `bookings` column cannot be forgotten here.
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
struct Price {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    unit_price_cents: i64,
}

fn reserve_postgres(pg: &mut diesel::PgConnection, hold: Booking) -> QueryResult<Reserved> {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};
    let price = diesel::sql_query(RESERVE_POSTGRES)
        .bind::<Integer, _>(hold.quantity)
        .bind::<Text, _>(&hold.tier_id)
        .bind::<Text, _>(&hold.id)
        .bind::<Text, _>(&hold.reference)
        .bind::<Text, _>(&hold.customer_name)
        .bind::<Text, _>(&hold.customer_email)
        .bind::<Nullable<Text>, _>(&hold.user_id)
        .bind::<Nullable<Text>, _>(&hold.idempotency_key)
        .bind::<BigInt, _>(hold.hold_expires_at)
        .bind::<BigInt, _>(hold.created_at)
        .get_result::<Price>(pg)
        .optional()?;
    if let Some(Price { unit_price_cents }) = price {
        return Ok(Reserved::Held(priced(hold, unit_price_cents)));
    }
    let available = schema::ticket_tiers::table
        .find(&hold.tier_id)
        .select(schema::ticket_tiers::available)
        .first::<i32>(pg)
        .optional()?;
    Ok(match available {
        None => Reserved::UnknownTier,
        Some(available) => Reserved::NotEnough { available },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The column names a statement lists between `INSERT INTO bookings (` and `)`.
    fn insert_columns(sql: &str) -> Vec<String> {
        let start = sql.find("INSERT INTO bookings (").expect("an insert") + "INSERT INTO bookings (".len();
        let end = start + sql[start..].find(')').expect("closing parenthesis");
        sql[start..end].split(',').map(|c| c.trim().to_owned()).collect()
    }

    /// The columns of `bookings` as `schema.rs` declares them, in order.
    fn schema_columns() -> Vec<String> {
        let query = schema::bookings::table.select(schema::bookings::all_columns);
        let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
        let list = sql.trim_start_matches("SELECT ").split(" FROM ").next().expect("a select list");
        list.split(", ")
            .map(|c| c.rsplit('.').next().expect("a column").trim_matches('"').to_owned())
            .collect()
    }

    #[test]
    fn the_postgres_reservation_lists_every_bookings_column() {
        let columns = schema_columns();
        assert!(columns.len() >= 16, "{columns:?}");
        assert_eq!(insert_columns(RESERVE_POSTGRES), columns);
    }

    #[test]
    fn the_postgres_reservation_selects_one_value_per_column() {
        let select = RESERVE_POSTGRES.split("SELECT ").nth(1).expect("select");
        let values = select.split("FROM taken").next().expect("values");
        assert_eq!(values.split(',').count(), schema_columns().len());
    }
}
