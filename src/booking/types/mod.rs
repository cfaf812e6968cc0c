//! Values that can only hold what the shop accepts. Parse once at the edge; the domain never
//! re-checks them.

use std::fmt;

use rand::Rng;

/// Why a value was refused: the field it came from and words for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// A tier id as sent by a client: short, lowercase letters, digits and dashes. Whether the
/// tier exists is the database's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierId(String);

impl TierId {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InvalidInput::new("tier", "Choose a ticket tier."));
        }
        if raw.len() > 40 || !raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(InvalidInput::new("tier", "There is no such ticket tier."));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many tickets: at least 1, at most the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

impl Quantity {
    pub fn new(n: i64, max: u32) -> Result<Self, InvalidInput> {
        if n < 1 {
            return Err(InvalidInput::new("quantity", "Quantity must be at least 1."));
        }
        if n > i64::from(max) {
            return Err(InvalidInput::new(
                "quantity",
                format!("Quantity must be at most {max} per booking."),
            ));
        }
        Ok(Self(n as u32))
    }

    /// Parses a form value such as `"2"`.
    pub fn parse(raw: &str, max: u32) -> Result<Self, InvalidInput> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(InvalidInput::new("quantity", "Enter how many tickets you want."));
        }
        let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidInput::new("quantity", "Quantity must be a whole number."));
        }
        // All digits but beyond i64 is still "too many" (or "too few"), not "not a number".
        let n = raw.parse::<i64>().unwrap_or(if raw.starts_with('-') { i64::MIN } else { i64::MAX });
        Self::new(n, max)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn as_i32(self) -> i32 {
        self.0 as i32
    }
}

mod invisible;

/// Text a person typed, as stored: NFC-normalized (so `é` typed two ways is one name), and
/// refused if it holds a character that is invisible, reorders the text, breaks the line or
/// draws a blank (every Unicode format character and default-ignorable code point; see
/// `invisible.rs`).
pub fn visible_text(field: &'static str, label: &str, raw: &str) -> Result<String, InvalidInput> {
    use unicode_normalization::UnicodeNormalization;
    if raw.chars().any(invisible::is_hidden) {
        return Err(InvalidInput::new(
            field,
            format!("{label} must not contain invisible or text-direction characters."),
        ));
    }
    Ok(raw.nfc().collect())
}

/// The buyer's name: 1–100 characters after trimming, not blank to the eye, no control,
/// invisible or text-direction characters, stored NFC-normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerName(String);

impl CustomerName {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let name = visible_text("name", "Name", raw.trim())?;
        let name = name.as_str();
        if name.is_empty() {
            return Err(InvalidInput::new("name", "Enter your name."));
        }
        if name.chars().count() > 100 {
            return Err(InvalidInput::new("name", "Name must be at most 100 characters."));
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidInput::new("name", "Name must not contain control characters."));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address the mailer can send to: `local@domain.tld`, at most 254 characters, no
/// invisible characters, and accepted as it is by lettre's own parsers (`Address`, and
/// `Mailbox`, which the sender uses for the recipient), so a booking is never paid for with an
/// address its tickets can never reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let email = visible_text("email", "Email address", raw.trim())?;
        let email = email.as_str();
        let bad = || InvalidInput::new("email", "Enter an email address like name@example.com.");
        if email.is_empty() {
            return Err(InvalidInput::new("email", "Enter your email address."));
        }
        if email.len() > 254 {
            return Err(InvalidInput::new("email", "Email address must be at most 254 characters."));
        }
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == '<' || c == '>');
        if !(domain_ok && local_ok && mailer_accepts(email)) {
            return Err(bad());
        }
        Ok(Self(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether lettre takes `email` as a recipient exactly as written (no display name, nothing
/// rewritten).
fn mailer_accepts(email: &str) -> bool {
    let address = email.parse::<lettre::Address>();
    let mailbox = email.parse::<lettre::message::Mailbox>();
    matches!((address, mailbox), (Ok(a), Ok(m)) if m.name.is_none() && m.email == a && a.to_string() == email)
}

/// A client-chosen key that makes a retried request return the first attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 8–100 visible ASCII characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let key = raw.trim();
        if key.len() < 8 || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidInput::new(
                "idempotency_key",
                "The form's idempotency key is malformed; reload the page and try again.",
            ));
        }
        Ok(Self(key.to_owned()))
    }

    /// A fresh key for a form being rendered.
    pub fn generate() -> Self {
        Self(crate::settings::random_token(24))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A booking reference such as `TK-7F3K-92QD-X4`: 10 symbols from a 32-letter alphabet
/// (50 random bits) that has no 0/O or 1/I to confuse when read aloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

const REFERENCE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

impl Reference {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut symbols = (0..10).map(|_| REFERENCE_ALPHABET[rng.random_range(0..32)] as char);
        let mut group = |n: usize| symbols.by_ref().take(n).collect::<String>();
        Self(format!("TK-{}-{}-{}", group(4), group(4), group(2)))
    }

    /// Accepts a reference typed by a person: case-insensitive, surrounding spaces ignored.
    pub fn parse(raw: &str) -> Option<Self> {
        let upper = raw.trim().to_ascii_uppercase();
        let parts: Vec<&str> = upper.split('-').collect();
        let ok = parts.len() == 4
            && parts[0] == "TK"
            && [parts[1].len(), parts[2].len(), parts[3].len()] == [4, 4, 2]
            && parts[1..].iter().all(|p| p.bytes().all(|b| REFERENCE_ALPHABET.contains(&b)));
        ok.then_some(Self(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
