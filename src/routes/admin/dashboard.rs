//! The box office's page: figures per tier and in total, bars, recent bookings, the audit log.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::session::AdminSession;
use crate::error::AppError;
use crate::routes::{AppState, assets, html, see_other};
use crate::views::admin::FailedEmailRow;
use crate::views::admin::{AuditRow, DashboardView, RecentRow, RefundRow, TierRow};

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    asset_version: &'static str,
    csrf_token: String,
    tiers: Vec<TierRow>,
    totals: TierRow,
    refunds: Vec<RefundRow>,
    recent: Vec<RecentRow>,
    audit: Vec<AuditRow>,
    error: Option<String>,
    /// Per tier: name, checked in, tickets.
    door: Vec<(String, i64, i64)>,
    failed_emails: Vec<FailedEmailRow>,
    /// The waiting room, when there is one.
    queue: Option<crate::views::queue::QueuePanel>,
}

/// Renders the dashboard with `status` and an optional refusal to show on top.
pub async fn render(
    state: &AppState,
    session: &AdminSession,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let view = DashboardView::new(&state.shop.dashboard().await?);
    let counts = state.shop.check_in_counts().await?;
    let door = view
        .tiers
        .iter()
        .map(|t| {
            let (issued, checked_in) =
                counts.iter().find(|(id, _, _)| *id == t.id).map_or((0, 0), |(_, n, c)| (*n, *c));
            (t.name.clone(), checked_in, issued)
        })
        .collect();
    let failed_emails = state.shop.failed_emails().await?.iter().map(FailedEmailRow::new).collect();
    let page = DashboardPage {
        asset_version: assets::version(),
        csrf_token: session.csrf.clone(),
        tiers: view.tiers,
        totals: view.totals,
        refunds: view.refunds,
        recent: view.recent,
        audit: view.audit,
        error,
        door,
        failed_emails,
        queue: crate::views::queue::QueuePanel::new(&state.queue, &state.settings),
    };
    let mut response = html(status, &page)?;
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

#[get("/admin")]
pub async fn index(
    session: Option<AdminSession>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    match session {
        Some(session) => render(&state, &session, StatusCode::OK, None).await,
        None => Ok(see_other("/admin/login")),
    }
}
