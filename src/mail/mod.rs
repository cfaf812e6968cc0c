//! Email: what the sender needs to know (where mail goes, who it is from, where links point),
//! the messages themselves (`compose`), and the one blocking call that delivers a message to
//! `SMTP_URL` or, with no SMTP server configured, writes it as an `.eml` file under
//! `data/outbox/` so that the zero-setup run shows real emails a person can open.

mod compose;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use compose::{EmailFacts, compose};

use crate::event::Event;
use crate::settings::{ExposeSecret, SecretString, Settings};

/// Where messages go.
#[derive(Clone, Debug)]
pub enum Transport {
    /// An SMTP server: `smtp://host:port` (STARTTLS when the server offers it, as lettre does
    /// by default), `smtps://user:pass@host` (TLS from the start), `?tls=required`.
    Smtp(SecretString),
    /// `.eml` files in this folder.
    Files(PathBuf),
}

/// The sender's settings.
#[derive(Clone, Debug)]
pub struct Mail {
    pub transport: Transport,
    pub from: String,
    /// Links in emails start here (no trailing slash).
    pub base_url: String,
    pub event: Event,
    /// Sends tried before an email is marked failed.
    pub max_attempts: i32,
    /// The first retry; later ones double (at most 5 minutes).
    pub retry_base: Duration,
    /// How long one SMTP conversation may take.
    pub send_timeout: Duration,
}

impl Mail {
    /// The sender's settings for a server bound to `bound`: links point at `PUBLIC_BASE_URL`,
    /// else at the address the server really bound.
    pub fn for_server(settings: &Settings, bound: SocketAddr) -> Self {
        let base_url = settings.tickets.public_base_url.clone().unwrap_or_else(|| {
            let mut addr = bound;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{addr}")
        });
        let transport = match &settings.tickets.smtp_url {
            Some(url) => Transport::Smtp(url.clone()),
            None => Transport::Files(settings.tickets.outbox_dir.clone()),
        };
        Self {
            transport,
            from: settings.tickets.email_from.clone(),
            base_url,
            event: settings.event.clone(),
            max_attempts: settings.tickets.email_max_attempts,
            retry_base: settings.tickets.email_retry_base,
            send_timeout: settings.tickets.email_send_timeout,
        }
    }

    /// How long a claimed email is left to its sender: past its send timeout, with room to
    /// record the result. After that another process may send it (again).
    pub fn lease(&self) -> Duration {
        self.send_timeout * 2 + Duration::from_secs(5)
    }

    /// The host part of the base URL, for `Message-ID`s.
    pub fn host(&self) -> String {
        url_host(&self.base_url)
    }

    /// Delivers `message` (blocking: run it off the async executor). `id` names the file.
    pub fn deliver(&self, id: &str, message: &lettre::Message) -> Result<(), String> {
        match &self.transport {
            Transport::Smtp(url) => {
                use lettre::Transport as _;
                let transport = lettre::SmtpTransport::from_url(url.expose_secret())
                    .map_err(|e| format!("SMTP_URL: {e}"))?
                    .timeout(Some(self.send_timeout))
                    .build();
                transport.send(message).map(|_| ()).map_err(|e| error_chain(&e))
            }
            Transport::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                // Written whole, then renamed: a reader never sees half a message.
                let (partial, done) = (dir.join(format!(".{id}.eml.part")), dir.join(format!("{id}.eml")));
                std::fs::write(&partial, message.formatted())
                    .and_then(|()| std::fs::rename(&partial, &done))
                    .map_err(|e| format!("{}: {e}", done.display()))
            }
        }
    }
}

/// The error with its causes (lettre's top-level words alone say little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The host of a URL as it is written in one (`[::1]` for IPv6), by the `url` crate;
/// `localhost` when there is none.
pub fn url_host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_string()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(base_url: &str) -> Mail {
        Mail {
            transport: Transport::Files(PathBuf::from("x")),
            from: crate::settings::DEFAULT_FROM.into(),
            base_url: base_url.into(),
            event: Event::parse(None, None, None).expect("event"),
            max_attempts: 3,
            retry_base: Duration::from_secs(1),
            send_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn the_message_id_host_comes_from_the_base_url() {
        assert_eq!(mail("https://tickets.example.com/shop").host(), "tickets.example.com");
        assert_eq!(mail("http://127.0.0.1:3000").host(), "127.0.0.1");
        assert_eq!(mail("http://[::1]:3000").host(), "[::1]");
    }
}
