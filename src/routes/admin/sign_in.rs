//! Sign-in and sign-out. The sign-in form carries a CSRF token of its own (in a short-lived
//! signed cookie), the password check takes constant time, and attempts are rate limited.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::session::{AdminSession, SESSION_COOKIE};
use crate::error::AppError;
use crate::routes::session::{
    Admin, constant_time_eq, expired_cookie, sign_in_form_is_current, sign_in_page, signed_in,
};
use crate::routes::{AppState, FormFields, assets, see_other};

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    asset_version: &'static str,
    csrf_token: String,
    error: Option<String>,
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    sign_in_page::<Admin, _>(req, state, status, |csrf_token| LoginPage {
        asset_version: assets::version(),
        csrf_token,
        error,
    })
}

#[get("/admin/login")]
pub async fn login_form(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if AdminSession::of(&req, &state).await?.is_some() {
        return Ok(see_other("/admin"));
    }
    login_page(&req, &state, StatusCode::OK, None)
}

#[post("/admin/login")]
pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let from = state.limits.client.of(&req);
    if let Err(retry_after_secs) = state.limits.sign_in(&req) {
        log::warn!("sign-in rate limit hit by {from}");
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let form = FormFields::read(&req, payload).await?;
    if !sign_in_form_is_current::<Admin>(&req, &state, form.get("csrf_token")) {
        let error = "The sign-in form expired. Please enter the password again.";
        return login_page(&req, &state, StatusCode::FORBIDDEN, Some(error.into()));
    }
    // The password is compared as typed (not trimmed).
    if !constant_time_eq(form.raw("password").as_bytes(), state.settings.admin_password.expose().as_bytes()) {
        log::warn!("failed admin sign-in from {from}");
        return login_page(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            Some("That password is not right.".into()),
        );
    }
    let session = state.shop.start_admin_session().await?;
    log::info!("admin signed in from {from}");
    Ok(signed_in::<Admin>(&req, &state, &session.id, "/admin"))
}

/// Signs out: ends this session on every process, or, with `everywhere=yes`, every admin
/// session there is.
#[post("/admin/logout")]
pub async fn logout(
    session: AdminSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = super::actions::checked_form(&session, &req, payload).await?;
    let everywhere = form.get("everywhere") == "yes";
    let ended = state.shop.end_admin_sessions((!everywhere).then(|| session.id.clone())).await?;
    log::info!("admin signed out{} ({ended} session(s) ended)", if everywhere { " everywhere" } else { "" });
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login"))
        .cookie(expired_cookie::<Admin>(SESSION_COOKIE))
        .finish())
}
