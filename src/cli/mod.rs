//! The command line: `techkraft-tickets [serve | migrate | backup PATH | check-config]`, plus
//! `--help` and `--version`. Hand-written rather than clap: one optional command and one
//! argument, while the part of `--help` that matters (every setting) comes from the README's
//! settings table either way; a parser of a few lines with its tests costs no dependency.

mod check;
mod help;
mod limits;
mod run;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

pub use help::{help_text, settings_in_help};
pub use run::run;

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply the migrations and seed the tiers, then exit.
    Migrate,
    /// Write a consistent copy of the SQLite database to this file (or into this folder).
    Backup(PathBuf),
    /// Check every setting and the database, then exit.
    CheckConfig,
    Help,
    Version,
}

/// The process's exit codes; `--help` lists them and the README documents them.
pub mod exit {
    /// Done, or (check-config) everything checked is usable.
    pub const OK: u8 = 0;
    /// The command failed while running (the server stopped on an error, a backup failed).
    pub const FAILED: u8 = 1;
    /// The command line is wrong (unknown command, missing or extra argument).
    pub const USAGE: u8 = 2;
    /// A setting (or the `.env` file) is invalid.
    pub const SETTINGS: u8 = 3;
    /// The database cannot be reached or opened.
    pub const DATABASE: u8 = 4;
    /// The database's schema is not this version's (migrated by a newer version, or a
    /// migration fails).
    pub const SCHEMA: u8 = 5;
    /// `SMTP_URL` is set but its mail server does not answer.
    pub const MAIL: u8 = 6;
    /// `BACKUP_DIR` is set but is not a folder this process can write.
    pub const BACKUP_DIR: u8 = 7;
    /// `backup` was asked of a PostgreSQL database (use `pg_dump`; see the README).
    pub const NOT_SQLITE: u8 = 8;

    /// Every code with what it means, for `--help`.
    pub const ALL: [(u8, &str); 9] = [
        (OK, "success (check-config: every check passed)"),
        (FAILED, "the command failed while running (the server stopped on an error, a backup failed)"),
        (USAGE, "the command line is wrong"),
        (SETTINGS, "a setting or the .env file is invalid"),
        (DATABASE, "the database cannot be reached or opened"),
        (
            SCHEMA,
            "the database schema is not this version's (a newer version migrated it, or a migration fails)",
        ),
        (MAIL, "SMTP_URL is set and its mail server does not answer"),
        (BACKUP_DIR, "BACKUP_DIR is set and is not a folder this process can write"),
        (NOT_SQLITE, "backup was asked of a PostgreSQL database (use pg_dump, see the README)"),
    ];
}

/// A command line that cannot be understood; printed with the usage line, exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let args: Vec<OsString> = args.into_iter().collect();
    // Asking for help wins wherever it is written (`backup --help`).
    if args.iter().any(|a| a == "-h" || a == "--help" || a == "help") {
        return Ok(Command::Help);
    }
    if args.iter().any(|a| a == "-V" || a == "--version") {
        return Ok(Command::Version);
    }
    let mut args = args.into_iter();
    let Some(first) = args.next() else { return Ok(Command::Serve) };
    let name = first.to_string_lossy().into_owned();
    let command = match name.as_str() {
        "serve" => Command::Serve,
        "migrate" => Command::Migrate,
        "check-config" => Command::CheckConfig,
        "backup" => match args.next() {
            Some(path) if !path.is_empty() && !path.to_string_lossy().starts_with('-') => {
                Command::Backup(PathBuf::from(path))
            }
            Some(other) => {
                return Err(UsageError(format!("backup: {:?} is not a path", other.to_string_lossy())));
            }
            None => return Err(UsageError("backup needs a PATH: a file to write, or a folder".into())),
        },
        other if other.starts_with('-') => return Err(UsageError(format!("unknown option {other:?}"))),
        other => return Err(UsageError(format!("unknown command {other:?}"))),
    };
    match args.next() {
        None => Ok(command),
        Some(extra) => Err(UsageError(format!("{name}: unexpected argument {:?}", extra.to_string_lossy()))),
    }
}

/// The process's exit code from one of [`exit`]'s numbers.
pub fn code(n: u8) -> ExitCode {
    ExitCode::from(n)
}

#[cfg(test)]
mod tests;
