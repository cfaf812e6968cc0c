//! `--help`: the usage, the exit codes, and every setting. The settings are the README's own
//! table (compiled in), so the help and the documentation cannot disagree, and a test checks
//! that every variable `Settings` reads is in it.

use std::fmt::Write;

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));

const USAGE: &str = "\
Usage: techkraft-tickets [COMMAND]

Commands:
  serve          run the server (the default)
  migrate        apply the database migrations and seed the tiers, then exit
  backup PATH    write a consistent copy of the SQLite database to PATH (a new file, or an
                 existing folder to put a dated file in), while servers keep running
  check-config   check every setting, the database connection and schema, the mail server
                 and BACKUP_DIR, then exit; the exit code says which failed
  -h, --help     print this help
  -V, --version  print the version
";

/// The whole `--help` text.
pub fn help_text() -> String {
    let mut out = format!(
        "techkraft-tickets {}\n{}\n\n{USAGE}",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_DESCRIPTION")
    );
    out.push_str("\nExit codes:\n");
    for (code, meaning) in super::exit::ALL {
        let _ = writeln!(out, "  {code}  {meaning}");
    }
    out.push_str("\nSettings (environment variables; a .env file in the working directory may set them):\n");
    for (name, default, meaning) in settings_table() {
        let _ = writeln!(out, "  {name}  (default: {default})");
        for line in wrap(&meaning, 84) {
            let _ = writeln!(out, "      {line}");
        }
    }
    out
}

/// The variable names `--help` lists.
pub fn settings_in_help() -> Vec<String> {
    settings_table().into_iter().map(|(name, _, _)| name).collect()
}

/// The rows of the README's settings table: (variable, default, meaning), markdown removed.
fn settings_table() -> Vec<(String, String, String)> {
    let section = README.split("\n## Settings").nth(1).unwrap_or_default();
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').splitn(3, " | ").map(str::trim).collect();
            match cells.as_slice() {
                [name, default, meaning] => Some((plain(name), plain(default), plain(meaning))),
                _ => None,
            }
        })
        .collect()
}

/// Markdown to plain text: no backticks, no bold, `[text](link)` as `text`.
fn plain(markdown: &str) -> String {
    let text = markdown.replace('`', "").replace("**", "").replace("\\|", "|");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find('[') {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        match after.find("](").zip(after.find(')')) {
            Some((mid, end)) if mid < end => {
                out.push_str(&after[1..mid]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('[');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Words into lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_plain_text_and_wraps() {
        assert_eq!(plain("see [docs/API.md](docs/API.md) and `x` **now**"), "see docs/API.md and x now");
        assert_eq!(plain("a [b"), "a [b");
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
    }

    #[test]
    fn the_help_lists_the_readme_settings_with_defaults() {
        let text = help_text();
        assert!(text.contains("  DATABASE_URL  (default: sqlite://data/techkraft.sqlite3)"), "{text}");
        assert!(text.contains("  BACKUP_KEEP  (default: 24)"), "{text}");
        assert!(!text.contains('`'), "markdown removed");
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }
}
