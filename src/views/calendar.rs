//! The concert as an iCalendar file (RFC 5545), for a booking.

use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::event::Event;

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
}
