//! Backups of the SQLite database (SPEC §16): `techkraft-tickets backup PATH`, and with
//! `BACKUP_DIR` a schedule (`schedule.rs`) that one process at a time carries out however many
//! share the file.
//!
//! A backup is written beside its final name, synced to disk, checked, and only then linked
//! into place (a link never overwrites), so a crash or a full disk leaves no half-written file
//! under a backup's name. PostgreSQL is backed up with its own tools (the README, "Backups").

pub mod schedule;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::db::backup::{CopyError, copy_sqlite};

/// What every backup file's name starts and ends with; between them, when it was taken (UTC).
const PREFIX: &str = "techkraft-";
const SUFFIX: &str = ".sqlite3";
const STAMP: &str = "%Y%m%dT%H%M%S%.3fZ";

/// A backup on disk.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub took: Duration,
}

/// Why a backup was not written. Nothing is left behind under the backup's name.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no database at {0} to back up")]
    NoDatabase(String),
    #[error("{0} already exists; a backup never overwrites a file")]
    Exists(String),
    #[error("the folder {0} does not exist")]
    NoFolder(String),
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("backing up the database failed")]
    Copy(#[from] CopyError),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.display().to_string();
    move |source| BackupError::Io { what, path, source }
}

/// The name of a backup taken at `at`: `techkraft-20270619T200000.000Z.sqlite3`.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(STAMP))
}

/// When the backup called `name` was taken; `None` for any other file.
pub fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(stamp, STAMP).ok().map(|t| t.and_utc())
}

/// Writes a consistent copy of the SQLite database at `database` to `target`: a new file, or
/// an existing folder to put a file named by [`file_name`] in.
pub fn write_backup(database: &Path, target: &Path, now: DateTime<Utc>) -> Result<Written, BackupError> {
    let started = Instant::now();
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database.display().to_string()));
    }
    let target = if target.is_dir() { target.join(file_name(now)) } else { target.to_owned() };
    if target.symlink_metadata().is_ok() {
        return Err(BackupError::Exists(target.display().to_string()));
    }
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(BackupError::NoFolder(dir.display().to_string()));
    }
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = dir.join(format!(".{name}.partial"));
    remove_if_there(&partial)?;
    let written = copy_sqlite(database, &partial)
        .map_err(BackupError::from)
        .and_then(|()| {
            std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(io("cannot sync", &partial))
        })
        // A hard link fails if the name is taken meanwhile, where a rename would replace it.
        .and_then(|()| std::fs::hard_link(&partial, &target).map_err(io("cannot create", &target)));
    let cleaned = std::fs::remove_file(&partial);
    written?;
    cleaned.map_err(io("cannot remove", &partial))?;
    // The new name is durable once its folder is synced.
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io("cannot sync the folder", &dir))?;
    let bytes = target.metadata().map_err(io("cannot read", &target))?.len();
    Ok(Written { path: target, bytes, took: started.elapsed() })
}

fn remove_if_there(path: &Path) -> Result<(), BackupError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("cannot remove", path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_time_and_nothing_else_is_a_backup() {
        let at = DateTime::parse_from_rfc3339("2027-06-19T20:00:01.250Z").unwrap().with_timezone(&Utc);
        let name = file_name(at);
        assert_eq!(name, "techkraft-20270619T200001.250Z.sqlite3");
        assert_eq!(taken_at(&name), Some(at));
        for other in ["techkraft.sqlite3", ".techkraft-20270619T200001.250Z.sqlite3.partial", "notes.txt"] {
            assert_eq!(taken_at(other), None, "{other}");
        }
    }
}
