//! Signed-in sessions for the staff pages: a signed, `HttpOnly`, `SameSite=Strict` cookie scoped
//! to its role's path, naming a session row in the database (so signing out ends it on every
//! process). [`Session`] is an extractor, so a handler that takes it refuses a request without a
//! valid session before its body is read. Each role has its own cookie, path and rows: a door
//! session cannot open `/admin`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::booking::sessions::{ADMIN, DOOR};
use crate::error::AppError;
use crate::routes::AppState;

/// What sets one kind of session apart.
pub trait Role: 'static {
    /// The role stored on the session row.
    const NAME: &'static str;
    /// Where its cookies are sent.
    const PATH: &'static str;
    /// The session cookie.
    const COOKIE: &'static str;
    /// The sign-in form's own CSRF cookie.
    const SIGN_IN_COOKIE: &'static str;
    /// The page to reload when a form's token is out of date.
    const PAGE: &'static str;
}

/// The box office.
#[derive(Debug)]
pub struct Admin;

impl Role for Admin {
    const NAME: &'static str = ADMIN;
    const PATH: &'static str = "/admin";
    const COOKIE: &'static str = "tk_admin";
    const SIGN_IN_COOKIE: &'static str = "tk_signin";
    const PAGE: &'static str = "admin page";
}

/// Door staff.
#[derive(Debug)]
pub struct Door;

impl Role for Door {
    const NAME: &'static str = DOOR;
    const PATH: &'static str = "/door";
    const COOKIE: &'static str = "tk_door";
    const SIGN_IN_COOKIE: &'static str = "tk_door_signin";
    const PAGE: &'static str = "door page";
}

/// A signed-in session of role `R`: the row the cookie names, still valid.
#[derive(Debug)]
pub struct Session<R> {
    pub id: String,
    pub csrf: String,
    role: PhantomData<R>,
}

impl<R> Clone for Session<R> {
    fn clone(&self) -> Self {
        Self { id: self.id.clone(), csrf: self.csrf.clone(), role: PhantomData }
    }
}

/// The cookie value for session `id`.
pub fn encode(id: &str) -> String {
    format!("v2|{id}")
}

/// The session id a cookie value names.
pub fn decode(value: &str) -> Option<&str> {
    value.strip_prefix("v2|").filter(|id| !id.is_empty() && !id.contains('|'))
}

impl<R: Role> Session<R> {
    /// The session of a request: its cookie present and signed, and its row valid for this
    /// role. Database trouble is an error (503), not a signed-out visitor.
    pub async fn of(req: &HttpRequest, state: &AppState) -> Result<Option<Self>, AppError> {
        let Some(value) = signed_value(req, &state.cookie_key, R::COOKIE) else { return Ok(None) };
        let Some(id) = decode(&value) else { return Ok(None) };
        let row = state.shop.session(id.to_owned(), R::NAME).await?;
        Ok(row.map(|row| Self { id: row.id, csrf: row.csrf, role: PhantomData }))
    }

    /// Checks the CSRF token sent with a POST (the `csrf_token` field, else the `X-CSRF-Token`
    /// header) against this session's.
    pub fn check_csrf(&self, req: &HttpRequest, form_token: &str) -> Result<(), AppError> {
        let header = req.headers().get("X-CSRF-Token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = if form_token.is_empty() { header } else { form_token };
        if token.is_empty() || !constant_time_eq(token.as_bytes(), self.csrf.as_bytes()) {
            return Err(AppError::Forbidden(format!(
                "The form's security token is missing or out of date. Reload the {} and try again.",
                R::PAGE
            )));
        }
        Ok(())
    }
}

impl<R: Role> FromRequest for Session<R> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>().ok_or(AppError::Unauthorized)?;
            Session::<R>::of(&req, state).await?.ok_or(AppError::Unauthorized)
        })
    }
}

/// A sign-in page of role `R`: `page` gets a fresh CSRF token, which also goes into the
/// short-lived signed sign-in cookie the form is checked against.
pub fn sign_in_page<R: Role, T: askama::Template>(
    req: &HttpRequest,
    state: &AppState,
    status: actix_web::http::StatusCode,
    page: impl FnOnce(String) -> T,
) -> Result<actix_web::HttpResponse, AppError> {
    let csrf_token = crate::settings::random_token(32);
    let mut response = super::html(status, &page(csrf_token.clone()))?;
    let cookie =
        signed_cookie::<R>(req, &state.cookie_key, R::SIGN_IN_COOKIE, csrf_token, time::Duration::hours(1));
    response.add_cookie(&cookie).map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok(response)
}

/// Whether a posted sign-in form carries the token of the sign-in cookie it was served with.
pub fn sign_in_form_is_current<R: Role>(req: &HttpRequest, state: &AppState, form_token: &str) -> bool {
    let expected = signed_value(req, &state.cookie_key, R::SIGN_IN_COOKIE).unwrap_or_default();
    !expected.is_empty() && constant_time_eq(form_token.as_bytes(), expected.as_bytes())
}

/// The answer to a successful sign-in: the session cookie, the sign-in cookie removed, and a
/// `303` to `location`.
pub fn signed_in<R: Role>(
    req: &HttpRequest,
    state: &AppState,
    session_id: &str,
    location: &str,
) -> actix_web::HttpResponse {
    let max_age = time::Duration::milliseconds(crate::booking::sessions::SESSION_TTL.as_millis() as i64);
    let cookie = signed_cookie::<R>(req, &state.cookie_key, R::COOKIE, encode(session_id), max_age);
    actix_web::HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.to_owned()))
        .cookie(cookie)
        .cookie(expired_cookie::<R>(R::SIGN_IN_COOKIE))
        .finish()
}

/// Reads a signed cookie, returning its value only if the signature holds.
pub fn signed_value(req: &HttpRequest, key: &Key, name: &str) -> Option<String> {
    let mut jar = CookieJar::new();
    jar.add_original(req.cookie(name)?.into_owned());
    jar.signed(key).get(name).map(|c| c.value().to_owned())
}

/// A signed, `HttpOnly`, `SameSite=Strict` cookie scoped to `R`'s path.
pub fn signed_cookie<R: Role>(
    req: &HttpRequest,
    key: &Key,
    name: &'static str,
    value: String,
    max_age: time::Duration,
) -> Cookie<'static> {
    let cookie = Cookie::build(name, value)
        .path(R::PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(super::is_https(req))
        .max_age(max_age)
        .finish();
    let mut jar = CookieJar::new();
    jar.signed_mut(key).add(cookie);
    jar.get(name).cloned().unwrap_or_else(|| Cookie::new(name, ""))
}

/// A cookie that removes `name` from `R`'s path.
pub fn expired_cookie<R: Role>(name: &'static str) -> Cookie<'static> {
    let mut cookie =
        Cookie::build(name, "").path(R::PATH).http_only(true).same_site(SameSite::Strict).finish();
    cookie.make_removal();
    cookie
}

/// Compares two secrets in constant time: both are hashed to 32 bytes first (so not even the
/// length leaks), then compared by `subtle`.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
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
        assert_eq!(decode(&encode("abc")), Some("abc"));
        assert_eq!(decode("v1|tok|1"), None);
        assert_eq!(decode("v2|"), None);
    }
}
