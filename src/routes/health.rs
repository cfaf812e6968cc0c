//! Operations: liveness (`/healthz`), readiness (`/readyz`, which asks the database) and
//! Prometheus metrics (`/metrics`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

use super::AppState;
use std::sync::atomic::Ordering;

use crate::backup::schedule::Schedule;
use crate::drain::Draining;
use crate::error::chain;
use crate::metrics::Gauges;
use crate::settings::{ExposeSecret, Settings, constant_time_eq};

/// 200 while the process runs.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

/// 200 when the database answers within the pool timeout, 503 otherwise.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.shop.ping().await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready"),
        Err(e) => {
            crate::log_once::warn("readiness", || format!("readiness check failed: {}", chain(&e)));
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable")
        }
    }
}

/// Prometheus text exposition. Seat counts and the work waiting are read fresh; if the
/// database is down they are left out and `techkraft_ready` is 0 (the rest still serves, so the
/// outage itself shows in the scrape). With `METRICS_TOKEN` set it needs
/// `Authorization: Bearer <token>` (compared in constant time); otherwise `401`.
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    draining: web::Data<Draining>,
) -> HttpResponse {
    if let Some(token) = &state.settings.edges.metrics_token {
        let sent = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .unwrap_or_default()
            .trim();
        if !constant_time_eq(sent.as_bytes(), token.expose_secret().as_bytes()) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
                .content_type("text/plain; charset=utf-8")
                .body("metrics need Authorization: Bearer <METRICS_TOKEN>");
        }
    }
    let seats = match state.shop.tiers().await {
        Ok(tiers) => tiers.into_iter().map(|t| (t.id, i64::from(t.available))).collect(),
        Err(e) => {
            crate::log_once::warn("metrics seats", || {
                format!("metrics: seat counts unavailable: {}", chain(&e))
            });
            Vec::new()
        }
    };
    let answers = state.shop.ping().await.is_ok();
    let ready = answers && !draining.0.load(Ordering::SeqCst);
    // A database that did not answer is not asked again (each try waits the pool timeout).
    let work = if answers { state.shop.work_waiting().await.ok() } else { None };
    let pool = state.shop.pool_state();
    let gauges = Gauges {
        seats_available: seats,
        pool_connections: pool.connections,
        pool_idle: pool.idle,
        pool_max: pool.max,
        ready,
        work,
        backup: backup_figures(&state.settings).await,
    };
    let mut body = state.metrics.render(&gauges);
    body.push_str(&state.queue.metrics_text());
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(body)
}

/// With `BACKUP_DIR`: the newest backup's time (0: none yet) and the interval.
async fn backup_figures(settings: &Settings) -> Option<(i64, std::time::Duration)> {
    let schedule = Schedule::from_settings(settings)?;
    let interval = schedule.interval;
    let newest = web::block(move || schedule.newest()).await.ok().and_then(Result::ok).flatten();
    Some((newest.map_or(0, |at| at.timestamp()), interval))
}
