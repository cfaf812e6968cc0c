//! Shutting down without dropping anyone: on SIGTERM, `/readyz` answers 503 at once while
//! everything else is served for `SHUTDOWN_DRAIN_SECS`, so load balancers stop sending work;
//! then the server stops accepting and finishes what is in flight. SIGINT and SIGQUIT stop at
//! once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

/// Whether the process is on its way out (SIGTERM received).
#[derive(Clone, Default)]
pub struct Draining(pub Arc<AtomicBool>);

/// Stops the server on SIGTERM (after the drain), SIGINT and SIGQUIT (at once).
pub fn watch_signals(
    handle: ServerHandle,
    draining: Draining,
    drain: Duration,
) -> Vec<actix_web::rt::task::JoinHandle<()>> {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let mut tasks = Vec::new();
    for (kind, name, graceful) in [
        (SignalKind::terminate(), "SIGTERM", true),
        (SignalKind::interrupt(), "SIGINT", false),
        (SignalKind::quit(), "SIGQUIT", false),
    ] {
        let mut stream = match signal(kind) {
            Ok(stream) => stream,
            Err(e) => {
                log::warn!("cannot listen for {name}: {e}");
                continue;
            }
        };
        let (handle, draining) = (handle.clone(), draining.clone());
        tasks.push(actix_web::rt::spawn(async move {
            if stream.recv().await.is_none() {
                return;
            }
            if !graceful {
                log::info!("{name}: stopping now");
                handle.stop(false).await;
                return;
            }
            draining.0.store(true, Ordering::SeqCst);
            if !drain.is_zero() {
                log::info!(
                    "{name}: /readyz now answers 503; serving for {}s more, then stopping",
                    drain.as_secs()
                );
                actix_web::rt::time::sleep(drain).await;
            }
            log::info!("{name}: no longer accepting connections; finishing the requests in flight");
            handle.stop(true).await;
        }));
    }
    tasks
}

/// While draining, `/readyz` answers 503 so load balancers stop sending new work; every other
/// route is served as usual.
pub async fn unready_while_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let draining = req.app_data::<web::Data<Draining>>().is_some_and(|d| d.0.load(Ordering::SeqCst));
    if draining && req.path() == "/readyz" {
        let response = HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .insert_header((header::RETRY_AFTER, "5"))
            .body("shutting down");
        return Ok(req.into_response(response));
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}
