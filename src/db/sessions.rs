//! Queries on `admin_sessions`: a session is valid while it is neither expired nor revoked,
//! on every process, because every process asks this table.

use diesel::prelude::*;

use super::DbConnection;
use super::models::AdminSessionRow;
use super::schema::admin_sessions;

impl AdminSessionRow {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(admin_sessions::table).values(self.clone()).execute(conn).map(|_| ())
    }

    /// The session if it is still valid at `now` and has `role`.
    pub fn valid(
        conn: &mut DbConnection,
        id: &str,
        role: &str,
        now: i64,
    ) -> QueryResult<Option<AdminSessionRow>> {
        admin_sessions::table
            .filter(admin_sessions::id.eq(id))
            .filter(admin_sessions::role.eq(role))
            .filter(admin_sessions::revoked_at.is_null())
            .filter(admin_sessions::expires_at.gt(now))
            .select(AdminSessionRow::as_select())
            .first(conn)
            .optional()
    }

    /// Revokes one session (`Some(id)`) or all of them (`None`); returns how many.
    pub fn revoke(conn: &mut DbConnection, id: Option<&str>, now: i64) -> QueryResult<usize> {
        let active = admin_sessions::table.filter(admin_sessions::revoked_at.is_null());
        match id {
            Some(id) => diesel::update(active.filter(admin_sessions::id.eq(id)))
                .set(admin_sessions::revoked_at.eq(now))
                .execute(conn),
            None => diesel::update(active).set(admin_sessions::revoked_at.eq(now)).execute(conn),
        }
    }

    /// Forgets sessions that ended more than a day ago.
    pub fn purge(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
        let day_ago = now - 24 * 60 * 60 * 1000;
        diesel::delete(admin_sessions::table.filter(admin_sessions::expires_at.lt(day_ago))).execute(conn)
    }
}
