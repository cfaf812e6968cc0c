//! Door staff: signing in at `/door/login` and checking tickets in, and the tickets of a
//! booking as the API lists them.

use super::admin::{hidden_field, set_cookies};
use super::app::{TestApp, form};
use super::http::Answer;

/// Signed-in door staff: the session cookie and the CSRF token of the door page.
pub struct Door {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// Signs in at the door with `password`; `None` if it was refused.
    pub async fn door_sign_in(&self, password: &str) -> Option<Door> {
        let login = self.get("/door/login").await;
        let token = hidden_field(&login.body, "csrf_token").expect("door sign-in has a CSRF token");
        let cookie = set_cookies(&login)
            .into_iter()
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let body =
            serde_urlencoded::to_string([("csrf_token", token.as_str()), ("password", password)]).unwrap();
        let answer = self
            .post_raw("/door/login", "application/x-www-form-urlencoded", body, &[("Cookie", &cookie)])
            .await;
        if answer.status != 303 {
            return None;
        }
        let (name, value, _) = set_cookies(&answer)
            .into_iter()
            .find(|(n, v, _)| n == "tk_door" && !v.is_empty())
            .expect("door cookie");
        let cookie = format!("{name}={value}");
        let page = self.get_with("/door", &[("Cookie", &cookie)]).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = hidden_field(&page.body, "csrf_token").expect("door page has a CSRF token");
        Some(Door { cookie, csrf })
    }

    /// Posts a code to `/door/check-in` as `door`. The body is encoded before the future starts.
    pub fn check_in<'a>(&'a self, door: &Door, code: &str) -> impl Future<Output = Answer> + use<'a> {
        let body = serde_urlencoded::to_string([("csrf_token", door.csrf.as_str()), ("code", code)]).unwrap();
        let cookie = door.cookie.clone();
        async move {
            self.post_raw("/door/check-in", "application/x-www-form-urlencoded", body, &[("Cookie", &cookie)])
                .await
        }
    }

    /// Books `quantity` seats of `tier` through the form; returns the reference.
    pub async fn book_ok(&self, tier: &str, quantity: &str) -> String {
        let answer = self.book(&form(tier, quantity)).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        answer.reference().expect("a reference")
    }

    /// The ticket codes `GET /api/bookings/{reference}` lists.
    pub async fn ticket_codes(&self, reference: &str) -> Vec<String> {
        let answer = self.get(&format!("/api/bookings/{reference}")).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let json: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
        json["tickets"]
            .as_array()
            .expect("a tickets array")
            .iter()
            .map(|t| t["code"].as_str().expect("a code").to_owned())
            .collect()
    }
}

/// The sentence the door page answered with.
pub fn door_sentence(answer: &Answer) -> String {
    let start = answer.body.find(r#"id="door-answer">"#).map(|i| i + r#"id="door-answer">"#.len());
    start.and_then(|s| answer.body[s..].split('<').next()).unwrap_or_default().to_owned()
}
