//! What each command does. `--help` and `--version` answer before anything is read (not even
//! `.env`), so they touch no file; every other command reads the settings first.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::{Command, code, exit, help_text, parse};
use crate::db::{self, DbError};
use crate::error::chain;
use crate::settings::{DatabaseUrl, ExposeSecret, Settings};
use crate::startup::{Application, StartupError};

const SHORT_USAGE: &str =
    "usage: techkraft-tickets [serve | migrate | backup PATH | check-config | --help | --version]";

/// Runs the command line `args` (without the program name) and says how it ended.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let command = match parse(args) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("error: {e}\n{SHORT_USAGE}");
            return code(exit::USAGE);
        }
    };
    match command {
        Command::Help => return print_out(&help_text()),
        Command::Version => return print_out(&format!("techkraft-tickets {}\n", env!("CARGO_PKG_VERSION"))),
        _ => {}
    }
    // A missing .env is normal; a broken one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: .env: {e}");
        return code(exit::SETTINGS);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(crate::request_id::format_log)
        .init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return code(exit::SETTINGS);
        }
    };
    match command {
        Command::Migrate => migrate(&settings),
        Command::Backup(path) => backup(&settings, &path),
        Command::CheckConfig => super::check::check_config(&settings),
        _ => serve(settings),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_out(text: &str) -> ExitCode {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    code(exit::OK)
}

/// The exit code for a database failure: the schema's, or the connection's.
fn database_code(e: &DbError) -> u8 {
    match e {
        DbError::Migration(_) => exit::SCHEMA,
        _ => exit::DATABASE,
    }
}

/// Logs `message` with its whole cause chain, and says it on stderr too (where a service
/// manager without a log shows it).
fn fail(message: String, exit_code: u8) -> ExitCode {
    log::error!("{message}");
    eprintln!("error: {message}");
    code(exit_code)
}

fn serve(settings: Settings) -> ExitCode {
    if settings.admin_password_generated {
        log::warn!(
            "ADMIN_PASSWORD is not set; generated one for this run: {}",
            settings.admin_password.expose_secret()
        );
    }
    log::info!("database: {}", settings.database_url.redacted());
    super::limits::raise_open_file_limit();
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).map_err(|e| {
            let exit_code = match &e {
                StartupError::Database(db) => database_code(db),
                StartupError::Bind { .. } => exit::FAILED,
            };
            (chain(&e), exit_code)
        })?;
        log::info!("listening on http://{}", app.local_addr());
        app.run_until_stopped().await.map_err(|e| (format!("server: {}", chain(&e)), exit::FAILED))
    });
    match result {
        Ok(()) => code(exit::OK),
        Err((message, exit_code)) => fail(message, exit_code),
    }
}

fn migrate(settings: &Settings) -> ExitCode {
    let prepared = db::build_pool(settings).and_then(|pool| db::prepare_database(&pool, settings));
    match prepared {
        Ok(()) => {
            log::info!("database {}: migrated to this version's schema", settings.database_url.redacted());
            code(exit::OK)
        }
        Err(e) => fail(format!("database: {}", chain(&e)), database_code(&e)),
    }
}

fn backup(settings: &Settings, target: &Path) -> ExitCode {
    let DatabaseUrl::Sqlite(database) = &settings.database_url else {
        eprintln!(
            "error: backup copies the SQLite database, and DATABASE_URL is PostgreSQL. Back it up with \
             PostgreSQL's tools: pg_dump for a copy (pg_dump -Fc -f shop.dump \"$DATABASE_URL\"), and \
             WAL archiving (pgBackRest or WAL-G) for point-in-time recovery; see the README, \"Backups\"."
        );
        return code(exit::NOT_SQLITE);
    };
    match crate::backup::write_backup(Path::new(database), target, chrono::Utc::now()) {
        Ok(written) => print_out(&format!(
            "backup written: {} ({} bytes in {} ms)\n",
            written.path.display(),
            written.bytes,
            written.took.as_millis()
        )),
        Err(e @ crate::backup::BackupError::NoDatabase(_)) => fail(chain(&e), exit::DATABASE),
        Err(e) => fail(format!("backup: {}", chain(&e)), exit::FAILED),
    }
}
