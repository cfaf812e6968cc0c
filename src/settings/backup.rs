//! The settings of scheduled backups (SPEC §16): `BACKUP_DIR`, `BACKUP_INTERVAL_SECS`,
//! `BACKUP_KEEP`.

use std::path::PathBuf;
use std::time::Duration;

use super::vars::{Vars, fault};
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
    /// Reads the settings. Scheduled backups are of a SQLite file: with PostgreSQL,
    /// `BACKUP_DIR` is refused rather than silently doing nothing.
    pub fn parse(vars: Vars, database: &DatabaseUrl) -> Result<Self, SettingsError> {
        let interval = Duration::from_secs(vars.parse_in("BACKUP_INTERVAL_SECS", 3600, 1..=604_800)?);
        let keep = vars.parse_in("BACKUP_KEEP", 24, 1..=10_000)?;
        let dir = vars.get("BACKUP_DIR").map(|d| PathBuf::from(d.trim()));
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
        let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        BackupSettings::parse(Vars::new(&lookup), &database)
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
