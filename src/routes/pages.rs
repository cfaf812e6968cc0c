//! The customer pages: the concert (`/`), the no-JS page (`/basic`), the polled availability
//! fragment and the booking confirmation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use askama_web::WebTemplate;

use super::{AppState, html};
use crate::booking::Reference;
use crate::error::AppError;
use crate::routes::assets;
use crate::views::{BookingView, FormView, TierView};

/// The concert page.
#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub asset_version: &'static str,
    pub tiers: Vec<TierView>,
    pub forms: Vec<FormView>,
    pub poll_seconds: u32,
    pub notice: Option<String>,
    /// Always false on the page; the availability partial is shared with fragments.
    pub oob: bool,
}

/// The no-JavaScript page: plain forms, no scripts, no stylesheet.
#[derive(Template, WebTemplate)]
#[template(path = "basic.html")]
pub struct BasicPage {
    pub tiers: Vec<TierView>,
    pub forms: Vec<FormView>,
    pub notice: Option<String>,
}

/// The region `/` polls (plus, out of band, the disabled buttons of sold-out tiers).
#[derive(Template)]
#[template(path = "partials/availability_poll.html")]
pub struct AvailabilityFragment {
    pub tiers: Vec<TierView>,
    pub poll_seconds: u32,
    pub oob: bool,
}

/// The confirmation page.
#[derive(Template, WebTemplate)]
#[template(path = "booking.html")]
pub struct BookingPage {
    pub asset_version: &'static str,
    pub booking: BookingView,
}

/// The forms of a page: blank ones, except `filled` for its tier.
pub fn forms_for(
    tiers: &[TierView],
    max_quantity: u32,
    action: &str,
    filled: Option<FormView>,
) -> Vec<FormView> {
    tiers
        .iter()
        .map(|t| match &filled {
            Some(f) if f.tier_id == t.id => f.clone(),
            _ => FormView::blank(t, max_quantity, action),
        })
        .collect()
}

#[get("/")]
pub async fn index(state: web::Data<AppState>) -> Result<IndexPage, AppError> {
    let tiers = TierView::all(&state.shop.tiers().await?);
    let forms = forms_for(&tiers, state.settings.max_tickets_per_booking, "/bookings", None);
    Ok(IndexPage {
        asset_version: assets::version(),
        tiers,
        forms,
        poll_seconds: state.settings.poll_seconds,
        notice: None,
        oob: false,
    })
}

#[get("/basic")]
pub async fn basic(state: web::Data<AppState>) -> Result<BasicPage, AppError> {
    let tiers = TierView::all(&state.shop.tiers().await?);
    let forms = forms_for(&tiers, state.settings.max_tickets_per_booking, "/bookings?page=basic", None);
    Ok(BasicPage { tiers, forms, notice: None })
}

#[get("/availability")]
pub async fn availability(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let tiers = TierView::all(&state.shop.tiers().await?);
    let mut response = html(
        StatusCode::OK,
        &AvailabilityFragment { tiers, poll_seconds: state.settings.poll_seconds, oob: false },
    )?;
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

#[get("/bookings/{reference}")]
pub async fn booking(
    req: HttpRequest,
    state: web::Data<AppState>,
    reference: web::Path<String>,
) -> Result<BookingPage, AppError> {
    state.limits.lookup(&req).map_err(|retry_after_secs| AppError::TooManyRequests { retry_after_secs })?;
    let not_found =
        || AppError::NotFound("There is no booking with that reference. Check it and try again.".into());
    let reference = Reference::parse(&reference).ok_or_else(not_found)?;
    let (booking, refund) = state.shop.booking(reference).await?.ok_or_else(not_found)?;
    let tiers = state.shop.tiers().await?;
    let tier_name = tiers
        .iter()
        .find(|t| t.id == booking.tier_id)
        .map(|t| t.name.as_str())
        .unwrap_or(booking.tier_id.as_str());
    Ok(BookingPage {
        asset_version: assets::version(),
        booking: BookingView::new(&booking, tier_name).with_refund(refund.as_ref()),
    })
}
