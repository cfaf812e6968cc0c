//! Queries on `app_secrets`: keys every process must share (the ticket signing key, the
//! session key) when the environment does not set them. The first process to start writes
//! one; the others read it.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::DbConnection;
use super::schema::app_secrets;

/// The name of the ticket signing key.
pub const TICKET_KEY: &str = "ticket";
/// The name of the session cookie key.
pub const SESSION_KEY: &str = "session";

/// The stored secret called `name`, if any.
pub fn get(conn: &mut DbConnection, name: &str) -> QueryResult<Option<String>> {
    app_secrets::table.find(name).select(app_secrets::value).first(conn).optional()
}

/// The stored secret called `name`; stores `candidate` first if there is none. Two processes
/// racing both end with the one that was written first (a unique violation means another
/// process won, and its value is read back).
pub fn get_or_create(conn: &mut DbConnection, name: &str, candidate: &str, now: i64) -> QueryResult<String> {
    if let Some(value) = get(conn, name)? {
        return Ok(value);
    }
    let inserted = diesel::insert_into(app_secrets::table)
        .values((
            app_secrets::name.eq(name),
            app_secrets::value.eq(candidate),
            app_secrets::created_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(candidate.to_owned()),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            get(conn, name)?.ok_or(DieselError::NotFound)
        }
        Err(e) => Err(e),
    }
}

/// Stores `value` as the secret called `name` (a configured secret replaces a stored one).
/// Returns true if the stored value changed.
pub fn set(conn: &mut DbConnection, name: &str, value: &str, now: i64) -> QueryResult<bool> {
    let stored = get_or_create(conn, name, value, now)?;
    if crate::settings::constant_time_eq(stored.as_bytes(), value.as_bytes()) {
        return Ok(false);
    }
    diesel::update(app_secrets::table.find(name))
        .set((app_secrets::value.eq(value), app_secrets::created_at.eq(now)))
        .execute(conn)?;
    Ok(true)
}
