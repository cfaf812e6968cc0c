use super::*;

fn args(line: &str) -> Vec<OsString> {
    line.split_whitespace().map(OsString::from).collect()
}

#[test]
fn commands_parse_and_serve_is_the_default() {
    assert_eq!(parse(args("")), Ok(Command::Serve));
    assert_eq!(parse(args("serve")), Ok(Command::Serve));
    assert_eq!(parse(args("migrate")), Ok(Command::Migrate));
    assert_eq!(parse(args("check-config")), Ok(Command::CheckConfig));
    assert_eq!(
        parse(args("backup /var/backups/shop.sqlite3")),
        Ok(Command::Backup("/var/backups/shop.sqlite3".into()))
    );
    for help in ["--help", "-h", "help", "backup --help", "migrate -h"] {
        assert_eq!(parse(args(help)), Ok(Command::Help), "{help}");
    }
    assert_eq!(parse(args("--version")), Ok(Command::Version));
    assert_eq!(parse(args("-V")), Ok(Command::Version));
}

#[test]
fn a_wrong_command_line_says_what_is_wrong() {
    for (line, words) in [
        ("backup", "needs a PATH"),
        ("backup -x", "is not a path"),
        ("backup a b", "unexpected argument \"b\""),
        ("migrate now", "unexpected argument"),
        ("serv", "unknown command \"serv\""),
        ("--port", "unknown option"),
    ] {
        let err = parse(args(line)).expect_err(line);
        assert!(err.0.contains(words), "{line}: {err}");
    }
}

#[test]
fn every_setting_the_server_reads_is_in_the_help() {
    let read = std::sync::Mutex::new(Vec::new());
    crate::settings::Settings::from_lookup(|name| {
        read.lock().expect("lock").push(name.to_owned());
        None
    })
    .expect("defaults are valid");
    let read = read.into_inner().expect("lock");
    assert!(read.len() > 30, "{read:?}");
    let listed = settings_in_help();
    let missing: Vec<&String> = read.iter().filter(|name| !listed.contains(name)).collect();
    assert!(
        missing.is_empty(),
        "settings read but not in the README's settings table (so not in --help): {missing:?}"
    );
    let text = help_text();
    for name in &read {
        assert!(text.contains(&format!("  {name}  (default: ")), "{name} in --help");
    }
}
