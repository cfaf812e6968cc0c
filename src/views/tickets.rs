//! Tickets as pages show them (a QR code per ticket as inline SVG), the calendar file, and the
//! door's answers in words.

use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::booking::tickets::CheckIn;
use crate::booking::{BookingStatus, Ticket};
use crate::event::Event;

/// One ticket on the ticket page.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub seat: i32,
    pub code: String,
    /// The QR code as an inline `<svg>` (rendered on the server; no script).
    pub qr_svg: String,
    /// "Valid", "Checked in at 19:42", or why it no longer admits.
    pub state: String,
    pub admits: bool,
}

impl TicketView {
    /// The tickets of a booking in `status`; times in the venue's offset.
    pub fn all(tickets: &[Ticket], status: BookingStatus, event: &Event) -> Vec<Self> {
        tickets
            .iter()
            .map(|t| {
                let title = format!("QR code of ticket {}: {}", t.seat, t.code);
                let state = match (t.checked_in_at, status) {
                    (Some(at), _) => format!("Checked in at {}", local_time(at, event)),
                    (None, BookingStatus::Confirmed) => "Valid: admits one person once".to_owned(),
                    (None, other) => format!("Not valid: booking {}", other.label().to_lowercase()),
                };
                Self {
                    seat: t.seat,
                    code: t.code.clone(),
                    qr_svg: crate::qr::svg(&t.code, 200, &title).unwrap_or_default(),
                    admits: status == BookingStatus::Confirmed && t.checked_in_at.is_none(),
                    state,
                }
            })
            .collect()
    }
}

/// An email the sender gave up on, for the dashboard.
#[derive(Debug, Clone)]
pub struct FailedEmailRow {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub attempts: i32,
    pub error: String,
    pub at: String,
}

impl FailedEmailRow {
    pub fn new(email: &crate::booking::OutboxEmail) -> Self {
        Self {
            id: email.id.clone(),
            kind: email.kind.clone(),
            recipient: email.recipient.clone(),
            attempts: email.attempts,
            error: email.last_error.clone().unwrap_or_default(),
            at: crate::clock::format_millis(email.updated_at),
        }
    }
}

/// `19:42` in the venue's offset.
pub fn local_time(millis: i64, event: &Event) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|t| t.with_timezone(event.starts_at.offset()).format("%H:%M").to_string())
        .unwrap_or_default()
}

/// The door's answer: HTTP status and the sentence shown.
pub fn door_answer(outcome: &CheckIn, event: &Event) -> (u16, String) {
    match outcome {
        CheckIn::Admitted { tier_name, customer_name } => {
            // A name stored before names were checked may be blank to the eye: say so.
            let who = match crate::booking::CustomerName::parse(customer_name) {
                Ok(name) => name.as_str().to_owned(),
                Err(_) => "no readable name on the booking".to_owned(),
            };
            (200, format!("Admitted: {tier_name}, {who}"))
        }
        CheckIn::AlreadyIn { at } => (409, format!("Already checked in at {}", local_time(*at, event))),
        CheckIn::NotValid { status } => {
            (409, format!("Not valid: this booking is {}. Do not admit.", status.label().to_lowercase()))
        }
        CheckIn::Unknown => (404, "Unknown ticket: no ticket has this code. Do not admit.".to_owned()),
        CheckIn::Forged => (422, "Forged code: the signature does not match. Do not admit.".to_owned()),
        CheckIn::Malformed => (422, "That is not a ticket code (it looks like TIX-…-…).".to_owned()),
    }
}

/// An iCalendar file (RFC 5545) with the concert, three hours long, for a booking.
pub fn ics(event: &Event, reference: &str, link: &str, host: &str) -> String {
    let utc = |t: DateTime<FixedOffset>| t.with_timezone(&Utc).format("%Y%m%dT%H%M%SZ").to_string();
    let text = |s: &str| s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n");
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//TechKraft//Concert Tickets//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{reference}@{host}"),
        format!("DTSTAMP:{}", Utc::now().format("%Y%m%dT%H%M%SZ")),
        format!("DTSTART:{}", utc(event.starts_at)),
        format!("DTEND:{}", utc(event.starts_at + Duration::hours(3))),
        format!("SUMMARY:{}", text(&event.name)),
        format!("LOCATION:{}", text(&event.venue)),
        format!("DESCRIPTION:{}", text(&format!("Booking {reference}. Your tickets: {link}"))),
        format!("URL:{link}"),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

/// A content line folded at 75 octets (RFC 5545 §3.1), never inside a character.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for ch in line.chars() {
        if width + ch.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(ch);
        width += ch.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_file_names_the_concert_in_utc() {
        let event = Event::parse(Some("Gala, Night"), Some("Hall; One"), Some("2027-06-19T20:00:00-04:00"))
            .expect("event");
        let ics = ics(&event, "TK-AAAA-BBBB-CC", "http://x/bookings/TK-AAAA-BBBB-CC", "x");
        assert!(ics.contains("DTSTART:20270620T000000Z\r\n"), "{ics}");
        assert!(ics.contains("DTEND:20270620T030000Z\r\n"));
        assert!(ics.contains("SUMMARY:Gala\\, Night\r\n"));
        assert!(ics.contains("LOCATION:Hall\\; One\r\n"));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
        assert!(ics.split("\r\n").all(|line| line.len() <= 75), "{ics}");
        assert!(ics.contains("\r\n "), "the long description is folded");
    }

    #[test]
    fn door_times_are_the_venues() {
        let event = Event::parse(None, None, Some("2027-06-19T20:00:00-04:00")).expect("event");
        // 23:42 UTC is 19:42 at the venue.
        let at = DateTime::parse_from_rfc3339("2027-06-19T23:42:00Z").expect("time").timestamp_millis();
        assert_eq!(
            door_answer(&CheckIn::AlreadyIn { at }, &event),
            (409, "Already checked in at 19:42".into())
        );
    }

    #[test]
    fn the_door_never_shows_a_blank_name() {
        let event = Event::parse(None, None, None).expect("event");
        let admitted = |name: &str| {
            door_answer(&CheckIn::Admitted { tier_name: "VIP".into(), customer_name: name.into() }, &event).1
        };
        assert_eq!(admitted("Ada Lovelace"), "Admitted: VIP, Ada Lovelace");
        for stored in ["", "\u{3164}", "\u{2800}"] {
            assert_eq!(admitted(stored), "Admitted: VIP, no readable name on the booking", "{stored:?}");
        }
    }
}
