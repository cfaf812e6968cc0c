//! Queries on `staff_sessions`: a session is valid while it is neither expired nor revoked,
//! on every process, because every process asks this table.

use diesel::prelude::*;

use super::DbConnection;
use super::models::{StaffRole, StaffSession};
use super::schema::staff_sessions;

impl StaffSession {
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(staff_sessions::table).values(self.clone()).execute(conn).map(|_| ())
    }

    /// The session if it is still valid at `now` and has `role`.
    pub fn valid(
        conn: &mut DbConnection,
        id: &str,
        role: StaffRole,
        now: i64,
    ) -> QueryResult<Option<StaffSession>> {
        staff_sessions::table
            .filter(staff_sessions::id.eq(id))
            .filter(staff_sessions::role.eq(role.as_str()))
            .filter(staff_sessions::revoked_at.is_null())
            .filter(staff_sessions::expires_at.gt(now))
            .select(StaffSession::as_select())
            .first(conn)
            .optional()
    }

    /// Revokes the session `id`; returns how many ended (0 or 1).
    pub fn revoke(conn: &mut DbConnection, id: &str, now: i64) -> QueryResult<usize> {
        let active = staff_sessions::table.filter(staff_sessions::revoked_at.is_null());
        diesel::update(active.filter(staff_sessions::id.eq(id)))
            .set(staff_sessions::revoked_at.eq(now))
            .execute(conn)
    }

    /// Revokes every session of `role`; returns how many ended.
    pub fn revoke_role(conn: &mut DbConnection, role: StaffRole, now: i64) -> QueryResult<usize> {
        let active = staff_sessions::table.filter(staff_sessions::revoked_at.is_null());
        diesel::update(active.filter(staff_sessions::role.eq(role.as_str())))
            .set(staff_sessions::revoked_at.eq(now))
            .execute(conn)
    }

    /// Forgets sessions that ended more than a day ago.
    pub fn purge(conn: &mut DbConnection, now: i64) -> QueryResult<usize> {
        let day_ago = now - 24 * 60 * 60 * 1000;
        diesel::delete(staff_sessions::table.filter(staff_sessions::expires_at.lt(day_ago))).execute(conn)
    }
}
