//! The waiting room over HTTP (SPEC §13): `GET /queue` (the page; its htmx fragment),
//! `GET /api/queue` (JSON), the two signed cookies, and the gate the booking routes pass
//! through. A poll reads the fan's cookie and the process's view of the line: no database.
//!
//! - `tk_queue` = `line.arrival.issued_ms`: a place in line, for a day.
//! - `tk_admit` = `line.position.until_ms`: an admission, until its time runs out or its
//!   booking is confirmed.
//!
//! Both are signed with the key every process derives from `SESSION_SECRET`; a cookie that is
//! forged, altered, expired or from another line counts as none.

mod cookies;
mod gate;

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use serde_json::json;

pub use cookies::{ADMIT_COOKIE, PLACE_COOKIE, admission_of};
use cookies::{admit_cookie, place_cookie, place_of, set_cookies};
pub use gate::{Gate, after_booking, api_refusal, form_gate, gate};

use super::{AppState, assets, html, is_htmx, see_other};
use crate::booking::queue::{Admission, JoinError, Standing};
use crate::clock::now_millis;
use crate::error::AppError;
use crate::views::queue::QueueView;

/// Where a visitor stands, with the cookies to set.
enum Visit {
    /// No waiting room.
    Off,
    /// Let in: to the shop.
    Admitted(Admission),
    /// Every tier is gone; `position` if the visitor had one.
    SoldOut(Option<i64>),
    Waiting {
        position: Option<i64>,
        ahead: Option<i64>,
        wait_secs: Option<i64>,
    },
}

/// Reads the visitor's cookies and, for a visitor with no place (or a spent one), hands out
/// a new one. Sold out, nobody joins.
async fn visit(
    req: &HttpRequest,
    state: &AppState,
    cookies: &mut Vec<Cookie<'static>>,
) -> Result<Visit, AppError> {
    let queue = &state.queue;
    let Some(view) = queue.view() else { return Ok(Visit::Off) };
    let now = now_millis();
    if let Some(admission) = admission_of(req, state, &view, now) {
        return Ok(Visit::Admitted(admission));
    }
    let standing = place_of(req, state, &view, now).and_then(|arrival| queue.standing(arrival, now));
    if view.all_sold_out {
        let position = match standing {
            Some(Standing::Waiting { position, .. }) => position,
            _ => None,
        };
        return Ok(Visit::SoldOut(position));
    }
    let standing = match standing {
        Some(s) if s != Standing::Spent => s,
        _ => {
            let arrival = queue.join().await.map_err(unavailable)?;
            cookies.push(place_cookie(state, &view.line_id, arrival, now));
            queue.standing(arrival, now_millis()).unwrap_or(Standing::Spent)
        }
    };
    Ok(match standing {
        Standing::Admitted { position, until } => {
            let admission = Admission { position, until };
            cookies.push(admit_cookie(state, &view.line_id, admission, now));
            Visit::Admitted(admission)
        }
        Standing::Waiting { position, ahead, wait_secs } => Visit::Waiting { position, ahead, wait_secs },
        // A place handed out a moment ago cannot be spent; say "waiting" and poll again.
        Standing::Spent => Visit::Waiting { position: None, ahead: None, wait_secs: None },
    })
}

fn unavailable(e: JoinError) -> AppError {
    if e.transient {
        AppError::Unavailable(Box::new(crate::db::DbError::Connect(e.message)))
    } else {
        AppError::Internal(Box::new(e))
    }
}

/// The waiting room's page.
#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    asset_version: &'static str,
    event: crate::event::Event,
    queue: QueueView,
}

/// The region `/queue` polls, on its own.
#[derive(Template)]
#[template(path = "partials/queue_status.html")]
struct QueueFragment {
    queue: QueueView,
}

/// `GET /queue`: the fan's place, how many are ahead, the wait; refreshed every
/// `POLL_SECONDS` by htmx (or, without JavaScript, by the page itself). An admitted fan is
/// sent on to the shop.
#[get("/queue")]
pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let mut cookies = Vec::new();
    let visit = visit(&req, &state, &mut cookies).await?;
    let mut response = match visit {
        Visit::Off => see_other("/"),
        Visit::Admitted(_) if is_htmx(&req) => {
            HttpResponse::Ok().insert_header(("HX-Redirect", "/")).finish()
        }
        Visit::Admitted(_) => see_other("/"),
        Visit::SoldOut(position) => {
            render(&req, &state, QueueView::sold_out(&state.queue, &state.settings, position))?
        }
        Visit::Waiting { position, ahead, wait_secs } => {
            let view = state.queue.view().ok_or(AppError::NotFound("There is no waiting room.".into()))?;
            render(
                &req,
                &state,
                QueueView::waiting(&state.queue, &state.settings, &view, position, ahead, wait_secs),
            )?
        }
    };
    set_cookies(&mut response, cookies)?;
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

fn render(req: &HttpRequest, state: &AppState, queue: QueueView) -> Result<HttpResponse, AppError> {
    let status = actix_web::http::StatusCode::OK;
    if is_htmx(req) {
        html(status, &QueueFragment { queue })
    } else {
        html(
            status,
            &QueuePage { asset_version: assets::version(), event: state.settings.event.clone(), queue },
        )
    }
}

/// `GET /api/queue`: `{"state", "opensAt", "position", "ahead", "estimatedWaitSeconds"}`
/// (and `admittedUntil` once admitted), setting the cookies as the page does.
#[get("/queue")]
pub async fn api(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let mut cookies = Vec::new();
    let opens_at = state.queue.settings().opens_at.map(|t| t.to_rfc3339());
    let body = match visit(&req, &state, &mut cookies).await {
        Ok(Visit::Off) => {
            json!({"state": "open", "opensAt": opens_at, "position": null, "ahead": null, "estimatedWaitSeconds": null})
        }
        Ok(Visit::Admitted(a)) => json!({
            "state": "admitted", "opensAt": opens_at, "position": a.position, "ahead": 0,
            "estimatedWaitSeconds": 0, "admittedUntil": crate::clock::iso_millis(a.until),
        }),
        Ok(Visit::SoldOut(position)) => {
            json!({"state": "sold-out", "opensAt": opens_at, "position": position, "ahead": null, "estimatedWaitSeconds": null})
        }
        Ok(Visit::Waiting { position, ahead, wait_secs }) => json!({
            "state": "waiting", "opensAt": opens_at, "position": position, "ahead": ahead, "estimatedWaitSeconds": wait_secs,
        }),
        Err(e) => {
            let status = actix_web::ResponseError::status_code(&e);
            log::warn!("api queue {status}: {}", crate::error::chain(&e));
            let mut response = HttpResponse::build(status);
            if status == actix_web::http::StatusCode::SERVICE_UNAVAILABLE {
                response.insert_header((header::RETRY_AFTER, "2"));
            }
            let message = if status.is_server_error() && status.as_u16() != 503 {
                "Internal server error"
            } else {
                "Service temporarily unavailable"
            };
            return response.json(json!({"error": message}));
        }
    };
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    for cookie in cookies {
        response.cookie(cookie);
    }
    response.json(body)
}

/// The door of the shop's pages (`GET /`, `/basic`). Without a waiting room everyone comes
/// in; with one, an admitted fan does, and everyone else is sent to `/queue`. A visitor with
/// no place gets one here (its cookie rides on either answer), and is let in at once when
/// nobody waits.
pub struct ShopDoor {
    /// `Some` to show the shop, with the fan's admission if there is a waiting room.
    pub admitted: Option<Option<Admission>>,
    cookies: Vec<Cookie<'static>>,
}

impl ShopDoor {
    pub async fn of(req: &HttpRequest, state: &AppState) -> Result<Self, AppError> {
        let mut cookies = Vec::new();
        let admitted = match visit(req, state, &mut cookies).await? {
            Visit::Off => Some(None),
            Visit::Admitted(admission) => Some(Some(admission)),
            Visit::SoldOut(_) | Visit::Waiting { .. } => None,
        };
        Ok(Self { admitted, cookies })
    }

    /// The answer for a visitor who may not come in: `303` to `/queue`.
    pub fn to_queue(self) -> Result<HttpResponse, AppError> {
        let mut response = see_other("/queue");
        set_cookies(&mut response, self.cookies)?;
        Ok(response)
    }

    /// Sets the cookies on the shop's answer (an admission just granted; `no-store`, since
    /// the page then depends on them).
    pub fn finish(self, response: &mut HttpResponse) -> Result<(), AppError> {
        if self.admitted.flatten().is_some() {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
        }
        set_cookies(response, self.cookies)
    }
}
