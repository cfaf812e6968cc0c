//! Scheduled backups (`BACKUP_DIR`, `BACKUP_INTERVAL_SECS`, `BACKUP_KEEP`), run by every
//! process on the SQLite file and carried out by one: a round takes an exclusive `flock` on
//! `BACKUP_DIR/.techkraft-backup.lock` (released by the kernel if the process dies), looks at
//! the newest backup's time (in its name) and writes one only if the interval has passed since.
//! So processes sharing the file and the folder take one backup per interval between them, not
//! one each; the time lives in the folder, so a restart does not take an extra one.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{BackupError, Written, io, taken_at, write_backup};
use crate::metrics::Metrics;

const LOCK_FILE: &str = ".techkraft-backup.lock";

/// Where, how often, how many.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The SQLite file.
    pub database: PathBuf,
    pub dir: PathBuf,
    pub interval: Duration,
    pub keep: usize,
}

/// What one round did.
#[derive(Debug)]
pub enum Round {
    /// Wrote this backup and removed `removed` old ones beyond `BACKUP_KEEP`.
    Written { written: Written, removed: usize },
    /// The newest backup is recent; the next one is due in this long.
    NotDue { next_in: Duration },
    /// Another process holds the lock: it is taking the backup.
    Busy,
}

impl Schedule {
    /// The schedule the settings ask for: `BACKUP_DIR` set, on a SQLite database.
    pub fn from_settings(settings: &crate::settings::Settings) -> Option<Schedule> {
        match (&settings.backup.dir, &settings.database_url) {
            (Some(dir), crate::settings::DatabaseUrl::Sqlite(path)) => Some(Schedule {
                database: PathBuf::from(path),
                dir: dir.clone(),
                interval: settings.backup.interval,
                keep: settings.backup.keep,
            }),
            _ => None,
        }
    }

    /// When the newest backup in the folder was taken, if there is one.
    pub fn newest(&self) -> Result<Option<DateTime<Utc>>, BackupError> {
        Ok(self.backups()?.into_iter().map(|(at, _)| at).max())
    }

    /// Every backup in the folder, oldest first.
    fn backups(&self) -> Result<Vec<(DateTime<Utc>, PathBuf)>, BackupError> {
        let entries = std::fs::read_dir(&self.dir).map_err(io("cannot read the folder", &self.dir))?;
        let mut found: Vec<_> = entries
            .filter_map(Result::ok)
            .filter_map(|e| taken_at(&e.file_name().to_string_lossy()).map(|at| (at, e.path())))
            .collect();
        found.sort();
        Ok(found)
    }

    fn not_due(&self, now: DateTime<Utc>) -> Result<Option<Duration>, BackupError> {
        let due = self.newest()?.map(|newest| newest + self.interval);
        Ok(due.and_then(|due| (due - now).to_std().ok()).filter(|d| !d.is_zero()))
    }

    /// One round: if a backup is due and no other process is taking it, takes it and removes
    /// the oldest beyond `keep`. Blocking (file work and the copy): run it off the executor.
    pub fn round(&self, now: DateTime<Utc>) -> Result<Round, BackupError> {
        std::fs::create_dir_all(&self.dir).map_err(io("cannot create", &self.dir))?;
        if let Some(next_in) = self.not_due(now)? {
            return Ok(Round::NotDue { next_in });
        }
        let lock_path = self.dir.join(LOCK_FILE);
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("cannot open", &lock_path))?;
        // SAFETY: flock only reads the descriptor, which `lock` keeps open for this call.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            return match e.kind() {
                std::io::ErrorKind::WouldBlock => Ok(Round::Busy),
                _ => Err(io("cannot lock", &lock_path)(e)),
            };
        }
        // Under the lock, look again: another process may have just finished one.
        if let Some(next_in) = self.not_due(now)? {
            return Ok(Round::NotDue { next_in });
        }
        self.remove_leftovers();
        let written = write_backup(&self.database, &self.dir, now)?;
        let backups = self.backups()?;
        let mut removed = 0;
        for (_, path) in backups.iter().take(backups.len().saturating_sub(self.keep)) {
            match std::fs::remove_file(path) {
                Ok(()) => removed += 1,
                Err(e) => log::warn!("backup: cannot remove the old backup {}: {e}", path.display()),
            }
        }
        // Dropping `lock` closes the file and releases the lock.
        Ok(Round::Written { written, removed })
    }

    /// Half-written copies a crashed process left (only the lock holder writes them).
    fn remove_leftovers(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".partial"))
                && taken_at(inner).is_some()
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Runs rounds until the process ends: when the next backup is due, a few seconds after
    /// another process took the lock, and a minute (at most the interval) after a failure.
    pub async fn run(self, metrics: Arc<Metrics>) {
        log::info!(
            "backups: into {} every {}s, keeping {}",
            self.dir.display(),
            self.interval.as_secs(),
            self.keep
        );
        loop {
            let schedule = self.clone();
            let round = tokio::task::spawn_blocking(move || schedule.round(Utc::now())).await;
            let wait = match round {
                Ok(Ok(Round::Written { written, removed })) => {
                    metrics.record_backup(true);
                    log::info!(
                        "backup written: {} ({} bytes in {} ms); {removed} older removed",
                        written.path.display(),
                        written.bytes,
                        written.took.as_millis()
                    );
                    self.interval
                }
                Ok(Ok(Round::NotDue { next_in })) => next_in,
                Ok(Ok(Round::Busy)) => Duration::from_secs(5),
                Ok(Err(e)) => {
                    metrics.record_backup(false);
                    log::error!("backup failed: {}", crate::error::chain(&e));
                    Duration::from_secs(60)
                }
                Err(e) => {
                    metrics.record_backup(false);
                    log::error!("bug: the backup task failed: {e}");
                    Duration::from_secs(60)
                }
            };
            tokio::time::sleep(wait.min(self.interval)).await;
        }
    }
}
