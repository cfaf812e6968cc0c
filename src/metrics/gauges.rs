//! What `/metrics` reads at scrape time rather than counts: seats, the pool, readiness, the
//! work waiting in the database, the newest backup.

use std::time::Duration;

use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};

/// Figures read at scrape time rather than counted.
#[derive(Debug, Default)]
pub struct Gauges {
    /// (tier id, seats available); empty when the database does not answer.
    pub seats_available: Vec<(String, i64)>,
    pub pool_connections: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
    /// What `/readyz` would answer: the database answers and the process is not draining.
    pub ready: bool,
    /// The work waiting in the database (every process reports the same figures); `None`
    /// when the database does not answer.
    pub work: Option<Work>,
    /// With `BACKUP_DIR`: when the newest backup was taken (Unix seconds; 0 before the first),
    /// and the interval.
    pub backup: Option<(i64, Duration)>,
}

/// Refunds and emails waiting, from the database.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    pub refunds_owed: i64,
    /// Age of the oldest refund owed, in seconds (0 when none is).
    pub refund_oldest_owed_secs: i64,
    pub emails_pending: i64,
    /// Emails that failed `EMAIL_MAX_ATTEMPTS` times and wait for "send again".
    pub emails_given_up: i64,
    /// Bookings whose charge the reconciliation has yet to ask the gateway about.
    pub charge_checks: i64,
    /// How long ago the oldest of them was booked, in seconds (0 when none waits).
    pub charge_check_oldest_secs: i64,
}

impl Gauges {
    /// The scrape-time figures as metrics of a registry of their own (built per scrape, so a
    /// figure that is gone, such as seats when the database is down, is simply absent).
    pub(super) fn registry(&self) -> Registry {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str, value: i64| {
            let g = IntGauge::new(name, help).expect("a valid metric");
            g.set(value);
            let _ = registry.register(Box::new(g));
        };
        let gauge_vec = |name: &str, help: &str, label: &str, values: &[(&str, i64)]| {
            let g = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("a valid metric");
            for (label, value) in values {
                g.with_label_values(&[label]).set(*value);
            }
            let _ = registry.register(Box::new(g));
        };
        let seats: Vec<(&str, i64)> = self.seats_available.iter().map(|(t, n)| (t.as_str(), *n)).collect();
        gauge_vec("techkraft_seats_available", "Seats available per tier.", "tier", &seats);
        let in_use = i64::from(self.pool_connections.saturating_sub(self.pool_idle));
        let pool =
            [("in_use", in_use), ("idle", i64::from(self.pool_idle)), ("max", i64::from(self.pool_max))];
        gauge_vec("techkraft_db_pool_connections", "Pooled database connections by state.", "state", &pool);
        gauge(
            "techkraft_ready",
            "1 when /readyz would answer 200 (the database answers, not draining).",
            i64::from(self.ready),
        );
        gauge_vec(
            "techkraft_build_info",
            "The running version (always 1).",
            "version",
            &[(env!("CARGO_PKG_VERSION"), 1)],
        );
        if let Some(work) = self.work {
            gauge(
                "techkraft_refunds_owed",
                "Refunds owed and not yet paid (whole database).",
                work.refunds_owed,
            );
            gauge(
                "techkraft_refund_oldest_owed_seconds",
                "Age of the oldest refund owed, 0 when none is (whole database).",
                work.refund_oldest_owed_secs,
            );
            gauge(
                "techkraft_emails_pending",
                "Emails waiting to be sent (whole database).",
                work.emails_pending,
            );
            gauge(
                "techkraft_emails_given_up",
                "Emails that failed EMAIL_MAX_ATTEMPTS times, waiting for Send again (whole database).",
                work.emails_given_up,
            );
            gauge(
                "techkraft_charge_checks_pending",
                "Bookings that ended without a charge on record, waiting for the reconciliation to ask the gateway (whole database).",
                work.charge_checks,
            );
            gauge(
                "techkraft_charge_check_oldest_seconds",
                "How long ago the oldest booking waiting for the reconciliation was made, 0 when none waits.",
                work.charge_check_oldest_secs,
            );
        }
        if let Some((newest, interval)) = self.backup {
            gauge(
                "techkraft_backup_newest_timestamp_seconds",
                "When the newest backup in BACKUP_DIR was taken (Unix time; 0: none yet).",
                newest,
            );
            gauge("techkraft_backup_interval_seconds", "BACKUP_INTERVAL_SECS.", interval.as_secs() as i64);
        }
        registry
    }
}
