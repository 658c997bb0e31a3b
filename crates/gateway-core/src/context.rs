//! The request context: what mapping templates, access logs and Lambda events call
//! `$context`.
//!
//! A [`RequestContext`] is built once per request, after routing, and travels in the
//! request's extensions to every later layer. Values that are the same for every
//! request of a route (API id, stage, resource path) are shared `Arc<str>`s, so
//! building a context costs a few small allocations.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use percent_encoding::percent_decode_str;

use crate::observe::trace::TraceId;

/// The client's socket address, put in request extensions by the server that
/// accepted the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// `$context.identity.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The client's address (`sourceIp`).
    pub source_ip: String,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The API key sent, once an API-key layer has accepted it.
    pub api_key: Option<String>,
    /// The API key's id.
    pub api_key_id: Option<String>,
    /// The caller's account id, for IAM-authorized requests.
    pub account_id: Option<String>,
    /// The caller's ARN, for IAM-authorized requests.
    pub user_arn: Option<String>,
    /// The caller's principal id, for IAM-authorized requests.
    pub caller: Option<String>,
    /// The access key id used to sign, for IAM-authorized requests.
    pub access_key: Option<String>,
}

/// `$context.authorizer.*`: filled in by the authorizer layers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthorizerContext {
    /// `principalId` returned by a Lambda authorizer.
    pub principal_id: Option<String>,
    /// Claims of a verified JWT (`$context.authorizer.claims.*`).
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Context values returned by a Lambda authorizer (`$context.authorizer.KEY`).
    pub context: serde_json::Map<String, serde_json::Value>,
    /// The scopes of a verified JWT access token (HTTP APIs' `jwt.scopes`).
    pub scopes: Option<Vec<String>>,
}

/// What authorization learned about the caller, handed back in a response's
/// extensions so that what is rendered after the route's service (access-log
/// lines, gateway responses) sees the `$context.identity.*` and
/// `$context.authorizer.*` values the route's authorizer filled in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthorizedCaller {
    /// `$context.identity.*` after authorization.
    pub identity: Identity,
    /// `$context.authorizer.*` after authorization.
    pub authorizer: AuthorizerContext,
}

/// The `usageIdentifierKey` a Lambda authorizer returned: the API key of the
/// request when the API's key source is `AUTHORIZER`. Authorizers put it in the
/// request's extensions; the API-key check reads it from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageIdentifierKey(pub String);

/// The per-request `$context` values.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `requestId`: a UUID per request.
    pub request_id: String,
    /// `extendedRequestId`.
    pub extended_request_id: String,
    /// `apiId`.
    pub api_id: Arc<str>,
    /// `accountId` of the API owner.
    pub account_id: Arc<str>,
    /// `stage`.
    pub stage: Arc<str>,
    /// `resourceId`.
    pub resource_id: Arc<str>,
    /// `resourcePath`: the matched template.
    pub resource_path: Arc<str>,
    /// `routeKey` (HTTP APIs).
    pub route_key: Arc<str>,
    /// `httpMethod`.
    pub http_method: http::Method,
    /// `path`: the request path as the client sent it, including the stage.
    pub path: String,
    /// `protocol`, such as `HTTP/1.1`.
    pub protocol: &'static str,
    /// `requestTimeEpoch` in milliseconds.
    pub request_time_epoch: u64,
    /// `domainName`.
    pub domain_name: String,
    /// `identity.*`.
    pub identity: Identity,
    /// `authorizer.*`.
    pub authorizer: AuthorizerContext,
    /// The `X-Amzn-Trace-Id` of this request.
    pub trace_id: Option<TraceId>,
}

impl RequestContext {
    /// `requestTime` in AWS's CLF form: `21/Nov/2026:06:16:35 +0000`.
    #[must_use]
    pub fn request_time(&self) -> String {
        format_clf(self.request_time_epoch / 1000)
    }

    /// `domainPrefix`: the first label of the domain name.
    #[must_use]
    pub fn domain_prefix(&self) -> &str {
        self.domain_name
            .split('.')
            .next()
            .unwrap_or(&self.domain_name)
    }

    /// The part of `uri_path` a route matched: the path without the stage segment an
    /// `execute-api` URL starts with (the `$default` stage has none). This is the
    /// resource part of a method ARN (`.../{stage}/{METHOD}/{resource}`).
    #[must_use]
    pub fn route_path<'p>(&self, uri_path: &'p str) -> &'p str {
        let stage = &*self.stage;
        if stage.is_empty() || stage == "$default" {
            return uri_path;
        }
        match uri_path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage))
        {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => uri_path,
        }
    }

    /// Looks up a `$context` variable by its dotted name (without `context.`).
    #[must_use]
    pub fn variable(&self, name: &str) -> Option<Cow<'_, str>> {
        match name {
            "requestId" => Some(Cow::Borrowed(&self.request_id)),
            "extendedRequestId" => Some(Cow::Borrowed(&self.extended_request_id)),
            "apiId" => Some(Cow::Borrowed(&self.api_id)),
            "accountId" => Some(Cow::Borrowed(&self.account_id)),
            "stage" => Some(Cow::Borrowed(&self.stage)),
            "resourceId" => Some(Cow::Borrowed(&self.resource_id)),
            "resourcePath" => Some(Cow::Borrowed(&self.resource_path)),
            "routeKey" => Some(Cow::Borrowed(&self.route_key)),
            "httpMethod" => Some(Cow::Borrowed(self.http_method.as_str())),
            "path" => Some(Cow::Borrowed(&self.path)),
            "protocol" => Some(Cow::Borrowed(self.protocol)),
            "requestTime" => Some(Cow::Owned(self.request_time())),
            "requestTimeEpoch" => Some(Cow::Owned(self.request_time_epoch.to_string())),
            "domainName" => Some(Cow::Borrowed(&self.domain_name)),
            "domainPrefix" => Some(Cow::Borrowed(self.domain_prefix())),
            "identity.sourceIp" => Some(Cow::Borrowed(&self.identity.source_ip)),
            "identity.userAgent" => self.identity.user_agent.as_deref().map(Cow::Borrowed),
            "identity.apiKey" => self.identity.api_key.as_deref().map(Cow::Borrowed),
            "identity.apiKeyId" => self.identity.api_key_id.as_deref().map(Cow::Borrowed),
            "identity.accountId" => self.identity.account_id.as_deref().map(Cow::Borrowed),
            "identity.userArn" => self.identity.user_arn.as_deref().map(Cow::Borrowed),
            "identity.caller" => self.identity.caller.as_deref().map(Cow::Borrowed),
            "identity.accessKey" => self.identity.access_key.as_deref().map(Cow::Borrowed),
            "authorizer.principalId" => self.authorizer.principal_id.as_deref().map(Cow::Borrowed),
            "xrayTraceId" => self.trace_id.as_ref().map(|t| Cow::Borrowed(t.as_str())),
            other => {
                if let Some(claim) = other.strip_prefix("authorizer.claims.") {
                    return self.authorizer.claims.get(claim).and_then(json_text);
                }
                if let Some(key) = other.strip_prefix("authorizer.") {
                    return self.authorizer.context.get(key).and_then(json_text);
                }
                None
            }
        }
    }
}

fn json_text(value: &serde_json::Value) -> Option<Cow<'_, str>> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// Generates request ids in AWS's shapes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIds;

impl RequestIds {
    /// A random version-4 UUID, as `requestId` is.
    #[must_use]
    pub fn request_id() -> String {
        let hi = (fastrand::u64(..) & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        let lo = (fastrand::u64(..) & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        // 8-4-4-4-12 digits, written as bytes and turned into text once.
        let [a, b, c, d] = [hi >> 32, hi, lo >> 32, lo].map(|half| hex8(half as u32)); // each word's low 32 bits
        let mut out = [b'-'; 36];
        out[..8].copy_from_slice(&a);
        out[9..13].copy_from_slice(&b[..4]);
        out[14..18].copy_from_slice(&b[4..]);
        out[19..23].copy_from_slice(&c[..4]);
        out[24..28].copy_from_slice(&c[4..]);
        out[28..].copy_from_slice(&d);
        ascii_string(&out)
    }

    /// An `extendedRequestId`: 14 base64 characters and `=`.
    #[must_use]
    pub fn extended_request_id() -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        // 14 characters of 6 random bits each: 84 bits from two draws.
        let bits = (u128::from(fastrand::u64(..)) << 32) | u128::from(fastrand::u32(..));
        let mut out = [b'='; 15];
        for (i, byte) in out.iter_mut().take(14).enumerate() {
            *byte = ALPHABET[((bits >> (i * 6)) & 0x3f) as usize];
        }
        ascii_string(&out)
    }
}

/// The eight lower-case hex digits of `value`, most significant first. The
/// nibbles are spread one to a byte and all turned into digits at once, several
/// times fewer instructions than a digit at a time.
#[must_use]
pub(crate) fn hex8(value: u32) -> [u8; 8] {
    let x = u64::from(value);
    let x = ((x & 0xffff_0000) << 16) | (x & 0x0000_ffff);
    let x = ((x & 0x0000_ff00_0000_ff00) << 8) | (x & 0x0000_00ff_0000_00ff);
    let x = ((x & 0x00f0_00f0_00f0_00f0) << 4) | (x & 0x000f_000f_000f_000f);
    // 1 in each byte whose nibble is 10 or more: those become letters.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
}

/// Text of bytes known to be ASCII (an empty string if they were not).
pub(crate) fn ascii_string(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes).map_or_else(|_| String::new(), str::to_owned)
}

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn epoch_millis(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Formats seconds since the epoch as `dd/Mon/yyyy:HH:mm:ss +0000`.
#[must_use]
pub fn format_clf(epoch_secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days(i64::try_from(epoch_secs / 86_400).unwrap_or(0));
    let secs = epoch_secs % 86_400;
    format!(
        "{d:02}/{}/{y:04}:{:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Converts days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's
/// civil-from-days algorithm).
#[must_use]
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let m = u32::try_from(m).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a (year, month, day) date of the proleptic Gregorian
/// calendar: the inverse of [`civil_from_days`].
#[must_use]
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The number of days of a month (1 to 12) of a year.
#[must_use]
pub fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Which peers may set `X-Forwarded-For`, deciding `$context.identity.sourceIp`.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// No peer is trusted: `sourceIp` is always the connection's peer address.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts peers in the given CIDR blocks (`10.0.0.0/8`, `::1/128`, or a bare address).
    pub fn from_cidrs<I, S>(cidrs: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut networks = Vec::new();
        for cidr in cidrs {
            let cidr = cidr.as_ref();
            let (addr, len) = match cidr.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (cidr, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("`{cidr}` is not an IP address or CIDR block"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|&l| l <= max)
                    .ok_or_else(|| format!("`{cidr}` has an invalid prefix length"))?,
                None => max,
            };
            networks.push((addr, len));
        }
        Ok(Self { networks })
    }

    /// True when `addr` is in a trusted block.
    #[must_use]
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|&(net, len)| in_network(addr, net, len))
    }

    /// The client address: walking `X-Forwarded-For` from the right while the hop is
    /// trusted, the first untrusted address; the peer itself when it is untrusted.
    #[must_use]
    pub fn source_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
        let Some(peer) = peer else {
            return String::new();
        };
        let peer_ip = canonical(peer.ip());
        if !self.contains(peer_ip) {
            return ip_string(peer_ip);
        }
        let mut client = peer_ip;
        for value in headers.get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else { continue };
            for hop in value.split(',').rev() {
                let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                    return ip_string(client);
                };
                client = canonical(ip);
                if !self.contains(client) {
                    return ip_string(client);
                }
            }
        }
        ip_string(client)
    }
}

/// The text of an address as `Display` writes it; IPv4, the common case, is written
/// by hand (`Display` goes through the formatting machinery, several times slower).
fn ip_string(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = [0_u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    ascii_string(&text[..len])
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn in_network(addr: IpAddr, net: IpAddr, len: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The first value of query parameter `name` in a raw query string, decoded.
#[must_use]
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query_pairs(query).find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Decodes a raw query string into name/value pairs (`+` is a space).
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(k), decode_component(v))
    })
}

fn decode_component(s: &str) -> String {
    let replaced = s.replace('+', " ");
    percent_decode_str(&replaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_time_matches_aws_format() {
        // 2026-11-21T06:16:35Z
        assert_eq!(format_clf(1_795_241_795), "21/Nov/2026:06:16:35 +0000");
        assert_eq!(format_clf(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(format_clf(951_782_400), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn hex8_writes_what_format_writes() {
        let edges = [
            0,
            9,
            10,
            15,
            16,
            0x0a0a_0a0a,
            0x9999_9999,
            0xdead_beef,
            u32::MAX,
        ];
        let random = (0..10_000).map(|_| fastrand::u32(..));
        for value in edges.into_iter().chain(random) {
            assert_eq!(hex8(value), format!("{value:08x}").as_bytes(), "{value:#x}");
        }
    }

    #[test]
    fn request_ids_have_aws_shapes() {
        let id = RequestIds::request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        for (i, c) in id.char_indices() {
            if matches!(i, 8 | 13 | 18 | 23) {
                assert_eq!(c, '-', "{id}");
            } else {
                assert!(matches!(c, '0'..='9' | 'a'..='f'), "{id}");
            }
        }
        assert_ne!(id, RequestIds::request_id());
        let ext = RequestIds::extended_request_id();
        assert_eq!(ext.len(), 15);
        assert!(ext.ends_with('='));
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "9.10.99.100",
            "127.0.0.1",
            "203.0.113.255",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(ip_string(ip), ip.to_string());
            assert_eq!(ip_string(ip), text);
        }
    }

    proptest::proptest! {
        #[test]
        fn every_ipv4_address_is_written_as_display_writes_it(bits: u32) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(bits));
            proptest::prop_assert_eq!(ip_string(ip), ip.to_string());
        }
    }

    #[test]
    fn source_ip_honours_only_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.2".parse().unwrap());
        let peer: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        assert_eq!(
            TrustedProxies::none().source_ip(Some(peer), &headers),
            "10.0.0.1"
        );
        let trusted = TrustedProxies::from_cidrs(["10.0.0.0/8"]).unwrap();
        assert_eq!(trusted.source_ip(Some(peer), &headers), "203.0.113.7");
        let untrusted_peer: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        assert_eq!(
            trusted.source_ip(Some(untrusted_peer), &headers),
            "192.0.2.1"
        );
        assert!(TrustedProxies::from_cidrs(["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::from_cidrs(["nope"]).is_err());
    }

    #[test]
    fn context_variables_resolve_by_name() {
        let ctx = RequestContext {
            request_id: "r1".into(),
            stage: "prod".into(),
            domain_name: "abc.execute-api.local".into(),
            http_method: http::Method::POST,
            request_time_epoch: 1_795_241_795_000,
            identity: Identity {
                source_ip: "127.0.0.1".into(),
                ..Identity::default()
            },
            ..RequestContext::default()
        };
        assert_eq!(ctx.variable("requestId").unwrap(), "r1");
        assert_eq!(ctx.variable("httpMethod").unwrap(), "POST");
        assert_eq!(ctx.variable("domainPrefix").unwrap(), "abc");
        assert_eq!(ctx.variable("identity.sourceIp").unwrap(), "127.0.0.1");
        assert_eq!(
            ctx.variable("requestTime").unwrap(),
            "21/Nov/2026:06:16:35 +0000"
        );
        assert!(ctx.variable("identity.userAgent").is_none());
        assert!(ctx.variable("bogus").is_none());
    }

    #[test]
    fn query_params_decode() {
        assert_eq!(query_param("a=1&b=x%20y+z", "b").unwrap(), "x y z");
        assert_eq!(query_param("flag&a=1", "flag").unwrap(), "");
        assert!(query_param("a=1", "b").is_none());
    }
}
