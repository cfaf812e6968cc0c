//! Fans of the waiting room: a client that keeps its cookies (`tk_queue`, `tk_admit`) as a
//! browser does, and the settings that open a sale at a given moment.

use serde_json::Value;

use super::Backend;
use super::admin::set_cookies;
use super::app::{TestApp, spawn_app, spawn_app_on};
use super::http::Answer;

/// `SALE_OPENS_AT` this many seconds from now (negative: already open), RFC 3339.
pub fn opens_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A sale that opened two minutes ago and lets one fan in a minute (so the first fan is let in
/// at once and the next ones wait), with a 50 ms availability snapshot; `extra` adds settings or
/// overrides these.
pub async fn open_sale(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let opens = opens_in(-120);
    spawn_app(backend, &open_sale_settings(&opens, extra)).await
}

/// [`open_sale`] on a given database.
pub async fn open_sale_on(database_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let opens = opens_in(-120);
    spawn_app_on(database_url, &open_sale_settings(&opens, extra)).await
}

fn open_sale_settings<'a>(opens: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut settings =
        vec![("SALE_OPENS_AT", opens), ("QUEUE_ADMIT_PER_MIN", "1"), ("AVAILABILITY_MAX_AGE_MS", "50")];
    settings.extend_from_slice(extra); // later ones win
    settings
}

/// The first two fans of an [`open_sale`]: the first let in, the second second in line.
pub async fn admitted_and_waiting(app: &TestApp) -> (Fan, Fan) {
    let (mut first, mut second) = (Fan::new(), Fan::new());
    assert_eq!(first.poll(app).await["state"], "admitted");
    assert_eq!(position(&second.poll(app).await), Some(2));
    (first, second)
}

/// A fan with a cookie jar, talking to one server.
#[derive(Debug, Clone, Default)]
pub struct Fan {
    pub cookies: Vec<(String, String)>,
}

impl Fan {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of cookie `name`, if the fan holds it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// Sets (or replaces) a cookie by hand.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(n, _)| n != name);
        self.cookies.push((name.to_owned(), value.to_owned()));
    }

    pub fn header(&self) -> String {
        self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Keeps what an answer sets, and forgets what it removes.
    pub fn absorb(&mut self, answer: &Answer) {
        for (name, value, attributes) in set_cookies(answer) {
            self.cookies.retain(|(n, _)| *n != name);
            if !value.is_empty() && !attributes.contains("Max-Age=0") {
                self.cookies.push((name, value));
            }
        }
    }

    pub async fn get(&mut self, app: &TestApp, path: &str) -> Answer {
        self.get_with(app, path, &[]).await
    }

    pub async fn get_with(&mut self, app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Answer {
        let cookie = self.header();
        let mut all = vec![("Cookie", cookie.as_str())];
        all.extend_from_slice(headers);
        let answer = app.get_with(path, &all).await;
        self.absorb(&answer);
        answer
    }

    /// `GET /api/queue`, which must answer 200: its JSON.
    pub async fn poll(&mut self, app: &TestApp) -> Value {
        let answer = self.get(app, "/api/queue").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        serde_json::from_str(&answer.body).expect("JSON")
    }

    /// `POST /api/bookings` for one seat of `tier`.
    pub async fn book_api(&mut self, app: &TestApp, tier: &str) -> Answer {
        let body = serde_json::json!({"ticketTypeId": tier, "quantity": 1, "userId": "fan"}).to_string();
        let cookie = self.header();
        let answer = app.post_raw("/api/bookings", "application/json", body, &[("Cookie", &cookie)]).await;
        self.absorb(&answer);
        answer
    }

    /// `POST /bookings` (the form) for one seat of `tier`, as htmx when `htmx`.
    pub async fn book_form(&mut self, app: &TestApp, tier: &str, htmx: bool) -> Answer {
        let body = serde_urlencoded::to_string(super::form(tier, "1")).unwrap();
        let cookie = self.header();
        let mut headers = vec![("Cookie", cookie.as_str())];
        if htmx {
            headers.push(("HX-Request", "true"));
        }
        let answer = app.post_raw("/bookings", "application/x-www-form-urlencoded", body, &headers).await;
        self.absorb(&answer);
        answer
    }
}

/// A fan's position from a poll's JSON (`None` before the opening).
pub fn position(poll: &Value) -> Option<i64> {
    poll["position"].as_i64()
}

/// The line as stored.
pub fn line(app: &TestApp) -> Option<techkraft_tickets::db::queue::QueueLine> {
    techkraft_tickets::db::queue::QueueLine::get(&mut app.conn()).expect("query")
}
