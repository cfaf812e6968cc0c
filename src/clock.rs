//! Wall-clock time as UTC milliseconds, the unit stored in the database.

use chrono::{DateTime, Utc};

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2026-11-25 17:04:05 UTC`.
pub fn format_millis(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// RFC 3339 with milliseconds (`2026-11-25T17:04:05.123Z`), as JavaScript's `toISOString`.
pub fn iso_millis(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
