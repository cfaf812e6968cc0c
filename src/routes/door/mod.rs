//! The door: staff sign in with `DOOR_PASSWORD` (or the admin password), then type, paste or
//! scan ticket codes. `POST /door/check-in` admits a ticket exactly once: `200` admitted,
//! `409` already in (with the time) or no longer valid, `404` unknown, `422` forged or
//! malformed. Works without JavaScript; `static/door.js` adds the camera where the browser has
//! `BarcodeDetector`.

mod session;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use self::session::{DOOR_COOKIE, DoorSession};
use crate::booking::sessions::DOOR;
use crate::error::AppError;
use crate::routes::session::{
    Door, constant_time_eq, expired_cookie, sign_in_form_is_current, sign_in_page, signed_in,
};
use crate::routes::{AppState, FormFields, assets, html, see_other};
use crate::views::tickets::door_answer;

#[derive(Template)]
#[template(path = "door/login.html")]
struct LoginPage {
    asset_version: &'static str,
    csrf_token: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "door/index.html")]
struct DoorPage {
    asset_version: &'static str,
    csrf_token: String,
    event_name: String,
    /// The last answer: (admitted?, sentence).
    answer: Option<(bool, String)>,
    /// Per tier: name, checked in, tickets.
    counts: Vec<(String, i64, i64)>,
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    sign_in_page::<Door, _>(req, state, status, |csrf_token| LoginPage {
        asset_version: assets::version(),
        csrf_token,
        error,
    })
}

async fn door_page(
    state: &AppState,
    session: &DoorSession,
    status: StatusCode,
    answer: Option<(bool, String)>,
) -> Result<HttpResponse, AppError> {
    let tiers = state.shop.tiers().await?;
    let counts = state.shop.check_in_counts().await?;
    let counts = tiers
        .iter()
        .map(|t| {
            let (issued, checked_in) =
                counts.iter().find(|(id, _, _)| *id == t.id).map_or((0, 0), |(_, n, c)| (*n, *c));
            (t.name.clone(), checked_in, issued)
        })
        .collect();
    let page = DoorPage {
        asset_version: assets::version(),
        csrf_token: session.csrf.clone(),
        event_name: state.settings.event.name.clone(),
        answer,
        counts,
    };
    let mut response = html(status, &page)?;
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

#[get("/door/login")]
pub async fn login_form(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if DoorSession::of(&req, &state).await?.is_some() {
        return Ok(see_other("/door"));
    }
    login_page(&req, &state, StatusCode::OK, None)
}

#[post("/door/login")]
pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let from = state.limits.client.of(&req);
    if let Err(retry_after_secs) = state.limits.sign_in(&req) {
        log::warn!("door sign-in rate limit hit by {from}");
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let form = FormFields::read(&req, payload).await?;
    if !sign_in_form_is_current::<Door>(&req, &state, form.get("csrf_token")) {
        let error = "The sign-in form expired. Please enter the password again.";
        return login_page(&req, &state, StatusCode::FORBIDDEN, Some(error.into()));
    }
    // The door password, or the admin's: the admin may work the door too. Both are compared
    // (constant time each), so the answer's timing does not tell which one was close.
    let typed = form.raw("password").as_bytes();
    let door = state
        .settings
        .tickets
        .door_password
        .as_ref()
        .is_some_and(|p| constant_time_eq(typed, p.expose().as_bytes()));
    let admin = constant_time_eq(typed, state.settings.admin_password.expose().as_bytes());
    if !(door || admin) {
        log::warn!("failed door sign-in from {from}");
        return login_page(
            &req,
            &state,
            StatusCode::UNAUTHORIZED,
            Some("That password is not right.".into()),
        );
    }
    let session = state.shop.start_session(DOOR).await?;
    log::info!("door signed in from {from}{}", if admin { " (admin password)" } else { "" });
    Ok(signed_in::<Door>(&req, &state, &session.id, "/door"))
}

#[get("/door")]
pub async fn index(
    session: Option<DoorSession>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    match session {
        Some(session) => door_page(&state, &session, StatusCode::OK, None).await,
        None => Ok(see_other("/door/login")),
    }
}

/// The session's form, read only after the session was found and within the rate limit,
/// with its CSRF token checked.
async fn checked_form(
    session: &DoorSession,
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<FormFields, AppError> {
    state.limits.admin(req).map_err(|retry_after_secs| AppError::TooManyRequests { retry_after_secs })?;
    let form = FormFields::read(req, payload).await?;
    session.check_csrf(req, form.get("csrf_token"))?;
    Ok(form)
}

#[post("/door/check-in")]
pub async fn check_in(
    session: DoorSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = checked_form(&session, &req, payload, &state).await?;
    let outcome = state.shop.check_in(form.get("code").to_owned()).await?;
    let (status, sentence) = door_answer(&outcome, &state.settings.event);
    log::info!("door: {sentence}");
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    door_page(&state, &session, status, Some((status == StatusCode::OK, sentence))).await
}

#[post("/door/logout")]
pub async fn logout(
    session: DoorSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    checked_form(&session, &req, payload, &state).await?;
    state.shop.end_admin_sessions(Some(session.id.clone())).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/door/login"))
        .cookie(expired_cookie::<Door>(DOOR_COOKIE))
        .finish())
}
