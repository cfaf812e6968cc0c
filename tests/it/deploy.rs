//! deploy/: the alert rules pass promtool and their own rule tests (each alert firing and
//! staying quiet), and every metric that the Grafana dashboard and the rules name is exported
//! by a live server's `/metrics`.

use std::collections::BTreeSet;

use crate::common::{Backend, spawn_app};

/// Series Prometheus makes itself (per scrape target), not the server.
const FROM_PROMETHEUS: &[&str] = &["up"];

const RULES: &str = "deploy/prometheus/alerts.yml";
const DASHBOARD: &str = "deploy/grafana/techkraft-tickets.json";

fn promtool(args: &[&str]) {
    let output = std::process::Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool (Debian's `prometheus` package; ./scripts/test installs it)");
    assert!(
        output.status.success(),
        "promtool {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_alert_rules_and_the_prometheus_config_pass_promtool_and_the_rule_tests() {
    promtool(&["check", "rules", RULES]);
    promtool(&["test", "rules", "deploy/prometheus/alerts.test.yml"]);
    promtool(&["check", "config", "deploy/prometheus/prometheus.yml"]);
}

/// The metric names in a PromQL expression: what is left after strings, label matchers,
/// ranges, numbers, variables, keywords, functions and grouping label lists.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: [&str; 23] = [
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "topk",
        "bottomk",
    ];
    const GROUPING: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut grouping = false;
    // Skips from an opening character to its closing one, over quoted strings.
    let skip = |mut i: usize, close: char| -> usize {
        while i < chars.len() && chars[i] != close {
            if chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
        i + 1
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            i = skip(i + 1, '"');
        } else if c == '{' {
            i = skip(i + 1, '}');
        } else if c == '[' {
            i = skip(i + 1, ']');
        } else if c == '(' && grouping {
            grouping = false;
            i = skip(i + 1, ')');
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' || c == '$' || c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:$.".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if GROUPING.contains(&word.as_str()) {
                grouping = true;
            } else if !(c.is_ascii_digit()
                || c == '$'
                || next == Some(&'(')
                || KEYWORDS.contains(&word.as_str()))
            {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_read_out_of_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{route=~"/x|{y}",le!="1"}[5m]))) > 1
           and on() (sum(increase(b_total[$__rate_interval] offset 5m)) or vector(0)) == 0 unless max without(x) (c)"#,
    );
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["a_bucket", "b_total", "c"]);
}

/// Every `expr` of the alert rules (single-line, or folded `>-` blocks).
fn rule_expressions() -> Vec<String> {
    let text = std::fs::read_to_string(RULES).expect("rules");
    let mut exprs = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else { continue };
        let indent = line.len() - line.trim_start().len();
        let mut expr = rest.trim().trim_start_matches(">-").trim_start_matches('|').to_owned();
        while let Some(next) =
            lines.peek().filter(|l| l.len() - l.trim_start().len() > indent || l.trim().is_empty())
        {
            expr.push(' ');
            expr.push_str(next.trim());
            lines.next();
        }
        exprs.push(expr);
    }
    exprs
}

/// Every query of the dashboard: panel targets' `expr`, and variables' `label_values(metric, label)`.
fn dashboard_expressions() -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value.as_str()) {
                        ("expr", Some(expr)) => out.push(expr.to_owned()),
                        ("query", Some(query)) if query.starts_with("label_values(") => {
                            let inner = query.trim_start_matches("label_values(");
                            out.push(inner.split([',', ')']).next().unwrap_or_default().to_owned());
                        }
                        _ => walk(value, out),
                    }
                }
            }
            serde_json::Value::Array(list) => list.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(DASHBOARD).expect("dashboard")).expect("valid JSON");
    let mut out = Vec::new();
    walk(&json, &mut out);
    out
}

#[actix_rt::test]
async fn every_metric_the_dashboard_and_the_rules_use_is_exported_by_a_live_server() {
    let rules = rule_expressions();
    let dashboard = dashboard_expressions();
    assert!(rules.len() >= 12 && dashboard.len() >= 20, "{} rules, {} queries", rules.len(), dashboard.len());
    let used: BTreeSet<String> = rules.iter().chain(&dashboard).flat_map(|e| metric_names(e)).collect();

    let backups =
        std::env::temp_dir().join(format!("tk-deploy-{}", techkraft_tickets::settings::random_token(8)));
    // A sale that opened a minute ago: the waiting room runs and exports its series (with
    // nobody waiting, a visitor is let in at once).
    let opened = chrono::Utc::now() - chrono::Duration::minutes(1);
    let opened = opened.to_rfc3339();
    let app = spawn_app(
        Backend::Sqlite,
        &[("BACKUP_DIR", backups.to_str().unwrap()), ("SALE_OPENS_AT", opened.as_str())],
    )
    .await;
    assert_eq!(app.get("/").await.status, 200, "one request, so the HTTP series exist");
    let metrics = app.get("/metrics").await.body;
    let exported: BTreeSet<String> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect();

    let missing: Vec<&String> =
        used.iter().filter(|n| !exported.contains(*n) && !FROM_PROMETHEUS.contains(&n.as_str())).collect();
    assert!(missing.is_empty(), "used by {RULES} or {DASHBOARD} but not exported by /metrics: {missing:?}");
    assert!(
        used.contains("techkraft_emails_total")
            && used.contains("techkraft_http_request_duration_seconds_bucket")
    );
    let _ = std::fs::remove_dir_all(&backups);
}
