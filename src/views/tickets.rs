//! Tickets as pages show them (a QR code per ticket as inline SVG), and the door's answers in
//! words.

use chrono::{DateTime, Utc};

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

#[cfg(test)]
mod tests {
    use super::*;

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
