//! Staff sessions (the box office and the door), kept in the database so that signing out ends
//! a session on every process (a copied cookie stops working), and "sign out everywhere" ends
//! every session of a role.

use std::time::Duration;

use super::Shop;
use crate::clock::now_millis;
use crate::db::DbError;
use crate::db::models::{StaffRole, StaffSession};

/// A session lasts a working day.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

impl Shop {
    /// Starts a session with `role`: a fresh id and CSRF token.
    pub async fn start_session(&self, role: StaffRole) -> Result<StaffSession, DbError> {
        let now = now_millis();
        let row = StaffSession {
            id: crate::settings::random_token(32),
            role,
            csrf: crate::settings::random_token(32),
            created_at: now,
            expires_at: now + SESSION_TTL.as_millis() as i64,
            revoked_at: None,
        };
        let stored = row.clone();
        self.with_conn(move |c| {
            StaffSession::purge(c, now)?;
            stored.insert(c).map_err(DbError::from)
        })
        .await?;
        Ok(row)
    }

    /// The session with this id and `role`, if it is neither expired nor revoked.
    pub async fn session(&self, id: String, role: StaffRole) -> Result<Option<StaffSession>, DbError> {
        self.with_conn(move |c| StaffSession::valid(c, &id, role, now_millis()).map_err(DbError::from)).await
    }

    /// Ends the session `id`; returns how many ended.
    pub async fn end_session(&self, id: String) -> Result<usize, DbError> {
        self.with_conn(move |c| StaffSession::revoke(c, &id, now_millis()).map_err(DbError::from)).await
    }

    /// Ends every session of `role`, on every process; returns how many ended.
    pub async fn end_sessions_of(&self, role: StaffRole) -> Result<usize, DbError> {
        self.with_conn(move |c| StaffSession::revoke_role(c, role, now_millis()).map_err(DbError::from)).await
    }
}
