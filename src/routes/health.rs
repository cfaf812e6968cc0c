//! Operations: liveness (`/healthz`), readiness (`/readyz`, which asks the database) and
//! Prometheus metrics (`/metrics`).

use actix_web::{HttpResponse, get, web};

use super::AppState;
use crate::error::chain;
use crate::metrics::Gauges;

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
            log::warn!("readiness check failed: {}", chain(&e));
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable")
        }
    }
}

/// Prometheus text exposition. Seat counts are read fresh; if the database is down they are
/// left out (the rest still serves, so the outage itself shows in the scrape).
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let seats = match state.shop.tiers().await {
        Ok(tiers) => tiers.into_iter().map(|t| (t.id, i64::from(t.available))).collect(),
        Err(e) => {
            log::warn!("metrics: seat counts unavailable: {}", chain(&e));
            Vec::new()
        }
    };
    let pool = state.shop.pool_state();
    let gauges = Gauges {
        seats_available: seats,
        pool_connections: pool.connections,
        pool_idle: pool.idle,
        pool_max: pool.max,
    };
    let mut body = state.metrics.render(&gauges);
    body.push_str(&state.queue.metrics_text());
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(body)
}
