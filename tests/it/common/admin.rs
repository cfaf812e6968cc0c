//! Signing in to the admin console and posting its forms.

use super::app::TestApp;
use super::http::Answer;

/// The `value` of the first `<input … name="NAME" value="…">` in a page.
pub fn hidden_field(body: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_owned())
}

/// `name=value` pairs of the cookies a response sets (attributes dropped).
pub fn set_cookies(answer: &Answer) -> Vec<(String, String, String)> {
    answer
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned(), attributes.to_owned()))
        })
        .collect()
}

/// A signed-in admin: the session cookie and the CSRF token its pages carry.
pub struct Admin {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// Tries to sign in with `password`; returns the answer of the POST.
    pub async fn try_sign_in(&self, password: &str) -> Answer {
        let form = self.get("/admin/login").await;
        let token = hidden_field(&form.body, "csrf_token").expect("sign-in form has a CSRF token");
        let cookie =
            set_cookies(&form).into_iter().map(|(n, v, _)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
        let body =
            serde_urlencoded::to_string([("csrf_token", token.as_str()), ("password", password)]).unwrap();
        self.post_raw("/admin/login", "application/x-www-form-urlencoded", body, &[("Cookie", &cookie)]).await
    }

    /// Signs in with the test password.
    pub async fn sign_in(&self) -> Admin {
        let answer = self.try_sign_in("correct horse battery staple").await;
        assert_eq!(answer.status, 303, "sign-in: {}", answer.body);
        let (name, value, _) = set_cookies(&answer)
            .into_iter()
            .find(|(n, v, _)| n == "tk_admin" && !v.is_empty())
            .expect("session cookie");
        let cookie = format!("{name}={value}");
        let dashboard = self.get_with("/admin", &[("Cookie", &cookie)]).await;
        assert_eq!(dashboard.status, 200);
        let csrf = hidden_field(&dashboard.body, "csrf_token").expect("dashboard has a CSRF token");
        Admin { cookie, csrf }
    }

    /// Posts an admin form as `admin`, with its CSRF token unless `fields` brings one. The
    /// body is encoded before the future starts.
    pub fn admin_post<'a>(
        &'a self,
        admin: &Admin,
        path: &str,
        fields: &[(&str, &str)],
    ) -> impl Future<Output = Answer> + use<'a> {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(k, _)| *k == "csrf_token") {
            all.push(("csrf_token", &admin.csrf));
        }
        let body = serde_urlencoded::to_string(&all).unwrap();
        let (path, cookie) = (path.to_owned(), admin.cookie.clone());
        async move {
            self.post_raw(&path, "application/x-www-form-urlencoded", body, &[("Cookie", &cookie)]).await
        }
    }
}
