//! `LISTEN_BACKLOG` and `KEEP_ALIVE_SECS` (SPEC §12, "Connections"); `crate::listener` binds
//! the socket with them.

use std::time::Duration;

use super::{SettingsError, Vars};

/// Default `LISTEN_BACKLOG`.
pub const DEFAULT_BACKLOG: u32 = 4096;
/// Default `KEEP_ALIVE_SECS`: fifteen polls of the default five seconds.
pub const DEFAULT_KEEP_ALIVE_SECS: u64 = 75;

/// `LISTEN_BACKLOG` and `KEEP_ALIVE_SECS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// The accept queue asked of the kernel.
    pub listen_backlog: u32,
    /// How long an idle keep-alive connection stays open (zero: closed after each answer).
    pub keep_alive: Duration,
}

impl ConnectionSettings {
    /// Reads `LISTEN_BACKLOG` and `KEEP_ALIVE_SECS`.
    pub fn parse(vars: Vars) -> Result<Self, SettingsError> {
        Ok(Self {
            listen_backlog: vars.parse_in("LISTEN_BACKLOG", DEFAULT_BACKLOG, 1..=65_535)?,
            keep_alive: Duration::from_secs(vars.parse_in(
                "KEEP_ALIVE_SECS",
                DEFAULT_KEEP_ALIVE_SECS,
                0..=3600,
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<ConnectionSettings, SettingsError> {
        let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        ConnectionSettings::parse(Vars::new(&lookup))
    }

    #[test]
    fn defaults_outlive_the_poll_interval_and_queue_a_rush() {
        let s = parse(&[]).expect("defaults");
        assert_eq!(s.listen_backlog, 4096);
        assert_eq!(s.keep_alive, Duration::from_secs(75));
        let s = parse(&[("LISTEN_BACKLOG", "1024"), ("KEEP_ALIVE_SECS", "0")]).expect("valid");
        assert_eq!((s.listen_backlog, s.keep_alive), (1024, Duration::ZERO));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (variable, value) in [
            ("LISTEN_BACKLOG", "0"),
            ("LISTEN_BACKLOG", "70000"),
            ("LISTEN_BACKLOG", "lots"),
            ("KEEP_ALIVE_SECS", "-1"),
            ("KEEP_ALIVE_SECS", "3601"),
        ] {
            let err = parse(&[(variable, value)]).expect_err(value);
            assert_eq!(err.variable, variable, "{err}");
        }
    }
}
