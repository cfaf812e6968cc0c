//! The admin session: a signed, `HttpOnly`, `SameSite=Strict` cookie scoped to `/admin`,
//! holding the session's CSRF token and when it was issued. [`AdminSession`] is an extractor,
//! so a handler that takes it refuses a request without a session before its body is read.

use std::future::{Ready, ready};

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::clock::now_millis;
use crate::error::AppError;
use crate::rate_limit::client_ip;
use crate::routes::AppState;

pub const SESSION_COOKIE: &str = "tk_admin";
pub const SIGN_IN_COOKIE: &str = "tk_signin";
/// A session lasts a working day.
pub const SESSION_MILLIS: i64 = 8 * 60 * 60 * 1000;

/// A signed-in admin. Lives only in the signed cookie: any process with the same
/// `SESSION_SECRET` accepts it.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub csrf: String,
    pub issued_at: i64,
}

impl AdminSession {
    pub fn encode(&self) -> String {
        format!("v1|{}|{}", self.csrf, self.issued_at)
    }

    pub fn decode(value: &str) -> Option<Self> {
        let mut parts = value.split('|');
        let (version, csrf, issued_at) = (parts.next()?, parts.next()?, parts.next()?);
        let issued_at = issued_at.parse().ok()?;
        (version == "v1" && parts.next().is_none() && now_millis() - issued_at < SESSION_MILLIS)
            .then(|| Self { csrf: csrf.to_owned(), issued_at })
    }

    /// The session of a request, if its cookie is present, signed and current.
    pub fn of(req: &HttpRequest, state: &AppState) -> Option<Self> {
        signed_value(req, &state.cookie_key, SESSION_COOKIE).and_then(|v| Self::decode(&v))
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
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.app_data::<web::Data<AppState>>().and_then(|state| Self::of(req, state));
        ready(session.ok_or(AppError::Unauthorized))
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
    fn sessions_round_trip_and_expire() {
        let s = AdminSession { csrf: "tok".into(), issued_at: now_millis() };
        assert_eq!(AdminSession::decode(&s.encode()).map(|d| d.csrf), Some("tok".into()));
        let old = AdminSession { csrf: "tok".into(), issued_at: now_millis() - SESSION_MILLIS - 1 };
        assert!(AdminSession::decode(&old.encode()).is_none());
        assert!(AdminSession::decode("v0|tok|1").is_none());
    }
}
