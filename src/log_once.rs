//! Repeated errors are logged once a second with a count, not once per request: during a
//! database outage every request, every pooled connection attempt and every readiness check
//! fails the same way, and forty identical lines a second bury everything else (and fill
//! disks). Each kind of message has a one-second window: its first occurrence is logged, the
//! rest are counted, and the next line logged after the window says how many were left out.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often one kind of message may be logged.
pub const WINDOW: Duration = Duration::from_secs(1);

/// The windows of every kind of message.
#[derive(Debug, Default)]
pub struct Throttle {
    windows: Mutex<HashMap<&'static str, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    left_out: u64,
}

impl Throttle {
    /// Whether a message of `kind` occurring at `now` is to be logged: `Some(n)` with the
    /// number of messages of its kind left out since the last one logged, `None` to leave
    /// this one out (it is counted).
    pub fn admit_at(&self, kind: &'static str, now: Instant) -> Option<u64> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match windows.get_mut(kind) {
            Some(window) if now.saturating_duration_since(window.started) < WINDOW => {
                window.left_out += 1;
                None
            }
            Some(window) => {
                let left_out = window.left_out;
                *window = Window { started: now, left_out: 0 };
                Some(left_out)
            }
            None => {
                windows.insert(kind, Window { started: now, left_out: 0 });
                Some(0)
            }
        }
    }

    /// Takes the count of messages of `kind` left out so far (for a closing line, such as
    /// "the database is back"), and starts the kind afresh.
    pub fn take(&self, kind: &'static str) -> u64 {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        windows.remove(kind).map_or(0, |w| w.left_out)
    }
}

fn global() -> &'static Throttle {
    static THROTTLE: OnceLock<Throttle> = OnceLock::new();
    THROTTLE.get_or_init(Throttle::default)
}

/// Logs `message` at `level` unless a message of `kind` was logged within the last second.
pub fn log(level: log::Level, kind: &'static str, message: impl FnOnce() -> String) {
    if !log::log_enabled!(level) {
        return;
    }
    if let Some(left_out) = global().admit_at(kind, Instant::now()) {
        let message = message();
        match left_out {
            0 => log::log!(level, "{message}"),
            n => log::log!(level, "{message} (and {n} more like it since the last such line)"),
        }
    }
}

/// [`log()`] at WARN.
pub fn warn(kind: &'static str, message: impl FnOnce() -> String) {
    log(log::Level::Warn, kind, message);
}

/// [`log()`] at ERROR.
pub fn error(kind: &'static str, message: impl FnOnce() -> String) {
    log(log::Level::Error, kind, message);
}

/// How many messages of `kind` were left out and not yet reported; starts the kind afresh.
pub fn take(kind: &'static str) -> u64 {
    global().take(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_per_kind_with_the_count_of_the_rest() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(throttle.admit_at("503", t0), Some(0));
        // Forty a second for two seconds: one line a second.
        let mut logged = Vec::new();
        for i in 1..80u64 {
            if let Some(n) = throttle.admit_at("503", t0 + Duration::from_millis(i * 25)) {
                logged.push(n);
            }
        }
        assert_eq!(logged, [39], "the second line says how many the first second left out");
        assert_eq!(throttle.admit_at("db connect", t0), Some(0), "kinds are counted apart");
        assert_eq!(throttle.take("503"), 39);
        assert_eq!(throttle.admit_at("503", t0 + Duration::from_millis(2001)), Some(0), "afresh after take");
    }
}
