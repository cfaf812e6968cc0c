//! Prometheus metrics, kept by the `prometheus` crate (tikv/rust-prometheus, no default
//! features: the text format only) and written in its text exposition format. Every label
//! takes values from a closed set (an enum here, a route pattern, a standard method, a status),
//! so the number of series stays bounded whatever clients send.
//!
//! Counted as things happen: requests, booking attempts, expired holds, refunds, emails,
//! check-ins, backups. Read at scrape time ([`Gauges`]): seats, the pool, readiness, the work
//! waiting in the database, the newest backup.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

mod gauges;
mod outcomes;
pub use gauges::{Gauges, Work};
pub use outcomes::{BookingOutcome, CheckInOutcome, EmailOutcome};

/// Bucket upper bounds in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The process's metrics. Cheap to update from any thread.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    bookings: IntCounterVec,
    holds_expired: IntCounter,
    refunds: IntCounterVec,
    emails: IntCounterVec,
    check_ins: IntCounterVec,
    backups: IntCounterVec,
    payment: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn counter_vec(registry: &Registry, name: &str, help: &str, label: &str, values: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), &[label]).expect("a valid metric");
    // Every series exists from the start (at 0), so a rate over the first event works.
    for value in values {
        vec.with_label_values(&[value]);
    }
    registry.register(Box::new(vec.clone())).expect("one metric of each name");
    vec
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let histogram = |name: &str, help: &str| HistogramOpts::new(name, help).buckets(BUCKETS.to_vec());
        let http_requests = IntCounterVec::new(
            Opts::new("techkraft_http_requests_total", "HTTP requests by method, route and status."),
            &["method", "route", "status"],
        )
        .expect("a valid metric");
        let http_duration = HistogramVec::new(
            histogram("techkraft_http_request_duration_seconds", "HTTP request latency."),
            &["method", "route", "status"],
        )
        .expect("a valid metric");
        let holds_expired =
            IntCounter::new("techkraft_holds_expired_total", "Seat holds the sweeper expired.")
                .expect("valid");
        let payment = Histogram::with_opts(histogram(
            "techkraft_payment_duration_seconds",
            "Time the payment gateway took.",
        ))
        .expect("a valid metric");
        let collectors: [Box<dyn Collector>; 4] = [
            Box::new(http_requests.clone()),
            Box::new(http_duration.clone()),
            Box::new(holds_expired.clone()),
            Box::new(payment.clone()),
        ];
        for collector in collectors {
            registry.register(collector).expect("one metric of each name");
        }
        let r = &registry;
        Self {
            bookings: counter_vec(
                r,
                "techkraft_bookings_total",
                "Booking attempts by outcome.",
                "outcome",
                &BookingOutcome::labels(),
            ),
            refunds: counter_vec(
                r,
                "techkraft_refunds_total",
                "Refund calls to the gateway by outcome (a failed one is retried until it is paid).",
                "outcome",
                &["paid", "failed"],
            ),
            emails: counter_vec(
                r,
                "techkraft_emails_total",
                "Email sends by outcome (given_up: the last attempt failed).",
                "outcome",
                &EmailOutcome::labels(),
            ),
            check_ins: counter_vec(
                r,
                "techkraft_check_ins_total",
                "Ticket codes checked at the door by outcome.",
                "outcome",
                &CheckInOutcome::labels(),
            ),
            backups: counter_vec(
                r,
                "techkraft_backups_total",
                "Scheduled backups by outcome.",
                "outcome",
                &["written", "failed"],
            ),
            registry,
            http_requests,
            http_duration,
            holds_expired,
            payment,
        }
    }
}

impl Metrics {
    pub fn record_booking(&self, outcome: BookingOutcome) {
        inc(&self.bookings, outcome.label());
    }

    /// Holds the sweeper expired (their seats went back).
    pub fn record_expired_holds(&self, n: usize) {
        self.holds_expired.inc_by(n as u64);
    }

    /// A refund the gateway paid (`true`) or failed (`false`).
    pub fn record_refund(&self, paid: bool) {
        inc(&self.refunds, if paid { "paid" } else { "failed" });
    }

    pub fn record_email(&self, outcome: EmailOutcome) {
        inc(&self.emails, outcome.label());
    }

    pub fn record_check_in(&self, outcome: CheckInOutcome) {
        inc(&self.check_ins, outcome.label());
    }

    /// A scheduled backup written (`true`) or failed.
    pub fn record_backup(&self, written: bool) {
        inc(&self.backups, if written { "written" } else { "failed" });
    }

    pub fn observe_payment(&self, elapsed: Duration) {
        self.payment.observe(elapsed.as_secs_f64());
    }

    /// Records one HTTP request. `route` is the matched pattern (`/bookings/{reference}`) or
    /// `unmatched`, never the raw path, and a method outside the standard ones is `other`.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        const METHODS: [&str; 9] =
            ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
        let method = METHODS.into_iter().find(|m| *m == method).unwrap_or("other");
        let status = actix_web::http::StatusCode::from_u16(status);
        let status = status.as_ref().map_or("other", |s| s.as_str());
        let labels = [method, route, status];
        if let Ok(counter) = self.http_requests.get_metric_with_label_values(&labels) {
            counter.inc();
        }
        if let Ok(histogram) = self.http_duration.get_metric_with_label_values(&labels) {
            histogram.observe(elapsed.as_secs_f64());
        }
    }

    /// The text exposition format: the counters, then `gauges`.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut families = self.registry.gather();
        families.extend(gauges.registry().gather());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            log::error!("metrics: cannot encode: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

fn inc(vec: &IntCounterVec, label: &str) {
    if let Ok(counter) = vec.get_metric_with_label_values(&[label]) {
        counter.inc();
    }
}

#[cfg(test)]
mod tests;
