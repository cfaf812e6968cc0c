//! The gate of the booking routes (`POST /bookings`, `POST /api/bookings`): from memory,
//! before anything is read or reserved, `403` before the opening and `429` without an
//! admission while fans wait; and, after a confirmed booking, the end of its admission.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::cookies::{ADMIT_COOKIE, admission_of};
use crate::booking::queue::Admission;
use crate::clock::now_millis;
use crate::error::AppError;
use crate::routes::AppState;

/// What the booking routes must do about the waiting room.
pub enum Gate {
    /// Book; with the fan's admission, if any, to end once the booking is confirmed.
    Pass(Option<Admission>),
    /// Before `SALE_OPENS_AT`: `403`, with when sales open (RFC 3339).
    NotYetOpen(String),
    /// The line holds fans and this request has no admission: `429`.
    Wait { retry_after_secs: u64 },
}

/// Checks a booking request against the waiting room, from memory, before anything is read
/// or reserved.
pub fn gate(req: &HttpRequest, state: &AppState) -> Gate {
    let queue = &state.queue;
    let Some(view) = queue.view() else { return Gate::Pass(None) };
    let now = now_millis();
    if queue.before_opening(now) {
        let opens = queue.settings().opens_at.map(|t| t.to_rfc3339()).unwrap_or_default();
        return Gate::NotYetOpen(opens);
    }
    if let Some(admission) = admission_of(req, state, &view, now) {
        return Gate::Pass(Some(admission));
    }
    if view.waiting() > 0 {
        return Gate::Wait { retry_after_secs: u64::from(state.settings.poll_seconds) };
    }
    Gate::Pass(None)
}

impl Gate {
    /// The admission to end once the booking is confirmed.
    pub fn admission(&self) -> Option<Admission> {
        match self {
            Self::Pass(admission) => *admission,
            _ => None,
        }
    }
}

/// The booking form's gate: the admission (if any), or the refusal as an error (a page, or
/// in place for htmx).
pub fn form_gate(req: &HttpRequest, state: &AppState) -> Result<Option<Admission>, AppError> {
    match gate(req, state) {
        Gate::Pass(admission) => Ok(admission),
        Gate::NotYetOpen(opens) => Err(AppError::Forbidden(format!(
            "Sales open at {opens}. Nothing was booked or charged: wait for the opening in the queue at /queue."
        ))),
        Gate::Wait { retry_after_secs } => Err(AppError::WaitYourTurn { retry_after_secs }),
    }
}

/// The JSON API's answer to a refused gate: `403 {"error": "Sales open at …"}`, or
/// `429 {"error", "queue": "/api/queue"}` with `Retry-After`.
pub fn api_refusal(gate: &Gate) -> Option<HttpResponse> {
    match gate {
        Gate::Pass(_) => None,
        Gate::NotYetOpen(opens) => {
            Some(HttpResponse::Forbidden().json(json!({"error": format!("Sales open at {opens}")})))
        }
        Gate::Wait { retry_after_secs } => Some(
            HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
                .json(json!({
                    "error": "Fans are let in from the waiting room in turn: take a place in the queue",
                    "queue": "/api/queue",
                })),
        ),
    }
}

/// After a booking answer: a confirmed booking ends the admission it was made with (this
/// process refuses the admission at once, the others within `AVAILABILITY_MAX_AGE_MS`), and
/// the answer removes its cookie.
pub fn after_booking(
    state: &AppState,
    admission: Option<Admission>,
    confirmed: bool,
    response: &mut HttpResponse,
) {
    let Some(admission) = admission.filter(|_| confirmed) else { return };
    state.queue.end(admission);
    let mut removal =
        Cookie::build(ADMIT_COOKIE, "").path("/").http_only(true).same_site(SameSite::Lax).finish();
    removal.make_removal();
    let _ = response.add_cookie(&removal);
}
