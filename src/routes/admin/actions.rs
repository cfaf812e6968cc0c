//! The two box-office actions. Each first answers with a confirmation page; the page posts
//! again with `confirm=yes`, and only then does the shop change anything.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use askama::Template;

use super::dashboard;
use super::session::{AdminSession, actor};
use crate::booking::{AdminError, TierFigures};
use crate::error::AppError;
use crate::routes::staff::checked_form;
use crate::routes::{AppState, assets, html, see_other};

#[derive(Template)]
#[template(path = "admin/confirm.html")]
struct ConfirmPage {
    asset_version: &'static str,
    csrf_token: String,
    question: String,
    action: &'static str,
    /// Hidden fields to post again with `confirm=yes`.
    fields: Vec<(String, String)>,
    button: &'static str,
}

fn confirm_page(
    session: &AdminSession,
    question: String,
    action: &'static str,
    fields: Vec<(String, String)>,
    button: &'static str,
) -> Result<HttpResponse, AppError> {
    let page = ConfirmPage {
        asset_version: assets::version(),
        csrf_token: session.csrf.clone(),
        question,
        action,
        fields,
        button,
    };
    html(StatusCode::OK, &page)
}

/// A refused action shows the dashboard with the reason (422); storage trouble is an error.
async fn refused(state: &AppState, session: &AdminSession, e: AdminError) -> Result<HttpResponse, AppError> {
    match e {
        AdminError::Storage(db) => Err(db.into()),
        other => {
            dashboard::render(state, session, StatusCode::UNPROCESSABLE_ENTITY, Some(other.to_string())).await
        }
    }
}

#[post("/admin/tiers/available")]
pub async fn set_available(
    session: AdminSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = checked_form(&session, &req, payload, &state).await?;
    let tier_id = form.get("tier").to_owned();
    let Ok(target) = form.get("available").parse::<i32>() else {
        return refused(&state, &session, AdminError::NotANumber).await;
    };
    if form.get("confirm") != "yes" {
        let figures = state.shop.figures().await?;
        let Some(f) = figures.iter().find(|f| f.tier.id == tier_id) else {
            return refused(&state, &session, AdminError::UnknownTier).await;
        };
        let t = &f.tier;
        let question = format!(
            "Set {} available seats from {} to {target}? Withheld seats go from {} to {}.",
            t.name,
            t.available,
            t.withheld,
            t.withheld + t.available - target
        );
        let fields = vec![("tier".into(), tier_id), ("available".into(), target.to_string())];
        return confirm_page(&session, question, "/admin/tiers/available", fields, "Yes, set seats");
    }
    match state.shop.set_available(tier_id, target, actor(&req, &state)).await {
        Ok(_) => Ok(see_other("/admin")),
        Err(e) => refused(&state, &session, e).await,
    }
}

#[post("/admin/reset")]
pub async fn reset(
    session: AdminSession,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form = checked_form(&session, &req, payload, &state).await?;
    let tier = match form.get("tier") {
        "" | "all" => None,
        id => Some(id.to_owned()),
    };
    if form.get("confirm") != "yes" {
        let figures = state.shop.figures().await?;
        let chosen: Vec<&TierFigures> =
            figures.iter().filter(|f| tier.as_deref().is_none_or(|id| f.tier.id == id)).collect();
        if chosen.is_empty() {
            return refused(&state, &session, AdminError::UnknownTier).await;
        }
        let names: Vec<&str> = chosen.iter().map(|f| f.tier.name.as_str()).collect();
        let seats: i64 = chosen.iter().map(|f| f.confirmed + f.held).sum();
        let paid: i64 = chosen.iter().map(|f| f.paid_bookings).sum();
        let cents: i64 = chosen.iter().map(|f| f.revenue_cents).sum();
        let question = format!(
            "Reset {}? {seats} held or confirmed seat(s) will be freed: {paid} paid booking(s) will be refunded ({}), \
             held ones voided, withheld seats cleared, and every seat made available again.",
            names.join(", "),
            crate::money::usd(cents)
        );
        let fields = vec![("tier".into(), tier.unwrap_or_else(|| "all".into()))];
        return confirm_page(&session, question, "/admin/reset", fields, "Yes, reset");
    }
    match state.shop.reset(tier, actor(&req, &state)).await {
        Ok(_) => Ok(see_other("/admin")),
        Err(e) => refused(&state, &session, e).await,
    }
}
