//! Signed-in sessions for the staff pages: a signed, `HttpOnly`, `SameSite=Strict` cookie scoped
//! to its role's path, naming a `staff_sessions` row with that role (so signing out ends it on
//! every process). [`Session`] is an extractor, so a handler that takes it refuses a request
//! without a valid session before its body is read. Each role has its own cookie, path and
//! role on its rows: a door session cannot open `/admin`. [`Role`] says what sets a role
//! apart; everything else is written once.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::booking::StaffRole;
use crate::error::AppError;
use crate::routes::AppState;
use crate::settings::{ExposeSecret, Settings, constant_time_eq};

/// What sets one kind of staff session apart. The sign-in, sign-out and form checks are
/// written once (`routes::staff`) for every role.
pub trait Role: 'static {
    /// The role stored on the session row.
    const ROLE: StaffRole;
    /// Where its cookies are sent, and where a signed-in member lands.
    const PATH: &'static str;
    /// The sign-in page.
    const LOGIN: &'static str;
    /// The session cookie.
    const COOKIE: &'static str;
    /// The sign-in form's own CSRF cookie.
    const SIGN_IN_COOKIE: &'static str;
    /// The page to reload when a form's token is out of date.
    const PAGE: &'static str;

    /// Whether `typed` opens this role's sign-in: `None` if not, else how (for the log).
    fn opened_by(typed: &[u8], settings: &Settings) -> Option<&'static str>;

    /// Takes one request from the budget of this role's POSTs: `Err(seconds)` when spent.
    fn spend(state: &AppState, req: &HttpRequest, session_id: &str) -> Result<(), u64>;

    /// The sign-in page with a fresh CSRF token and, after a failure, the reason.
    fn login_page(csrf_token: String, error: Option<String>) -> Result<String, askama::Error>;
}

#[derive(askama::Template)]
#[template(path = "admin/login.html")]
struct AdminLoginPage {
    asset_version: &'static str,
    csrf_token: String,
    error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "door/login.html")]
struct DoorLoginPage {
    asset_version: &'static str,
    csrf_token: String,
    error: Option<String>,
}

/// The box office.
#[derive(Debug)]
pub struct Admin;

impl Role for Admin {
    const ROLE: StaffRole = StaffRole::Admin;
    const PATH: &'static str = "/admin";
    const LOGIN: &'static str = "/admin/login";
    const COOKIE: &'static str = "tk_admin";
    const SIGN_IN_COOKIE: &'static str = "tk_signin";
    const PAGE: &'static str = "admin page";

    fn opened_by(typed: &[u8], settings: &Settings) -> Option<&'static str> {
        constant_time_eq(typed, settings.admin_password.expose_secret().as_bytes())
            .then_some("admin password")
    }

    /// Per client address (`RATE_LIMIT_ADMIN_PER_MIN`).
    fn spend(state: &AppState, req: &HttpRequest, _session_id: &str) -> Result<(), u64> {
        state.limits.admin(req)
    }

    fn login_page(csrf_token: String, error: Option<String>) -> Result<String, askama::Error> {
        use askama::Template;
        AdminLoginPage { asset_version: super::assets::version(), csrf_token, error }.render()
    }
}

/// Door staff.
#[derive(Debug)]
pub struct Door;

impl Role for Door {
    const ROLE: StaffRole = StaffRole::Door;
    const PATH: &'static str = "/door";
    const LOGIN: &'static str = "/door/login";
    const COOKIE: &'static str = "tk_door";
    const SIGN_IN_COOKIE: &'static str = "tk_door_signin";
    const PAGE: &'static str = "door page";

    /// The door password, or the admin's (the admin may work the door too). Both are compared
    /// every time, so the answer's timing does not tell which one was close.
    fn opened_by(typed: &[u8], settings: &Settings) -> Option<&'static str> {
        let door = settings
            .tickets
            .door_password
            .as_ref()
            .is_some_and(|p| constant_time_eq(typed, p.expose_secret().as_bytes()));
        let admin = constant_time_eq(typed, settings.admin_password.expose_secret().as_bytes());
        match (door, admin) {
            (true, _) => Some("door password"),
            (false, true) => Some("admin password"),
            (false, false) => None,
        }
    }

    /// Per signed-in door session (`RATE_LIMIT_DOOR_PER_MIN`): phones behind one venue NAT
    /// each have their own budget, and never spend the box office's.
    fn spend(state: &AppState, _req: &HttpRequest, session_id: &str) -> Result<(), u64> {
        state.limits.door(session_id)
    }

    fn login_page(csrf_token: String, error: Option<String>) -> Result<String, askama::Error> {
        use askama::Template;
        DoorLoginPage { asset_version: super::assets::version(), csrf_token, error }.render()
    }
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
        let row = state.shop.session(id.to_owned(), R::ROLE).await?;
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

/// A sign-in page of role `R` with `status`: a fresh CSRF token, which also goes into the
/// short-lived signed sign-in cookie the form is checked against.
pub fn sign_in_page<R: Role>(
    req: &HttpRequest,
    state: &AppState,
    status: actix_web::http::StatusCode,
    error: Option<String>,
) -> Result<actix_web::HttpResponse, AppError> {
    let csrf_token = crate::settings::random_token(32);
    let body = R::login_page(csrf_token.clone(), error)?;
    let mut response = actix_web::HttpResponse::build(status)
        .content_type(actix_web::http::header::ContentType::html())
        .body(body);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_name_a_session_id() {
        assert_eq!(decode(&encode("abc")), Some("abc"));
        assert_eq!(decode("v1|tok|1"), None);
        assert_eq!(decode("v2|"), None);
    }
}
