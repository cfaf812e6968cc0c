//! A request id on every log line: generated per request (or taken from `X-Request-Id` when
//! `TRUST_FORWARDED_FOR` says a proxy of ours stands in front), returned as `X-Request-Id`,
//! and carried to the database threads, so one booking can be followed from reserve through
//! the gateway to confirm.
//!
//! The id lives in a task-local while the request's future runs, and in a thread-local while a
//! database closure runs on the blocking pool ([`in_blocking`]). The log format reads
//! [`current`].

use std::cell::RefCell;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static TASK_ID: Arc<str>;
}

thread_local! {
    static THREAD_ID: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// The id of the request being served on this task or thread, if any.
pub fn current() -> Option<Arc<str>> {
    TASK_ID.try_with(Arc::clone).ok().or_else(|| THREAD_ID.with(|id| id.borrow().clone()))
}

/// Runs `f` (on a blocking thread) with `id` as the current request id.
pub fn in_blocking<T>(id: Option<Arc<str>>, f: impl FnOnce() -> T) -> T {
    let previous = THREAD_ID.with(|slot| slot.replace(id));
    let result = f();
    THREAD_ID.with(|slot| *slot.borrow_mut() = previous);
    result
}

/// A fresh id: 12 characters (about 70 bits), short enough to read in a log.
fn generate() -> Arc<str> {
    crate::settings::random_token(12).into()
}

/// An id sent by a trusted proxy: kept if it is short, visible ASCII.
fn accept(value: &HeaderValue) -> Option<Arc<str>> {
    let text = value.to_str().ok()?.trim();
    (!text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_graphic())).then(|| text.into())
}

/// Middleware: assigns the id, serves the request inside its scope, and returns it as a
/// header. `trust_incoming` is `TRUST_FORWARDED_FOR`.
pub async fn assign(
    trust_incoming: bool,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id =
        trust_incoming.then(|| req.headers().get(HEADER).and_then(accept)).flatten().unwrap_or_else(generate);
    let mut response = TASK_ID.scope(id.clone(), next.call(req)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static(HEADER), value);
    }
    Ok(response)
}

/// The log line format: `[time LEVEL target] [request id] message`.
pub fn format_log(buf: &mut env_logger::fmt::Formatter, record: &log::Record) -> std::io::Result<()> {
    use std::io::Write;
    let time = buf.timestamp_millis();
    match current() {
        Some(id) => {
            writeln!(buf, "[{time} {:<5} {}] [{id}] {}", record.level(), record.target(), record.args())
        }
        None => writeln!(buf, "[{time} {:<5} {}] {}", record.level(), record.target(), record.args()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_threads_see_the_id_only_while_their_closure_runs() {
        assert_eq!(current(), None);
        let seen = in_blocking(Some("abc".into()), current);
        assert_eq!(seen.as_deref(), Some("abc"));
        assert_eq!(current(), None);
    }

    #[test]
    fn only_short_visible_ids_are_taken_from_a_proxy() {
        assert_eq!(accept(&HeaderValue::from_static("req-42")).as_deref(), Some("req-42"));
        assert_eq!(accept(&HeaderValue::from_static("has space")), None);
        assert_eq!(accept(&HeaderValue::from_str(&"x".repeat(65)).unwrap()), None);
    }
}
