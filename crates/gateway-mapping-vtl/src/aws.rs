//! API Gateway's mapping-template variables — `$input`, `$util`, `$context`,
//! `$stageVariables` — and the overrides a template writes back into `$context`.
//!
//! Build the variables for one render with [`bindings`]:
//!
//! ```
//! use gateway_mapping_vtl::aws::{self, InputData};
//! use gateway_mapping_vtl::{HostObject, Value};
//!
//! let mut input = InputData::new(r#"{"pets": [{"id": 1}, {"id": 2}]}"#);
//! input.querystring.insert("name".into(), "Rex".into());
//! let context = aws::context_value(&gateway_core::RequestContext::default());
//! let bindings = aws::bindings(input, context, &Default::default());
//!
//! let Some(Value::Object(input)) = bindings.get("input") else { unreachable!() };
//! let json = input.call("json", &[Value::string("$.pets[0]")]).unwrap();
//! assert_eq!(json, Some(Value::string(r#"{"id":1}"#)));
//! let name = input.call("params", &[Value::string("name")]).unwrap();
//! assert_eq!(name, Some(Value::string("Rex")));
//! ```
//!
//! # How `$input` behaves
//!
//! - `$input.body` is the raw payload; an empty payload reads as `{}`, as AWS
//!   substitutes `{}` for an empty body whatever its content type (verified against
//!   AWS by LocalStack, localstack/localstack#12413).
//! - The payload is parsed as JSON when first needed: into a document kept for
//!   the rest of the render by `$input.path`/`$input.json` with a path below
//!   `$`; for `$` itself (the common `$input.path('$')`, `$input.json('$')`)
//!   straight into template values or compact JSON text, until a document
//!   exists. An empty payload is `{}`. API Gateway's parser
//!   (json-smart, permissive mode) reads text that is not JSON and does not start
//!   like JSON as one string: `a=b` is the string `"a=b"`, `$input.json('$')`
//!   prints `"a=b"`. Text that starts like JSON (`{`, `[`, `"`) but is malformed
//!   fails the render with a [`PAYLOAD_ERROR`] message, which API Gateway answers
//!   with `400 {"message": "Could not process payload..."}`. (Observed on AWS:
//!   ToQoz/api-gateway-mapping-template, `test/_.md`.) Unlike json-smart, JSON
//!   extensions such as single-quoted strings or unquoted keys are not accepted.
//! - `$input.json(path)` prints the selection compactly as json-smart does
//!   ([`util::json_string`]): strings quoted, `/` escaped as `\/`, objects and
//!   arrays without spaces. A definite path that selects nothing prints `null`
//!   (Jayway returns `null` when its exceptions are suppressed and json-smart
//!   prints that as `null`); an indefinite one prints `[]`.
//! - `$input.path(path)` returns the selection as a template value: a definite
//!   path's value or `null`, an indefinite path's list.
//! - `$input.params()` is `{path={..}, querystring={..}, header={..}}` in that
//!   order (as AWS prints it). Header names are kept as the client sent them, so
//!   `$input.params().header.get('x')` is case-sensitive like any map.
//! - `$input.params(name)` searches path, then query string, then headers, as AWS
//!   documents, and returns `""` when none has it (AWS returns an empty string,
//!   which templates test with `.length()`). Header names are matched without
//!   regard to ASCII case, as HTTP header names are.
//! - Wrong argument counts and invalid JSONPath are method errors; a `null` path
//!   argument is an error too.
//!
//! # What the engine must do for these objects
//!
//! `$input.body` is a property; `$input.json(..)`, `$input.path(..)`,
//! `$input.params(..)` and every `$util` function are method calls
//! ([`HostObject::call`]); `$input.getBody()` also works. Unknown methods return
//! `Ok(None)` so that the reference renders as written. Both objects render as
//! the empty string. `$context` and `$stageVariables` are plain maps; the
//! overrides are written with `#set($context.responseOverride.status = 400)` and
//! `#set($context.responseOverride.header.X-Foo = "v")`, map assignments through a
//! dotted reference whose last name may contain `-`.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::rc::Rc;

use gateway_core::RequestContext;
use gateway_core::context::AuthorizerContext;
use gateway_core::stage::StageVariables;
use indexmap::IndexMap;

use crate::bindings::Bindings;
use crate::json::Builder;
use crate::jsonpath::{JsonPath, Selection};
use crate::util;
use crate::value::{HostObject, MethodError, Value};

/// How a render failure caused by an unparseable payload starts; API Gateway
/// answers those with `400 {"message": "Could not process payload..."}`.
pub const PAYLOAD_ERROR: &str = "Could not process payload";

/// The request (or integration response) data behind `$input`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputData {
    /// The payload as text. Binary payloads should be decoded lossily or base64
    /// encoded by the caller, as API Gateway only hands text to templates.
    pub body: String,
    /// Path parameters, by name.
    pub path: IndexMap<String, String>,
    /// Query string parameters, decoded, one value each (the caller picks which
    /// value of a repeated parameter to keep).
    pub querystring: IndexMap<String, String>,
    /// Headers with their names as the client sent them, one value each.
    pub header: IndexMap<String, String>,
}

/// `$input`: the payload and parameters of the message being mapped.
#[derive(Debug)]
pub struct Input {
    data: InputData,
    document: OnceCell<Result<serde_json::Value, String>>,
    params: OnceCell<Value>,
}

/// `$util`: the helper functions API Gateway provides to templates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Util;

/// The response overrides a template set in `$context.responseOverride`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseOverride {
    /// `$context.responseOverride.status`, when set to a status code from 100 to
    /// 599 (a number, or a string holding one). Other values are ignored.
    pub status: Option<u16>,
    /// `$context.responseOverride.header.*`, in the order they were first set. A
    /// list value yields one header per element; `null` values are skipped.
    pub headers: Vec<(String, String)>,
}

/// The request overrides a template set in `$context.requestOverride`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOverride {
    /// `$context.requestOverride.header.*`.
    pub headers: Vec<(String, String)>,
    /// `$context.requestOverride.path.*`.
    pub path: Vec<(String, String)>,
    /// `$context.requestOverride.querystring.*`.
    pub querystring: Vec<(String, String)>,
}

impl InputData {
    /// Input with a payload and no parameters.
    #[must_use]
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
}

impl Input {
    /// `$input` over the given data.
    #[must_use]
    pub fn new(data: InputData) -> Self {
        Self {
            data,
            document: OnceCell::new(),
            params: OnceCell::new(),
        }
    }

    /// The data behind this object.
    #[must_use]
    pub fn data(&self) -> &InputData {
        &self.data
    }

    /// `$input.body`: the raw payload, or `{}` when it is empty.
    #[must_use]
    pub fn body(&self) -> &str {
        if self.data.body.is_empty() {
            "{}"
        } else {
            &self.data.body
        }
    }

    /// The payload as JSON, parsed on first use (see the module docs).
    pub fn document(&self) -> Result<&serde_json::Value, MethodError> {
        self.document
            .get_or_init(|| parse_payload(&self.data.body))
            .as_ref()
            .map_err(|e| MethodError::new(e.clone()))
    }

    /// `$input.json(path)`.
    pub fn json(&self, path: &str) -> Result<String, MethodError> {
        // `$` itself, the usual path, needs no compiling.
        let compiled = if path == "$" {
            None
        } else {
            Some(compile(path)?)
        };
        if compiled.as_ref().is_none_or(JsonPath::is_root) && self.document.get().is_none() {
            // The whole payload, printed as it is read when that is possible.
            let trimmed = self.data.body.trim();
            if trimmed.is_empty() {
                return Ok("{}".to_owned());
            }
            if let Some(json) = crate::json::compact_text(trimmed) {
                return Ok(json);
            }
            if let Some(json) = util::json_text_string(trimmed) {
                return Ok(json);
            }
        }
        let path = match compiled {
            Some(path) => path,
            None => compile(path)?,
        };
        let document = self.document()?;
        // Printed from the document in place (`into_json` would copy the selection).
        Ok(match path.select(document) {
            Selection::Definite(Some(json)) => util::json_string(&json),
            Selection::Definite(None) => "null".to_owned(),
            Selection::Indefinite(values) => util::json_list_string(&values),
        })
    }

    /// `$input.path(path)`.
    pub fn path(&self, path: &str) -> Result<Value, MethodError> {
        // `$` itself, the usual path, needs no compiling.
        let compiled = if path == "$" {
            None
        } else {
            Some(compile(path)?)
        };
        if compiled.as_ref().is_none_or(JsonPath::is_root)
            && self.document.get().is_none()
            && let Some(value) = payload_value(&self.data.body)
        {
            // The whole payload, read straight into template values.
            return Ok(value);
        }
        let path = match compiled {
            Some(path) => path,
            None => compile(path)?,
        };
        let document = self.document()?;
        Ok(path.select(document).to_value())
    }

    /// `$input.params()`: `{path={..}, querystring={..}, header={..}}`, built once
    /// and shared by every call in the render.
    #[must_use]
    pub fn params(&self) -> Value {
        self.params
            .get_or_init(|| {
                let section = |entries: &IndexMap<String, String>| {
                    Value::new_map(
                        entries
                            .iter()
                            .map(|(k, v)| (k.clone(), Value::string(v)))
                            .collect(),
                    )
                };
                let mut all = Value::entries_with_capacity(3);
                all.insert("path".to_owned(), section(&self.data.path));
                all.insert("querystring".to_owned(), section(&self.data.querystring));
                all.insert("header".to_owned(), section(&self.data.header));
                Value::new_map(all)
            })
            .clone()
    }

    /// `$input.params(name)`: the path parameter, else the query string parameter,
    /// else the header (any ASCII case) called `name`, else `""`.
    #[must_use]
    pub fn param(&self, name: &str) -> &str {
        self.data
            .path
            .get(name)
            .or_else(|| self.data.querystring.get(name))
            .or_else(|| self.data.header.get(name))
            .or_else(|| {
                self.data
                    .header
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .map_or("", String::as_str)
    }
}

impl HostObject for Input {
    fn type_name(&self) -> &'static str {
        "Input"
    }

    fn property(&self, name: &str) -> Option<Value> {
        (name == "body").then(|| Value::string(self.body()))
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, MethodError> {
        match method {
            "json" => {
                let path = required_text("input", method, args)?;
                self.json(&path).map(|json| Some(Value::string(&json)))
            }
            "path" => {
                let path = required_text("input", method, args)?;
                self.path(&path).map(Some)
            }
            "params" => match args {
                [] => Ok(Some(self.params())),
                [name] => Ok(Some(Value::string(
                    text_ref(name).map_or("", |name| self.param(&name)),
                ))),
                _ => Err(arity("input", method, "0 or 1", args.len())),
            },
            "getBody" => match args {
                [] => Ok(Some(Value::string(self.body()))),
                _ => Err(arity("input", method, "0", args.len())),
            },
            _ => Ok(None),
        }
    }

    fn to_text(&self) -> String {
        String::new()
    }
}

impl HostObject for Util {
    fn type_name(&self) -> &'static str {
        "Util"
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, MethodError> {
        let result = match method {
            "escapeJavaScript" => {
                // Commons Lang returns null for null.
                match text_ref(one_arg("util", method, args)?) {
                    Some(s) => Value::string(&util::escape_javascript(&s)),
                    None => Value::Null,
                }
            }
            "urlEncode" => Value::string(&util::url_encode(&required_text("util", method, args)?)),
            "urlDecode" => Value::string(
                &util::url_decode(&required_text("util", method, args)?)
                    .map_err(|e| MethodError::new(e.to_string()))?,
            ),
            "base64Encode" => Value::string(&util::base64_encode(
                required_text("util", method, args)?.as_bytes(),
            )),
            "base64Decode" => {
                let bytes = util::base64_decode(&required_text("util", method, args)?);
                Value::string(&String::from_utf8_lossy(&bytes))
            }
            "parseJson" => util::parse_json(&required_text("util", method, args)?)
                .map_err(|e| MethodError::new(e.to_string()))?,
            _ => return Ok(None),
        };
        Ok(Some(result))
    }

    fn to_text(&self) -> String {
        String::new()
    }
}

/// The `$context` map for a request: every variable AWS offers to mapping
/// templates that this gateway knows, `null` for the others (Cognito identity
/// pools, organisation ids), plus empty `requestOverride` and `responseOverride`
/// maps for templates to fill in.
///
/// - `identity.user` is the caller, as AWS's documented example and IAM-authorized
///   requests captured from AWS show them equal; the identity map has the same keys
///   as AWS's, `null` where this gateway has no value.
/// - `authorizer.claims` is present only when a JWT authorizer verified claims;
///   each claim is a string (other JSON values as JSON text).
/// - Lambda authorizer context values are stringified, as AWS documents
///   (`1` → `"1"`, `true` → `"true"`), and sit beside `principalId`.
/// - `requestTimeEpoch` is a number; `xrayTraceId` is present when tracing is.
///
/// The map is a [`Value::Json`] object, read in place: templates see a
/// `LinkedHashMap`, and the first change (`#set($context.responseOverride.status
/// = 400)`) turns it into ordinary maps, which [`response_override`] and
/// [`request_override`] read back. [`Value::resolved`] gives the map itself.
#[must_use]
pub fn context_value(ctx: &RequestContext) -> Value {
    // Written straight into a document read in place: most templates read a few
    // variables, and a map per object would cost some seventy allocations.
    // Some ninety nodes and 600 bytes of names and values for a typical request.
    let mut b = Builder::with_capacity(128, 1024);
    let root = b.begin_object_distinct();
    b.key_distinct("accountId");
    b.str(&ctx.account_id);
    b.key_distinct("apiId");
    b.str(&ctx.api_id);
    b.key_distinct("authorizer");
    authorizer_value(&mut b, &ctx.authorizer);
    b.key_distinct("domainName");
    b.str(&ctx.domain_name);
    b.key_distinct("domainPrefix");
    b.str(ctx.domain_prefix());
    b.key_distinct("extendedRequestId");
    b.str(&ctx.extended_request_id);
    b.key_distinct("httpMethod");
    b.str(ctx.http_method.as_str());
    b.key_distinct("identity");
    identity_value(&mut b, ctx);
    b.key_distinct("path");
    b.str(&ctx.path);
    b.key_distinct("protocol");
    b.str(ctx.protocol);
    b.key_distinct("requestId");
    b.str(&ctx.request_id);
    b.key_distinct("requestOverride");
    let overrides = b.begin_object_distinct();
    for key in ["header", "path", "querystring"] {
        b.key_distinct(key);
        let empty = b.begin_object_distinct();
        b.end_object_distinct(empty);
    }
    b.end_object_distinct(overrides);
    b.key_distinct("requestTime");
    b.str_with(|out| push_request_time(out, ctx.request_time_epoch / 1000));
    b.key_distinct("requestTimeEpoch");
    b.int(i64::try_from(ctx.request_time_epoch).unwrap_or(i64::MAX));
    b.key_distinct("resourceId");
    b.str(&ctx.resource_id);
    b.key_distinct("resourcePath");
    b.str(&ctx.resource_path);
    b.key_distinct("responseOverride");
    let overrides = b.begin_object_distinct();
    b.key_distinct("status");
    b.null();
    b.key_distinct("header");
    let empty = b.begin_object_distinct();
    b.end_object_distinct(empty);
    b.end_object_distinct(overrides);
    b.key_distinct("stage");
    b.str(&ctx.stage);
    if let Some(trace_id) = &ctx.trace_id {
        b.key_distinct("xrayTraceId");
        b.str(trace_id.as_str());
    }
    b.end_object_distinct(root);
    b.finish().unwrap_or(Value::Null)
}

/// Appends `requestTime` as [`RequestContext::request_time`] formats it
/// (`21/Nov/2026:06:16:35 +0000`), without the formatting machinery.
fn push_request_time(out: &mut String, epoch_secs: u64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day) =
        gateway_core::context::civil_from_days(i64::try_from(epoch_secs / 86_400).unwrap_or(0));
    let secs = epoch_secs % 86_400;
    push_padded(out, u64::from(day), 2);
    out.push('/');
    out.push_str(MONTHS[(month.clamp(1, 12) - 1) as usize]);
    out.push('/');
    push_padded(out, u64::try_from(year).unwrap_or(0), 4);
    for part in [secs / 3600, (secs / 60) % 60, secs % 60] {
        out.push(':');
        push_padded(out, part, 2);
    }
    out.push_str(" +0000");
}

/// Appends `n` in decimal with at least `width` digits.
fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let at = at.min(digits.len() - width.min(digits.len()));
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

fn identity_value(b: &mut Builder, ctx: &RequestContext) {
    let identity = &ctx.identity;
    let at = b.begin_object_distinct();
    let entries = [
        ("accessKey", identity.access_key.as_deref()),
        ("accountId", identity.account_id.as_deref()),
        ("apiKey", identity.api_key.as_deref()),
        ("apiKeyId", identity.api_key_id.as_deref()),
        ("caller", identity.caller.as_deref()),
        ("cognitoAuthenticationProvider", None),
        ("cognitoAuthenticationType", None),
        ("cognitoIdentityId", None),
        ("cognitoIdentityPoolId", None),
        ("principalOrgId", None),
        ("sourceIp", Some(identity.source_ip.as_str())),
        ("user", identity.caller.as_deref()),
        ("userAgent", identity.user_agent.as_deref()),
        ("userArn", identity.user_arn.as_deref()),
    ];
    for (key, value) in entries {
        b.key_distinct(key);
        b.opt_str(value);
    }
    b.end_object_distinct(at);
}

fn authorizer_value(b: &mut Builder, authorizer: &AuthorizerContext) {
    let at = b.begin_object_distinct();
    b.key_distinct("principalId");
    b.opt_str(authorizer.principal_id.as_deref());
    if !authorizer.claims.is_empty() {
        b.key_distinct("claims");
        let claims = b.begin_object_distinct();
        for (key, value) in &authorizer.claims {
            b.key_distinct(key);
            stringified(b, value);
        }
        b.end_object_distinct(claims);
    }
    for (key, value) in &authorizer.context {
        if key != "principalId" && key != "claims" && !value.is_null() {
            b.key_distinct(key);
            stringified(b, value);
        }
    }
    b.end_object_distinct(at);
}

/// A JSON scalar as the string AWS hands templates: strings as they are, other
/// values as JSON text.
fn stringified(b: &mut Builder, value: &serde_json::Value) {
    match value {
        serde_json::Value::String(s) => b.str(s),
        serde_json::Value::Null => b.null(),
        other => b.str(&other.to_string()),
    }
}

/// `$stageVariables`: a map of the stage's variables, sorted by name (a
/// [`Value::Json`] object, as [`context_value`]).
#[must_use]
pub fn stage_variables_value(stage_variables: &StageVariables) -> Value {
    let mut b = Builder::with_capacity(16, 256);
    let at = b.begin_object_distinct();
    for (key, value) in stage_variables.iter() {
        b.key_distinct(key);
        b.str(value);
    }
    b.end_object_distinct(at);
    b.finish().unwrap_or(Value::Null)
}

/// The root variables of an API Gateway mapping template: `$input` over `input`,
/// `$util`, `$context` (normally from [`context_value`]; keep a clone to read the
/// overrides back after rendering) and `$stageVariables`.
#[must_use]
pub fn bindings(input: InputData, context: Value, stage_variables: &StageVariables) -> Bindings {
    let mut bindings = Bindings::new();
    bindings
        .set_null_rendering(crate::bindings::NullRendering::Empty)
        .set_static("input", Value::Object(Rc::new(Input::new(input))))
        .set_static("util", Value::Object(UTIL.with(Rc::clone)))
        .set_static("context", context)
        .set_static("stageVariables", stage_variables_value(stage_variables));
    bindings
}

thread_local! {
    /// `$util`, shared: it has no state.
    static UTIL: Rc<dyn HostObject> = Rc::new(Util);
}

/// Reads `$context.responseOverride` back after a render.
#[must_use]
pub fn response_override(context: &Value) -> ResponseOverride {
    let Some(overrides) = member(context, "responseOverride") else {
        return ResponseOverride::default();
    };
    ResponseOverride {
        status: member(&overrides, "status").as_ref().and_then(status_code),
        headers: member(&overrides, "header")
            .map(|headers| pairs(&headers))
            .unwrap_or_default(),
    }
}

/// Reads `$context.requestOverride` back after a render.
#[must_use]
pub fn request_override(context: &Value) -> RequestOverride {
    let Some(overrides) = member(context, "requestOverride") else {
        return RequestOverride::default();
    };
    let section = |name: &str| {
        member(&overrides, name)
            .map(|section| pairs(&section))
            .unwrap_or_default()
    };
    RequestOverride {
        headers: section("header"),
        path: section("path"),
        querystring: section("querystring"),
    }
}

/// A member of a map or JSON object (read without converting the document).
fn member(value: &Value, key: &str) -> Option<Value> {
    match value {
        Value::Map(map) => map.borrow().get(key).cloned(),
        Value::Json(json) => json.member(key),
        _ => None,
    }
}

fn status_code(value: &Value) -> Option<u16> {
    let code = match value {
        Value::Int(i) => u16::try_from(*i).ok(),
        Value::Float(f) if f.fract() == 0.0 && (100.0..600.0).contains(f) => {
            format!("{f:.0}").parse::<u16>().ok()
        }
        Value::String(_) | Value::Json(_) => value.as_str()?.trim().parse::<u16>().ok(),
        _ => None,
    }?;
    (100..=599).contains(&code).then_some(code)
}

fn pairs(map: &Value) -> Vec<(String, String)> {
    if let Value::Json(json) = map
        && json.len() == 0
    {
        // Nothing set: no need to convert the document.
        return Vec::new();
    }
    let Value::Map(map) = map.resolved() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in map.borrow().iter() {
        match &value.resolved() {
            Value::Null => {}
            Value::List(items) => {
                out.extend(
                    items
                        .borrow()
                        .iter()
                        .filter_map(text)
                        .map(|v| (name.clone(), v)),
                );
            }
            other => {
                if let Some(v) = text(other) {
                    out.push((name.clone(), v));
                }
            }
        }
    }
    out
}

fn parse_payload(body: &str) -> Result<serde_json::Value, String> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str(trimmed) {
        Ok(json) => Ok(json),
        Err(e) if trimmed.starts_with(['{', '[', '"']) => Err(format!("{PAYLOAD_ERROR}: {e}")),
        // json-smart's permissive mode reads anything else as one bare string.
        Err(_) => Ok(serde_json::Value::String(trimmed.to_owned())),
    }
}

/// The payload as a template value, read as [`parse_payload`] reads it; `None`
/// when it is malformed (the error then comes from [`parse_payload`]).
fn payload_value(body: &str) -> Option<Value> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return Some(Value::new_map(Value::entries_with_capacity(0)));
    }
    match crate::json::parse(trimmed) {
        Ok(value) => Some(value),
        Err(_) if trimmed.starts_with(['{', '[', '"']) => None,
        Err(_) => Some(Value::string(trimmed)),
    }
}

fn compile(path: &str) -> Result<JsonPath, MethodError> {
    JsonPath::compile(path).map_err(|e| MethodError::new(e.to_string()))
}

/// A value as the string a Java `String` parameter would receive; `None` for null.
fn text(value: &Value) -> Option<String> {
    text_ref(value).map(Cow::into_owned)
}

/// [`text`], borrowing a string value instead of copying it.
fn text_ref(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Json(json) if json.as_str().is_some() => json.as_str().map(Cow::Borrowed),
        Value::Object(object) => Some(Cow::Owned(object.to_text())),
        other => Some(Cow::Owned(other.to_java_string())),
    }
}

fn one_arg<'v>(object: &str, method: &str, args: &'v [Value]) -> Result<&'v Value, MethodError> {
    match args {
        [arg] => Ok(arg),
        _ => Err(arity(object, method, "1", args.len())),
    }
}

fn required_text<'v>(
    object: &str,
    method: &str,
    args: &'v [Value],
) -> Result<Cow<'v, str>, MethodError> {
    text_ref(one_arg(object, method, args)?)
        .ok_or_else(|| MethodError::new(format!("${object}.{method}: the argument is null")))
}

fn arity(object: &str, method: &str, expected: &str, given: usize) -> MethodError {
    MethodError::new(format!(
        "${object}.{method} takes {expected} argument(s), {given} given"
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gateway_core::context::Identity;

    use super::*;

    fn s(text: &str) -> Value {
        Value::string(text)
    }

    fn input(body: &str) -> Input {
        let mut data = InputData::new(body);
        data.path.insert("id".into(), "abc".into());
        data.querystring.insert("name".into(), "Rex".into());
        data.querystring.insert("id".into(), "from-query".into());
        data.header
            .insert("Content-Type".into(), "application/json".into());
        data.header.insert("X-Trace".into(), "t1".into());
        data.header.insert("name".into(), "from-header".into());
        Input::new(data)
    }

    fn call(object: &dyn HostObject, method: &str, args: &[Value]) -> Value {
        object.call(method, args).unwrap().unwrap()
    }

    const PETS: &str = r#"{"pets": [
        {"id": 1, "type": "dog", "price": 249.99},
        {"id": 2, "type": "cat", "price": 124.99},
        {"id": 3, "type": "fish", "price": 0.99}
    ], "url": "https://example.com/x", "empty": null}"#;

    #[test]
    fn input_json_prints_compact_json() {
        let input = input(PETS);
        let json = |path: &str| call(&input, "json", &[s(path)]).to_java_string();
        assert_eq!(json("$.pets[0]"), r#"{"id":1,"type":"dog","price":249.99}"#);
        assert_eq!(json("$.pets[0].type"), r#""dog""#);
        assert_eq!(json("$.pets[1].id"), "2");
        assert_eq!(json("$.pets[*].id"), "[1,2,3]");
        assert_eq!(json("$.url"), r#""https:\/\/example.com\/x""#);
        assert_eq!(json("$.empty"), "null");
        assert_eq!(json("$.missing"), "null");
        assert_eq!(json("$.missing[*]"), "[]");
        assert_eq!(json("$.pets[?(@.price < 200)].type"), r#"["cat","fish"]"#);
    }

    #[test]
    fn input_path_returns_values() {
        let input = input(PETS);
        let path = |p: &str| call(&input, "path", &[s(p)]);
        // Arrays are json-smart JSONArrays: they print as JSON.
        assert_eq!(
            path("$.pets").to_java_string().matches("\"id\":").count(),
            3
        );
        assert!(matches!(path("$.pets").resolved(), Value::List(ref l) if l.borrow().len() == 3));
        assert_eq!(path("$.pets[2].price"), Value::Float(0.99));
        assert_eq!(path("$.pets[0].id"), Value::Int(1));
        assert_eq!(path("$.pets[0].type"), s("dog"));
        assert_eq!(path("$.missing"), Value::Null);
        assert_eq!(
            path("$.pets[*].type").to_java_string(),
            r#"["dog","cat","fish"]"#
        );
        assert_eq!(
            path("$.pets[0]").to_java_string(),
            "{id=1, type=dog, price=249.99}"
        );
    }

    #[test]
    fn input_payload_edge_cases() {
        // An empty payload is `{}`.
        let empty = input("");
        assert_eq!(call(&empty, "json", &[s("$")]), s("{}"));
        assert_eq!(call(&empty, "path", &[s("$")]).to_java_string(), "{}");
        assert_eq!(empty.property("body"), Some(s("{}")));
        // Non-JSON text is one string.
        let form = input("a=b&c=d");
        assert_eq!(call(&form, "json", &[s("$")]), s(r#""a=b&c=d""#));
        assert_eq!(call(&form, "path", &[s("$")]), s("a=b&c=d"));
        assert_eq!(call(&form, "json", &[s("$.a")]), s("null"));
        assert_eq!(form.property("body"), Some(s("a=b&c=d")));
        for text in ["a{b", "null{", "true{", "undefined{"] {
            assert_eq!(call(&input(text), "path", &[s("$")]), s(text));
        }
        // A JSON string payload is that string.
        assert_eq!(call(&input(r#""{}""#), "path", &[s("$")]), s("{}"));
        assert_eq!(call(&input("42"), "path", &[s("$")]), Value::Int(42));
        // Malformed JSON is an error, every time it is asked for.
        for bad in ["{a", "[a", "{\"a\": }", "\"open"] {
            let broken = input(bad);
            let err = broken.call("path", &[s("$")]).unwrap_err();
            assert!(err.0.starts_with(PAYLOAD_ERROR), "{bad}: {err}");
            assert!(broken.call("json", &[s("$.a")]).is_err());
            // The raw body is still readable.
            assert_eq!(broken.property("body"), Some(s(bad)));
        }
    }

    #[test]
    fn input_params() {
        let input = input("{}");
        let param = |name: &str| call(&input, "params", &[s(name)]);
        assert_eq!(param("id"), s("abc"), "path wins");
        assert_eq!(param("name"), s("Rex"), "query string before headers");
        assert_eq!(param("X-Trace"), s("t1"));
        assert_eq!(param("x-trace"), s("t1"), "headers match in any case");
        assert_eq!(param("CONTENT-TYPE"), s("application/json"));
        assert_eq!(param("missing"), s(""));
        assert_eq!(call(&input, "params", &[Value::Null]), s(""));
        let all = call(&input, "params", &[]);
        assert_eq!(
            all.to_java_string(),
            "{path={id=abc}, querystring={name=Rex, id=from-query}, \
             header={Content-Type=application/json, X-Trace=t1, name=from-header}}"
        );
        // One map per render: changes made by the template persist.
        if let Value::Map(map) = &all {
            map.borrow_mut().insert("extra".into(), Value::Int(1));
        }
        assert!(
            call(&input, "params", &[])
                .to_java_string()
                .contains("extra=1")
        );
        let header = member(&all, "header").unwrap();
        assert_eq!(
            member(&header, "x-trace"),
            None,
            "the map itself is case-sensitive"
        );
    }

    #[test]
    fn input_errors_and_unknown_methods() {
        let input = input(PETS);
        assert!(input.call("json", &[]).is_err());
        assert!(input.call("json", &[s("$"), s("$")]).is_err());
        assert!(input.call("path", &[Value::Null]).is_err());
        assert!(input.call("params", &[s("a"), s("b")]).is_err());
        let err = input.call("json", &[s("$.a.length()")]).unwrap_err();
        assert!(err.0.contains("not supported"), "{err}");
        assert!(input.call("path", &[s("$[")]).is_err());
        assert_eq!(input.call("nope", &[]).unwrap(), None);
        assert_eq!(input.property("nope"), None);
        assert_eq!(call(&input, "getBody", &[]), s(PETS));
        assert_eq!(input.to_text(), "");
        assert_eq!(input.type_name(), "Input");
    }

    #[test]
    fn input_parses_the_payload_once() {
        let input = input(PETS);
        assert!(input.document.get().is_none());
        let _ = input.property("body");
        let _ = call(&input, "params", &[]);
        assert!(input.document.get().is_none(), "only JSONPath parses");
        let _ = call(&input, "json", &[s("$.pets")]);
        let first: *const _ = input.document().unwrap();
        let _ = call(&input, "path", &[s("$.url")]);
        assert!(std::ptr::eq(first, input.document().unwrap()));
    }

    #[test]
    fn util_functions() {
        let util = Util;
        let one = |method: &str, arg: &str| call(&util, method, &[s(arg)]);
        assert_eq!(one("escapeJavaScript", r#"it's "x""#), s(r#"it\'s \"x\""#));
        assert_eq!(one("urlEncode", "a b&c"), s("a+b%26c"));
        assert_eq!(one("urlDecode", "a+b%26c"), s("a b&c"));
        assert_eq!(one("base64Encode", "hello"), s("aGVsbG8="));
        assert_eq!(one("base64Decode", "aGVsbG8="), s("hello"));
        assert_eq!(one("base64Decode", "//79"), s("\u{fffd}\u{fffd}\u{fffd}"));
        let parsed = one("parseJson", r#"{"key2":{"arr":[1,2,3]}}"#);
        assert_eq!(parsed.to_java_string(), "{key2={arr=[1, 2, 3]}}");
        // Non-string arguments are converted as Java's toString would.
        assert_eq!(call(&util, "urlEncode", &[Value::Int(42)]), s("42"));
        assert_eq!(call(&util, "escapeJavaScript", &[Value::Null]), Value::Null);
    }

    #[test]
    fn util_errors() {
        let util = Util;
        for method in [
            "escapeJavaScript",
            "urlEncode",
            "urlDecode",
            "base64Encode",
            "base64Decode",
            "parseJson",
        ] {
            let err = util.call(method, &[]).unwrap_err();
            assert!(err.0.contains(method), "{err}");
            assert!(util.call(method, &[s("a"), s("b")]).is_err(), "{method}");
        }
        for method in [
            "urlEncode",
            "urlDecode",
            "base64Encode",
            "base64Decode",
            "parseJson",
        ] {
            assert!(util.call(method, &[Value::Null]).is_err(), "{method}");
        }
        assert!(util.call("urlDecode", &[s("%zz")]).is_err());
        assert!(util.call("parseJson", &[s("{nope")]).is_err());
        assert_eq!(util.call("toJson", &[s("x")]).unwrap(), None);
        assert_eq!(util.to_text(), "");
    }

    fn request_context() -> RequestContext {
        let mut authorizer = AuthorizerContext {
            principal_id: Some("user-1".into()),
            ..AuthorizerContext::default()
        };
        authorizer.claims.insert("sub".into(), "abc-123".into());
        authorizer
            .claims
            .insert("exp".into(), serde_json::json!(1_700_000_000));
        authorizer.context.insert("key".into(), "value".into());
        authorizer
            .context
            .insert("numKey".into(), serde_json::json!(1));
        authorizer
            .context
            .insert("boolKey".into(), serde_json::json!(true));
        RequestContext {
            request_id: "abcdefg-000-000-0000-abcdefg".into(),
            extended_request_id: "Abc123=".into(),
            api_id: Arc::from("abcd1234"),
            account_id: Arc::from("111122223333"),
            stage: Arc::from("prod"),
            resource_id: Arc::from("efg567"),
            resource_path: Arc::from("/pets/{id}"),
            http_method: http_method("POST"),
            path: "/prod/pets/1".into(),
            protocol: "HTTP/1.1",
            request_time_epoch: 1_795_241_795_123,
            domain_name: "abcd1234.execute-api.us-east-1.amazonaws.com".into(),
            identity: Identity {
                source_ip: "192.0.2.1".into(),
                user_agent: Some("curl/7.84.0".into()),
                api_key: Some("MyTestKey".into()),
                caller: Some("ABCD-0000-12345".into()),
                ..Identity::default()
            },
            authorizer,
            ..RequestContext::default()
        }
    }

    fn http_method(name: &str) -> http::Method {
        name.parse().unwrap()
    }

    fn path_of(value: &Value, path: &str) -> Value {
        path.split('.')
            .try_fold(value.clone(), |v, key| member(&v, key))
            .unwrap_or(Value::Null)
    }

    #[test]
    fn context_map() {
        let context = context_value(&request_context());
        let get = |path: &str| path_of(&context, path);
        assert_eq!(get("stage"), s("prod"));
        assert_eq!(get("requestId"), s("abcdefg-000-000-0000-abcdefg"));
        assert_eq!(get("extendedRequestId"), s("Abc123="));
        assert_eq!(get("apiId"), s("abcd1234"));
        assert_eq!(get("accountId"), s("111122223333"));
        assert_eq!(get("resourceId"), s("efg567"));
        assert_eq!(get("resourcePath"), s("/pets/{id}"));
        assert_eq!(get("httpMethod"), s("POST"));
        assert_eq!(get("path"), s("/prod/pets/1"));
        assert_eq!(get("protocol"), s("HTTP/1.1"));
        assert_eq!(get("requestTime"), s("21/Nov/2026:06:16:35 +0000"));
        assert_eq!(get("requestTimeEpoch"), Value::Int(1_795_241_795_123));
        assert_eq!(get("domainPrefix"), s("abcd1234"));
        assert_eq!(get("identity.sourceIp"), s("192.0.2.1"));
        assert_eq!(get("identity.userAgent"), s("curl/7.84.0"));
        assert_eq!(get("identity.apiKey"), s("MyTestKey"));
        assert_eq!(get("identity.apiKeyId"), Value::Null);
        assert_eq!(get("identity.caller"), s("ABCD-0000-12345"));
        assert_eq!(get("identity.user"), s("ABCD-0000-12345"));
        assert_eq!(get("identity.cognitoIdentityId"), Value::Null);
        assert_eq!(get("authorizer.principalId"), s("user-1"));
        assert_eq!(get("authorizer.claims.sub"), s("abc-123"));
        assert_eq!(get("authorizer.claims.exp"), s("1700000000"));
        assert_eq!(get("authorizer.key"), s("value"));
        assert_eq!(get("authorizer.numKey"), s("1"));
        assert_eq!(get("authorizer.boolKey"), s("true"));
        assert_eq!(get("responseOverride.status"), Value::Null);
        assert_eq!(get("responseOverride.header").to_java_string(), "{}");
        assert_eq!(
            get("requestOverride").to_java_string(),
            "{header={}, path={}, querystring={}}"
        );
        assert_eq!(get("xrayTraceId"), Value::Null);
        // Each call builds fresh, independent maps.
        let other = context_value(&request_context());
        if let Value::Map(map) = &other.resolved() {
            map.borrow_mut().insert("stage".into(), s("changed"));
        }
        assert_eq!(get("stage"), s("prod"));
    }

    #[test]
    fn context_without_authorizer_or_identity() {
        let context = context_value(&RequestContext::default());
        assert_eq!(
            path_of(&context, "authorizer").to_java_string(),
            "{principalId=null}"
        );
        assert_eq!(path_of(&context, "identity.apiKey"), Value::Null);
        assert_eq!(path_of(&context, "identity.sourceIp"), s(""));
        assert_eq!(path_of(&context, "httpMethod"), s("GET"));
    }

    fn set(context: &Value, path: &str, value: Value) {
        let (parent, key) = path.rsplit_once('.').unwrap();
        let Value::Map(map) = path_of(context, parent).resolved() else {
            panic!("{parent} is not a map")
        };
        map.borrow_mut().insert(key.to_owned(), value);
    }

    #[test]
    fn response_override_reads_back() {
        let context = context_value(&RequestContext::default());
        assert_eq!(response_override(&context), ResponseOverride::default());
        set(&context, "responseOverride.status", Value::Int(400));
        set(&context, "responseOverride.header.X-Foo", s("v"));
        set(
            &context,
            "responseOverride.header.Retry-After",
            Value::Int(30),
        );
        set(&context, "responseOverride.header.X-Null", Value::Null);
        set(
            &context,
            "responseOverride.header.Set-Cookie",
            Value::list(vec![s("a=1"), s("b=2")]),
        );
        assert_eq!(
            response_override(&context),
            ResponseOverride {
                status: Some(400),
                headers: vec![
                    ("X-Foo".into(), "v".into()),
                    ("Retry-After".into(), "30".into()),
                    ("Set-Cookie".into(), "a=1".into()),
                    ("Set-Cookie".into(), "b=2".into()),
                ],
            }
        );
    }

    #[test]
    fn response_override_status_values() {
        let cases = [
            (Value::Int(201), Some(201)),
            (s("404"), Some(404)),
            (s(" 503 "), Some(503)),
            (Value::Float(302.0), Some(302)),
            (Value::Int(100), Some(100)),
            (Value::Int(599), Some(599)),
            (Value::Int(99), None),
            (Value::Int(600), None),
            (Value::Int(-1), None),
            (Value::Int(70_000), None),
            (Value::Float(200.5), None),
            (s("abc"), None),
            (s(""), None),
            (Value::Bool(true), None),
            (Value::Null, None),
        ];
        for (value, expected) in cases {
            let context = context_value(&RequestContext::default());
            set(&context, "responseOverride.status", value.clone());
            assert_eq!(response_override(&context).status, expected, "{value:?}");
        }
        // A template that replaced the whole map, or a context without it.
        let context = context_value(&RequestContext::default());
        set(&context, "responseOverride.header", s("not a map"));
        assert_eq!(response_override(&context).headers, Vec::new());
        assert_eq!(response_override(&Value::Null), ResponseOverride::default());
    }

    #[test]
    fn request_override_reads_back() {
        let context = context_value(&RequestContext::default());
        set(&context, "requestOverride.header.header3", s("h1h2"));
        set(&context, "requestOverride.path.proxy", s("p"));
        set(&context, "requestOverride.querystring.q", Value::Int(1));
        assert_eq!(
            request_override(&context),
            RequestOverride {
                headers: vec![("header3".into(), "h1h2".into())],
                path: vec![("proxy".into(), "p".into())],
                querystring: vec![("q".into(), "1".into())],
            }
        );
    }

    #[test]
    fn bindings_set_the_four_roots() {
        let mut stage = StageVariables::new();
        stage.insert("zeta", "1").unwrap();
        stage.insert("alpha", "http://127.0.0.1:8080").unwrap();
        let context = context_value(&request_context());
        let bindings = bindings(InputData::new("{}"), context.clone(), &stage);
        let Some(Value::Object(input)) = bindings.get("input") else {
            panic!("no $input")
        };
        assert_eq!(input.type_name(), "Input");
        let Some(Value::Object(util)) = bindings.get("util") else {
            panic!("no $util")
        };
        assert_eq!(util.type_name(), "Util");
        assert_eq!(bindings.get("context"), Some(&context));
        assert_eq!(
            bindings.get("stageVariables").unwrap().to_java_string(),
            "{alpha=http://127.0.0.1:8080, zeta=1}"
        );
        // The context is shared: what a template sets is visible to the caller.
        set(
            bindings.get("context").unwrap(),
            "responseOverride.status",
            Value::Int(418),
        );
        assert_eq!(response_override(&context).status, Some(418));
    }

    #[test]
    fn request_time_is_formatted_as_the_context_formats_it() {
        let mut epochs = vec![0, 999, 1_000, 86_399_999, 1_795_241_795_000, u64::MAX];
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Dates up to the year 5000 or so, and a few far beyond.
            epochs.push(x % 100_000_000_000_000);
            epochs.push(x % 1_000_000_000_000_000_000);
        }
        for epoch in epochs {
            let ctx = RequestContext {
                request_time_epoch: epoch,
                ..RequestContext::default()
            };
            let mut out = String::new();
            push_request_time(&mut out, epoch / 1000);
            assert_eq!(out, ctx.request_time(), "{epoch}");
        }
    }
}
