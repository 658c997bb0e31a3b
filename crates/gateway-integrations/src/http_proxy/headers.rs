//! Header rules of a proxy: hop-by-hop headers and `X-Forwarded-*`.

use http::header::{
    CONNECTION, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING,
    UPGRADE,
};
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

/// `X-Forwarded-For`.
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Port`.
pub(crate) const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Hop-by-hop headers (RFC 9110 section 7.6.1, and RFC 2616's list that proxies
/// still honour), plus the non-standard `Proxy-Connection`.
static HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    KEEP_ALIVE,
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    PROXY_CONNECTION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// The position of `name` in [`HOP_BY_HOP`]. Names are lower case, so one match on
/// the text (a jump on the length, then a comparison) tells them apart, where
/// comparing with each listed name costs nine comparisons for every header.
fn hop_by_hop_index(name: &HeaderName) -> Option<usize> {
    Some(match name.as_str() {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-authenticate" => 2,
        "proxy-authorization" => 3,
        "proxy-connection" => 4,
        "te" => 5,
        "trailer" => 6,
        "transfer-encoding" => 7,
        "upgrade" => 8,
        _ => return None,
    })
}

/// Removes hop-by-hop headers: the fixed list and every header `Connection` names.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // One pass, comparing names without hashing, finds which of the fixed list are
    // present and what `Connection` names beyond it: most messages carry none of
    // them, or only `Connection: keep-alive` (with `Keep-Alive`).
    let mut present = 0_u16;
    let mut named: Vec<HeaderName> = Vec::new();
    for (name, value) in headers.iter() {
        let Some(i) = hop_by_hop_index(name) else {
            continue;
        };
        present |= 1 << i;
        if i != 0 {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim) {
            let listed = HOP_BY_HOP
                .iter()
                .any(|hop| token.eq_ignore_ascii_case(hop.as_str()));
            if !token.is_empty()
                && !listed
                && let Ok(name) = HeaderName::from_bytes(token.as_bytes())
            {
                named.push(name);
            }
        }
    }
    for name in &named {
        headers.remove(name);
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// Appends `client_ip` to `X-Forwarded-For`, folding earlier values into one header.
pub(crate) fn append_forwarded_for(headers: &mut HeaderMap, client_ip: &str) {
    if client_ip.is_empty() {
        return;
    }
    let value = if headers.contains_key(&X_FORWARDED_FOR) {
        forwarded_for(headers, client_ip).and_then(|v| HeaderValue::from_str(&v).ok())
    } else {
        // The common case: the client's address alone, copied once.
        HeaderValue::from_str(client_ip.trim()).ok()
    };
    if let Some(value) = value {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

/// The `X-Forwarded-For` a request is passed on with: the values the client sent,
/// joined, with `client_ip` appended; `None` when both are empty.
pub(crate) fn forwarded_for(headers: &HeaderMap, client_ip: &str) -> Option<String> {
    let mut value = String::new();
    let parts = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .chain(std::iter::once(client_ip));
    for part in parts {
        let part = part.trim();
        if !part.is_empty() {
            if !value.is_empty() {
                value.push_str(", ");
            }
            value.push_str(part);
        }
    }
    (!value.is_empty()).then_some(value)
}

/// Whether a header is hop-by-hop by the fixed list (headers named by `Connection`
/// are not considered).
pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

/// The scheme and port the client used to reach the gateway, for
/// `X-Forwarded-Proto` and `X-Forwarded-Port`: the request URI's when it is absolute
/// (HTTP/2, absolute-form), else `http` (this gateway's listener has no TLS of its
/// own) and the `Host` header's port, else the scheme's default port.
pub(crate) fn forwarded_proto_port(uri: &Uri, headers: &HeaderMap) -> (&'static str, u16) {
    let proto = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let default_port = if proto == "https" { 443 } else { 80 };
    let port = uri.port_u16().or_else(|| {
        let host = headers.get(HOST)?.as_bytes();
        // `[::1]:8080` and `host:8080`: the port follows the last `:` after any `]`.
        let last = host.iter().rposition(|&b| b == b':' || b == b']')?;
        match host[last] {
            b':' => decimal_u16(&host[last + 1..]),
            _ => None,
        }
    });
    (proto, port.unwrap_or(default_port))
}

/// The value of a run of decimal digits, `None` when it is empty, holds anything
/// else or exceeds `u16::MAX`.
fn decimal_u16(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0_u16, |value, &digit| {
        let digit = digit.checked_sub(b'0').filter(|d| *d < 10)?;
        value.checked_mul(10)?.checked_add(u16::from(digit))
    })
}

/// The `X-Forwarded-Port` value for `port`; the usual ports are not rendered.
pub(crate) fn port_value(port: u16) -> HeaderValue {
    match port {
        443 => HeaderValue::from_static("443"),
        80 => HeaderValue::from_static("80"),
        _ => HeaderValue::from(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hop_by_hop_name_is_found_at_its_place() {
        for (i, name) in HOP_BY_HOP.iter().enumerate() {
            assert_eq!(hop_by_hop_index(name), Some(i), "{name}");
        }
        for name in [HOST, http::header::CONTENT_TYPE, X_FORWARDED_FOR] {
            assert_eq!(hop_by_hop_index(&name), None, "{name}");
        }
        let custom = HeaderName::from_static("x-connection");
        assert_eq!(hop_by_hop_index(&custom), None);
    }

    #[test]
    fn hop_by_hop_headers_and_connection_names_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, "keep-alive, X-Hop , bad name".parse().unwrap());
        headers.insert("x-hop", "1".parse().unwrap());
        headers.insert("keep-alive", "timeout=5".parse().unwrap());
        headers.insert(TE, "trailers".parse().unwrap());
        headers.insert(PROXY_AUTHORIZATION, "Basic x".parse().unwrap());
        headers.insert(UPGRADE, "h2c".parse().unwrap());
        headers.insert("x-end-to-end", "1".parse().unwrap());
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-end-to-end"));
    }

    #[test]
    fn a_keep_alive_answer_loses_only_its_hop_by_hop_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, "Keep-Alive".parse().unwrap());
        headers.insert("keep-alive", "timeout=5".parse().unwrap());
        headers.insert(http::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key(http::header::CONTENT_TYPE));

        let mut untouched = HeaderMap::new();
        untouched.insert(HOST, "api.local".parse().unwrap());
        remove_hop_by_hop(&mut untouched);
        assert_eq!(untouched.len(), 1);
    }

    #[test]
    fn forwarded_for_is_appended() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "10.0.0.1");
        assert_eq!(headers[&X_FORWARDED_FOR], "10.0.0.1");
        headers.append(X_FORWARDED_FOR, "10.0.0.2".parse().unwrap());
        append_forwarded_for(&mut headers, "10.0.0.3");
        assert_eq!(headers[&X_FORWARDED_FOR], "10.0.0.1, 10.0.0.2, 10.0.0.3");
        append_forwarded_for(&mut headers, "");
        assert_eq!(headers.get_all(&X_FORWARDED_FOR).iter().count(), 1);
    }

    #[test]
    fn proto_and_port_come_from_the_uri_or_host() {
        let mut headers = HeaderMap::new();
        let origin: Uri = "/x".parse().unwrap();
        assert_eq!(forwarded_proto_port(&origin, &headers), ("http", 80));
        headers.insert(HOST, "api.local:8443".parse().unwrap());
        assert_eq!(forwarded_proto_port(&origin, &headers), ("http", 8443));
        for (host, port) in [
            ("[::1]", 80),
            ("[::1]:9000", 9000),
            ("api.local", 80),
            ("api.local:", 80),
            ("api.local:x1", 80),
            ("a:1:2", 2),
            ("api.local:0", 0),
            ("api.local:08080", 8080),
            ("api.local:65535", 65535),
            ("api.local:65536", 80),
            ("api.local:99999999999999999999", 80),
            ("api.local:+80", 80),
            ("api.local:8 0", 80),
        ] {
            headers.insert(HOST, host.parse().unwrap());
            assert_eq!(
                forwarded_proto_port(&origin, &headers),
                ("http", port),
                "{host}"
            );
        }
        headers.insert(HOST, HeaderValue::from_bytes(b"h\xf6st:8081").unwrap());
        assert_eq!(forwarded_proto_port(&origin, &headers), ("http", 8081));
        headers.insert(HOST, "[::1]".parse().unwrap());
        let absolute: Uri = "https://api.local/x".parse().unwrap();
        assert_eq!(forwarded_proto_port(&absolute, &headers), ("https", 443));
    }

    #[test]
    fn port_values_are_the_port_in_decimal() {
        for port in [0, 1, 79, 80, 443, 8080, 65535] {
            assert_eq!(port_value(port), port.to_string().as_str(), "{port}");
        }
    }
}
