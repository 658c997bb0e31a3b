//! Invoking Lambda functions: the one trait that Lambda proxy and non-proxy
//! integrations and Lambda authorizers share.
//!
//! An invoker takes a function reference and a JSON payload and returns the
//! function's JSON result, as the Lambda `Invoke` API does for a synchronous
//! (`RequestResponse`) call. A [`Payload`] is JSON bytes, or a value that becomes
//! JSON only when an invoker reads the bytes: functions run in process take the
//! gateway's Lambda proxy events and give their responses as typed values, with
//! no JSON written or parsed in between. Implementations live elsewhere: `gateway-integrations`
//! has an in-process one (a tower service) and a remote one (the Lambda Invoke API over
//! HTTP, SigV4-signed); the facade hands one invoker to every crate that needs it.

use std::any::{Any, TypeId};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A synchronous invocation.
#[derive(Debug, PartialEq)]
pub struct Invocation {
    /// The function: a name, a partial or full ARN, with an optional `:version` or
    /// `:alias` qualifier, as the integration URI names it after stage-variable
    /// substitution.
    pub function: FunctionRef,
    /// The event.
    pub payload: Payload,
    /// The request's `X-Amzn-Trace-Id`, passed on to the function.
    pub trace_id: Option<String>,
}

/// What a function returned.
#[derive(Debug, PartialEq)]
pub struct InvocationOutput {
    /// The result, or the error object when `function_error` is set.
    pub payload: Payload,
    /// `X-Amz-Function-Error`: `Unhandled` (or `Handled`) when the function failed.
    pub function_error: Option<String>,
}

impl InvocationOutput {
    /// A successful result.
    #[must_use]
    pub fn ok(payload: impl Into<Payload>) -> Self {
        Self {
            payload: payload.into(),
            function_error: None,
        }
    }
}

/// A Lambda payload: JSON, or a value written as JSON only when its bytes are read.
///
/// Invokers that send the payload somewhere (the Lambda Invoke API) read the bytes
/// with [`to_json`](Self::to_json); functions run in process take it with
/// [`deserialize`](Self::deserialize), which hands over a value of the type they
/// ask for without JSON when the payload can be one, and parses the JSON
/// otherwise. Two payloads are equal when their JSON is.
pub struct Payload(Repr);

enum Repr {
    Json(Bytes),
    Value(Box<dyn PayloadValue>),
}

/// A payload kept as a value until someone needs its JSON.
pub trait PayloadValue: Send + Sync + fmt::Debug + 'static {
    /// The value's JSON.
    ///
    /// # Errors
    ///
    /// When the value cannot be written as JSON.
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error>;

    /// The value as an instance of the type `type_id` names, when it can be one
    /// that equals what parsing its JSON as that type would give. `None` sends the
    /// reader to the JSON.
    fn to_typed(&self, type_id: TypeId) -> Option<Box<dyn Any + Send>> {
        let _ = type_id;
        None
    }

    /// The value itself, for readers that know its type.
    fn as_any(&self) -> &dyn Any;

    /// The value itself, by value.
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// A serializable value as a payload.
struct Serialized<T>(T);

impl<T> fmt::Debug for Serialized<T>
where
    T: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> PayloadValue for Serialized<T>
where
    T: Serialize + Send + Sync + fmt::Debug + 'static,
{
    fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.0)
    }

    fn as_any(&self) -> &dyn Any {
        &self.0
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        Box::new(self.0)
    }
}

impl Payload {
    /// A payload of JSON bytes.
    #[must_use]
    pub fn json(json: impl Into<Bytes>) -> Self {
        Self(Repr::Json(json.into()))
    }

    /// A value, written with its `Serialize` implementation when the JSON is read.
    #[must_use]
    pub fn value<T>(value: T) -> Self
    where
        T: Serialize + Send + Sync + fmt::Debug + 'static,
    {
        Self(Repr::Value(Box::new(Serialized(value))))
    }

    /// A value with its own way of writing JSON and of becoming other types.
    #[must_use]
    pub fn lazy(value: impl PayloadValue) -> Self {
        Self(Repr::Value(Box::new(value)))
    }

    /// The JSON bytes, written now if the payload is a value.
    ///
    /// # Errors
    ///
    /// When the value cannot be written as JSON.
    pub fn to_json(&self) -> Result<Bytes, serde_json::Error> {
        match &self.0 {
            Repr::Json(json) => Ok(json.clone()),
            Repr::Value(value) => value.to_json().map(Bytes::from),
        }
    }

    /// The JSON bytes, if the payload holds them already.
    #[must_use]
    pub fn as_json(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Json(json) => Some(json),
            Repr::Value(_) => None,
        }
    }

    /// The value, when the payload is one of type `T`.
    #[must_use]
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        match &self.0 {
            Repr::Json(_) => None,
            Repr::Value(value) => value.as_any().downcast_ref(),
        }
    }

    /// The value, when the payload is one of type `T`; else the payload back.
    ///
    /// # Errors
    ///
    /// The payload, unchanged, when it is not a `T`.
    pub fn downcast<T: 'static>(self) -> Result<T, Self> {
        match self.0 {
            Repr::Value(value) if value.as_any().is::<T>() => value
                .into_any()
                .downcast::<T>()
                .map(|value| *value)
                .map_err(|_| unreachable_downcast()),
            repr => Err(Self(repr)),
        }
    }

    /// The payload as a `T`: the value itself, or one the value becomes directly,
    /// or else its JSON parsed as a `T`.
    ///
    /// # Errors
    ///
    /// When the JSON cannot be written, or does not parse as a `T`.
    pub fn deserialize<T>(self) -> Result<T, serde_json::Error>
    where
        T: DeserializeOwned + 'static,
    {
        let value = match self.downcast::<T>() {
            Ok(value) => return Ok(value),
            Err(Self(Repr::Json(json))) => return serde_json::from_slice(&json),
            Err(Self(Repr::Value(value))) => value,
        };
        if let Some(typed) = value.to_typed(TypeId::of::<T>())
            && let Ok(typed) = typed.downcast::<T>()
        {
            return Ok(*typed);
        }
        serde_json::from_slice(&value.to_json()?)
    }
}

/// `downcast` checks the type first, so its conversion cannot fail; this is the
/// payload it would give back if it did.
fn unreachable_downcast() -> Payload {
    Payload::json(Bytes::from_static(b"null"))
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Json(json) => f
                .debug_tuple("Json")
                .field(&String::from_utf8_lossy(json))
                .finish(),
            Repr::Value(value) => f.debug_tuple("Value").field(value).finish(),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        match (self.to_json(), other.to_json()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl From<Bytes> for Payload {
    fn from(json: Bytes) -> Self {
        Self::json(json)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(json: Vec<u8>) -> Self {
        Self::json(json)
    }
}

impl From<String> for Payload {
    fn from(json: String) -> Self {
        Self::json(json)
    }
}

impl From<&'static str> for Payload {
    fn from(json: &'static str) -> Self {
        Self::json(Bytes::from_static(json.as_bytes()))
    }
}

impl From<&'static [u8]> for Payload {
    fn from(json: &'static [u8]) -> Self {
        Self::json(Bytes::from_static(json))
    }
}

/// Why an invocation produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// No such function, version or alias (Lambda's `ResourceNotFoundException`).
    #[error("function not found: {0}")]
    NotFound(String),
    /// The caller may not invoke the function (Lambda's 403 answers).
    #[error("access denied invoking the function: {0}")]
    AccessDenied(String),
    /// Lambda throttled the call (`TooManyRequestsException`).
    #[error("the function invocation was throttled: {0}")]
    Throttled(String),
    /// The Lambda service answered with another error.
    #[error("the Lambda service answered {status}: {message}")]
    Service {
        /// The HTTP status of the Invoke API's answer.
        status: u16,
        /// Its error message.
        message: String,
    },
    /// The Invoke API could not be reached, or its answer could not be read.
    #[error("cannot invoke the function: {0}")]
    Transport(String),
}

/// The future an invoker returns.
pub type InvokeFuture =
    Pin<Box<dyn Future<Output = Result<InvocationOutput, InvokeError>> + Send + 'static>>;

/// Invokes Lambda functions synchronously.
///
/// Timeouts are the caller's: an integration drops the future when its timeout
/// expires.
pub trait LambdaInvoker: Send + Sync + fmt::Debug + 'static {
    /// Invokes a function.
    fn invoke(&self, invocation: Invocation) -> InvokeFuture;
}

/// A shared invoker.
pub type SharedInvoker = Arc<dyn LambdaInvoker>;

/// A function as an integration names it: `my-fn`, `my-fn:live`,
/// `123456789012:function:my-fn`, or `arn:aws:lambda:us-east-1:123456789012:function:my-fn:live`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionRef {
    raw: Arc<str>,
    name: Arc<str>,
    qualifier: Option<Arc<str>>,
    region: Option<Arc<str>>,
}

impl FunctionRef {
    /// Parses a function name or ARN.
    ///
    /// # Errors
    ///
    /// The reason, when the reference is empty or is an ARN that names no function.
    pub fn parse(reference: &str) -> Result<Self, String> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err("the function name is empty".to_owned());
        }
        let parts: Vec<&str> = reference.split(':').collect();
        let (name, qualifier, region) = match parts.as_slice() {
            [name] => (*name, None, None),
            [name, qualifier] => (*name, Some(*qualifier), None),
            [_account, "function", name] => (*name, None, None),
            [_account, "function", name, qualifier] => (*name, Some(*qualifier), None),
            [
                "arn",
                _partition,
                "lambda",
                region,
                _account,
                "function",
                name,
            ] => (*name, None, Some(*region)),
            [
                "arn",
                _partition,
                "lambda",
                region,
                _account,
                "function",
                name,
                qualifier,
            ] => (*name, Some(*qualifier), Some(*region)),
            _ => {
                return Err(format!(
                    "`{reference}` is not a Lambda function name or ARN"
                ));
            }
        };
        if name.is_empty() || qualifier.is_some_and(str::is_empty) {
            return Err(format!(
                "`{reference}` is not a Lambda function name or ARN"
            ));
        }
        Ok(Self {
            raw: reference.into(),
            name: name.into(),
            qualifier: qualifier.map(Into::into),
            region: region.filter(|r| !r.is_empty()).map(Into::into),
        })
    }

    /// The function an API Gateway invocation URI names
    /// (`arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION/invocations`),
    /// as integrations and Lambda authorizers write it.
    ///
    /// `None` when the URI is not a Lambda URI at all; `Some(Err)` when it is one but
    /// names no function.
    #[must_use]
    pub fn from_invocation_uri(uri: &str) -> Option<Result<Self, String>> {
        let rest = uri
            .trim()
            .strip_prefix("arn:")
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(_partition, rest)| rest.strip_prefix("apigateway:"))
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(_region, rest)| rest.strip_prefix("lambda:"))?;
        let function = rest
            .strip_prefix("path/2015-03-31/functions/")
            .and_then(|rest| rest.strip_suffix("/invocations"));
        Some(match function {
            Some(function) => Self::parse(function),
            None => Err(format!(
                "`{uri}` is not a Lambda invocation URI \
                 (arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION/invocations)"
            )),
        })
    }

    /// The reference as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The function's name, without account, region or qualifier.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version or alias, if one is named.
    #[must_use]
    pub fn qualifier(&self) -> Option<&str> {
        self.qualifier.as_deref()
    }

    /// The region of a full ARN.
    #[must_use]
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

impl fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    struct Greeting {
        hello: String,
    }

    /// A value that turns into a `Greeting` directly, and whose JSON says so.
    #[derive(Debug)]
    struct Lazy;

    impl PayloadValue for Lazy {
        fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
            Ok(br#"{"hello":"from json"}"#.to_vec())
        }

        fn to_typed(&self, type_id: TypeId) -> Option<Box<dyn Any + Send>> {
            (type_id == TypeId::of::<Greeting>()).then(|| {
                Box::new(Greeting {
                    hello: "typed".into(),
                }) as Box<dyn Any + Send>
            })
        }

        fn as_any(&self) -> &dyn Any {
            self
        }

        fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
            self
        }
    }

    #[test]
    fn json_payloads_parse() {
        let payload = Payload::from(r#"{"hello":"world"}"#);
        assert_eq!(payload.as_json().unwrap(), &br#"{"hello":"world"}"#[..]);
        assert!(payload.downcast_ref::<Greeting>().is_none());
        let greeting: Greeting = payload.deserialize().unwrap();
        assert_eq!(greeting.hello, "world");
        assert!(Payload::from("[1]").deserialize::<Greeting>().is_err());
    }

    #[test]
    fn values_are_handed_over_without_json() {
        let payload = Payload::value(Greeting {
            hello: "there".into(),
        });
        assert!(payload.as_json().is_none());
        assert_eq!(payload.downcast_ref::<Greeting>().unwrap().hello, "there");
        assert_eq!(payload.to_json().unwrap(), &br#"{"hello":"there"}"#[..]);
        assert_eq!(payload, Payload::from(r#"{"hello":"there"}"#));
        let payload = payload.downcast::<String>().unwrap_err();
        let greeting: Greeting = payload.deserialize().unwrap();
        assert_eq!(greeting.hello, "there");
        // Another type reads the value's JSON.
        let value: serde_json::Value = Payload::value(Greeting { hello: "x".into() })
            .deserialize()
            .unwrap();
        assert_eq!(value, serde_json::json!({"hello": "x"}));
    }

    #[test]
    fn lazy_values_become_what_they_can_and_json_otherwise() {
        let greeting: Greeting = Payload::lazy(Lazy).deserialize().unwrap();
        assert_eq!(greeting.hello, "typed");
        let value: serde_json::Value = Payload::lazy(Lazy).deserialize().unwrap();
        assert_eq!(value, serde_json::json!({"hello": "from json"}));
        assert!(Payload::lazy(Lazy).downcast::<Lazy>().is_ok());
    }

    #[test]
    fn parses_names_and_arns() {
        let plain = FunctionRef::parse("my-fn").unwrap();
        assert_eq!((plain.name(), plain.qualifier()), ("my-fn", None));
        let aliased = FunctionRef::parse("my-fn:live").unwrap();
        assert_eq!(
            (aliased.name(), aliased.qualifier()),
            ("my-fn", Some("live"))
        );
        let partial = FunctionRef::parse("123456789012:function:my-fn:7").unwrap();
        assert_eq!((partial.name(), partial.qualifier()), ("my-fn", Some("7")));
        let arn =
            FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:my-fn").unwrap();
        assert_eq!(
            (arn.name(), arn.qualifier(), arn.region()),
            ("my-fn", None, Some("eu-west-1"))
        );
        assert_eq!(
            arn.as_str(),
            "arn:aws:lambda:eu-west-1:123456789012:function:my-fn"
        );
        let qualified =
            FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:my-fn:prod")
                .unwrap();
        assert_eq!(qualified.qualifier(), Some("prod"));
    }

    #[test]
    fn refuses_what_names_no_function() {
        for bad in [
            "",
            "my-fn:",
            "arn:aws:lambda:eu-west-1:123456789012:layer:x",
            "a:b:c:d:e",
        ] {
            assert!(FunctionRef::parse(bad).is_err(), "{bad}");
        }
    }
}
