//! "Find my booking" (email + reference) and "send my tickets again" (at most once a minute
//! and 5 times a day per booking, and within the lookup rate limit per address).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::{AppState, FormFields, assets, html, same_site_only, see_other};
use crate::booking::{Reference, Resend};
use crate::error::AppError;

#[derive(Template)]
#[template(path = "find.html")]
struct FindPage {
    asset_version: &'static str,
    reference: String,
    email: String,
    /// (good news?, sentence)
    notice: Option<(bool, String)>,
}

fn find_page(
    status: StatusCode,
    reference: &str,
    email: &str,
    notice: Option<(bool, String)>,
) -> Result<HttpResponse, AppError> {
    let page = FindPage {
        asset_version: assets::version(),
        reference: reference.into(),
        email: email.into(),
        notice,
    };
    html(status, &page)
}

#[get("/find")]
pub async fn find_form() -> Result<HttpResponse, AppError> {
    find_page(StatusCode::OK, "", "", None)
}

/// `action=open` opens the booking (`303`); `action=resend` queues its tickets email again.
#[post("/find")]
pub async fn find(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    same_site_only(&req)?;
    state.limits.lookup(&req).map_err(|retry_after_secs| AppError::TooManyRequests { retry_after_secs })?;
    let form = FormFields::read(&req, payload).await?;
    let (raw_reference, email) = (form.get("reference"), form.get("email"));
    let no_match = || {
        let sentence = "No booking matches that reference and email address. Check both and try again.";
        find_page(StatusCode::NOT_FOUND, raw_reference, email, Some((false, sentence.into())))
    };
    let Some(reference) = Reference::parse(raw_reference) else { return no_match() };
    if form.get("action") != "resend" {
        return match state.shop.booking_matches(reference.clone(), email.to_owned()).await? {
            true => Ok(see_other(&format!("/bookings/{}", reference.as_str()))),
            false => no_match(),
        };
    }
    match state.shop.resend_tickets(reference, email.to_owned()).await? {
        Resend::Queued => {
            let sentence = format!(
                "Your tickets are on their way to {email} again. They usually arrive within a minute."
            );
            find_page(StatusCode::ACCEPTED, raw_reference, email, Some((true, sentence)))
        }
        Resend::TooSoon { seconds } => {
            let sentence =
                format!("Your tickets were sent moments ago. You can ask again in {seconds} seconds.");
            let mut response =
                find_page(StatusCode::TOO_MANY_REQUESTS, raw_reference, email, Some((false, sentence)))?;
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(seconds),
            );
            Ok(response)
        }
        Resend::DailyLimit { seconds } => {
            let hours = seconds.div_ceil(3600);
            let sentence = format!(
                "Your tickets have been sent again {} times today, the most we send in a day. \
                 You can ask again in about {hours} hour(s); the booking page always shows them.",
                crate::booking::RESENDS_PER_DAY
            );
            let mut response =
                find_page(StatusCode::TOO_MANY_REQUESTS, raw_reference, email, Some((false, sentence)))?;
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(seconds),
            );
            Ok(response)
        }
        Resend::NoSuchBooking => no_match(),
    }
}
