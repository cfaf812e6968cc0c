//! The door session: like the admin one (a signed, `HttpOnly`, `SameSite=Strict` cookie naming
//! a session row, ended on every process at sign-out), with the role `door` and scoped to
//! `/door`. A door session cannot open `/admin`: the admin extractor asks for role `admin`
//! and another cookie.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, CookieJar, Key, SameSite, time};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::booking::sessions::DOOR;
use crate::error::AppError;
use crate::routes::AppState;
use crate::routes::admin::session::{AdminSession, constant_time_eq, signed_value};

pub const DOOR_COOKIE: &str = "tk_door";
pub const DOOR_SIGN_IN_COOKIE: &str = "tk_door_signin";

/// Signed-in door staff.
#[derive(Debug, Clone)]
pub struct DoorSession {
    pub id: String,
    pub csrf: String,
}

impl DoorSession {
    pub async fn of(req: &HttpRequest, state: &AppState) -> Result<Option<Self>, AppError> {
        let Some(value) = signed_value(req, &state.cookie_key, DOOR_COOKIE) else { return Ok(None) };
        let Some(id) = AdminSession::decode(&value) else { return Ok(None) };
        let row = state.shop.session(id.to_owned(), DOOR).await?;
        Ok(row.map(|row| Self { id: row.id, csrf: row.csrf }))
    }

    /// Checks the form's CSRF token against this session's.
    pub fn check_csrf(&self, form_token: &str) -> Result<(), AppError> {
        if form_token.is_empty() || !constant_time_eq(form_token.as_bytes(), self.csrf.as_bytes()) {
            return Err(AppError::Forbidden(
                "The form's security token is missing or out of date. Reload the door page and try again."
                    .into(),
            ));
        }
        Ok(())
    }
}

impl FromRequest for DoorSession {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req.app_data::<web::Data<AppState>>().ok_or(AppError::Unauthorized)?;
            DoorSession::of(&req, state).await?.ok_or(AppError::Unauthorized)
        })
    }
}

/// A signed, `HttpOnly`, `SameSite=Strict` cookie scoped to `/door`.
pub fn door_cookie(
    req: &HttpRequest,
    key: &Key,
    name: &'static str,
    value: String,
    max_age: time::Duration,
) -> Cookie<'static> {
    let cookie = Cookie::build(name, value)
        .path("/door")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(max_age)
        .finish();
    let mut jar = CookieJar::new();
    jar.signed_mut(key).add(cookie);
    jar.get(name).cloned().unwrap_or_else(|| Cookie::new(name, ""))
}

pub fn expired_door_cookie(name: &'static str) -> Cookie<'static> {
    let mut cookie =
        Cookie::build(name, "").path("/door").http_only(true).same_site(SameSite::Strict).finish();
    cookie.make_removal();
    cookie
}
