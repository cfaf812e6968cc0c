//! The HTTP side: a client that shows redirects, and answers read whole.

use std::time::Duration;

use super::app::TestApp;

/// An HTTP client that shows redirects/// An HTTP client that shows redirects instead of following them.
pub fn client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(60))
        .connector(awc::Connector::new().limit(0))
        .finish()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> Option<String> {
        self.headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// The booking reference a `303` points at.
    pub fn reference(&self) -> Option<String> {
        self.location().and_then(|l| l.strip_prefix("/bookings/").map(str::to_owned))
    }
}

async fn read<S>(mut response: awc::ClientResponse<S>) -> Answer
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = response.body().limit(8 * 1024 * 1024).await.expect("read body");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Answer {
        read(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = self.client.get(self.url(path));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        read(req.send().await.expect("GET")).await
    }

    /// Posts raw bytes with a content type and extra headers.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.client.post(self.url(path)).insert_header(("content-type", content_type));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        read(req.send_body(body.into()).await.expect("POST")).await
    }

    /// Posts the booking form (any serialisable list of pairs). The body is encoded before
    /// the future starts, so the fields need not outlive it.
    pub fn book<T: serde::Serialize + ?Sized>(&self, fields: &T) -> impl Future<Output = Answer> + '_ {
        let body = serde_urlencoded::to_string(fields).expect("form");
        async move { self.post_raw("/bookings", "application/x-www-form-urlencoded", body, &[]).await }
    }

    /// Posts the booking form as htmx does.
    pub fn book_htmx<T: serde::Serialize + ?Sized>(&self, fields: &T) -> impl Future<Output = Answer> + '_ {
        let body = serde_urlencoded::to_string(fields).expect("form");
        async move {
            self.post_raw("/bookings", "application/x-www-form-urlencoded", body, &[("HX-Request", "true")])
                .await
        }
    }
}
