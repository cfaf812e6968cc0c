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

use self::session::DoorSession;
use crate::error::AppError;
use crate::routes::session::Door;
use crate::routes::staff::{self, SignOut, checked_form};
use crate::routes::{AppState, assets, html, see_other};
use crate::views::tickets::door_answer;

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
    staff::login_form::<Door>(&req, &state).await
}

/// Signs in with `DOOR_PASSWORD` or the admin password (`Door::opened_by`).
#[post("/door/login")]
pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    staff::login::<Door>(&req, payload, &state).await
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

/// Signs this door device out (on every process); other door devices stay signed in.
#[post("/door/logout")]
pub async fn logout(
    session: DoorSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    checked_form(&session, &req, payload, &state).await?;
    staff::sign_out(&session, SignOut::ThisSession, &req, &state).await
}
