//! The admin session: a signed, `HttpOnly`, `SameSite=Strict` cookie scoped to `/admin` that
//! names a session row in the database (so signing out ends it on every process).
//! [`AdminSession`] is an extractor, so a handler that takes it refuses a request without a
//! valid session before its body is read.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::error::AppError;
use crate::rate_limit::client_ip;
use crate::routes::AppState;

pub const SESSION_COOKIE: &str = "tk_admin";
pub const SIGN_IN_COOKIE: &str = "tk_signin";

/// A signed-in admin: the session row the cookie names, still valid.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub id: String,
    pub csrf: String,
}

impl AdminSession {
    /// The cookie value for session `id`.
    pub fn encode(id: &str) -> String {
        format!("v2|{id}")
    }

    /// The session id a cookie value names.
    pub fn decode(value: &str) -> Option<&str> {
        value.strip_prefix("v2|").filter(|id| !id.is_empty() && !id.contains('|'))
    }

    /// The session of a request: its cookie present and signed, and its row valid. Database
    /// trouble is an error (503), not a signed-out admin.
    pub async fn of(req: &HttpRequest, state: &AppState) -> Result<Option<Self>, AppError> {
        let Some(value) = signed_value(req, &state.cookie_key, SESSION_COOKIE) else { return Ok(None) };
        let Some(id) = Self::decode(&value) else { return Ok(None) };
        let row = state.shop.admin_session(id.to_owned()).await?;
        Ok(row.map(|row| Self { id: row.id, csrf: row.csrf }))
    }

    /// Checks the CSRF token sent with a POST (the `csrf_token` field, else the
    /// `X-CSRF-Token` header) against this session's.
    pub fn check_csrf(&self, req: &HttpRequest, form_token: &str) -> Result<(), AppError> {
        let header = req.headers().get("X-CSRF-Token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = if form_token.is_empty() { header } else { form_token };
        if token.is_empty() || !constant_time_eq(token.as_bytes(), self.csrf.as_bytes()) {
            return Err(AppError::Forbidden(
                "The form's security token is missing or out of date. Reload the admin page and try again."
                    .into(),
            ));
        }
        Ok(())
    }
}

impl FromRequest for AdminSession {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>().ok_or(AppError::Unauthorized)?;
            AdminSession::of(&req, state).await?.ok_or(AppError::Unauthorized)
        })
    }
}

/// Reads a signed cookie, returning its value only if the signature holds.
pub fn signed_value(req: &HttpRequest, key: &Key, name: &str) -> Option<String> {
    let mut jar = CookieJar::new();
    jar.add_original(req.cookie(name)?.into_owned());
    jar.signed(key).get(name).map(|c| c.value().to_owned())
}

/// A signed, `HttpOnly`, `SameSite=Strict` cookie scoped to `/admin`.
pub fn signed_cookie(
    req: &HttpRequest,
    key: &Key,
    name: &'static str,
    value: String,
    max_age: time::Duration,
) -> Cookie<'static> {
    let cookie = Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(max_age)
        .finish();
    let mut jar = CookieJar::new();
    jar.signed_mut(key).add(cookie);
    jar.get(name).cloned().unwrap_or_else(|| Cookie::new(name, ""))
}

pub fn expired_cookie(name: &'static str) -> Cookie<'static> {
    let mut cookie =
        Cookie::build(name, "").path("/admin").http_only(true).same_site(SameSite::Strict).finish();
    cookie.make_removal();
    cookie
}

/// Compares secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff));
    }
    diff == 0
}

/// Who did it, for the audit log.
pub fn actor(req: &HttpRequest, state: &AppState) -> String {
    format!("admin@{}", client_ip(req, state.settings.trust_forwarded_for))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"hunter22", b"hunter22"));
        assert!(!constant_time_eq(b"hunter22", b"hunter23"));
        assert!(!constant_time_eq(b"hunter22", b"hunter2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn cookies_name_a_session_id() {
        assert_eq!(AdminSession::decode(&AdminSession::encode("abc")), Some("abc"));
        assert_eq!(AdminSession::decode("v1|tok|1"), None);
        assert_eq!(AdminSession::decode("v2|"), None);
    }
}
