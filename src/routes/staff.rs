//! Sign-in, sign-out and the checks of every staff form, written once for every [`Role`]: the
//! box office (`/admin`) and the door (`/door`) differ only in what `Role` says (password,
//! budget, page), so they cannot drift apart again.
//!
//! - Sign-in attempts count against `RATE_LIMIT_SIGNIN_PER_MIN` per client address, before the
//!   body is read; the form carries a CSRF token of its own; passwords compare in constant time.
//! - A signed-in POST spends the role's budget ([`Role::spend`]: the admin's per address, the
//!   door's per session) before its body is read, then its CSRF token is checked.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::session::{Role, Session, expired_cookie, sign_in_form_is_current, sign_in_page, signed_in};
use super::{AppState, FormFields, see_other};
use crate::booking::StaffRole;
use crate::error::AppError;

/// `GET` of the sign-in page: a signed-in visitor goes straight on.
pub async fn login_form<R: Role>(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, AppError> {
    if Session::<R>::of(req, state).await?.is_some() {
        return Ok(see_other(R::PATH));
    }
    sign_in_page::<R>(req, state, StatusCode::OK, None)
}

/// `POST` of the sign-in form.
pub async fn login<R: Role>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, AppError> {
    let role = R::ROLE.as_str();
    let from = state.limits.client.of(req);
    if let Err(retry_after_secs) = state.limits.sign_in(req) {
        log::warn!("{role} sign-in rate limit hit by {from}");
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let form = FormFields::read(req, payload).await?;
    if !sign_in_form_is_current::<R>(req, state, form.get("csrf_token")) {
        let error = "The sign-in form expired. Please enter the password again.";
        return sign_in_page::<R>(req, state, StatusCode::FORBIDDEN, Some(error.into()));
    }
    // The password is compared as typed (not trimmed).
    let Some(how) = R::opened_by(form.raw("password").as_bytes(), &state.settings) else {
        log::warn!("failed {role} sign-in from {from}");
        let error = "That password is not right.";
        return sign_in_page::<R>(req, state, StatusCode::UNAUTHORIZED, Some(error.into()));
    };
    let session = state.shop.start_session(R::ROLE).await?;
    log::info!("{role} signed in from {from} ({how})");
    Ok(signed_in::<R>(req, state, &session.id, R::PATH))
}

/// The session's form: the role's budget spent, then the body read (only now, after the
/// session was found by the extractor), then its CSRF token checked.
pub async fn checked_form<R: Role>(
    session: &Session<R>,
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<FormFields, AppError> {
    R::spend(state, req, &session.id)
        .map_err(|retry_after_secs| AppError::TooManyRequests { retry_after_secs })?;
    let form = FormFields::read(req, payload).await?;
    session.check_csrf(req, form.get("csrf_token"))?;
    Ok(form)
}

/// Which sessions a sign-out ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOut {
    /// This session, on every process.
    ThisSession,
    /// Every session of a role, on every process.
    Everyone(StaffRole),
}

/// Ends the sessions `which` names and answers with a `303` to the sign-in page, the cookie
/// removed when this session is among those ended.
pub async fn sign_out<R: Role>(
    session: &Session<R>,
    which: SignOut,
    req: &HttpRequest,
    state: &AppState,
) -> Result<HttpResponse, AppError> {
    let ended = match which {
        SignOut::ThisSession => state.shop.end_session(session.id.clone()).await?,
        SignOut::Everyone(role) => state.shop.end_sessions_of(role).await?,
    };
    let from = state.limits.client.of(req);
    log::info!("{} at {from} ended {ended} session(s): {which:?}", R::ROLE.as_str());
    if matches!(which, SignOut::Everyone(role) if role != R::ROLE) {
        // Another role's sessions ended (the admin signed the door devices out): stay.
        return Ok(see_other(R::PATH));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, R::LOGIN))
        .cookie(expired_cookie::<R>(R::COOKIE))
        .finish())
}
