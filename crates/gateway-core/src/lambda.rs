//! Invoking Lambda functions: the one trait that Lambda proxy and non-proxy
//! integrations and Lambda authorizers share.
//!
//! An invoker takes a function reference and a JSON payload and returns the
//! function's JSON result, as the Lambda `Invoke` API does for a synchronous
//! (`RequestResponse`) call. Implementations live elsewhere: `gateway-integrations`
//! has an in-process one (a tower service) and a remote one (the Lambda Invoke API over
//! HTTP, SigV4-signed); the facade hands one invoker to every crate that needs it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

/// A synchronous invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The function: a name, a partial or full ARN, with an optional `:version` or
    /// `:alias` qualifier, as the integration URI names it after stage-variable
    /// substitution.
    pub function: FunctionRef,
    /// The JSON payload.
    pub payload: Bytes,
    /// The request's `X-Amzn-Trace-Id`, passed on to the function.
    pub trace_id: Option<String>,
}

/// What a function returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationOutput {
    /// The result payload (JSON), or the error object when `function_error` is set.
    pub payload: Bytes,
    /// `X-Amz-Function-Error`: `Unhandled` (or `Handled`) when the function failed.
    pub function_error: Option<String>,
}

impl InvocationOutput {
    /// A successful result.
    #[must_use]
    pub fn ok(payload: impl Into<Bytes>) -> Self {
        Self {
            payload: payload.into(),
            function_error: None,
        }
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
