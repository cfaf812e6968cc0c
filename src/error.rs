//! The one place that decides what a failure looks like over HTTP: a status and a friendly
//! page for people (the JSON API has its own shape in `routes::api`). Logs get the cause.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;
pub use crate::db::error::chain;

/// A request that could not be served.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("sign-in required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for is not there any more (a refunded booking's calendar file).
    #[error("{0}")]
    Gone(String),
    /// Not yet: the thing asked for depends on something still in progress.
    #[error("{0}")]
    Conflict(String),
    /// A known address asked with a method it does not take; the methods it takes.
    #[error("method not allowed (allowed: {0})")]
    MethodNotAllowed(String),
    #[error("request body larger than 16 KiB")]
    PayloadTooLarge,
    /// The body did not arrive within `CLIENT_BODY_TIMEOUT_SECS`.
    #[error("request body too slow")]
    RequestTimeout,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// A booking without an admission while fans wait in the waiting room (429).
    #[error("waiting room: no admission")]
    WaitYourTurn { retry_after_secs: u64 },
    /// Transient database trouble (see [`DbError::is_transient`], and the booking pipeline's
    /// own `is_transient`): 503, try again.
    #[error("service unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A fault: 500, logged with its cause chain.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The one place a storage failure becomes an answer: transient trouble is a 503, anything
/// else (a bug, a panicked task, a broken query) a 500.
impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        if e.is_transient() { Self::Unavailable(Box::new(e)) } else { Self::Internal(Box::new(e)) }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(Box::new(e))
    }
}

/// The friendly error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    asset_version: &'static str,
    status: u16,
    heading: &'a str,
    message: &'a str,
}

impl AppError {
    /// The sentence a person is shown for this error.
    pub fn message_for_people(&self) -> String {
        self.heading_and_message().1
    }

    fn heading_and_message(&self) -> (&'static str, String) {
        match self {
            Self::NotFound(what) => ("Not found", what.clone()),
            Self::BadRequest(why) => ("That request could not be read", why.clone()),
            Self::Unauthorized => ("Sign-in required", "Sign in first: the box office at /admin/login, door staff at /door/login.".into()),
            Self::Forbidden(why) => ("Not allowed", why.clone()),
            Self::Gone(why) => ("No longer available", why.clone()),
            Self::Conflict(why) => ("Not yet", why.clone()),
            Self::MethodNotAllowed(allow) => {
                ("Method not allowed", format!("This address does not take that kind of request; it takes {allow}."))
            }
            Self::PayloadTooLarge => ("Too much data", "The request was larger than 16 KiB and was not read.".into()),
            Self::RequestTimeout => ("Too slow", "The request took too long to arrive and was not read.".into()),
            Self::UnsupportedMediaType(why) => ("Unsupported content type", why.clone()),
            Self::TooManyRequests { retry_after_secs } => (
                "Too many requests",
                format!("Please wait {retry_after_secs} seconds and try again."),
            ),
            Self::WaitYourTurn { .. } => (
                "Please wait for your turn",
                "Many fans are buying right now, so the shop lets them in from the waiting room in turn, and this browser has no turn at the moment. Take your place in the queue at /queue: it brings you back here when it's your turn. Nothing was booked or charged.".into(),
            ),
            Self::Unavailable(_) => (
                "We'll be right back",
                "The ticket shop cannot reach its database at the moment. Nothing was booked or charged. Please try again in a few seconds.".into(),
            ),
            Self::Internal(_) => (
                "Something went wrong",
                "An unexpected error stopped this request. Nothing was booked or charged.".into(),
            ),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Gone(_) => StatusCode::GONE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } | Self::WaitYourTurn { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Self::Internal(_) => log::error!("500: {}", chain(self)),
            // During an outage every request fails alike: once a second, with a count.
            Self::Unavailable(_) => crate::log_once::warn("503", || format!("503: {}", chain(self))),
            _ => {}
        }
        let (heading, message) = self.heading_and_message();
        let page = ErrorPage {
            asset_version: crate::assets::version(),
            status: status.as_u16(),
            heading,
            message: &message,
        };
        let body = page.render().unwrap_or_else(|_| format!("{heading}: {message}"));
        let mut response = HttpResponse::build(status);
        response.content_type(ContentType::html());
        match self {
            Self::TooManyRequests { retry_after_secs } | Self::WaitYourTurn { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "2"));
            }
            // The rest of a slow body is not worth waiting for: close the connection.
            Self::RequestTimeout => {
                response.force_close();
            }
            _ => {}
        }
        response.body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_panicked_database_task_is_a_500_and_a_closed_connection_a_503() {
        let panicked = tokio::spawn(async { panic!("a bug") }).await.expect_err("it panicked");
        let answer = AppError::from(DbError::TaskPanicked(panicked));
        assert!(matches!(answer, AppError::Internal(_)), "a 500, not a 503: {answer:?}");
        let closed = DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection,
            Box::new("server closed the connection".to_owned()),
        ));
        assert!(matches!(AppError::from(closed), AppError::Unavailable(_)));
    }
}
