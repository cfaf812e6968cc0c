//! The admin session: a [`Session`] of role [`Admin`] (cookie `tk_admin`, path `/admin`).

use actix_web::HttpRequest;

use crate::routes::AppState;
use crate::routes::session::{Admin, Session};

/// A signed-in admin.
pub type AdminSession = Session<Admin>;

/// Who did it, for the audit log.
pub fn actor(req: &HttpRequest, state: &AppState) -> String {
    format!("admin@{}", state.limits.client.of(req))
}
