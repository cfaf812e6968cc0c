//! The settings of tickets, email and the door (SPEC §11): `PUBLIC_BASE_URL`, `TICKET_SECRET`,
//! `SMTP_URL`, `EMAIL_FROM`, `DOOR_PASSWORD`, and the sender's `EMAIL_OUTBOX_DIR`,
//! `EMAIL_MAX_ATTEMPTS`, `EMAIL_RETRY_BASE_MS`, `EMAIL_SEND_TIMEOUT_SECS`.

use std::path::PathBuf;
use std::time::Duration;

use super::vars::{Vars, fault};
use super::{SecretString, SettingsError};

/// Default `EMAIL_FROM`.
pub const DEFAULT_FROM: &str = "TechKraft Tickets <tickets@techkraft.invalid>";

#[derive(Clone, Debug)]
pub struct TicketingSettings {
    /// Where links in emails point (no trailing slash); unset: `http://` + the bound address.
    pub public_base_url: Option<String>,
    /// Signs ticket codes; unset: generated once and kept in the database.
    pub ticket_secret: Option<SecretString>,
    /// `smtp://…` or `smtps://…` (it may carry a password); unset: `.eml` files.
    pub smtp_url: Option<SecretString>,
    pub email_from: String,
    /// Door staff sign-in; unset: only the admin password opens the door.
    pub door_password: Option<SecretString>,
    /// Where emails go as `.eml` files when `SMTP_URL` is unset.
    pub outbox_dir: PathBuf,
    /// Sends tried before an email is marked failed.
    pub email_max_attempts: i32,
    /// The first retry of a failed send; each later one waits twice as long (at most 5 min).
    pub email_retry_base: Duration,
    /// How long one SMTP conversation may take; a claimed email is leased for twice this plus
    /// 5 s, after which another process may send it.
    pub email_send_timeout: Duration,
}

impl TicketingSettings {
    /// Reads the settings of this group.
    pub fn parse(vars: Vars) -> Result<Self, SettingsError> {
        let public_base_url = match vars.get("PUBLIC_BASE_URL") {
            None => None,
            Some(url) => Some(
                public_base_url(&url)
                    .ok_or_else(|| fault("PUBLIC_BASE_URL", "must be an http:// or https:// address"))?,
            ),
        };
        let ticket_secret = match vars.get("TICKET_SECRET") {
            Some(s) if s.len() < 32 => return Err(fault("TICKET_SECRET", "must be at least 32 characters")),
            other => other.map(SecretString::from),
        };
        let smtp_url = match vars.get("SMTP_URL") {
            Some(url) if !(url.starts_with("smtp://") || url.starts_with("smtps://")) => {
                return Err(fault("SMTP_URL", "must start with smtp:// or smtps://"));
            }
            Some(url) => match lettre::SmtpTransport::from_url(url.trim()) {
                Err(e) => return Err(fault("SMTP_URL", format!("cannot be used: {e}"))),
                Ok(_) => Some(SecretString::from(url.trim())),
            },
            None => None,
        };
        let email_from = vars.get("EMAIL_FROM").unwrap_or_else(|| DEFAULT_FROM.into()).trim().to_owned();
        if email_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(fault("EMAIL_FROM", "must be an address such as Tickets <tickets@example.com>"));
        }
        let door_password = match vars.get("DOOR_PASSWORD") {
            Some(p) if p.chars().count() < 8 => {
                return Err(fault("DOOR_PASSWORD", "must be at least 8 characters"));
            }
            other => other.map(SecretString::from),
        };
        Ok(Self {
            public_base_url,
            ticket_secret,
            smtp_url,
            email_from,
            door_password,
            outbox_dir: PathBuf::from(vars.get("EMAIL_OUTBOX_DIR").unwrap_or_else(|| "data/outbox".into())),
            email_max_attempts: vars.parse_in("EMAIL_MAX_ATTEMPTS", 10, 1..=100)?,
            email_retry_base: Duration::from_millis(vars.parse_in(
                "EMAIL_RETRY_BASE_MS",
                1000,
                1..=600_000,
            )?),
            email_send_timeout: Duration::from_secs(vars.parse_in("EMAIL_SEND_TIMEOUT_SECS", 10, 1..=300)?),
        })
    }
}

/// Checks `PUBLIC_BASE_URL` with the `url` crate: http or https, a host, no user, query or
/// fragment. Returns it as given, without a trailing slash.
fn public_base_url(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches('/');
    let url = url::Url::parse(text).ok()?;
    let fine = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    fine.then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<TicketingSettings, SettingsError> {
        let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
        TicketingSettings::parse(Vars::new(&lookup))
    }

    #[test]
    fn unset_settings_take_the_defaults() {
        let s = parse(&[]).expect("defaults");
        assert_eq!(s.public_base_url, None);
        assert!(s.smtp_url.is_none() && s.ticket_secret.is_none() && s.door_password.is_none());
        assert_eq!(s.email_from, DEFAULT_FROM);
        assert_eq!(s.outbox_dir, PathBuf::from("data/outbox"));
        assert_eq!(s.email_max_attempts, 10);
    }

    #[test]
    fn urls_are_checked_and_trimmed() {
        let s = parse(&[
            ("PUBLIC_BASE_URL", "https://tickets.example.com/"),
            ("SMTP_URL", "smtps://u:p@mail.example.com"),
        ])
        .expect("valid");
        assert_eq!(s.public_base_url.as_deref(), Some("https://tickets.example.com"));
        let v6 = parse(&[("PUBLIC_BASE_URL", "http://[::1]:3000")]).expect("an IPv6 literal");
        assert_eq!(v6.public_base_url.as_deref(), Some("http://[::1]:3000"));
        assert!(format!("{s:?}").contains("REDACTED") && !format!("{s:?}").contains("u:p@"));
        for (variable, value) in [
            ("PUBLIC_BASE_URL", "tickets.example.com"),
            ("PUBLIC_BASE_URL", "ftp://tickets.example.com"),
            ("PUBLIC_BASE_URL", "https://tickets example.com"),
            ("PUBLIC_BASE_URL", "https://tickets.example.com/?x=1"),
            ("SMTP_URL", "http://mail.example.com"),
            ("EMAIL_FROM", "not an address"),
            ("TICKET_SECRET", "short"),
            ("DOOR_PASSWORD", "1234"),
            ("EMAIL_MAX_ATTEMPTS", "0"),
        ] {
            let err = parse(&[(variable, value)]).expect_err(variable);
            assert_eq!(err.variable, variable, "{err}");
        }
    }
}
