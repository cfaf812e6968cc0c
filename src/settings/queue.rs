//! The waiting room's settings (SPEC §13): `SALE_OPENS_AT`, `QUEUE_ADMIT_PER_MIN`,
//! `QUEUE_ACTIVE_MAX`, `QUEUE_SESSION_SECS`.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::{SettingsError, Vars, fault};

/// The waiting room; with `opens_at` unset there is none, and nothing changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// When sales open, in the offset it was given in. `None`: on sale now, no waiting room.
    pub opens_at: Option<DateTime<FixedOffset>>,
    /// Fans let in per minute at most (the admin may change it while the sale runs).
    pub admit_per_min: i64,
    /// Admitted fans shopping at once, at most.
    pub active_max: i64,
    /// How long an admission lasts.
    pub session: Duration,
}

impl Default for QueueSettings {
    /// No waiting room; the spec's defaults for the rest.
    fn default() -> Self {
        Self { opens_at: None, admit_per_min: 1000, active_max: 1000, session: Duration::from_secs(600) }
    }
}

impl QueueSettings {
    /// Reads the waiting room's variables.
    pub fn parse(vars: Vars) -> Result<Self, SettingsError> {
        let opens_at = match vars.get("SALE_OPENS_AT") {
            None => None,
            Some(raw) => Some(DateTime::parse_from_rfc3339(raw.trim()).map_err(|e| {
                fault(
                    "SALE_OPENS_AT",
                    format!(
                        "{raw:?} is not an RFC 3339 date and time such as 2027-05-01T10:00:00+02:00 ({e})"
                    ),
                )
            })?),
        };
        Ok(Self {
            opens_at,
            admit_per_min: vars.parse_in("QUEUE_ADMIT_PER_MIN", 1000, 1..=1_000_000)?,
            active_max: vars.parse_in("QUEUE_ACTIVE_MAX", 1000, 1..=10_000_000)?,
            session: Duration::from_secs(vars.parse_in("QUEUE_SESSION_SECS", 600, 1..=86_400)?),
        })
    }

    /// The opening in UTC milliseconds.
    pub fn opens_at_millis(&self) -> Option<i64> {
        self.opens_at.map(|t| t.timestamp_millis())
    }

    /// How long an admission lasts (`QUEUE_SESSION_SECS`), in milliseconds.
    pub fn session_millis(&self) -> i64 {
        i64::try_from(self.session.as_millis()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<QueueSettings, SettingsError> {
        let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        QueueSettings::parse(Vars::new(&lookup))
    }

    #[test]
    fn unset_there_is_no_waiting_room_and_the_defaults_are_the_spec_s() {
        let s = parse(&[]).expect("defaults");
        assert_eq!(s.opens_at, None);
        assert_eq!((s.admit_per_min, s.active_max, s.session), (1000, 1000, Duration::from_secs(600)));
        let s = parse(&[("SALE_OPENS_AT", "2027-05-01T10:00:00+02:00")]).expect("valid");
        assert_eq!(s.opens_at_millis(), Some(1_809_158_400_000));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("SALE_OPENS_AT", "tomorrow at ten"),
            ("SALE_OPENS_AT", "2027-05-01 10:00"),
            ("QUEUE_ADMIT_PER_MIN", "0"),
            ("QUEUE_ADMIT_PER_MIN", "many"),
            ("QUEUE_ACTIVE_MAX", "-5"),
            ("QUEUE_SESSION_SECS", "0"),
            ("QUEUE_SESSION_SECS", "86401"),
        ] {
            let err = parse(&[(variable, value)]).expect_err(value);
            assert_eq!(err.variable, variable, "{err}");
        }
    }
}
