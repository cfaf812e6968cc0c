//! The house explains itself (issue 20): the README's layout names what is really there, and
//! no two top-level modules import each other, even through others (each layer leans on the
//! ones below it only).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The fenced block under `## Layout` in the README, line by line.
fn readme_layout() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let section = readme.split("\n## Layout\n").nth(1).expect("a ## Layout section");
    let block = section.split("```").nth(1).expect("a fenced block in the layout");
    block.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        }
        found.push(path);
    }
    found
}

/// `migrations/{sqlite,postgres}/` → both folders.
fn expand_braces(path: &str) -> Vec<String> {
    match (path.find('{'), path.find('}')) {
        (Some(open), Some(close)) if open < close => path[open + 1..close]
            .split(',')
            .map(|alt| format!("{}{alt}{}", &path[..open], &path[close + 1..]))
            .collect(),
        _ => vec![path.to_owned()],
    }
}

/// The top-level modules `src/lib.rs` declares.
fn top_level_modules() -> Vec<String> {
    let lib = std::fs::read_to_string("src/lib.rs").expect("src/lib.rs");
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|m| m.trim_end_matches(';').to_owned())
        .collect()
}

#[test]
fn the_readmes_layout_names_every_top_level_module_and_only_files_that_exist() {
    let lines = readme_layout();
    let sources: Vec<String> =
        files_under(Path::new("src")).iter().map(|p| p.to_string_lossy().replace('\\', "/")).collect();
    let mut faults = Vec::new();
    let mut first_columns = BTreeSet::new();
    let mut in_src = false;
    for line in &lines {
        // The first column (an indented line continues the one above).
        if !line.starts_with(' ') {
            let first = line.split_whitespace().next().unwrap_or_default();
            in_src = first.starts_with("src/");
            first_columns.insert(first.to_owned());
            for path in expand_braces(first) {
                if !Path::new(&path).exists() {
                    faults.push(format!("{path} is named but does not exist"));
                }
            }
        }
        // Every Rust file or folder named in the description: `src/…` (or `static/`) as
        // written, a shorter name (`pool/`, `metrics/outcomes.rs`) somewhere under src/.
        if !in_src {
            continue;
        }
        let words = line.split(|c: char| c.is_whitespace() || "(),;:".contains(c)).skip(1);
        for word in words.map(|w| w.trim_end_matches('.')) {
            let rust_file = word.ends_with(".rs");
            let folder = word.ends_with('/') && word.len() > 1 && !word.contains("//");
            if !(rust_file || folder) {
                continue;
            }
            let exists = if word.starts_with("src/") || Path::new(word).exists() {
                Path::new(word).exists()
            } else {
                let suffix = format!("/{}", word.trim_end_matches('/'));
                sources.iter().any(|s| s.ends_with(&suffix))
            };
            if !exists {
                faults.push(format!("{word} (in {:?}) names nothing under src/", line.trim()));
            }
        }
    }
    for module in top_level_modules() {
        if !first_columns.contains(&format!("src/{module}.rs"))
            && !first_columns.contains(&format!("src/{module}/"))
        {
            faults.push(format!("the top-level module {module} has no line of its own"));
        }
    }
    assert!(faults.is_empty(), "README layout:\n{}", faults.join("\n"));
}

/// `crate::x` (and `crate::{x, y::…}`) in the non-test code of each top-level module.
fn imports_between_modules() -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = top_level_modules().into_iter().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files_under(Path::new("src")) {
        let name = path.to_string_lossy().replace('\\', "/");
        if !name.ends_with(".rs") || name.ends_with("/tests.rs") {
            continue;
        }
        let relative = name.trim_start_matches("src/");
        let Some(owner) = relative.split('/').next().map(|f| f.trim_end_matches(".rs").to_owned()) else {
            continue;
        };
        if !modules.contains(&owner) {
            continue; // lib.rs, main.rs
        }
        let text = std::fs::read_to_string(&path).expect("source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut named = Vec::new();
        for part in code.split("crate::").skip(1) {
            if let Some(group) = part.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or_default();
                named.extend(
                    group.split(',').map(|g| g.trim().split("::").next().unwrap_or_default().to_owned()),
                );
            } else {
                named.push(part.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
            }
        }
        for other in named {
            if other != owner && modules.contains(&other) {
                graph.entry(owner.clone()).or_default().insert(other);
            }
        }
    }
    graph
}

/// A path `from → … → from`, if there is one.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().cloned().unwrap_or_default();
        for next in graph.get(&last).into_iter().flatten() {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn no_two_top_level_modules_import_each_other() {
    let graph = imports_between_modules();
    assert!(graph.get("routes").is_some_and(|r| r.contains("booking")), "the scan sees imports: {graph:?}");
    let cycles: BTreeSet<String> =
        graph.keys().filter_map(|m| cycle_through(&graph, m)).map(|c| c.join(" → ")).collect();
    assert!(cycles.is_empty(), "modules in a circle:\n{}", cycles.into_iter().collect::<Vec<_>>().join("\n"));
}
