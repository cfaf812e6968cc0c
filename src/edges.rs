//! The settings of SPEC §15 (behind a proxy, and at the edges), parsed beside the others in
//! `Settings::from_lookup`: `FORWARDED_HEADER`, `RATE_LIMIT_DOOR_PER_MIN`, `METRICS_TOKEN`.

use crate::client_addr::ForwardedHeader;
use crate::settings::{Secret, SettingsError};

#[derive(Clone, Debug)]
pub struct EdgeSettings {
    /// The one header a trusted proxy writes the client's address into (with
    /// `TRUST_FORWARDED_FOR`); the other is ignored.
    pub forwarded_header: ForwardedHeader,
    /// Door POSTs (check-ins) per signed-in door session per minute (`0` = off).
    pub rate_limit_door_per_min: u32,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
}

impl EdgeSettings {
    /// Reads the settings through `get` (which answers `None` for unset or blank).
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let fault = |variable: &'static str, fault: String| SettingsError { variable, fault };
        let forwarded_header = match get("FORWARDED_HEADER") {
            None => ForwardedHeader::XForwardedFor,
            Some(v) => ForwardedHeader::parse(&v).map_err(|e| fault("FORWARDED_HEADER", e))?,
        };
        let rate_limit_door_per_min = match get("RATE_LIMIT_DOOR_PER_MIN") {
            None => 600,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| fault("RATE_LIMIT_DOOR_PER_MIN", format!("{v:?} is not a whole number")))?,
        };
        let metrics_token = match get("METRICS_TOKEN") {
            None => None,
            Some(t) if t.trim().len() < 16 || t.trim().chars().any(|c| !c.is_ascii_graphic()) => {
                return Err(fault(
                    "METRICS_TOKEN",
                    "must be at least 16 visible ASCII characters (it goes in an HTTP header)".into(),
                ));
            }
            Some(t) => Some(Secret::new(t.trim())),
        };
        Ok(Self { forwarded_header, rate_limit_door_per_min, metrics_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<EdgeSettings, SettingsError> {
        EdgeSettings::parse(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn unset_settings_take_the_defaults() {
        let s = parse(&[]).expect("defaults");
        assert_eq!(s.forwarded_header, ForwardedHeader::XForwardedFor);
        assert_eq!(s.rate_limit_door_per_min, 600);
        assert!(s.metrics_token.is_none());
    }

    #[test]
    fn values_are_checked_and_the_token_never_prints() {
        let s = parse(&[
            ("FORWARDED_HEADER", "Forwarded"),
            ("RATE_LIMIT_DOOR_PER_MIN", "0"),
            ("METRICS_TOKEN", "scrape-me-please-0123"),
        ])
        .expect("valid");
        assert_eq!(s.forwarded_header, ForwardedHeader::Forwarded);
        assert_eq!(s.rate_limit_door_per_min, 0);
        assert!(!format!("{s:?}").contains("scrape-me"));
        for (variable, value) in [
            ("FORWARDED_HEADER", "x-real-ip"),
            ("RATE_LIMIT_DOOR_PER_MIN", "-1"),
            ("METRICS_TOKEN", "short"),
            ("METRICS_TOKEN", "sixteen chars with spaces"),
        ] {
            let err = parse(&[(variable, value)]).expect_err(variable);
            assert_eq!(err.variable, variable, "{err}");
        }
    }
}
