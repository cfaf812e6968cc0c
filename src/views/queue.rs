//! The waiting room as its page shows it: the place and the people ahead as counts, a
//! progress figure, the wait in words, the countdown to the opening, sold-out tiers.

use chrono::{DateTime, FixedOffset};

use crate::booking::queue::Queue;
use crate::booking::queue::View;
use crate::clock::now_millis;
use crate::money::count;
use crate::settings::Settings;

/// What `templates/queue.html` and its polled fragment show.
#[derive(Debug, Clone)]
pub struct QueueView {
    /// `before` (the opening has not come), `waiting`, `paused` or `sold-out`.
    pub state: &'static str,
    /// The opening, RFC 3339 (for `<time datetime>`), and in words in its own offset.
    pub opens_at_iso: String,
    pub opens_at_text: String,
    /// Before the opening: seconds to go, and in words ("4 min 05 s").
    pub opens_in_secs: i64,
    pub countdown_text: String,
    pub position_text: Option<String>,
    pub ahead_text: Option<String>,
    /// How far the line ahead of the fan has moved in, 0 to 100.
    pub progress_percent: u32,
    pub wait_text: Option<String>,
    /// How many fans are in line (before the opening: how many are here).
    pub in_line_text: String,
    pub sold_out_tiers: Vec<String>,
    pub poll_seconds: u32,
    pub session_minutes: u64,
    /// The fan's position when every tier sold out while they waited.
    pub lost_position: Option<String>,
}

impl QueueView {
    fn base(queue: &Queue, shop: &Settings, view: Option<&View>) -> Self {
        let settings = queue.settings();
        let opens_at = settings.opens_at;
        let opens_in_secs =
            opens_at.map_or(0, |t| ((t.timestamp_millis() - now_millis()).max(0) + 999) / 1000);
        Self {
            state: "waiting",
            opens_at_iso: opens_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            opens_at_text: opens_at.as_ref().map(when).unwrap_or_default(),
            opens_in_secs,
            countdown_text: duration_text(opens_in_secs),
            position_text: None,
            ahead_text: None,
            progress_percent: 0,
            wait_text: None,
            in_line_text: view.map(|v| count(v.waiting())).unwrap_or_default(),
            sold_out_tiers: view.map(|v| v.sold_out.clone()).unwrap_or_default(),
            poll_seconds: shop.poll_seconds,
            session_minutes: settings.session.as_secs().div_ceil(60),
            lost_position: None,
        }
    }

    /// A fan in line at `position` with `ahead` before them.
    pub fn waiting(
        queue: &Queue,
        shop: &Settings,
        view: &View,
        position: Option<i64>,
        ahead: Option<i64>,
        wait_secs: Option<i64>,
    ) -> Self {
        let mut v = Self::base(queue, shop, Some(view));
        v.state = match (position, view.paused) {
            (None, _) => "before",
            (Some(_), true) => "paused",
            (Some(_), false) => "waiting",
        };
        if let (Some(position), Some(ahead)) = (position, ahead) {
            v.position_text = Some(count(position));
            v.ahead_text = Some(count(ahead));
            // Of the fans who were ahead at the opening, the share let in since.
            let before_me = (position - 1).max(0);
            v.progress_percent =
                if before_me == 0 { 100 } else { ((before_me - ahead) * 100 / before_me) as u32 };
        }
        v.wait_text = wait_secs.map(wait_words);
        v
    }

    /// Every tier is gone.
    pub fn sold_out(queue: &Queue, shop: &Settings, position: Option<i64>) -> Self {
        let view = queue.view();
        let mut v = Self::base(queue, shop, view.as_deref());
        v.state = "sold-out";
        v.lost_position = position.map(count);
        v
    }

    pub fn is(&self, state: &str) -> bool {
        self.state == state
    }
}

/// The waiting room on the admin page.
#[derive(Debug, Clone)]
pub struct QueuePanel {
    pub opens_at_iso: String,
    pub opens_at_text: String,
    /// `before the opening`, `admitting` or `paused`.
    pub state_text: &'static str,
    pub paused: bool,
    pub waiting: String,
    pub admitted: String,
    pub active: String,
    pub active_max: String,
    pub rate: String,
    pub rate_value: i64,
    pub session_minutes: u64,
    pub max_age_ms: u128,
}

impl QueuePanel {
    /// The panel, when there is a waiting room.
    pub fn new(queue: &Queue, shop: &Settings) -> Option<Self> {
        let view = queue.view()?;
        let settings = queue.settings();
        let opens_at = settings.opens_at?;
        let state_text = match (view.opened, view.paused) {
            (false, _) => "before the opening",
            (true, true) => "paused",
            (true, false) => "admitting",
        };
        Some(Self {
            opens_at_iso: opens_at.to_rfc3339(),
            opens_at_text: when(&opens_at),
            state_text,
            paused: view.paused,
            waiting: count(view.waiting()),
            admitted: count(view.admitted),
            active: count(view.active),
            active_max: count(settings.active_max),
            rate: count(view.rate_per_min),
            rate_value: view.rate_per_min,
            session_minutes: settings.session.as_secs().div_ceil(60),
            max_age_ms: shop.availability_max_age.as_millis().max(25),
        })
    }
}

/// The admitted fan's notice on the shop: until when their turn lasts, in the venue's time.
pub fn turn_text(until: i64, event: &crate::event::Event) -> String {
    let offset = *event.starts_at.offset();
    let at = DateTime::from_timestamp_millis(until).map(|t| t.with_timezone(&offset));
    let at = at.map(|t| t.format("%H:%M").to_string()).unwrap_or_default();
    format!(
        "It's your turn. Book by {at} ({}), while your turn lasts; it ends when your booking is confirmed.",
        event.offset_text()
    )
}

/// `Saturday 1 May 2027, 10:00 (UTC+02:00)`.
fn when(t: &DateTime<FixedOffset>) -> String {
    let seconds = t.offset().local_minus_utc();
    let offset = if seconds == 0 {
        "UTC".to_owned()
    } else {
        let sign = if seconds < 0 { '\u{2212}' } else { '+' };
        let minutes = seconds.unsigned_abs() / 60;
        format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    };
    format!("{}, {} ({offset})", t.format("%A %-d %B %Y"), t.format("%H:%M"))
}

/// `2 h 05 min`, `4 min 05 s`, `42 s`.
pub fn duration_text(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

/// The wait in words: `less than a minute`, `about 1 minute`, `about 25 minutes`,
/// `about 2 hours 10 minutes`.
pub fn wait_words(secs: i64) -> String {
    if secs < 60 {
        return "less than a minute".into();
    }
    let minutes = (secs + 30) / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    let plural = |n: i64, word: &str| if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") };
    match (h, m) {
        (0, m) => format!("about {}", plural(m, "minute")),
        (h, 0) => format!("about {}", plural(h, "hour")),
        (h, m) => format!("about {} {}", plural(h, "hour"), plural(m, "minute")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_naturally() {
        assert_eq!(duration_text(42), "42 s");
        assert_eq!(duration_text(245), "4 min 05 s");
        assert_eq!(duration_text(7500), "2 h 05 min");
        assert_eq!(wait_words(10), "less than a minute");
        assert_eq!(wait_words(75), "about 1 minute");
        assert_eq!(wait_words(25 * 60), "about 25 minutes");
        assert_eq!(wait_words(3600), "about 1 hour");
        assert_eq!(wait_words(7800), "about 2 hours 10 minutes");
        let t = DateTime::parse_from_rfc3339("2027-05-01T10:00:00+02:00").unwrap();
        assert_eq!(when(&t), "Saturday 1 May 2027, 10:00 (UTC+02:00)");
    }
}
