//! Probes: liveness (`/healthz`) and readiness (`/readyz`, which asks the database).

use actix_web::{HttpResponse, get, web};
use diesel::RunQueryDsl;

use super::AppState;
use crate::db::DbError;

/// 200 while the process runs.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok")
}

/// 200 when the database answers within the pool timeout, 503 otherwise.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping =
        state.shop.with_conn(|c| diesel::sql_query("SELECT 1").execute(c).map_err(DbError::from)).await;
    match ping {
        Ok(_) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready"),
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable")
        }
    }
}
