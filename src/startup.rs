//! Builds the application: database, migrations, seed, the HTTP server with its middleware,
//! and every route in one place.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::booking::Shop;
use crate::connections::{self, ConnectionCounter};
use crate::db::{self, DbError};
use crate::drain::{Draining, unready_while_draining, watch_signals};
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::payment::{Ledger, PaymentGateway, SimulatedGateway};
use crate::rate_limit::Limits;
use crate::request_id;
use crate::routes::{self, AppState, methods};
use crate::settings::Settings;
use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::cookie::Key;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::{KeepAlive, header};
use actix_web::middleware::{Condition, DefaultHeaders, Logger, Next, from_fn};
use actix_web::{App, HttpServer, web};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// The content security policy: everything from this origin only, no inline code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

/// A built, listening application.
pub struct Application {
    addr: std::net::SocketAddr,
    port: u16,
    server: Server,
    shop: Shop,
    /// The waiting room, whose keeper runs beside the sweeper.
    queue: Arc<crate::booking::queue::Queue>,
    /// Set on SIGTERM: `/readyz` answers 503 from then on.
    draining: Draining,
    /// How long to keep serving after SIGTERM before the server stops accepting.
    drain: Duration,
    metrics: Arc<Metrics>,
    /// Scheduled backups (`BACKUP_DIR`, SQLite only).
    backups: Option<crate::backup::schedule::Schedule>,
    /// SQLite's write-ahead log is checkpointed by a task of its own.
    wal_checkpoints: bool,
}

/// How often SQLite's write-ahead log is checkpointed.
const WAL_CHECKPOINT_PERIOD: Duration = Duration::from_millis(100);

impl Application {
    /// Connects, migrates, seeds and binds, with the simulated payment gateway.
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        let gateway = simulated_gateway(&settings);
        Self::build_with_gateway(settings, Arc::new(gateway))
    }

    /// As [`Application::build`], with any gateway (tests pass their own).
    pub fn build_with_gateway(
        settings: Settings,
        gateway: Arc<dyn PaymentGateway>,
    ) -> Result<Self, StartupError> {
        let pool = db::build_pool(&settings)?;
        db::prepare_database(&pool, &settings)?;
        let session_secret = crate::shared_secrets::establish(&pool, &settings)?;

        let listener = crate::listener::bind(settings.bind_addr, settings.connections.listen_backlog)
            .map_err(|source| StartupError::Bind { addr: settings.bind_addr.to_string(), source })?;
        let capped = crate::listener::system_cap();
        if let Some(warning) = crate::listener::cap_warning(settings.connections.listen_backlog, capped) {
            log::warn!("{warning}");
        }
        let addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr: settings.bind_addr.to_string(), source })?;
        let port = addr.port();

        let metrics = Arc::new(Metrics::default());
        let backups = crate::backup::schedule::Schedule::from_settings(&settings);
        let wal_checkpoints = matches!(settings.database_url, crate::settings::DatabaseUrl::Sqlite(_));
        let shop = Shop::new(pool.clone(), gateway, settings.hold_ttl, metrics.clone())
            .with_refund_retry_base(settings.refund_retry_base)
            .with_payment_timeout(settings.payment_timeout)
            .with_availability_max_age(settings.availability_max_age)
            .with_mail(crate::mail::Mail::for_server(&settings, addr));
        let limits = Limits::from_settings(&settings);
        let cookie_key = Key::derive_from(session_secret.as_bytes());
        let queue = Arc::new(crate::booking::queue::Queue::open(
            settings.queue.clone(),
            &pool,
            shop.clone(),
            settings.availability_max_age,
        )?);
        let state = web::Data::new(AppState {
            shop: shop.clone(),
            settings: Arc::new(settings),
            metrics: metrics.clone(),
            limits,
            cookie_key,
            queue: queue.clone(),
        });

        let drain = state.settings.shutdown_drain;
        let draining = Draining::default();
        let draining_flag = web::Data::new(draining.clone());
        let origins = state.settings.cors_allowed_origins.clone();
        let trust_request_ids = state.settings.trust_forwarded_for;
        // Behind a trusted proxy every connection is the proxy's: it limits its own clients.
        let max_connections = if state.settings.trust_forwarded_for {
            u32::MAX
        } else {
            state.settings.max_connections_per_client
        };
        let connections = Arc::new(ConnectionCounter::default());
        let keep_alive = state.settings.connections.keep_alive;
        let access_log = log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(draining_flag.clone())
                // Innermost: HEAD is routed as GET (logs and metrics still say HEAD).
                .wrap(from_fn(methods::head_as_get))
                .wrap(from_fn(unready_while_draining))
                .wrap(from_fn(record_metrics))
                .wrap(security_headers())
                // The access log only when its lines are written: actix's Logger renders every
                // request's line before the log filter drops it (a quarter of the instructions
                // of a `GET /api/tickets`, counted with callgrind, with `RUST_LOG=warn`).
                .wrap(Condition::new(
                    access_log,
                    Logger::new(r#"%a "%r" %s %b %Dms %{x-request-id}o"#).exclude("/healthz"),
                ))
                .wrap(from_fn(move |req, next| connections::limit(max_connections, req, next)))
                // Outermost, so every line logged while serving a request carries its id.
                .wrap(from_fn(move |req, next| request_id::assign(trust_request_ids, req, next)))
                .configure(|cfg| routes_config(cfg, &origins))
        })
        .on_connect(move |conn, extensions| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
                && let Ok(peer) = tcp.peer_addr()
            {
                extensions.insert(connections.open(peer.ip()));
            }
        })
        .keep_alive(if keep_alive.is_zero() { KeepAlive::Disabled } else { KeepAlive::Timeout(keep_alive) })
        // After the drain: stop accepting, let in-flight requests (payments included) finish.
        .shutdown_timeout(30)
        // Signals are handled in `run_until_stopped`, to drain before stopping.
        .disable_signals()
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr: format!("port {port}"), source })?
        .run();

        Ok(Self { addr, port, server, shop, queue, draining, drain, metrics, backups, wal_checkpoints })
    }

    /// The port actually bound (useful when `BIND_ADDR` asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Serves until the server is stopped, sweeping expired holds in the background.
    ///
    /// SIGTERM drains: `/readyz` answers 503 at once while everything else is still served
    /// for `SHUTDOWN_DRAIN_SECS` (so a load balancer that checks every few seconds takes the
    /// process out before it goes), then the server stops accepting, finishes the requests in
    /// flight (up to 30 s) and returns. SIGINT and SIGQUIT stop at once.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeper = actix_web::rt::spawn(self.shop.clone().run_sweeper());
        let refunds = actix_web::rt::spawn(self.shop.clone().run_refund_worker());
        let emails = actix_web::rt::spawn(self.shop.clone().run_email_sender());
        let backups = self.backups.clone().map(|b| actix_web::rt::spawn(b.run(self.metrics.clone())));
        let keeper = actix_web::rt::spawn(self.queue.clone().run_keeper());
        let checkpoints = self
            .wal_checkpoints
            .then(|| actix_web::rt::spawn(self.shop.clone().run_wal_checkpoints(WAL_CHECKPOINT_PERIOD)));
        let signals = watch_signals(self.server.handle(), self.draining.clone(), self.drain);
        let result = self.server.await;
        sweeper.abort();
        refunds.abort();
        emails.abort();
        if let Some(backups) = backups {
            backups.abort();
        }
        keeper.abort();
        if let Some(checkpoints) = checkpoints {
            checkpoints.abort();
        }
        for task in signals {
            task.abort();
        }
        result
    }
}

/// The simulated gateway the settings describe.
pub fn simulated_gateway(settings: &Settings) -> SimulatedGateway {
    SimulatedGateway {
        refund_failure_rate: settings.payment_refund_failure_rate,
        hang_rate: settings.payment_hang_rate,
        ledger: Arc::new(Ledger::at(settings.payment_ledger.clone())),
        ..SimulatedGateway::new(settings.payment_success_rate, settings.payment_delay)
    }
}

/// Every route, in one place. `/api` answers cross-origin requests from `cors_origins` only.
pub fn routes_config(cfg: &mut web::ServiceConfig, cors_origins: &[String]) {
    cfg.service(
        web::scope("/api")
            .wrap(cors(cors_origins))
            .service(routes::api::tickets)
            .service(routes::api::create_booking)
            .service(routes::api::show_booking)
            .service(routes::queue::api)
            .service(methods::fallback(methods::Words::Json))
            .default_service(web::to(routes::api::not_found)),
    )
    .service(routes::pages::index)
    .service(routes::pages::basic)
    .service(routes::pages::availability)
    .service(routes::queue::page)
    .service(routes::admin::queue_pause)
    .service(routes::admin::queue_rate)
    .service(routes::pages::booking)
    .service(routes::bookings::create)
    .service(routes::admin::index)
    .service(routes::admin::login_form)
    .service(routes::admin::login)
    .service(routes::admin::logout)
    .service(routes::admin::set_available)
    .service(routes::admin::reset)
    .service(routes::calendar::calendar)
    .service(routes::find::find_form)
    .service(routes::find::find)
    .service(routes::admin::retry_email)
    .service(routes::door::login_form)
    .service(routes::door::login)
    .service(routes::door::index)
    .service(routes::door::check_in)
    .service(routes::door::logout)
    .service(routes::health::healthz)
    .service(routes::health::readyz)
    .service(routes::health::metrics)
    .service(routes::assets::serve)
    .service(routes::assets::favicon)
    // Last: a known path with another method is a 405 with `Allow`, an unknown one a 404.
    .service(methods::fallback(methods::Words::Page))
    .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound("There is no page at this address.".into()))
}

/// CORS for the original React frontend: the configured origins get a grant (preflight
/// included); any other origin gets none (the request is answered without CORS headers, so a
/// browser withholds the response, and a JSON POST never passes its preflight).
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST"])
        .allowed_headers([header::CONTENT_TYPE, header::ACCEPT])
        .allowed_header("Idempotency-Key")
        .block_on_origin_mismatch(false)
        .max_age(3600)
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}

/// Counts requests by route pattern and status, with latency.
async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<AppState>>().map(|s| s.metrics.clone());
    let method = req.method().to_string();
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = response
            .request()
            .match_pattern()
            .filter(|p| !methods::is_catch_all(p))
            .unwrap_or_else(|| "unmatched".into());
        metrics.observe_request(&method, &route, response.status().as_u16(), started.elapsed());
    }
    Ok(response)
}
