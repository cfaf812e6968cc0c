//! The settings of scheduled backups (SPEC §16), parsed beside the others in
//! `Settings::from_lookup`: `BACKUP_DIR`, `BACKUP_INTERVAL_SECS`, `BACKUP_KEEP`.

use std::path::PathBuf;
use std::time::Duration;

use super::{DatabaseUrl, SettingsError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSettings {
    /// Where scheduled backups of the SQLite database go; unset: none are taken.
    pub dir: Option<PathBuf>,
    /// How often one is taken (by one process, however many share the database).
    pub interval: Duration,
    /// How many are kept; older ones are removed.
    pub keep: usize,
}

impl BackupSettings {
    /// Reads the settings through `get` (which answers `None` for unset or blank). Scheduled
    /// backups are of a SQLite file: with PostgreSQL, `BACKUP_DIR` is refused rather than
    /// silently doing nothing.
    pub fn parse(
        get: impl Fn(&str) -> Option<String>,
        database: &DatabaseUrl,
    ) -> Result<Self, SettingsError> {
        let fault = |variable: &'static str, fault: &str| SettingsError { variable, fault: fault.into() };
        let interval = match get("BACKUP_INTERVAL_SECS").map(|v| v.trim().parse::<u64>()) {
            None => Duration::from_secs(3600),
            Some(Ok(secs)) if (1..=604_800).contains(&secs) => Duration::from_secs(secs),
            Some(_) => return Err(fault("BACKUP_INTERVAL_SECS", "must be 1 to 604800 seconds (a week)")),
        };
        let keep = match get("BACKUP_KEEP").map(|v| v.trim().parse::<usize>()) {
            None => 24,
            Some(Ok(n)) if (1..=10_000).contains(&n) => n,
            Some(_) => return Err(fault("BACKUP_KEEP", "must be a whole number from 1 to 10000")),
        };
        let dir = get("BACKUP_DIR").map(|d| PathBuf::from(d.trim()));
        if dir.is_some() && matches!(database, DatabaseUrl::Postgres(_)) {
            return Err(fault(
                "BACKUP_DIR",
                "scheduled backups are of a SQLite database; back PostgreSQL up with pg_dump and WAL \
                 archiving (pgBackRest or WAL-G), see the README",
            ));
        }
        Ok(Self { dir, interval, keep })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)], url: &str) -> Result<BackupSettings, SettingsError> {
        let database = DatabaseUrl::parse(url).expect("url");
        BackupSettings::parse(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()), &database)
    }

    #[test]
    fn unset_means_no_backups_hourly_keeping_24() {
        let s = parse(&[], "sqlite://data/x.sqlite3").expect("defaults");
        assert_eq!(s, BackupSettings { dir: None, interval: Duration::from_secs(3600), keep: 24 });
    }

    #[test]
    fn bad_values_and_postgres_are_refused_naming_the_variable() {
        for (variable, value) in
            [("BACKUP_INTERVAL_SECS", "0"), ("BACKUP_INTERVAL_SECS", "hourly"), ("BACKUP_KEEP", "0")]
        {
            let err = parse(&[(variable, value)], "sqlite://x").expect_err(value);
            assert_eq!(err.variable, variable);
        }
        let err = parse(&[("BACKUP_DIR", "/backups")], "postgres://db/shop").expect_err("postgres");
        assert!(err.variable == "BACKUP_DIR" && err.fault.contains("pg_dump"), "{err}");
        let ok = parse(&[("BACKUP_DIR", "/backups"), ("BACKUP_KEEP", "3")], "sqlite://x").expect("valid");
        assert_eq!((ok.dir, ok.keep), (Some(PathBuf::from("/backups")), 3));
    }
}
