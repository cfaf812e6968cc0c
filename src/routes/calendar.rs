//! A booking's calendar file: the concert as an iCalendar file, for a confirmed booking only
//! (`409` while it is still paying, `410` once it was refunded, voided, expired or failed).

use actix_web::{HttpRequest, HttpResponse, get, web};

use super::AppState;
use crate::booking::{BookingStatus, Reference};
use crate::error::AppError;
use crate::views::calendar::ics;

fn not_found() -> AppError {
    AppError::NotFound("There is no booking with that reference. Check it and try again.".into())
}

#[get("/bookings/{reference}/calendar.ics")]
pub async fn calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
    reference: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    state.limits.lookup(&req).map_err(|retry_after_secs| AppError::TooManyRequests { retry_after_secs })?;
    let reference = Reference::parse(&reference).ok_or_else(not_found)?;
    let (booking, _) = state.shop.booking(reference).await?.ok_or_else(not_found)?;
    // Only a confirmed booking is going to the concert.
    match booking.status {
        BookingStatus::Confirmed => {}
        BookingStatus::Held => {
            return Err(AppError::Conflict(
                "This booking's payment is still being processed. Try again in a moment.".into(),
            ));
        }
        status => {
            return Err(AppError::Gone(format!(
                "Booking {} is {}: it has no place in the calendar any more.",
                booking.reference,
                status.label().to_lowercase()
            )));
        }
    }
    let base = state.shop.public_base_url();
    let link = format!("{base}/bookings/{}", booking.reference);
    let host = crate::mail::url_host(&base);
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{}.ics\"", booking.reference)))
        .body(ics(&state.settings.event, &booking.reference, &link, &host)))
}
