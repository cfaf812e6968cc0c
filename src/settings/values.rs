//! The values settings are made of: database URLs, delay ranges, origins, and comparing
//! secrets (which are `secrecy::SecretString`: never printed, never compared with `==`).

use std::time::Duration;

use rand::Rng;

/// Where the database lives; the scheme decides the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: PATH is everything after the scheme (relative or absolute).
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`, passed to libpq unchanged.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a URL, refusing any scheme other than `sqlite://`, `postgres://` and
    /// `postgresql://` (Diesel's `MultiConnection` would otherwise open a SQLite file named
    /// after whatever string it was given).
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://data/techkraft.sqlite3".into());
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err("must start with sqlite://, postgres:// or postgresql://".into())
        }
    }

    /// The URL without any password, safe for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{path}"),
            Self::Postgres(url) => redact_password(url),
        }
    }
}

fn redact_password(url: &str) -> String {
    // postgres://user:secret@host/db -> postgres://user:***@host/db
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let url = match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    };
    // …?password=secret&… (libpq takes the password as a parameter too)
    match url.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => url,
    }
}

/// A comma-separated list of origins, each as browsers send it in `Origin` (the `url` crate's
/// serialization: lowercase host, no default port, no path).
pub(super) fn cors_origins(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| match url::Url::parse(o) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.path() == "/" => {
                Ok(url.origin().ascii_serialization())
            }
            _ => Err(format!("{o:?} is not an http(s) origin")),
        })
        .collect()
}

/// The simulated gateway's latency: a fixed number or an inclusive range of milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayRange {
    pub min_ms: u64,
    pub max_ms: u64,
}

impl DelayRange {
    /// Parses `250` or `100-500`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let number = |s: &str| {
            s.trim().parse::<u64>().map_err(|_| format!("{s:?} is not a whole number of milliseconds"))
        };
        let (min_ms, max_ms) = match text.split_once('-') {
            Some((lo, hi)) => (number(lo)?, number(hi)?),
            None => {
                let n = number(text)?;
                (n, n)
            }
        };
        if min_ms > max_ms {
            return Err(format!("range {min_ms}-{max_ms} runs backwards"));
        }
        if max_ms > 600_000 {
            return Err("at most 600000 ms".into());
        }
        Ok(Self { min_ms, max_ms })
    }

    /// A delay drawn uniformly from the range.
    pub fn sample(&self) -> Duration {
        Duration::from_millis(rand::rng().random_range(self.min_ms..=self.max_ms))
    }
}

/// Compares two secrets in constant time: both are hashed to 32 bytes first (so not even the
/// length leaks), then compared by `subtle`. Every comparison of a secret goes through here
/// (`SecretString` has no `==`).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

/// A random string of `len` characters from an alphabet that survives copy and paste.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A row id that sorts by creation time: the milliseconds since 1970 in 11 base-32 digits
/// (enough until the year 37,000), then 13 random characters of [`random_token`]'s alphabet
/// (76 bits). Rows inserted together land at the end of their primary-key and foreign-key
/// indexes instead of on a random page of each, so a batch of bookings writes a few index pages
/// instead of a few per booking. Not secret, and not a reference: nothing public is keyed by it.
pub fn time_ordered_id(now_millis: i64) -> String {
    const DIGITS: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let millis = now_millis.max(0) as u64;
    let mut id: String = (0..11).rev().map(|i| DIGITS[((millis >> (5 * i)) & 31) as usize] as char).collect();
    id.push_str(&random_token(13));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_ids_sort_by_time_and_differ() {
        let earlier = time_ordered_id(1_764_000_000_000);
        let later = time_ordered_id(1_764_000_000_001);
        let much_later = time_ordered_id(4_000_000_000_000);
        assert_eq!(earlier.len(), 24);
        assert!(earlier < later && later < much_later, "{earlier} {later} {much_later}");
        assert_ne!(time_ordered_id(5), time_ordered_id(5));
        assert!(time_ordered_id(-1).starts_with("00000000000"));
    }

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"hunter22", b"hunter22"));
        assert!(!constant_time_eq(b"hunter22", b"hunter23"));
        assert!(!constant_time_eq(b"hunter22", b"hunter2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
