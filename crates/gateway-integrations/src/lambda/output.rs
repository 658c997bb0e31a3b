//! Reading a function's result as a proxy response.
//!
//! - **1.0** `{"statusCode", "headers", "multiValueHeaders", "body",
//!   "isBase64Encoded"}`. `multiValueHeaders` replaces a header of the same name in
//!   `headers`. Header values are strings or booleans (`true` becomes `"true"`).
//!   REST APIs refuse any other field and default a missing `statusCode` to 200;
//!   HTTP APIs ignore other fields and require `statusCode`.
//! - **2.0** the same without `multiValueHeaders` (ignored), plus `cookies`, each a
//!   `Set-Cookie` header. A result that is not an object with a `statusCode` is
//!   inferred as a 200 `application/json` answer: a JSON string is the body as
//!   text, anything else is the body as the function wrote it. An object with an
//!   `errorMessage` and no `statusCode` is taken for a failed function's error.
//! - `statusCode` is a number or a numeric string from 100 to 599. `body` is a
//!   string or `null`. With `isBase64Encoded`, HTTP APIs always decode the body;
//!   REST APIs decode it only when the response's `Content-Type` or the first
//!   `Accept` entry of the request is one of the API's binary media types, and
//!   otherwise send the base64 text as it is.
//! - A response without `Content-Type` is sent as `application/json`. Headers that
//!   frame the message (`Content-Length`, `Transfer-Encoding`, `Connection` and the
//!   other hop-by-hop headers) belong to the gateway: REST APIs pass a function's
//!   on as `x-amzn-Remapped-NAME`, HTTP APIs drop them.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use gateway_core::body::Body;
use gateway_core::lambda::Payload;
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use super::event::PayloadFormat;
use super::media::BinaryMediaTypes;

/// How a route reads its function's results.
#[derive(Debug, Clone)]
pub(crate) struct OutputRules {
    pub(crate) format: PayloadFormat,
    pub(crate) http_api: bool,
    /// REST APIs' binary media types, for decoding base64 bodies.
    pub(crate) binary: BinaryMediaTypes,
}

/// What a function's result means.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A response for the client.
    Response(Response<Body>),
    /// Not a proxy response; the reason, for the log.
    Malformed(String),
    /// The result is a failed function's error object; its message, for the log.
    FunctionError(String),
}

/// The 1.0 fields a REST API accepts.
const V1_FIELDS: [&str; 5] = [
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

/// Headers that frame a message; a function may not set them.
const FRAMING: [&str; 8] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The parts of a proxy response before its body is decoded.
struct Parsed {
    status: StatusCode,
    headers: HeaderMap,
    cookies: Vec<HeaderValue>,
    /// The body text, moved out of the parsed result rather than copied.
    body: Bytes,
    base64: bool,
}

impl OutputRules {
    /// Maps a function's result. A proxy response of the Lambda runtime's types (a
    /// function in process) is read as it is; anything else as its JSON.
    pub(crate) fn map_payload(&self, payload: &Payload, accept: Option<&str>) -> Outcome {
        let parsed = match self.format {
            PayloadFormat::V1 => payload
                .downcast_ref::<ApiGatewayProxyResponse>()
                .and_then(typed::v1),
            PayloadFormat::V2 => payload
                .downcast_ref::<ApiGatewayV2httpResponse>()
                .and_then(typed::v2),
        };
        if let Some(parsed) = parsed {
            return self.outcome(Ok(parsed), accept);
        }
        match payload.to_json() {
            Ok(json) => self.map(&json, accept),
            // What the Lambda runtime reports for a response it cannot write.
            Err(e) => Outcome::FunctionError(format!("failed to serialize the response: {e}")),
        }
    }

    /// Maps a function's JSON result. `accept` is the request's `Accept` header.
    pub(crate) fn map(&self, payload: &Bytes, accept: Option<&str>) -> Outcome {
        let value: Value = match serde_json::from_slice(payload) {
            Ok(value) => value,
            Err(e) => return Outcome::Malformed(format!("the result is not JSON ({e})")),
        };
        let parsed = match (self.format, value) {
            (PayloadFormat::V1, value) => self.parse_v1(value),
            (PayloadFormat::V2, Value::Object(fields))
                if present(&fields, "statusCode").is_some() =>
            {
                parse_v2(fields)
            }
            (PayloadFormat::V2, Value::Object(fields)) if fields.contains_key("errorMessage") => {
                let message = match &fields["errorMessage"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                return Outcome::FunctionError(message);
            }
            (PayloadFormat::V2, Value::String(text)) => Ok(inferred(Bytes::from(text))),
            (PayloadFormat::V2, _) => Ok(inferred(payload.clone())),
        };
        self.outcome(parsed, accept)
    }

    fn outcome(&self, parsed: Result<Parsed, String>, accept: Option<&str>) -> Outcome {
        match parsed.and_then(|parsed| self.respond(parsed, accept)) {
            Ok(response) => Outcome::Response(response),
            Err(reason) => Outcome::Malformed(reason),
        }
    }

    fn parse_v1(&self, value: Value) -> Result<Parsed, String> {
        let Value::Object(mut fields) = value else {
            return Err(format!(
                "the result is a JSON {}, not an object",
                kind(&value)
            ));
        };
        if !self.http_api
            && let Some(unknown) = fields.keys().find(|k| !V1_FIELDS.contains(&k.as_str()))
        {
            return Err(format!("unexpected field `{unknown}`"));
        }
        let status = match present(&fields, "statusCode") {
            Some(status) => status_code(status)?,
            None if self.http_api => return Err("statusCode is missing".to_owned()),
            None => StatusCode::OK,
        };
        let mut headers = single_headers(&fields)?;
        if let Some(multi) = present(&fields, "multiValueHeaders") {
            for (name, values) in object(multi, "multiValueHeaders")? {
                let name = header_name(name)?;
                let Value::Array(values) = values else {
                    return Err(format!("multiValueHeaders.{name} is not a list"));
                };
                headers.remove(&name);
                for value in values {
                    headers.append(name.clone(), header_value(value, &name)?);
                }
            }
        }
        Ok(Parsed {
            status,
            headers,
            cookies: Vec::new(),
            base64: base64_flag(&fields)?,
            body: body(&mut fields)?,
        })
    }

    fn respond(&self, parsed: Parsed, accept: Option<&str>) -> Result<Response<Body>, String> {
        let Parsed {
            status,
            mut headers,
            cookies,
            body,
            base64,
        } = parsed;
        for name in FRAMING {
            let Some(value) = headers.remove(name) else {
                continue;
            };
            if !self.http_api
                && let Ok(remapped) =
                    HeaderName::from_bytes(format!("x-amzn-remapped-{name}").as_bytes())
            {
                headers.insert(remapped, value);
            }
        }
        let decode = base64
            && (self.http_api
                || headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|ct| self.binary.matches(ct))
                || accept.is_some_and(|a| self.binary.matches_accept(a)));
        let body =
            if decode {
                Bytes::from(STANDARD.decode(&body).map_err(|e| {
                    format!("isBase64Encoded is set but the body is not base64 ({e})")
                })?)
            } else {
                body
            };
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        for cookie in cookies {
            headers.append(SET_COOKIE, cookie);
        }
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// A 2.0 structured response.
fn parse_v2(mut fields: Map<String, Value>) -> Result<Parsed, String> {
    let status = match present(&fields, "statusCode") {
        Some(status) => status_code(status)?,
        None => StatusCode::OK,
    };
    let headers = single_headers(&fields)?;
    let mut cookies = Vec::new();
    if let Some(list) = present(&fields, "cookies") {
        let Value::Array(list) = list else {
            return Err(format!("cookies is a JSON {}, not a list", kind(list)));
        };
        for cookie in list {
            let Value::String(cookie) = cookie else {
                return Err("cookies holds a value that is not a string".to_owned());
            };
            cookies.push(
                HeaderValue::from_str(cookie)
                    .map_err(|_| format!("cookie `{cookie}` is not a valid header value"))?,
            );
        }
    }
    Ok(Parsed {
        status,
        headers,
        cookies,
        base64: base64_flag(&fields)?,
        body: body(&mut fields)?,
    })
}

/// `headers`: one value per name.
fn single_headers(fields: &Map<String, Value>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    if let Some(single) = present(fields, "headers") {
        for (name, value) in object(single, "headers")? {
            let name = header_name(name)?;
            let value = header_value(value, &name)?;
            headers.insert(name, value);
        }
    }
    Ok(headers)
}

/// A 2.0 result that is not a structured response: 200, JSON, the body as given.
fn inferred(body: Bytes) -> Parsed {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Parsed {
        status: StatusCode::OK,
        headers,
        cookies: Vec::new(),
        body,
        base64: false,
    }
}

/// A field that is present and not `null`.
fn present<'f>(fields: &'f Map<String, Value>, name: &str) -> Option<&'f Value> {
    fields.get(name).filter(|v| !v.is_null())
}

fn object<'v>(value: &'v Value, field: &str) -> Result<&'v Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("{field} is a JSON {}, not an object", kind(other))),
    }
}

fn status_code(value: &Value) -> Result<StatusCode, String> {
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    number
        .filter(|n| (100..=599).contains(n))
        .and_then(|n| u16::try_from(n).ok())
        .and_then(|n| StatusCode::from_u16(n).ok())
        .ok_or_else(|| format!("statusCode {value} is not an HTTP status"))
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))
}

fn header_value(value: &Value, name: &HeaderName) -> Result<HeaderValue, String> {
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Bool(true) => "true",
        Value::Bool(false) => "false",
        other => {
            return Err(format!(
                "header {name} is a JSON {}, not a string",
                kind(other)
            ));
        }
    };
    HeaderValue::from_str(text).map_err(|_| format!("header {name} has an invalid value"))
}

/// `body`, moved out of the result.
fn body(fields: &mut Map<String, Value>) -> Result<Bytes, String> {
    match fields.remove("body") {
        None | Some(Value::Null) => Ok(Bytes::new()),
        Some(Value::String(text)) => Ok(Bytes::from(text)),
        Some(other) => Err(format!("body is a JSON {}, not a string", kind(&other))),
    }
}

fn base64_flag(fields: &Map<String, Value>) -> Result<bool, String> {
    match present(fields, "isBase64Encoded") {
        None => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(other) => Err(format!(
            "isBase64Encoded is a JSON {}, not a boolean",
            kind(other)
        )),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

mod typed;

#[cfg(test)]
mod tests;
