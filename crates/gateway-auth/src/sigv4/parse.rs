//! Reading the signature out of a request: the `Authorization` header form and
//! the presigned query-string form.

use std::borrow::Cow;

use base64::Engine as _;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use super::Rejection;

/// The only algorithm accepted.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The signature parameters of a request, from either form.
#[derive(Debug)]
pub(crate) struct AuthParams<'a> {
    /// Whether they came from the query string.
    pub(crate) presigned: bool,
    /// `Credential` / `X-Amz-Credential`: `AKID/YYYYMMDD/region/service/aws4_request`.
    pub(crate) credential: Cow<'a, str>,
    /// `SignedHeaders` / `X-Amz-SignedHeaders`.
    pub(crate) signed_headers: Cow<'a, str>,
    /// `Signature` / `X-Amz-Signature`.
    pub(crate) signature: Cow<'a, str>,
    /// `X-Amz-Date` of a presigned URL (the header form reads the headers).
    pub(crate) date: Option<Cow<'a, str>>,
    /// `X-Amz-Expires` of a presigned URL.
    pub(crate) expires: Option<Cow<'a, str>>,
    /// `X-Amz-Security-Token` of a presigned URL.
    pub(crate) security_token: Option<Cow<'a, str>>,
    /// `X-Amz-Content-Sha256` of a presigned URL.
    pub(crate) content_sha256: Option<Cow<'a, str>>,
}

/// Parses an `Authorization` header. `has_date` tells whether the request has an
/// `X-Amz-Date` or `Date` header, which the header form requires.
pub(crate) fn from_header(value: &str, has_date: bool) -> Result<AuthParams<'_>, Rejection> {
    let value = value.trim();
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((name, param)) = component.split_once('=') else {
            // AWS no longer echoes the header here, only a digest of it.
            let digest = Sha256::digest(value.as_bytes());
            return Err(Rejection::IncompleteSignature(format!(
                "Invalid key=value pair (missing equal-sign) in Authorization header (hashed \
                 with SHA-256 and encoded with Base64): '{}'.",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )));
        };
        match name.trim() {
            "Credential" => credential = Some(param.trim()),
            "SignedHeaders" => signed_headers = Some(param.trim()),
            "Signature" => signature = Some(param.trim()),
            _ => {}
        }
    }
    let mut missing = String::new();
    for (present, name) in [
        (credential.is_some(), "Credential"),
        (signature.is_some(), "Signature"),
        (signed_headers.is_some(), "SignedHeaders"),
    ] {
        if !present {
            missing.push_str("Authorization header requires '");
            missing.push_str(name);
            missing.push_str("' parameter. ");
        }
    }
    if !has_date {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
             header. ",
        );
    }
    let (Some(credential), Some(signed_headers), Some(signature), true) =
        (credential, signed_headers, signature, missing.is_empty())
    else {
        missing.push_str("Authorization=");
        missing.push_str(value);
        return Err(Rejection::IncompleteSignature(missing));
    };
    check_algorithm(algorithm)?;
    Ok(AuthParams {
        presigned: false,
        credential: Cow::Borrowed(credential),
        signed_headers: Cow::Borrowed(signed_headers),
        signature: Cow::Borrowed(signature),
        date: None,
        expires: None,
        security_token: None,
        content_sha256: None,
    })
}

/// Parses the presigned parameters of a query string; `None` when it has none
/// (no `X-Amz-Algorithm`, `X-Amz-Credential` or `X-Amz-Signature`).
pub(crate) fn from_query(query: &str) -> Option<Result<AuthParams<'_>, Rejection>> {
    let mut algorithm = None;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    let mut date = None;
    let mut expires = None;
    let mut security_token = None;
    let mut content_sha256 = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "X-Amz-Algorithm" => &mut algorithm,
            "X-Amz-Credential" => &mut credential,
            "X-Amz-SignedHeaders" => &mut signed_headers,
            "X-Amz-Signature" => &mut signature,
            "X-Amz-Date" => &mut date,
            "X-Amz-Expires" => &mut expires,
            "X-Amz-Security-Token" => &mut security_token,
            "X-Amz-Content-Sha256" => &mut content_sha256,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(decode(value));
        }
    }
    if algorithm.is_none() && credential.is_none() && signature.is_none() {
        return None;
    }
    let mut missing = String::new();
    for (present, name) in [
        (algorithm.is_some(), "X-Amz-Algorithm"),
        (credential.is_some(), "X-Amz-Credential"),
        (signature.is_some(), "X-Amz-Signature"),
        (signed_headers.is_some(), "X-Amz-SignedHeaders"),
        (date.is_some(), "X-Amz-Date"),
    ] {
        if !present {
            missing.push_str("AWS query-string parameters must include '");
            missing.push_str(name);
            missing.push_str("'. ");
        }
    }
    let (Some(algorithm), Some(credential), Some(signed_headers), Some(signature), Some(date)) =
        (algorithm, credential, signed_headers, signature, date)
    else {
        missing.push_str("Re-examine the query-string parameters.");
        return Some(Err(Rejection::IncompleteSignature(missing)));
    };
    if let Err(rejection) = check_algorithm(&algorithm) {
        return Some(Err(rejection));
    }
    Some(Ok(AuthParams {
        presigned: true,
        credential,
        signed_headers,
        signature,
        date: Some(date),
        expires,
        security_token,
        content_sha256,
    }))
}

fn check_algorithm(algorithm: &str) -> Result<(), Rejection> {
    if algorithm == ALGORITHM {
        Ok(())
    } else {
        Err(Rejection::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. Only '{ALGORITHM}' is supported."
        )))
    }
}

/// Percent-decodes a query value; a `+` stays a `+`, as in the canonical query.
fn decode(value: &str) -> Cow<'_, str> {
    percent_decode_str(value).decode_utf8_lossy()
}

/// The parts of a credential scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) date: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
    pub(crate) terminator: &'a str,
    /// Everything after the access key id and its slash.
    rest: &'a str,
}

impl<'a> Scope<'a> {
    /// Splits `AKID/YYYYMMDD/region/service/aws4_request`.
    pub(crate) fn parse(credential: &'a str) -> Result<Self, Rejection> {
        let mut parts = credential.rsplitn(5, '/');
        let (Some(terminator), Some(service), Some(region), Some(date), Some(access_key_id)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Rejection::IncompleteSignature(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got '{credential}'"
            )));
        };
        let rest = credential
            .get(access_key_id.len() + 1..)
            .unwrap_or_default();
        Ok(Self {
            access_key_id,
            rest,
            date,
            region,
            service,
            terminator,
        })
    }

    /// `YYYYMMDD/region/service/aws4_request`.
    pub(crate) fn without_key(&self) -> &'a str {
        self.rest
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn incomplete(result: Result<AuthParams<'_>, Rejection>) -> String {
        match result {
            Err(Rejection::IncompleteSignature(message)) => message,
            other => panic!("expected an incomplete signature, got {other:?}"),
        }
    }

    #[test]
    fn header_parameters_are_read_in_any_order() {
        let params = from_header(
            "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date,Signature=abc, \
             Credential=AKID/20150830/us-east-1/execute-api/aws4_request",
            true,
        )
        .unwrap();
        assert_eq!(
            params.credential,
            "AKID/20150830/us-east-1/execute-api/aws4_request"
        );
        assert_eq!(params.signed_headers, "host;x-amz-date");
        assert_eq!(params.signature, "abc");
        assert!(!params.presigned);
    }

    #[test]
    fn missing_header_parameters_are_listed() {
        let message = incomplete(from_header(
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc",
            true,
        ));
        assert_eq!(
            message,
            "Authorization header requires 'Credential' parameter. \
             Authorization=AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc"
        );
        let message = incomplete(from_header("eyJhbGciOi", false));
        assert!(message.starts_with(
            "Authorization header requires 'Credential' parameter. Authorization header \
             requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
             parameter. Authorization header requires existence of either a 'X-Amz-Date' or \
             a 'Date' header. Authorization=eyJhbGciOi"
        ));
    }

    #[test]
    fn a_bearer_token_lacks_an_equal_sign() {
        let message = incomplete(from_header("Bearer token", true));
        assert!(message.starts_with(
            "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with \
             SHA-256 and encoded with Base64): '"
        ));
        assert!(!message.contains("token"));
    }

    #[test]
    fn other_algorithms_are_refused() {
        let message = incomplete(from_header(
            "AWS4-ECDSA-P256-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=x",
            true,
        ));
        assert!(message.contains("AWS4-ECDSA-P256-SHA256"));
    }

    #[test]
    fn presigned_parameters_are_decoded() {
        let params = from_query(
            "a=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1\
             %2Fexecute-api%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60\
             &X-Amz-SignedHeaders=host&X-Amz-Security-Token=ab%2Bc%3D&X-Amz-Signature=ff",
        )
        .unwrap()
        .unwrap();
        assert!(params.presigned);
        assert_eq!(
            params.credential,
            "AKID/20150830/us-east-1/execute-api/aws4_request"
        );
        assert_eq!(params.security_token.as_deref(), Some("ab+c="));
        assert_eq!(params.expires.as_deref(), Some("60"));
        assert!(from_query("a=1&b=2").is_none());
        let message = incomplete(from_query("X-Amz-Signature=ff").unwrap());
        assert_eq!(
            message,
            "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string \
             parameters must include 'X-Amz-Credential'. AWS query-string parameters must \
             include 'X-Amz-SignedHeaders'. AWS query-string parameters must include \
             'X-Amz-Date'. Re-examine the query-string parameters."
        );
    }

    #[test]
    fn scopes_split_into_five_parts() {
        let scope = Scope::parse("AKID/20150830/us-east-1/execute-api/aws4_request").unwrap();
        assert_eq!(scope.access_key_id, "AKID");
        assert_eq!(scope.date, "20150830");
        assert_eq!(scope.region, "us-east-1");
        assert_eq!(scope.service, "execute-api");
        assert_eq!(scope.terminator, "aws4_request");
        assert_eq!(
            scope.without_key(),
            "20150830/us-east-1/execute-api/aws4_request"
        );
        assert!(Scope::parse("AKID/20150830/us-east-1").is_err());
    }
}
