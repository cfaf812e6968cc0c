//! `POST /bookings`: the booking form. Success is a `303` to the confirmation page (or, for
//! htmx, the result in place); failures re-render the form with the error and its status.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, post, web};
use askama::Template;

use super::pages::{BasicPage, IndexPage};
use super::{AppState, html, is_htmx, read_form};
use crate::booking::{
    BookingError, BookingRequest, BookingStatus, Buyer, CustomerName, Email, IdempotencyKey, InvalidInput,
    Quantity, Reference, TierId,
};
use crate::error::AppError;
use crate::metrics::BookingOutcome;
use crate::views::{BookingView, FormView, TierView, outcome};

/// The form fields as sent (first occurrence of each; unknown fields ignored).
#[derive(Debug, Default, Clone)]
struct FormInput {
    tier: String,
    quantity: String,
    name: String,
    email: String,
    idempotency_key: String,
}

impl FormInput {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut input = Self::default();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "tier" => &mut input.tier,
                "quantity" => &mut input.quantity,
                "name" => &mut input.name,
                "email" => &mut input.email,
                "idempotency_key" => &mut input.idempotency_key,
                _ => continue,
            };
            if seen.insert(key) {
                *slot = value;
            }
        }
        input
    }

    /// Checks every field, reporting the first fault in form order.
    fn parse(&self, max_quantity: u32) -> Result<BookingRequest, InvalidInput> {
        // The form decoder replaces bytes that are not UTF-8 with U+FFFD; refuse them rather
        // than store mangled names.
        for (field, value) in
            [("tier", &self.tier), ("quantity", &self.quantity), ("name", &self.name), ("email", &self.email)]
        {
            if value.contains('\u{FFFD}') {
                return Err(InvalidInput::new(
                    field,
                    "This field contains bytes that are not valid UTF-8 text.",
                ));
            }
        }
        let tier = TierId::parse(&self.tier)?;
        let quantity = Quantity::parse(&self.quantity, max_quantity)?;
        let name = CustomerName::parse(&self.name)?;
        let email = Email::parse(&self.email)?;
        let idempotency_key = if self.idempotency_key.trim().is_empty() {
            None
        } else {
            Some(IdempotencyKey::parse(&self.idempotency_key)?)
        };
        Ok(BookingRequest { tier, quantity, buyer: Buyer::Web { name, email }, idempotency_key })
    }
}

/// The fragment htmx swaps in place of the form: the form again (with the result or the
/// error), its tier cards showing fresh availability.
#[derive(Template)]
#[template(path = "partials/booking_result.html")]
struct BookingFormFragment {
    form: FormView,
    tiers: Vec<TierView>,
    poll_seconds: u32,
    oob: bool,
}

/// What to show after a booking attempt.
enum Shown {
    Booked(Box<BookingView>),
    Failed { field: &'static str, message: String },
}

struct Context {
    htmx: bool,
    basic: bool,
    /// The tier that was chosen, once the form is read.
    tier: String,
}

#[post("/bookings")]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut ctx = Context {
        htmx: is_htmx(&req),
        basic: req.query_string().split('&').any(|p| p == "page=basic"),
        tier: String::new(),
    };
    let mut input = FormInput::default();
    match book(&req, payload, &state, &mut ctx, &mut input).await {
        Ok(response) => Ok(response),
        // Request-level faults (413, 415, 429…) still answer htmx in place, in the form.
        Err(e) if ctx.htmx && e.status_code().is_client_error() => {
            let shown = Shown::Failed { field: "", message: e.message_for_people() };
            let mut response = respond(&state, &ctx, &input, e.status_code(), shown, None).await?;
            if let AppError::TooManyRequests { retry_after_secs }
            | AppError::WaitYourTurn { retry_after_secs } = e
            {
                response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
            }
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

async fn book(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    ctx: &mut Context,
    input: &mut FormInput,
) -> Result<HttpResponse, AppError> {
    super::same_site_only(req)?;
    // The waiting room (SPEC §13), from memory: before the opening 403, without an admission
    // while fans wait 429; nothing is read, reserved or charged for them.
    let admission = super::queue::form_gate(req, state)?;
    if let Err(retry_after_secs) = state.limits.booking(req) {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    *input = FormInput::from_pairs(read_form(req, payload).await?);
    if !input.tier.is_empty() {
        ctx.tier = input.tier.clone();
    }

    let request = match input.parse(state.settings.max_tickets_per_booking) {
        Ok(request) => request,
        Err(invalid) => {
            state.metrics.record_booking(BookingOutcome::Invalid);
            let shown = Shown::Failed { field: invalid.field, message: invalid.message };
            return respond(state, ctx, input, StatusCode::UNPROCESSABLE_ENTITY, shown, None).await;
        }
    };

    let tier_name = |tiers: &[TierView], id: &str| {
        tiers.iter().find(|t| t.id == id).map(|t| t.name.clone()).unwrap_or_else(|| id.to_owned())
    };
    let booked = state.shop.book(request).await;
    let confirmed = booked.is_ok();
    let answer = match booked {
        Ok(booking) if !ctx.htmx => Ok(to_booking(&booking.reference)),
        Ok(booking) => {
            let tiers = TierView::all(&state.shop.tiers().await?);
            let view = BookingView::new(&booking, &tier_name(&tiers, &booking.tier_id));
            respond(state, ctx, input, StatusCode::OK, Shown::Booked(Box::new(view)), Some(tiers)).await
        }
        Err(BookingError::Unsettled { reference, status: BookingStatus::Held }) if !ctx.htmx => {
            Ok(to_booking(&reference))
        }
        Err(e) => {
            let status = match &e {
                BookingError::UnknownTier | BookingError::KeyReused => StatusCode::UNPROCESSABLE_ENTITY,
                BookingError::NotEnoughSeats { .. } | BookingError::Refunded { .. } => StatusCode::CONFLICT,
                BookingError::PaymentDeclined { .. } => StatusCode::PAYMENT_REQUIRED,
                BookingError::Unsettled { status: BookingStatus::Held, .. } => StatusCode::ACCEPTED,
                BookingError::Unsettled { .. } => StatusCode::CONFLICT,
                BookingError::PaymentUnrecorded { .. } => StatusCode::SERVICE_UNAVAILABLE,
                BookingError::Storage(_) | BookingError::Pipeline(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            // The tiers are loaded here only when the message names one; `respond` reuses them.
            let mut loaded = None;
            let mut name = String::new();
            if matches!(e, BookingError::NotEnoughSeats { .. }) {
                let tiers = TierView::all(&state.shop.tiers().await?);
                name = tier_name(&tiers, &ctx.tier);
                loaded = Some(tiers);
            }
            // A refund's true reason is the booking's to tell (a reset, or a late payment).
            let refunded = match &e {
                BookingError::Refunded { reference } => match Reference::parse(reference) {
                    Some(reference) => state.shop.booking(reference).await?.map(|(booking, _)| booking),
                    None => None,
                },
                _ => None,
            };
            let Some((field, message)) = outcome::for_people(&e, &name, refunded.as_ref()) else {
                return Err(match e {
                    BookingError::Storage(db) => db.into(),
                    BookingError::Pipeline(e) => e.into(),
                    other => AppError::Internal(Box::new(other)),
                });
            };
            respond(state, ctx, input, status, Shown::Failed { field, message }, loaded).await
        }
    };
    answer.map(|mut response| {
        super::queue::after_booking(state, admission, confirmed, &mut response);
        response
    })
}

/// A `303` to the booking's page.
fn to_booking(reference: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, format!("/bookings/{reference}"))).finish()
}

/// Renders the outcome: the form fragment for htmx, else the whole page it came from. `tiers`
/// are passed when the caller already loaded them.
async fn respond(
    state: &AppState,
    ctx: &Context,
    input: &FormInput,
    status: StatusCode,
    shown: Shown,
    tiers: Option<Vec<TierView>>,
) -> Result<HttpResponse, AppError> {
    let tiers = match tiers {
        Some(tiers) => tiers,
        None => TierView::all(&state.shop.tiers().await?),
    };
    let max = state.settings.max_tickets_per_booking;
    let action = if ctx.basic { "/bookings?page=basic" } else { "/bookings" };
    // One form for every tier: it comes back with the tier that was chosen (if it still
    // exists and has seats) and, after a failure, what the visitor typed.
    let mut form = FormView::blank(tiers.iter().find(|t| t.id == ctx.tier), max, action);
    match shown {
        Shown::Booked(view) => form.success = Some(*view),
        Shown::Failed { field, message } => {
            // Keep what the visitor typed; a fresh key makes the next submit a new attempt.
            form.quantity = input.quantity.clone();
            form.name = input.name.clone();
            form.email = input.email.clone();
            form.error_field = field.to_owned();
            form.error = Some(message);
        }
    }
    let poll_seconds = state.settings.poll_seconds;
    if ctx.htmx {
        html(status, &BookingFormFragment { form, tiers, poll_seconds, oob: false })
    } else if ctx.basic {
        html(status, &BasicPage::new(&state.settings, tiers, form, None))
    } else {
        html(status, &IndexPage::new(&state.settings, tiers, form, None))
    }
}
