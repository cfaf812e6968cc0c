//! The `techkraft-tickets` server: settings → application → run.

use std::process::ExitCode;

use techkraft_tickets::settings::Settings;
use techkraft_tickets::startup::Application;

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: .env: {e}");
        return ExitCode::FAILURE;
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(techkraft_tickets::request_id::format_log)
        .init();

    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if settings.admin_password_generated {
        log::warn!(
            "ADMIN_PASSWORD is not set; generated one for this run: {}",
            settings.admin_password.expose()
        );
    }
    log::info!("database: {}", settings.database_url.redacted());
    raise_open_file_limit();

    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).map_err(|e| e.to_string())?;
        log::info!("listening on http://{}", app.local_addr());
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the open-file soft limit to the hard limit: every client connection is a file
/// descriptor, and the usual soft limit (1,024) is far below what a sale needs.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            log::warn!("open files: cannot read the limit: {}", std::io::Error::last_os_error());
            return;
        }
        let soft = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if soft < limit.rlim_max && libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            log::warn!(
                "open files: cannot raise {soft} to {}: {}",
                limit.rlim_max,
                std::io::Error::last_os_error()
            );
            return;
        }
        log::info!("open files: soft limit {} (was {soft}), hard limit {}", limit.rlim_cur, limit.rlim_max);
    }
}
