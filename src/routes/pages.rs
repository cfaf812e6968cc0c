//! The customer pages: the concert (`/`), the no-JS page (`/basic`), the polled availability
//! fragment and the booking confirmation.

use actix_web::{HttpRequest, HttpResponse, Responder, get, web};
use askama::Template;
use askama_web::WebTemplate;

use super::AppState;
use super::queue::ShopDoor;
use crate::booking::Reference;
use crate::error::AppError;
use crate::event::Event;
use crate::routes::assets;
use crate::settings::Settings;
use crate::views::{BookingView, FormView, TierView};

/// The concert page: the event at a glance and one booking form.
#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub asset_version: &'static str,
    pub event: Event,
    pub tiers: Vec<TierView>,
    pub form: FormView,
    pub poll_seconds: u32,
    pub notice: Option<String>,
    /// Always false on the page; the tier status partial is shared with the polled fragment.
    pub oob: bool,
    /// An admitted fan's turn: until when (waiting room, SPEC §13).
    pub turn: Option<String>,
}

impl IndexPage {
    pub fn new(settings: &Settings, tiers: Vec<TierView>, form: FormView, notice: Option<String>) -> Self {
        Self {
            asset_version: assets::version(),
            event: settings.event.clone(),
            tiers,
            form,
            poll_seconds: settings.poll_seconds,
            notice,
            oob: false,
            turn: None,
        }
    }
}

/// The no-JavaScript page: one plain form, no scripts, no stylesheet.
#[derive(Template, WebTemplate)]
#[template(path = "basic.html")]
pub struct BasicPage {
    pub event: Event,
    pub tiers: Vec<TierView>,
    pub form: FormView,
    pub notice: Option<String>,
}

impl BasicPage {
    pub fn new(settings: &Settings, tiers: Vec<TierView>, form: FormView, notice: Option<String>) -> Self {
        Self { event: settings.event.clone(), tiers, form, notice }
    }
}

/// What `/` polls: the poller itself, and out of band each tier's seats left (plus the
/// disabled radio of a sold-out tier). The form's inputs are never sent, so nothing the
/// visitor chose or typed is touched.
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
    pub event: Event,
    /// One per seat, each with its QR code.
    pub tickets: Vec<crate::views::tickets::TicketView>,
}

#[get("/")]
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    // With a waiting room, only an admitted fan sees the shop; the others go to the queue.
    let door = ShopDoor::of(&req, &state).await?;
    let Some(admission) = door.admitted else { return door.to_queue() };
    let tiers = TierView::all(&state.shop.tiers().await?);
    let form = FormView::blank(None, state.settings.max_tickets_per_booking, "/bookings");
    let mut page = IndexPage::new(&state.settings, tiers, form, None);
    page.turn = admission.map(|a| crate::views::queue::turn_text(a.until, &state.settings.event));
    let mut response = page.respond_to(&req).map_into_boxed_body();
    door.finish(&mut response)?;
    Ok(response)
}

#[get("/basic")]
pub async fn basic(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let door = ShopDoor::of(&req, &state).await?;
    if door.admitted.is_none() {
        return door.to_queue();
    }
    let tiers = TierView::all(&state.shop.tiers().await?);
    let form = FormView::blank(None, state.settings.max_tickets_per_booking, "/bookings?page=basic");
    let mut response =
        BasicPage::new(&state.settings, tiers, form, None).respond_to(&req).map_into_boxed_body();
    door.finish(&mut response)?;
    Ok(response)
}

/// The fragment `/` polls: rendered once per snapshot, `304` while nothing changed.
#[get("/availability")]
pub async fn availability(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let snapshot = state.shop.availability().await?;
    if snapshot.fragment.get().is_none() {
        let tiers = TierView::all(&snapshot.tiers);
        let fragment = AvailabilityFragment { tiers, poll_seconds: state.settings.poll_seconds, oob: true };
        let _ = snapshot.fragment.set(fragment.render()?.into_bytes());
    }
    let body = snapshot.fragment.get().map(Vec::as_slice).unwrap_or_default();
    Ok(super::revalidated(&req, &snapshot.etag, "text/html; charset=utf-8", body))
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
    let tickets = state.shop.tickets_of(booking.id.clone()).await?;
    Ok(BookingPage {
        asset_version: assets::version(),
        booking: BookingView::new(&booking, tier_name).with_refund(refund.as_ref()),
        tickets: crate::views::tickets::TicketView::all(&tickets, booking.status, &state.settings.event),
        event: state.settings.event.clone(),
    })
}
