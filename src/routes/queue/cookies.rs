//! The waiting room's two signed cookies, `HttpOnly`, `SameSite=Lax`, for the whole site
//! (`Secure` when `PUBLIC_BASE_URL` is https):
//!
//! - `tk_queue` = `line.arrival.issued_ms`: a place in line, for `PLACE_TTL_MS`;
//! - `tk_admit` = `line.position.until_ms`: an admission, until its time runs out or its
//!   booking is confirmed.
//!
//! Signed with the key every process derives from `SESSION_SECRET`: a cookie that is forged,
//! altered, expired or from another line counts as none.

use actix_web::cookie::{Cookie, CookieJar, SameSite, time};
use actix_web::{HttpRequest, HttpResponse};

use crate::booking::queue::{Admission, PLACE_TTL_MS, View};
use crate::error::AppError;
use crate::routes::AppState;
use crate::routes::session::signed_value;

/// The place-in-line cookie.
pub const PLACE_COOKIE: &str = "tk_queue";
/// The admission cookie.
pub const ADMIT_COOKIE: &str = "tk_admit";
/// How far a cookie's time may lie in the future (clocks of processes differ a little).
const SKEW_MS: i64 = 60_000;

/// The signed admission a request carries, if it is this line's and still holds.
pub fn admission_of(req: &HttpRequest, state: &AppState, view: &View, now: i64) -> Option<Admission> {
    let value = signed_value(req, &state.cookie_key, ADMIT_COOKIE)?;
    let (position, until) = fields(&value, &view.line_id)?;
    let session_ms = state.queue.settings().session_millis();
    let admission = Admission { position, until };
    (position >= 1 && until <= now + session_ms + SKEW_MS && state.queue.admission_holds(admission, now))
        .then_some(admission)
}

/// The signed place a request carries (its arrival number), if it is this line's and valid.
pub(super) fn place_of(req: &HttpRequest, state: &AppState, view: &View, now: i64) -> Option<i64> {
    let value = signed_value(req, &state.cookie_key, PLACE_COOKIE)?;
    let (arrival, issued) = fields(&value, &view.line_id)?;
    (arrival >= 1 && issued <= now + SKEW_MS && now < issued + PLACE_TTL_MS).then_some(arrival)
}

/// `line.a.b` → (a, b), if `line` is this line.
fn fields(value: &str, line_id: &str) -> Option<(i64, i64)> {
    let mut parts = value.split('.');
    let (line, a, b) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || line != line_id {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

pub(super) fn place_cookie(state: &AppState, line_id: &str, arrival: i64, now: i64) -> Cookie<'static> {
    signed(state, PLACE_COOKIE, format!("{line_id}.{arrival}.{now}"), PLACE_TTL_MS)
}

pub(super) fn admit_cookie(
    state: &AppState,
    line_id: &str,
    admission: Admission,
    now: i64,
) -> Cookie<'static> {
    let value = format!("{line_id}.{}.{}", admission.position, admission.until);
    signed(state, ADMIT_COOKIE, value, (admission.until - now).max(1))
}

/// A signed `HttpOnly`, `SameSite=Lax` cookie for the whole site (`Secure` when
/// `PUBLIC_BASE_URL` is https).
fn signed(state: &AppState, name: &'static str, value: String, max_age_ms: i64) -> Cookie<'static> {
    let secure = state.settings.tickets.public_base_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    let cookie = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(time::Duration::milliseconds(max_age_ms))
        .finish();
    let mut jar = CookieJar::new();
    jar.signed_mut(&state.cookie_key).add(cookie);
    jar.get(name).cloned().unwrap_or_else(|| Cookie::new(name, ""))
}

pub(super) fn set_cookies(
    response: &mut HttpResponse,
    cookies: Vec<Cookie<'static>>,
) -> Result<(), AppError> {
    for cookie in cookies {
        response.add_cookie(&cookie).map_err(|e| AppError::Internal(Box::new(e)))?;
    }
    Ok(())
}
