//! HTTP handlers, one module per feature. Handlers parse, call the domain, render.

pub mod admin;
pub mod api;
pub mod assets;
pub mod bookings;
pub mod calendar;
pub mod door;
pub mod find;
pub mod health;
mod json;
pub mod methods;
pub mod pages;
pub mod queue;
pub mod session;
pub mod staff;

use std::sync::Arc;

use actix_web::cookie::Key;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::booking::Shop;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::rate_limit::Limits;
use crate::settings::Settings;

/// The booking pipeline's errors become answers as storage errors do: transient trouble (a
/// batch that met a database going away, no answer within the patience) is a 503, anything else
/// a 500. (Here, not in `error.rs`, so that `error` and `booking` do not import each other.)
impl From<crate::booking::desk::PipelineError> for AppError {
    fn from(e: crate::booking::desk::PipelineError) -> Self {
        if e.is_transient() { Self::Unavailable(Box::new(e)) } else { Self::Internal(Box::new(e)) }
    }
}

/// Largest request body any route reads.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every handler can reach.
pub struct AppState {
    pub shop: Shop,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Signs the admin cookies (from `SESSION_SECRET`).
    pub cookie_key: Key,
    /// The waiting room (SPEC §13); off without `SALE_OPENS_AT`.
    pub queue: Arc<crate::booking::queue::Queue>,
}

/// True when htmx sent the request (it then wants a fragment, not a page).
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().get("HX-Request").is_some_and(|v| v.as_bytes() == b"true")
}

/// Renders a template with a status.
pub fn html(status: StatusCode, template: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status).content_type(ContentType::html()).body(template.render()?))
}

/// Reads a request body of at most [`MAX_BODY_BYTES`]; more is a 413 and is not read. A body
/// that has not arrived within `CLIENT_BODY_TIMEOUT_SECS` is a 408 (and the connection is
/// closed), so a client trickling bytes cannot hold a worker.
pub async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, AppError> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.client_body_timeout)
        .unwrap_or(std::time::Duration::from_secs(10));
    match tokio::time::timeout(timeout, payload.to_bytes_limited(MAX_BODY_BYTES)).await {
        Err(_) => Err(AppError::RequestTimeout),
        Ok(Ok(Ok(bytes))) => Ok(bytes),
        Ok(Ok(Err(e))) => Err(AppError::BadRequest(format!("The request body could not be read: {e}"))),
        Ok(Err(_)) => Err(AppError::PayloadTooLarge),
    }
}

/// Refuses a form posted from another site: `Sec-Fetch-Site: cross-site` (what browsers send),
/// or an `Origin` that is not this shop's public origin ([`own_origin`]). The JSON API follows
/// CORS instead.
pub fn same_site_only(req: &HttpRequest) -> Result<(), AppError> {
    let headers = req.headers();
    let cross_site =
        headers.get("Sec-Fetch-Site").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let foreign_origin = headers.get(header::ORIGIN).is_some_and(|v| {
        let sent = v.to_str().ok().map(str::trim);
        sent != Some("null") && sent.and_then(origin_of) != own_origin(req)
    });
    if cross_site || foreign_origin {
        return Err(AppError::Forbidden("Bookings can only be made from this shop's own pages.".into()));
    }
    Ok(())
}

/// The origin (`scheme://host[:port]`, default port left out) of a URL, parsed by the `url`
/// crate: `https://Shop.Example:443/x` → `https://shop.example`.
pub fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// This shop's public origin: `PUBLIC_BASE_URL`'s when set (the address people use, whatever
/// proxies stand between), else the `Host` the request came to, with the scheme a trusted
/// proxy reports (`X-Forwarded-Proto`) or `http`.
pub fn own_origin(req: &HttpRequest) -> Option<String> {
    let state = req.app_data::<web::Data<AppState>>();
    if let Some(base) = state.and_then(|s| s.settings.tickets.public_base_url.as_deref()) {
        return origin_of(base);
    }
    let scheme = state.map_or("http", |s| s.limits.client.scheme(req));
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok())?;
    origin_of(&format!("{scheme}://{host}"))
}

/// Whether the client reached the shop over https (for cookies' `Secure`): `PUBLIC_BASE_URL`
/// says so, or a trusted proxy does.
pub fn is_https(req: &HttpRequest) -> bool {
    own_origin(req).is_some_and(|o| o.starts_with("https://"))
}

/// An answer rendered from the availability snapshot: `304 Not Modified` when the client's
/// `If-None-Match` names this snapshot's counts, else the bytes with their `ETag`. Browsers
/// revalidate every time (`no-cache`), so a poll costs a 304 until a seat count changes.
pub fn revalidated(req: &HttpRequest, etag: &str, content_type: &'static str, body: &[u8]) -> HttpResponse {
    let matches =
        req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|tags| {
            tags.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag || tag.trim() == "*")
        });
    let mut response = if matches { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, etag.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-cache, private"));
    if matches {
        return response.finish();
    }
    response.content_type(content_type).body(body.to_vec())
}

/// A `303 See Other` to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

/// The fields of a form, in order (unknown fields ignored; the first occurrence wins).
#[derive(Debug, Default)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Self, AppError> {
        Ok(Self(read_form(req, payload).await?))
    }

    /// A field's value, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.raw(name).trim()
    }

    /// A field's value as sent; empty when absent.
    pub fn raw(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }
}

/// Reads an `application/x-www-form-urlencoded` body (at most [`MAX_BODY_BYTES`]) into its
/// pairs, in order. Bytes that are not UTF-8 decode to U+FFFD.
pub async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<Vec<(String, String)>, AppError> {
    if media_type(req) != "application/x-www-form-urlencoded" {
        return Err(AppError::UnsupportedMediaType(
            "Send the form as application/x-www-form-urlencoded.".into(),
        ));
    }
    let body = read_body(req, payload).await?;
    serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))
}

/// The request's media type without parameters, lowercased (`application/json`).
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}
