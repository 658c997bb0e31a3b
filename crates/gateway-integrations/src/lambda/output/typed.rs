//! Proxy responses of the Lambda runtime's types (`aws_lambda_events`'
//! `ApiGatewayProxyResponse` and `ApiGatewayV2httpResponse`), as a function in
//! process returns them, read without writing and parsing their JSON.
//!
//! What is read here must be what parsing the response's JSON gives; the tests
//! check both ways agree. A response that the JSON way would refuse or read
//! differently (a status out of range, a header value that is not visible ASCII,
//! one that is not UTF-8) is left to the JSON way, which then answers as it does.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body as LambdaBody;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::Parsed;

/// A 1.0 response: `multiValueHeaders` replaces a header of the same name.
pub(super) fn v1(response: &ApiGatewayProxyResponse) -> Option<Parsed> {
    let status = status(response.status_code)?;
    let mut headers = first_values(&response.headers)?;
    for name in response.multi_value_headers.keys() {
        headers.remove(name);
        for value in response.multi_value_headers.get_all(name) {
            headers.append(name.clone(), visible(value)?);
        }
    }
    Some(Parsed {
        status,
        headers,
        cookies: Vec::new(),
        body: body(response.body.as_ref())?,
        base64: response.is_base64_encoded,
    })
}

/// A 2.0 response: `cookies` become `Set-Cookie` headers, `multiValueHeaders` are
/// not read (but must still be writable, as the JSON way writes them).
pub(super) fn v2(response: &ApiGatewayV2httpResponse) -> Option<Parsed> {
    let status = status(response.status_code)?;
    let headers = first_values(&response.headers)?;
    if response
        .multi_value_headers
        .values()
        .any(|value| std::str::from_utf8(value.as_bytes()).is_err())
    {
        return None;
    }
    let cookies = response
        .cookies
        .iter()
        .map(|cookie| HeaderValue::from_str(cookie).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(Parsed {
        status,
        headers,
        cookies,
        body: body(response.body.as_ref())?,
        base64: response.is_base64_encoded,
    })
}

fn status(code: i64) -> Option<StatusCode> {
    u16::try_from(code)
        .ok()
        .filter(|code| (100..=599).contains(code))
        .and_then(|code| StatusCode::from_u16(code).ok())
}

/// `headers`: the runtime writes the first value of each name.
fn first_values(headers: &HeaderMap) -> Option<HeaderMap> {
    let mut first = HeaderMap::with_capacity(headers.keys_len());
    for name in headers.keys() {
        let value = headers.get(name)?;
        first.insert(name.clone(), visible(value)?);
    }
    Some(first)
}

/// A value that reads back as itself from JSON text.
fn visible(value: &HeaderValue) -> Option<HeaderValue> {
    value.to_str().ok().map(|_| value.clone())
}

/// The body as the JSON carries it: binary bodies as their base64 text.
fn body(body: Option<&LambdaBody>) -> Option<Bytes> {
    Some(match body {
        None | Some(LambdaBody::Empty) => Bytes::new(),
        Some(LambdaBody::Text(text)) => Bytes::copy_from_slice(text.as_bytes()),
        Some(LambdaBody::Binary(bytes)) => Bytes::from(STANDARD.encode(bytes)),
        // A kind of body this code does not know: the JSON way reads it.
        Some(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
    use aws_lambda_events::encodings::Body as LambdaBody;
    use gateway_core::lambda::Payload;
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;
    use serde::Serialize;

    use super::super::{Outcome, OutputRules};
    use crate::lambda::event::PayloadFormat;
    use crate::lambda::media::BinaryMediaTypes;

    fn rules(format: PayloadFormat, http_api: bool) -> OutputRules {
        OutputRules {
            format,
            http_api,
            binary: BinaryMediaTypes::new(&["image/png".to_owned()]),
        }
    }

    /// An outcome, comparable: the response's status, headers and body, or what
    /// kind of failure it was.
    fn summary(outcome: Outcome) -> String {
        match outcome {
            Outcome::Response(response) => {
                let mut headers: Vec<String> = response
                    .headers()
                    .iter()
                    .map(|(name, value)| format!("{name}: {value:?}"))
                    .collect();
                headers.sort();
                format!(
                    "{} {headers:?} {:?}",
                    response.status(),
                    response.body().as_bytes()
                )
            }
            Outcome::Malformed(_) => "malformed".to_owned(),
            Outcome::FunctionError(_) => "function error".to_owned(),
        }
    }

    /// Maps `response` as a typed value and as its JSON under every rule set and
    /// `Accept`; both must answer alike. Returns whether the typed way read it.
    fn agree<T>(response: &T) -> bool
    where
        T: Serialize + Clone + Send + Sync + std::fmt::Debug + 'static,
    {
        let mut read = false;
        for rules in [
            rules(PayloadFormat::V1, false),
            rules(PayloadFormat::V1, true),
            rules(PayloadFormat::V2, true),
        ] {
            for accept in [None, Some("image/png")] {
                let typed = rules.map_payload(&Payload::value(response.clone()), accept);
                let json = match serde_json::to_vec(response) {
                    Ok(json) => rules.map(&json.into(), accept),
                    Err(e) => Outcome::FunctionError(e.to_string()),
                };
                assert_eq!(summary(typed), summary(json), "{response:?} {accept:?}");
            }
            let payload = Payload::value(response.clone());
            read |= payload
                .downcast_ref::<ApiGatewayProxyResponse>()
                .and_then(super::v1)
                .is_some()
                || payload
                    .downcast_ref::<ApiGatewayV2httpResponse>()
                    .and_then(super::v2)
                    .is_some();
        }
        read
    }

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    fn v1(
        status: i64,
        single: HeaderMap,
        multi: HeaderMap,
        body: Option<LambdaBody>,
    ) -> ApiGatewayProxyResponse {
        let mut response = ApiGatewayProxyResponse::default();
        response.status_code = status;
        response.headers = single;
        response.multi_value_headers = multi;
        response.body = body;
        response
    }

    #[test]
    fn typed_responses_map_as_their_json_does() {
        let json = headers(&[
            ("content-type", b"application/json"),
            ("x-a", b"1"),
            ("x-a", b"2"),
        ]);
        let multi = headers(&[
            ("x-a", b"3"),
            ("set-cookie", b"a=1"),
            ("set-cookie", b"b=2"),
        ]);
        let framing = headers(&[("content-length", b"3"), ("connection", b"close")]);
        let cases = [
            v1(
                200,
                json.clone(),
                HeaderMap::new(),
                Some(LambdaBody::Text(r#"{"a":"b"}"#.into())),
            ),
            v1(201, json, multi, None),
            v1(
                204,
                HeaderMap::new(),
                HeaderMap::new(),
                Some(LambdaBody::Empty),
            ),
            v1(
                302,
                framing,
                HeaderMap::new(),
                Some(LambdaBody::Text("x".into())),
            ),
            v1(
                200,
                headers(&[("content-type", b"image/png")]),
                HeaderMap::new(),
                Some(LambdaBody::Binary(vec![0x89, b'P', 0, 0xff])),
            ),
        ];
        for case in &cases {
            assert!(agree(case), "{case:?}");
        }
        let mut base64 = cases[4].clone();
        base64.is_base64_encoded = true;
        assert!(agree(&base64));
        let mut text_flagged = cases[0].clone();
        text_flagged.is_base64_encoded = true;
        assert!(agree(&text_flagged));

        let mut v2 = ApiGatewayV2httpResponse::default();
        v2.status_code = 200;
        v2.headers = headers(&[("content-type", b"text/plain")]);
        v2.multi_value_headers = headers(&[("x-ignored", b"1")]);
        v2.cookies = vec!["a=1; Path=/".into(), "b=2".into()];
        v2.body = Some(LambdaBody::Text("hello".into()));
        assert!(agree(&v2));
    }

    #[test]
    fn what_the_json_would_refuse_is_left_to_it() {
        for status in [0, 99, 600, -1, 70_000] {
            let response = v1(status, HeaderMap::new(), HeaderMap::new(), None);
            assert!(!agree(&response), "{status}");
        }
        // Not UTF-8: the runtime cannot write it, a failed function.
        let raw = v1(
            200,
            headers(&[("x-raw", b"a\xffb")]),
            HeaderMap::new(),
            None,
        );
        assert!(!agree(&raw));
        let raw_multi = v1(200, HeaderMap::new(), headers(&[("x-raw", b"\xff")]), None);
        assert!(!agree(&raw_multi));
        // UTF-8 beyond ASCII.
        let accented = v1(
            200,
            headers(&[("x-name", "café".as_bytes())]),
            HeaderMap::new(),
            None,
        );
        assert!(!agree(&accented));
        let mut v2 = ApiGatewayV2httpResponse::default();
        v2.status_code = 200;
        v2.cookies = vec!["bad\ncookie".into()];
        assert!(!agree(&v2));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn arbitrary_responses_map_alike(
            status in prop_oneof![100i64..600, any::<i64>()],
            values in proptest::collection::vec(
                (0usize..3, proptest::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..8)),
                0..6),
            body in proptest::option::of(prop_oneof![
                ".{0,16}".prop_map(LambdaBody::Text),
                proptest::collection::vec(any::<u8>(), 0..16).prop_map(LambdaBody::Binary),
                Just(LambdaBody::Empty),
            ]),
            base64 in any::<bool>(),
            cookies in proptest::collection::vec("[ -~]{0,8}", 0..3),
        ) {
            let names = ["content-type", "x-a", "content-length"];
            let mut single = HeaderMap::new();
            let mut multi = HeaderMap::new();
            for (i, (name, value)) in values.iter().enumerate() {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    let map = if i % 2 == 0 { &mut single } else { &mut multi };
                    map.append(names[*name], value);
                }
            }
            let mut response = v1(status, single.clone(), multi.clone(), body.clone());
            response.is_base64_encoded = base64;
            agree(&response);
            let mut v2 = ApiGatewayV2httpResponse::default();
            v2.status_code = status;
            v2.headers = single;
            v2.multi_value_headers = multi;
            v2.body = body;
            v2.is_base64_encoded = base64;
            v2.cookies = cookies;
            agree(&v2);
        }
    }
}
