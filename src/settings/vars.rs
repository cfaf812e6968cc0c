//! Reading one variable: unset and blank are the same, a value is trimmed before it is parsed,
//! and every fault is a [`SettingsError`] that names the variable. Each group of settings
//! (`mod.rs`, `tickets.rs`, `edges.rs`, `backup.rs`) reads through [`Vars`].

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::str::FromStr;

use super::SettingsError;

/// The environment as settings read it (the process's, or a map in tests).
#[derive(Clone, Copy)]
pub struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// A fault of `variable`.
pub fn fault(variable: &'static str, fault: impl Into<String>) -> SettingsError {
    SettingsError { variable, fault: fault.into() }
}

impl<'a> Vars<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// The value as set (not trimmed: a password keeps its spaces); `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// The value parsed with `FromStr`, or `default` when unset.
    pub fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, SettingsError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| fault(name, format!("{v:?} is not a valid value"))),
        }
    }

    /// The value parsed with `FromStr`, or `default` when unset; refused outside `range`
    /// (`setting HOLD_TTL_SECS: must be in 1..=86400, not "0"`).
    pub fn parse_in<T, R>(&self, name: &'static str, default: T, range: R) -> Result<T, SettingsError>
    where
        T: FromStr + PartialOrd,
        R: RangeBounds<T> + Debug,
    {
        let Some(v) = self.get(name) else { return Ok(default) };
        match v.trim().parse::<T>() {
            Ok(value) if range.contains(&value) => Ok(value),
            _ => Err(fault(name, format!("must be in {range:?}, not {:?}", v.trim()))),
        }
    }

    /// The value read by `read` (which says what is wrong), or `default` when unset.
    pub fn with<T>(
        &self,
        name: &'static str,
        default: &str,
        read: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, SettingsError> {
        read(self.get(name).as_deref().unwrap_or(default)).map_err(|f| fault(name, f))
    }

    /// `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off` (any case), or `default` when unset.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, SettingsError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
            Some(v) => Err(fault(name, format!("{v:?} is not true or false"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<T>(value: &str, read: impl FnOnce(Vars) -> T) -> T {
        let value = value.to_owned();
        let lookup = move |name: &str| (name == "X").then(|| value.clone());
        read(Vars::new(&lookup))
    }

    #[test]
    fn a_value_in_range_is_taken_and_unset_or_blank_is_the_default() {
        assert_eq!(with(" 7 ", |v| v.parse_in("X", 3u32, 1..=10)).ok(), Some(7));
        assert_eq!(with("", |v| v.parse_in("X", 3u32, 1..=10)).ok(), Some(3));
        assert_eq!(with("  ", |v| v.parse_in("Y", 3u32, 1..=10)).ok(), Some(3));
        assert_eq!(with("0.5", |v| v.parse_in("X", 0.9, 0.0..=1.0)).ok(), Some(0.5));
        assert_eq!(with("1", |v| v.parse_in("X", 5u32, 1..)).ok(), Some(1));
    }

    #[test]
    fn a_fault_is_one_line_naming_the_variable_the_range_and_the_value() {
        let err = with("0", |v| v.parse_in("X", 3u32, 1..=10)).expect_err("out of range");
        assert_eq!(err.to_string(), r#"setting X: must be in 1..=10, not "0""#);
        let err = with("often", |v| v.parse_in("X", 0.9, 0.0..=1.0)).expect_err("not a number");
        assert_eq!(err.to_string(), r#"setting X: must be in 0.0..=1.0, not "often""#);
        let err = with("0", |v| v.parse_in("X", 5u32, 1..)).expect_err("below");
        assert_eq!(err.to_string(), r#"setting X: must be in 1.., not "0""#);
        let err = with("maybe", |v| v.flag("X", false)).expect_err("not a flag");
        assert_eq!(err.to_string(), r#"setting X: "maybe" is not true or false"#);
    }
}
