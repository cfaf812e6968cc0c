//! The concert itself: its name, venue and start time, from `EVENT_NAME`, `EVENT_VENUE` and
//! `EVENT_STARTS_AT` (RFC 3339). Parsed once at start; pages show it at a glance.

use chrono::{DateTime, FixedOffset};

/// Default `EVENT_NAME`.
pub const DEFAULT_NAME: &str = "TechKraft Live";
/// Default `EVENT_VENUE`: a placeholder hall, to be set for a real concert.
pub const DEFAULT_VENUE: &str = "TechKraft Arena, Main Hall";
/// Default `EVENT_STARTS_AT`: a Saturday evening, in the venue's own offset.
pub const DEFAULT_STARTS_AT: &str = "2027-06-19T20:00:00-04:00";

/// The concert the shop sells tickets for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub venue: String,
    /// The start, in the offset it was given in (the venue's local time).
    pub starts_at: DateTime<FixedOffset>,
}

/// An event setting that could not be used: names the variable and the fault.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("setting {variable}: {fault}")]
pub struct EventError {
    pub variable: &'static str,
    pub fault: String,
}

impl Event {
    /// Parses the three settings; `None` (unset or blank) takes the default.
    pub fn parse(
        name: Option<&str>,
        venue: Option<&str>,
        starts_at: Option<&str>,
    ) -> Result<Self, EventError> {
        let name = text("EVENT_NAME", name.unwrap_or(DEFAULT_NAME), 100)?;
        let venue = text("EVENT_VENUE", venue.unwrap_or(DEFAULT_VENUE), 200)?;
        let raw = starts_at.unwrap_or(DEFAULT_STARTS_AT).trim();
        let starts_at = DateTime::parse_from_rfc3339(raw).map_err(|e| EventError {
            variable: "EVENT_STARTS_AT",
            fault: format!(
                "{raw:?} is not an RFC 3339 date and time such as 2027-06-19T20:00:00-04:00 ({e})"
            ),
        })?;
        Ok(Self { name, venue, starts_at })
    }

    /// `Saturday 19 June 2027`.
    pub fn date_text(&self) -> String {
        self.starts_at.format("%A %-d %B %Y").to_string()
    }

    /// `20:00`, in the venue's local time.
    pub fn time_text(&self) -> String {
        self.starts_at.format("%H:%M").to_string()
    }

    /// `UTC−04:00` (or `UTC`): the offset the time is given in.
    pub fn offset_text(&self) -> String {
        let seconds = self.starts_at.offset().local_minus_utc();
        if seconds == 0 {
            return "UTC".into();
        }
        let sign = if seconds < 0 { '\u{2212}' } else { '+' };
        let minutes = seconds.unsigned_abs() / 60;
        format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }

    /// RFC 3339, for `<time datetime="…">`.
    pub fn iso(&self) -> String {
        self.starts_at.to_rfc3339()
    }
}

/// One line of text: trimmed, 1 to `max` characters, no control characters.
fn text(variable: &'static str, value: &str, max: usize) -> Result<String, EventError> {
    let value = value.trim();
    let fault = |fault: String| EventError { variable, fault };
    if value.is_empty() {
        return Err(fault("must not be empty".into()));
    }
    if value.chars().count() > max {
        return Err(fault(format!("at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(fault("must be one line of text (no control characters)".into()));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_take_the_defaults() {
        let event = Event::parse(None, None, None).expect("the defaults are valid");
        assert_eq!(event.name, "TechKraft Live");
        assert_eq!(event.venue, DEFAULT_VENUE);
        assert_eq!(event.iso(), "2027-06-19T20:00:00-04:00");
        assert_eq!(event.date_text(), "Saturday 19 June 2027");
        assert_eq!(event.time_text(), "20:00");
        assert_eq!(event.offset_text(), "UTC\u{2212}04:00");
    }

    #[test]
    fn the_start_keeps_the_offset_it_was_given_in() {
        let event =
            Event::parse(Some(" Summer Gala "), Some("Tempodrom, Berlin"), Some("2027-01-02T19:30:00+01:00"))
                .expect("valid");
        assert_eq!(event.name, "Summer Gala");
        assert_eq!(event.venue, "Tempodrom, Berlin");
        assert_eq!(event.date_text(), "Saturday 2 January 2027");
        assert_eq!(event.time_text(), "19:30");
        assert_eq!(event.offset_text(), "UTC+01:00");
        let utc = Event::parse(None, None, Some("2027-01-02T18:30:00Z")).expect("valid");
        assert_eq!(utc.offset_text(), "UTC");
        assert_eq!(utc.starts_at, event.starts_at, "the same instant");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, venue, starts, variable) in [
            (Some("  "), None, None, "EVENT_NAME"),
            (Some("Line\nbreak"), None, None, "EVENT_NAME"),
            (None, Some(&*"x".repeat(201)), None, "EVENT_VENUE"),
            (None, None, Some("next Saturday"), "EVENT_STARTS_AT"),
            (None, None, Some("2027-06-19 20:00"), "EVENT_STARTS_AT"),
            (None, None, Some("2027-02-30T20:00:00Z"), "EVENT_STARTS_AT"),
        ] {
            let err = Event::parse(name, venue, starts).expect_err(variable);
            assert_eq!(err.variable, variable, "{err}");
        }
        let err = Event::parse(None, None, Some("tomorrow")).unwrap_err();
        assert!(
            err.to_string().starts_with("setting EVENT_STARTS_AT: \"tomorrow\" is not an RFC 3339"),
            "{err}"
        );
    }
}
