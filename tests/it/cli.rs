//! The command line: `--help` and `--version` touch nothing, a wrong command line exits 2,
//! `check-config` says what is wrong by its exit code, `migrate` migrates and exits, and a
//! backup of a PostgreSQL database says what to use instead.

use diesel::prelude::*;

use crate::common::{Backend, TempDir, fresh_database};
use techkraft_tickets::cli::exit;

/// Runs the binary with `args` and `envs` (nothing inherited) in a new empty folder; returns
/// the output and the folder.
fn run(args: &[&str], envs: &[(&str, &str)]) -> (std::process::Output, TempDir) {
    let dir = TempDir::new("tk-cli");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_techkraft-tickets"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .current_dir(&*dir)
        .output()
        .expect("run the binary");
    (output, dir)
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_prints_the_usage_and_every_setting_and_touches_no_file() {
    for flag in ["--help", "-h", "help"] {
        // A .env that would stop any other command: --help does not even read it.
        let (output, dir) = run(&[flag], &[("DATABASE_URL", "mysql://nope")]);
        assert_eq!(output.status.code(), Some(0), "{flag}: {}", text(&output.stderr));
        let stdout = text(&output.stdout);
        for words in ["Usage: techkraft-tickets [COMMAND]", "backup PATH", "check-config", "Exit codes:"] {
            assert!(stdout.contains(words), "{flag}: {words:?} in\n{stdout}");
        }
        for setting in techkraft_tickets::cli::settings_in_help() {
            assert!(stdout.contains(&format!("  {setting}  (default: ")), "{setting} in\n{stdout}");
        }
        assert!(stdout.contains("BACKUP_INTERVAL_SECS  (default: 3600)"), "{stdout}");
        assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
        assert_eq!(files_in(&dir), Vec::<String>::new(), "no data/ folder, no database");
    }
}

#[test]
fn version_prints_the_version_and_touches_no_file() {
    let (output, dir) = run(&["--version"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stdout), format!("techkraft-tickets {}\n", env!("CARGO_PKG_VERSION")));
    assert!(files_in(&dir).is_empty());
}

#[test]
fn a_wrong_command_line_exits_2_with_the_usage_and_starts_nothing() {
    for args in [&["serv"][..], &["backup"], &["migrate", "now"], &["--port", "80"]] {
        let (output, dir) = run(args, &[]);
        assert_eq!(output.status.code(), Some(i32::from(exit::USAGE)), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with("error: ") && stderr.contains("usage: techkraft-tickets"), "{stderr}");
        assert!(files_in(&dir).is_empty(), "{args:?}");
    }
}

#[test]
fn check_config_passes_on_a_fresh_sqlite_path_without_creating_it() {
    let (output, dir) = run(&["check-config"], &[("ADMIN_PASSWORD", "correct horse battery staple")]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("database: ok: sqlite://data/techkraft.sqlite3 does not exist yet"), "{stdout}");
    assert!(stdout.contains("mail: ok: SMTP_URL is unset"), "{stdout}");
    assert!(stdout.contains("backups: ok: BACKUP_DIR is unset"), "{stdout}");
    assert!(files_in(&dir).is_empty(), "check-config creates nothing");
}

#[test]
fn check_config_exit_codes_say_which_check_failed() {
    let database = fresh_database(Backend::Sqlite);
    let (migrated, _) = run(&["migrate"], &[("DATABASE_URL", &database.url)]);
    assert_eq!(migrated.status.code(), Some(0), "{}", text(&migrated.stderr));
    let (ok, _) = run(&["check-config"], &[("DATABASE_URL", &database.url)]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("its schema is this version's"), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("warning: ADMIN_PASSWORD is not set"), "{}", text(&ok.stdout));

    let a_file = database.url.trim_start_matches("sqlite://");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u8, &'a str);
    let cases: [Case; 5] = [
        ("a bad setting", vec![("HOLD_TTL_SECS", "soon")], exit::SETTINGS, "HOLD_TTL_SECS"),
        (
            "no database server",
            vec![("DATABASE_URL", "postgres://nobody@127.0.0.1:9/shop")],
            exit::DATABASE,
            "cannot connect to postgres://nobody@127.0.0.1:9/shop",
        ),
        ("no mail server", vec![("SMTP_URL", "smtp://127.0.0.1:9")], exit::MAIL, "mail: FAILED"),
        ("a file as BACKUP_DIR", vec![("BACKUP_DIR", a_file)], exit::BACKUP_DIR, "backups: FAILED"),
        (
            "the first failure's code",
            vec![("SMTP_URL", "smtp://127.0.0.1:9"), ("BACKUP_DIR", a_file)],
            exit::MAIL,
            "backups: FAILED",
        ),
    ];
    for (case, envs, code, words) in cases {
        let mut envs = envs;
        if !envs.iter().any(|(k, _)| *k == "DATABASE_URL") {
            envs.push(("DATABASE_URL", &database.url));
        }
        let (output, _) = run(&["check-config"], &envs);
        let said = text(&output.stdout) + &text(&output.stderr);
        assert_eq!(output.status.code(), Some(i32::from(code)), "{case}: {said}");
        assert!(said.contains(words), "{case}: {words:?} in {said}");
    }

    // A database a newer version migrated: this binary does not know its last migration.
    let mut conn = SqliteConnection::establish(a_file).unwrap();
    diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ('20990101000000')")
        .execute(&mut conn)
        .unwrap();
    let (output, _) = run(&["check-config"], &[("DATABASE_URL", &database.url)]);
    assert_eq!(output.status.code(), Some(i32::from(exit::SCHEMA)), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("migrated by a newer version"), "{}", text(&output.stdout));
}

#[test]
fn migrate_applies_the_migrations_and_seeds_then_exits() {
    let database = fresh_database(Backend::Sqlite);
    let (output, _) = run(&["migrate"], &[("DATABASE_URL", &database.url)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("seeded 3 ticket tiers"), "{}", text(&output.stderr));
    let tiers = techkraft_tickets::booking::Tier::all(&mut crate::common::pool_for(&database).get().unwrap());
    assert_eq!(tiers.unwrap().len(), 3);
}

#[test]
fn a_backup_of_postgresql_says_to_use_pg_dump_and_a_missing_database_is_not_created() {
    let (output, dir) =
        run(&["backup", "shop.sqlite3"], &[("DATABASE_URL", "postgres://tk@db.invalid/shop")]);
    assert_eq!(output.status.code(), Some(i32::from(exit::NOT_SQLITE)));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("pg_dump") && stderr.contains("pgBackRest or WAL-G"), "{stderr}");
    assert!(files_in(&dir).is_empty());

    let (output, dir) = run(&["backup", "copy.sqlite3"], &[]);
    assert_eq!(output.status.code(), Some(i32::from(exit::DATABASE)), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("there is no database at data/techkraft.sqlite3"));
    assert!(files_in(&dir).is_empty(), "neither the database nor a copy was created");
}
