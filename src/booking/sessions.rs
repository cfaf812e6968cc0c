//! Admin sessions, kept in the database so that signing out ends a session on every process
//! (a copied cookie stops working), and "sign out everywhere" ends them all.

use std::time::Duration;

use super::Shop;
use crate::clock::now_millis;
use crate::db::DbError;
use crate::db::models::AdminSessionRow;

/// A session lasts a working day.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// The box office: everything under `/admin`.
pub const ADMIN: &str = "admin";
/// Door staff: check-in only.
pub const DOOR: &str = "door";

impl Shop {
    /// Starts an admin session: a fresh id and CSRF token.
    pub async fn start_admin_session(&self) -> Result<AdminSessionRow, DbError> {
        self.start_session(ADMIN).await
    }

    /// Starts a session with `role` ([`ADMIN`] or [`DOOR`]).
    pub async fn start_session(&self, role: &str) -> Result<AdminSessionRow, DbError> {
        let now = now_millis();
        let row = AdminSessionRow {
            id: crate::settings::random_token(32),
            csrf: crate::settings::random_token(32),
            created_at: now,
            expires_at: now + SESSION_TTL.as_millis() as i64,
            revoked_at: None,
            role: role.to_owned(),
        };
        let stored = row.clone();
        self.with_conn(move |c| {
            AdminSessionRow::purge(c, now)?;
            stored.insert(c).map_err(DbError::from)
        })
        .await?;
        Ok(row)
    }

    /// The session with this id, if it is neither expired nor revoked.
    pub async fn admin_session(&self, id: String) -> Result<Option<AdminSessionRow>, DbError> {
        self.session(id, ADMIN).await
    }

    /// The session with this id and `role`, if it is neither expired nor revoked.
    pub async fn session(&self, id: String, role: &'static str) -> Result<Option<AdminSessionRow>, DbError> {
        self.with_conn(move |c| AdminSessionRow::valid(c, &id, role, now_millis()).map_err(DbError::from))
            .await
    }

    /// Ends one session (`Some(id)`) or every session (`None`); returns how many ended.
    pub async fn end_admin_sessions(&self, id: Option<String>) -> Result<usize, DbError> {
        self.with_conn(move |c| {
            AdminSessionRow::revoke(c, id.as_deref(), now_millis()).map_err(DbError::from)
        })
        .await
    }
}
