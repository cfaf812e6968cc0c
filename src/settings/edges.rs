//! The settings of SPEC §15 (behind a proxy, and at the edges): `FORWARDED_HEADER`,
//! `RATE_LIMIT_DOOR_PER_MIN`, `METRICS_TOKEN`.

use super::vars::{Vars, fault};
use super::{SecretString, SettingsError};
use crate::client_addr::ForwardedHeader;

#[derive(Clone, Debug)]
pub struct EdgeSettings {
    /// The one header a trusted proxy writes the client's address into (with
    /// `TRUST_FORWARDED_FOR`); the other is ignored.
    pub forwarded_header: ForwardedHeader,
    /// Door POSTs (check-ins) per signed-in door session per minute (`0` = off).
    pub rate_limit_door_per_min: u32,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,
}

impl EdgeSettings {
    /// Reads the settings of this group.
    pub fn parse(vars: Vars) -> Result<Self, SettingsError> {
        let metrics_token = match vars.get("METRICS_TOKEN").map(|t| t.trim().to_owned()) {
            None => None,
            Some(t) if t.len() < 16 || t.chars().any(|c| !c.is_ascii_graphic()) => {
                let why = "must be at least 16 visible ASCII characters (it goes in an HTTP header)";
                return Err(fault("METRICS_TOKEN", why));
            }
            Some(t) => Some(SecretString::from(t)),
        };
        Ok(Self {
            forwarded_header: vars.with("FORWARDED_HEADER", "x-forwarded-for", ForwardedHeader::parse)?,
            rate_limit_door_per_min: vars.parse("RATE_LIMIT_DOOR_PER_MIN", 600)?,
            metrics_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<EdgeSettings, SettingsError> {
        let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        EdgeSettings::parse(Vars::new(&lookup))
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
