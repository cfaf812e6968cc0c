//! The HTTP side: a client that shows redirects, answers read whole, and a plain reader of
//! responses for the load generators.

use std::time::Duration;

use super::app::TestApp;

/// An HTTP client that shows redirects instead of following them.
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

/// The head of one HTTP/1.1 response read off a raw connection by [`read_raw_response`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The status line and header lines.
    pub head: String,
    /// Where the body starts in the buffer given to [`read_raw_response`]; it runs to the end.
    #[allow(dead_code)] // the fans bench reads bodies; the rush needs only the status
    pub body_start: usize,
}

impl RawResponse {
    /// The header lines as (name, value), names as sent.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.head.lines().skip(1).filter_map(|line| line.split_once(':')).map(|(n, v)| (n, v.trim()))
    }
}

/// Reads one HTTP/1.1 response off `stream` into `buf` (cleared first): the head, then a body of
/// its `Content-Length` (none: no body). For the load generators, which hold thousands of plain
/// connections where an HTTP client library per connection would cost more than the server.
pub async fn read_raw_response<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<RawResponse> {
    use tokio::io::AsyncReadExt;
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    buf.clear();
    let mut chunk = [0u8; 4096];
    let body_start = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..body_start]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| invalid("status line"))?;
    let response = RawResponse { status, head, body_start };
    let length = response
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(Ok(0), |(_, value)| value.parse::<usize>().map_err(|_| invalid("content-length")))?;
    while buf.len() < body_start + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.truncate(body_start + length);
    Ok(response)
}
