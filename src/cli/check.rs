//! `check-config`: every setting parsed (done before this runs), then what the settings point
//! at, without changing anything: the database (connection and schema), the mail server, the
//! folders the server would write. One line per check on stdout; the exit code is the first
//! failure's (see `cli::exit`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::{code, exit};
use crate::db::{DbConnection, Manager, migration_state};
use crate::error::chain;
use crate::settings::{DatabaseUrl, ExposeSecret, Settings};

type Check = Result<String, (u8, String)>;

pub fn check_config(settings: &Settings) -> ExitCode {
    let mut failed = None;
    let mut say = |what: &str, check: Check| match check {
        Ok(line) => println!("{what}: ok: {line}"),
        Err((exit_code, line)) => {
            println!("{what}: FAILED: {line}");
            failed.get_or_insert(exit_code);
        }
    };
    say("settings", Ok(format!("every setting is valid (BIND_ADDR {})", settings.bind_addr)));
    if settings.admin_password_generated {
        println!(
            "settings: warning: ADMIN_PASSWORD is not set; the server generates a new one at every start"
        );
    }
    say("database", database(&settings.database_url, settings.db_statement_cache));
    if let Some(url) = &settings.database_migration_url {
        say("DATABASE_MIGRATION_URL", database(url, true));
    }
    say("mail", mail(settings));
    say("backups", backups(settings));
    match failed {
        None => code(exit::OK),
        Some(exit_code) => code(exit_code),
    }
}

fn database(url: &DatabaseUrl, statement_cache: bool) -> Check {
    let redacted = url.redacted();
    if let DatabaseUrl::Sqlite(path) = url
        && !Path::new(path).exists()
    {
        // Opening it would create it: say what the server would do instead.
        let dir = Path::new(path).parent().map_or_else(|| PathBuf::from("."), Path::to_owned);
        return match can_create_in(&dir) {
            Ok(()) => Ok(format!("{redacted} does not exist yet; the server creates it at its first start")),
            Err(why) => {
                Err((exit::DATABASE, format!("{redacted} does not exist and cannot be created: {why}")))
            }
        };
    }
    let mut conn: DbConnection = Manager::new(url, statement_cache)
        .establish()
        .map_err(|e| (exit::DATABASE, format!("cannot connect to {redacted}: {e}")))?;
    let state =
        migration_state(&mut conn).map_err(|e| (exit::DATABASE, format!("{redacted}: {}", chain(&e))))?;
    if !state.unknown.is_empty() {
        return Err((
            exit::SCHEMA,
            format!(
                "{redacted} was migrated by a newer version (migrations this binary does not have: {})",
                state.unknown.join(", ")
            ),
        ));
    }
    Ok(match state.pending.len() {
        0 => format!("{redacted} answers; its schema is this version's ({} migrations)", state.applied),
        n => format!(
            "{redacted} answers; {n} migrations pending ({}), applied at the next start or by `techkraft-tickets migrate`",
            state.pending.join(", ")
        ),
    })
}

fn mail(settings: &Settings) -> Check {
    let tickets = &settings.tickets;
    let Some(url) = &tickets.smtp_url else {
        let dir = &tickets.outbox_dir;
        return can_create_in(dir)
            .map(|()| format!("SMTP_URL is unset: emails are written as .eml files to {}", dir.display()))
            .map_err(|why| (exit::MAIL, format!("EMAIL_OUTBOX_DIR {}: {why}", dir.display())));
    };
    let transport = lettre::SmtpTransport::from_url(url.expose_secret())
        .map_err(|e| (exit::MAIL, format!("SMTP_URL cannot be used: {e}")))?
        .timeout(Some(Duration::from_secs(5)))
        .build();
    match transport.test_connection() {
        Ok(true) => Ok("the mail server of SMTP_URL answers".into()),
        Ok(false) => Err((exit::MAIL, "the mail server of SMTP_URL did not accept a conversation".into())),
        Err(e) => Err((exit::MAIL, format!("the mail server of SMTP_URL does not answer: {}", chain(&e)))),
    }
}

fn backups(settings: &Settings) -> Check {
    let Some(dir) = &settings.backup.dir else {
        return Ok("BACKUP_DIR is unset: no scheduled backups".into());
    };
    can_create_in(dir)
        .map(|()| {
            format!(
                "every {}s into {}, keeping {}",
                settings.backup.interval.as_secs(),
                dir.display(),
                settings.backup.keep
            )
        })
        .map_err(|why| (exit::BACKUP_DIR, format!("BACKUP_DIR {}: {why}", dir.display())))
}

/// Whether this process could write in `dir`, or create it: the nearest folder that exists on
/// its path must be writable (asked of the kernel; nothing is created).
fn can_create_in(dir: &Path) -> Result<(), String> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let existing = dir.ancestors().find(|a| a.exists()).unwrap_or(Path::new("."));
    if !existing.is_dir() {
        return Err(format!("{} is not a folder", existing.display()));
    }
    let c_path = std::ffi::CString::new(existing.as_os_str().as_encoded_bytes())
        .map_err(|_| "the path holds a NUL byte".to_owned())?;
    // SAFETY: access only reads the NUL-terminated path it is given.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(format!("{} is not writable: {}", existing.display(), std::io::Error::last_os_error()));
    }
    Ok(())
}
