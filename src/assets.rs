//! The vendored assets (`static/`), compiled into the binary so it runs from any directory, and
//! their version: a content hash that every page's asset URLs carry (`?v=…`), so browsers may
//! cache them for a year. `routes/assets.rs` serves them; pages and the error page name them.

/// One file of `static/`.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../static/htmx.min.js"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../static/app.js"),
    },
    Asset {
        name: "queue.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../static/queue.js"),
    },
    Asset {
        name: "door.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../static/door.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../static/app.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../static/favicon.svg"),
    },
];

/// A short fingerprint of all assets, appended to their URLs (`?v=…`) to bust caches on change.
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in ASSETS.iter().flat_map(|a| a.body.iter()) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:08x}", hash as u32)
    })
}

/// The asset called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `static/` is served, and every `/static/…` a template names is one of
    /// them (the door's camera script and the waiting room's were once missing: the pages
    /// linked them, the server answered 404, and the browser refused the script).
    #[test]
    fn every_static_file_and_every_asset_a_template_names_is_served() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(root.join("static")).expect("static/") {
            let name = entry.expect("an entry").file_name().into_string().expect("a name");
            assert!(find(&name).is_some(), "static/{name} is not served");
        }
        let mut templates = vec![root.join("templates")];
        while let Some(dir) = templates.pop() {
            for entry in std::fs::read_dir(&dir).expect("a template folder") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    templates.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for (at, _) in text.match_indices("/static/") {
                    let name: String = text[at + 8..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                        .collect();
                    assert!(
                        find(&name).is_some(),
                        "{} names /static/{name}, which is not served",
                        path.display()
                    );
                }
            }
        }
    }
}
