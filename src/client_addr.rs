//! Who is asking: the client's address and scheme. Straight on the internet that is the TCP
//! peer and plain `http`. Behind a proxy of ours (`TRUST_FORWARDED_FOR=true`) it is the last
//! hop of exactly one header, the one that proxy writes (`FORWARDED_HEADER`: `X-Forwarded-For`
//! by default, or the standard `Forwarded`), and the scheme it writes in the same family
//! (`X-Forwarded-Proto`, or `proto=` in `Forwarded`). The other header is ignored whatever it
//! says, so a client cannot pick its own rate-limit key or audit address by sending the header
//! the proxy does not overwrite.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The header a trusted proxy writes the client's address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …` (HAProxy's `option forwardfor`, nginx, most balancers).
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=…`.
    Forwarded,
}

impl ForwardedHeader {
    /// Parses `x-forwarded-for` or `forwarded` (any case).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!("{other:?} is neither x-forwarded-for nor forwarded")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// How to find the client of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// `TRUST_FORWARDED_FOR`: a proxy of ours stands in front and writes `header`.
    pub trust_proxy: bool,
    /// `FORWARDED_HEADER`.
    pub header: ForwardedHeader,
}

impl Default for ClientAddr {
    fn default() -> Self {
        Self { trust_proxy: false, header: ForwardedHeader::XForwardedFor }
    }
}

impl ClientAddr {
    /// The client's address: the TCP peer, or, behind a trusted proxy, the last hop of
    /// `header` (the one the proxy appended; earlier entries are whatever the client claimed).
    /// A missing or unparseable last hop falls back to the peer, never to an earlier entry.
    pub fn of(&self, req: &HttpRequest) -> IpAddr {
        let peer = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if !self.trust_proxy {
            return peer;
        }
        let last = last_element(req, self.header.name());
        let hop = match self.header {
            ForwardedHeader::XForwardedFor => last,
            ForwardedHeader::Forwarded => last.and_then(|element| forwarded_param(&element, "for")),
        };
        hop.as_deref().and_then(parse_hop).unwrap_or(peer)
    }

    /// `https` when a trusted proxy says the client used it, else `http`: this server does not
    /// speak TLS itself, and an untrusted client's claim is ignored. The proxy says it in the
    /// header family it writes: `X-Forwarded-Proto` (last value) beside `X-Forwarded-For`, or
    /// `proto=` of the last `Forwarded` element.
    pub fn scheme(&self, req: &HttpRequest) -> &'static str {
        if !self.trust_proxy {
            return "http";
        }
        let proto = match self.header {
            ForwardedHeader::XForwardedFor => last_element(req, "x-forwarded-proto"),
            ForwardedHeader::Forwarded => {
                last_element(req, "forwarded").and_then(|element| forwarded_param(&element, "proto"))
            }
        };
        if proto.is_some_and(|p| p.eq_ignore_ascii_case("https")) { "https" } else { "http" }
    }
}

/// The last comma-separated element over every occurrence of header `name`.
fn last_element(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .map(|s| s.trim().to_owned())
}

/// The value of `key` in one `Forwarded` element (`for=…;proto=…`), unquoted.
fn forwarded_param(element: &str, key: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Parses one hop: `ip`, `v4:port`, `[v6]` or `[v6]:port`, optionally quoted.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    // `v4:port` (a bare v6 address has several colons and parsed above).
    let (ip, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn request(headers: &[(&str, &str)]) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr("192.0.2.1:4000".parse().unwrap());
        for (k, v) in headers {
            req = req.append_header((*k, *v));
        }
        req.to_http_request()
    }

    fn client(header: ForwardedHeader, headers: &[(&str, &str)]) -> IpAddr {
        ClientAddr { trust_proxy: true, header }.of(&request(headers))
    }

    #[test]
    fn the_last_x_forwarded_for_hop_is_read_in_every_form() {
        let xff = |v: &str| client(ForwardedHeader::XForwardedFor, &[("X-Forwarded-For", v)]);
        assert_eq!(xff("1.1.1.1, 203.0.113.7"), ip("203.0.113.7"));
        assert_eq!(xff("1.1.1.1, 203.0.113.7:51234"), ip("203.0.113.7"));
        assert_eq!(xff("1.1.1.1, [2001:db8::7]:443"), ip("2001:db8::7"));
        assert_eq!(xff("2001:db8::8"), ip("2001:db8::8"));
        // An unparseable last hop never falls back to an earlier, client-written entry.
        assert_eq!(xff("1.1.1.1, garbage"), ip("192.0.2.1"));
    }

    #[test]
    fn the_last_forwarded_element_is_read_in_every_form() {
        let fwd = |v: &str| client(ForwardedHeader::Forwarded, &[("Forwarded", v)]);
        assert_eq!(fwd("for=1.1.1.1, for=\"[2001:db8::9]:80\";proto=https"), ip("2001:db8::9"));
        assert_eq!(fwd("for=198.51.100.4:9999"), ip("198.51.100.4"));
        assert_eq!(fwd("proto=https;for=198.51.100.5"), ip("198.51.100.5"));
        assert_eq!(fwd("for=1.1.1.1, for=unknown"), ip("192.0.2.1"));
        assert_eq!(fwd("for=1.1.1.1, proto=https"), ip("192.0.2.1"), "a last element without for=");
    }

    #[test]
    fn only_the_configured_header_counts() {
        // The proxy writes X-Forwarded-For; the client added a Forwarded of its own.
        let both = [("Forwarded", "for=5.5.0.1"), ("X-Forwarded-For", "203.0.113.7")];
        assert_eq!(client(ForwardedHeader::XForwardedFor, &both), ip("203.0.113.7"));
        assert_eq!(client(ForwardedHeader::Forwarded, &both), ip("5.5.0.1"));
        assert_eq!(client(ForwardedHeader::XForwardedFor, &[("Forwarded", "for=5.5.0.1")]), ip("192.0.2.1"));
        assert_eq!(client(ForwardedHeader::Forwarded, &[("X-Forwarded-For", "5.5.0.1")]), ip("192.0.2.1"));
    }

    #[test]
    fn without_trust_the_peer_is_the_client_and_the_scheme_is_http() {
        let req = request(&[("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https")]);
        assert_eq!(ClientAddr::default().of(&req), ip("192.0.2.1"));
        assert_eq!(ClientAddr::default().scheme(&req), "http");
        let trusted = ClientAddr { trust_proxy: true, header: ForwardedHeader::XForwardedFor };
        assert_eq!(trusted.scheme(&req), "https");
        assert_eq!(trusted.scheme(&request(&[])), "http");
        assert_eq!(trusted.scheme(&request(&[("X-Forwarded-Proto", "https, http")])), "http");
        let forwarded = ClientAddr { trust_proxy: true, header: ForwardedHeader::Forwarded };
        assert_eq!(forwarded.scheme(&request(&[("Forwarded", "for=1.2.3.4;proto=https")])), "https");
        assert_eq!(forwarded.scheme(&request(&[("X-Forwarded-Proto", "https")])), "http", "not its header");
    }

    #[test]
    fn the_header_setting_names_one_of_two() {
        assert_eq!(ForwardedHeader::parse("X-Forwarded-For"), Ok(ForwardedHeader::XForwardedFor));
        assert_eq!(ForwardedHeader::parse(" forwarded "), Ok(ForwardedHeader::Forwarded));
        assert!(ForwardedHeader::parse("x-real-ip").is_err());
    }
}
