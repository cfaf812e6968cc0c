//! Prometheus metrics kept in process memory and written out in the text exposition format.
//! Hand-rolled (a few counters and histograms) to keep the dependency tree small.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a booking attempt ended, as counted in `techkraft_bookings_total{outcome=…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Each attempt (a form or API submit that reached the booking code) counts once.
pub enum BookingOutcome {
    Confirmed,
    SoldOut,
    PaymentFailed,
    /// Refused before anything was reserved: a field (422), an unknown tier, a reused key.
    Invalid,
    /// A repeated idempotency key, answered with the first attempt's outcome.
    Replayed,
    Refunded,
    Error,
}

impl BookingOutcome {
    const ALL: [BookingOutcome; 7] = [
        Self::Confirmed,
        Self::SoldOut,
        Self::PaymentFailed,
        Self::Invalid,
        Self::Replayed,
        Self::Refunded,
        Self::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::SoldOut => "sold_out",
            Self::PaymentFailed => "payment_failed",
            Self::Invalid => "invalid",
            Self::Replayed => "replayed",
            Self::Refunded => "refunded",
            Self::Error => "error",
        }
    }
}

/// Bucket upper bounds in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, slot) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *slot += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, n) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// The process's metrics. Cheap to update from any thread.
#[derive(Debug, Default)]
pub struct Metrics {
    bookings: [AtomicU64; BookingOutcome::ALL.len()],
    holds_expired: AtomicU64,
    refunds_paid: AtomicU64,
    refunds_failed: AtomicU64,
    payment: Mutex<Histogram>,
    /// (method, route pattern, status) → latency histogram.
    http: Mutex<BTreeMap<(String, String, u16), Histogram>>,
}

/// Figures read at scrape time rather than counted.
#[derive(Debug, Default)]
pub struct Gauges {
    /// (tier id, seats available)
    pub seats_available: Vec<(String, i64)>,
    pub pool_connections: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
}

impl Metrics {
    pub fn record_booking(&self, outcome: BookingOutcome) {
        let i = BookingOutcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.bookings[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Holds the sweeper expired (their seats went back).
    pub fn record_expired_holds(&self, n: usize) {
        self.holds_expired.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A refund the gateway paid (`true`) or failed (`false`).
    pub fn record_refund(&self, paid: bool) {
        let counter = if paid { &self.refunds_paid } else { &self.refunds_failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_payment(&self, elapsed: Duration) {
        if let Ok(mut h) = self.payment.lock() {
            h.observe(elapsed.as_secs_f64());
        }
    }

    /// Records one HTTP request. `route` is the matched pattern (`/bookings/{reference}`) or
    /// `unmatched`, never the raw path, and a method outside the standard ones is `other`, so
    /// the number of series stays bounded whatever clients send.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        const METHODS: [&str; 9] =
            ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];
        let method = METHODS.into_iter().find(|m| *m == method).unwrap_or("other");
        if let Ok(mut map) = self.http.lock() {
            map.entry((method.to_owned(), route.to_owned(), status))
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    /// The text exposition format.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        out.push_str("# HELP techkraft_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE techkraft_http_requests_total counter\n");
        let http = self.http.lock().map(|m| m.clone()).unwrap_or_default();
        for ((method, route, status), h) in &http {
            let _ = writeln!(
                out,
                "techkraft_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                h.count
            );
        }
        out.push_str("# HELP techkraft_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE techkraft_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in &http {
            let labels = format!("method=\"{method}\",route=\"{}\",status=\"{status}\"", escape(route));
            h.write(&mut out, "techkraft_http_request_duration_seconds", &labels);
        }

        out.push_str("# HELP techkraft_bookings_total Booking attempts by outcome.\n");
        out.push_str("# TYPE techkraft_bookings_total counter\n");
        for (outcome, n) in BookingOutcome::ALL.iter().zip(&self.bookings) {
            let _ = writeln!(
                out,
                "techkraft_bookings_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                n.load(Ordering::Relaxed)
            );
        }

        out.push_str("# HELP techkraft_holds_expired_total Seat holds the sweeper expired.\n");
        out.push_str("# TYPE techkraft_holds_expired_total counter\n");
        let _ = writeln!(out, "techkraft_holds_expired_total {}", self.holds_expired.load(Ordering::Relaxed));

        out.push_str("# HELP techkraft_refunds_total Refund calls to the gateway by result.\n");
        out.push_str("# TYPE techkraft_refunds_total counter\n");
        let _ = writeln!(
            out,
            "techkraft_refunds_total{{result=\"paid\"}} {}",
            self.refunds_paid.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "techkraft_refunds_total{{result=\"failed\"}} {}",
            self.refunds_failed.load(Ordering::Relaxed)
        );

        out.push_str("# HELP techkraft_payment_duration_seconds Time the payment gateway took.\n");
        out.push_str("# TYPE techkraft_payment_duration_seconds histogram\n");
        let payment = self.payment.lock().map(|h| h.clone()).unwrap_or_default();
        payment.write(&mut out, "techkraft_payment_duration_seconds", "");

        out.push_str("# HELP techkraft_seats_available Seats available per tier.\n");
        out.push_str("# TYPE techkraft_seats_available gauge\n");
        for (tier, n) in &gauges.seats_available {
            let _ = writeln!(out, "techkraft_seats_available{{tier=\"{}\"}} {n}", escape(tier));
        }
        out.push_str("# HELP techkraft_db_pool_connections Pooled database connections by state.\n");
        out.push_str("# TYPE techkraft_db_pool_connections gauge\n");
        let in_use = gauges.pool_connections.saturating_sub(gauges.pool_idle);
        let _ = writeln!(out, "techkraft_db_pool_connections{{state=\"in_use\"}} {in_use}");
        let _ = writeln!(out, "techkraft_db_pool_connections{{state=\"idle\"}} {}", gauges.pool_idle);
        let _ = writeln!(out, "techkraft_db_pool_connections{{state=\"max\"}} {}", gauges.pool_max);
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counted() {
        let m = Metrics::default();
        m.observe_request("GET", "/", 200, Duration::from_millis(3));
        m.observe_request("GET", "/", 200, Duration::from_millis(300));
        let text = m.render(&Gauges::default());
        assert!(
            text.contains(r#"techkraft_http_requests_total{method="GET",route="/",status="200"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"techkraft_http_request_duration_seconds_bucket{method="GET",route="/",status="200",le="0.005"} 1"#));
        assert!(text.contains(r#"techkraft_http_request_duration_seconds_bucket{method="GET",route="/",status="200",le="0.5"} 2"#));
    }

    #[test]
    fn booking_outcomes_are_counted_by_label() {
        let m = Metrics::default();
        m.record_booking(BookingOutcome::SoldOut);
        m.record_booking(BookingOutcome::SoldOut);
        let text = m.render(&Gauges::default());
        assert!(text.contains(r#"techkraft_bookings_total{outcome="sold_out"} 2"#));
        assert!(text.contains(r#"techkraft_bookings_total{outcome="confirmed"} 0"#));
    }

    #[test]
    fn odd_methods_share_one_label() {
        let m = Metrics::default();
        for i in 0..100 {
            m.observe_request(&format!("X{i}"), "unmatched", 400, Duration::from_millis(1));
        }
        m.observe_request("GET", "/", 200, Duration::from_millis(1));
        let text = m.render(&Gauges::default());
        assert!(
            text.contains(
                r#"techkraft_http_requests_total{method="other",route="unmatched",status="400"} 100"#
            ),
            "{text}"
        );
        assert!(!text.contains("X1"));
    }
}
