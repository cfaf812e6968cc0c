//! The waiting room's controls: pause (or resume) admissions, and set the rate. Each takes
//! effect at once on the shared line, with an audit entry in the same transaction; every
//! process follows within `AVAILABILITY_MAX_AGE_MS`. Like the other admin actions: signed-in
//! session, CSRF token, admin rate limit.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};

use super::dashboard;
use super::session::{AdminSession, actor};
use crate::error::AppError;
use crate::routes::staff::checked_form;
use crate::routes::{AppState, see_other};

/// `POST /admin/queue/pause`: `paused=yes` pauses admissions, `paused=no` resumes them.
#[post("/admin/queue/pause")]
pub async fn queue_pause(
    session: AdminSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = checked_form(&session, &req, payload, &state).await?;
    let paused = match form.get("paused") {
        "yes" => true,
        "no" => false,
        _ => return refused(&state, &session, "Say whether to pause (yes) or resume (no) admissions.").await,
    };
    if !state.queue.is_on() {
        return refused(&state, &session, "There is no waiting room: SALE_OPENS_AT is not set.").await;
    }
    state.queue.pause(paused, actor(&req, &state)).await?;
    Ok(see_other("/admin"))
}

/// `POST /admin/queue/rate`: `rate`, fans let in per minute (1 to 1,000,000).
#[post("/admin/queue/rate")]
pub async fn queue_rate(
    session: AdminSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = checked_form(&session, &req, payload, &state).await?;
    let Some(rate) = form.get("rate").parse::<i64>().ok().filter(|r| (1..=1_000_000).contains(r)) else {
        return refused(
            &state,
            &session,
            "The rate must be a whole number of fans per minute, from 1 to 1,000,000.",
        )
        .await;
    };
    if !state.queue.is_on() {
        return refused(&state, &session, "There is no waiting room: SALE_OPENS_AT is not set.").await;
    }
    state.queue.set_rate(rate, actor(&req, &state)).await?;
    Ok(see_other("/admin"))
}

async fn refused(state: &AppState, session: &AdminSession, why: &str) -> Result<HttpResponse, AppError> {
    dashboard::render(state, session, StatusCode::UNPROCESSABLE_ENTITY, Some(why.to_owned())).await
}
