//! HTTP methods done properly, without a second list of routes to keep in step with the first:
//!
//! - `HEAD` is served wherever `GET` is ([`head_as_get`]): the request is routed as a `GET`,
//!   and the HTTP/1 codec, which saw the `HEAD`, sends the head of the answer without its body.
//! - A known path asked with a method it does not take answers `405` with `Allow`
//!   ([`fallback`]). actix's method guards note each method they refuse while routing; a
//!   catch-all resource registered last, with no routes of its own, answers `405` and lists
//!   them. When no route had the path at all there is nothing to list, and the answer becomes
//!   the usual `404`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, ResponseError, web};

use crate::error::AppError;

/// Middleware: routes a `HEAD` request as a `GET`. Put it innermost, so logs and metrics still
/// see `HEAD`.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

/// How the fallback words its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words {
    /// The friendly HTML error page.
    Page,
    /// The JSON API's `{"error": …}`.
    Json,
}

/// The catch-all resource's pattern (under a scope, its prefix comes first).
pub const CATCH_ALL: &str = "/{tail:.*}";

/// True for the route pattern of the catch-all: no route of the shop answered (metrics label
/// such requests `unmatched`).
pub fn is_catch_all(pattern: &str) -> bool {
    pattern.ends_with(CATCH_ALL)
}

/// The catch-all resource to register after every other one (in the app, and in a scope).
pub fn fallback(
    words: Words,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(CATCH_ALL).wrap(from_fn(move |req, next| answer(words, req, next)))
}

async fn answer(
    words: Words,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let allowed: Vec<String> = response
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect())
        .unwrap_or_default();
    let (req, _) = response.into_parts();
    if allowed.is_empty() {
        let answer = match words {
            Words::Page => AppError::NotFound("There is no page at this address.".into()).error_response(),
            Words::Json => HttpResponse::NotFound().json(serde_json::json!({"error": "Not found"})),
        };
        return Ok(ServiceResponse::new(req, answer));
    }
    let mut methods = allowed;
    if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
        methods.push("HEAD".into());
    }
    let allow = methods.join(", ");
    let mut answer = match words {
        Words::Page => AppError::MethodNotAllowed(allow.clone()).error_response(),
        Words::Json => {
            HttpResponse::MethodNotAllowed().json(serde_json::json!({"error": "Method not allowed"}))
        }
    };
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        answer.headers_mut().insert(header::ALLOW, value);
    }
    Ok(ServiceResponse::new(req, answer))
}
