//! Queries on `charge_checks`: bookings that ended without a charge on record while one may
//! have gone through, waiting for the reconciliation to ask the gateway (`booking::reconcile`).
//! A row is written in the transaction that ends the booking and deleted when the gateway has
//! answered, or when the booking's charge is recorded after all.

use diesel::prelude::*;

use super::DbConnection;
use super::models::Booking;
use super::schema::{bookings, charge_checks};

/// A booking to ask the gateway about.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = charge_checks)]
pub struct ChargeCheck {
    pub booking_id: String,
    /// When the booking was made: its charge cannot have begun before.
    pub booked_at: i64,
}

impl ChargeCheck {
    /// Records that these bookings (id, creation time) are to be asked about. Call it in the
    /// transaction that ends them.
    pub fn owed(conn: &mut DbConnection, bookings: &[(String, i64)]) -> QueryResult<()> {
        let rows: Vec<ChargeCheck> = bookings
            .iter()
            .map(|(id, booked_at)| ChargeCheck { booking_id: id.clone(), booked_at: *booked_at })
            .collect();
        super::insert_all!(conn, charge_checks::table, rows)
    }

    /// The gateway has answered for this booking (or its charge is on record now).
    pub fn settled(conn: &mut DbConnection, booking_id: &str) -> QueryResult<()> {
        diesel::delete(charge_checks::table.find(booking_id)).execute(conn).map(|_| ())
    }

    /// The bookings made before `booked_before` that are to be asked about, oldest first.
    pub fn due(conn: &mut DbConnection, booked_before: i64, limit: i64) -> QueryResult<Vec<Booking>> {
        charge_checks::table
            .inner_join(bookings::table)
            .filter(charge_checks::booked_at.lt(booked_before))
            .order(charge_checks::booked_at.asc())
            .limit(limit)
            .select(Booking::as_select())
            .load(conn)
    }

    /// How many bookings wait to be asked about (for the dashboard and tests).
    pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
        charge_checks::table.count().get_result(conn)
    }

    /// How many wait, and when the oldest of them was booked (for `/metrics`).
    pub fn summary(conn: &mut DbConnection) -> QueryResult<(i64, Option<i64>)> {
        let oldest = charge_checks::table.select(diesel::dsl::min(charge_checks::booked_at)).first(conn)?;
        Ok((Self::count(conn)?, oldest))
    }
}
