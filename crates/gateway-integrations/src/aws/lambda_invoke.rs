//! The remote Lambda invoker: the Lambda Invoke API over HTTP, SigV4-signed.
//!
//! Each invocation is `POST {endpoint}/2015-03-31/functions/{FunctionName}/invocations`
//! with `?Qualifier={version or alias}` when the function reference names one, and the
//! headers `X-Amz-Invocation-Type: RequestResponse`, `Content-Type: application/json`
//! and the request's `X-Amzn-Trace-Id`. The function name is one percent-encoded path
//! segment (`:` becomes `%3A`), as the SDKs send it.
//!
//! Which name is sent is configurable ([`FunctionNaming`]): by default the reference
//! as the integration writes it, less its qualifier (a name, a partial ARN or a full
//! ARN, all of which Lambda and LocalStack accept), or the bare function name, which
//! `sam local start-lambda` needs because it knows functions by their logical name.
//!
//! The request is signed for the service `lambda` in the region of the function's ARN,
//! else the configured region, with the configured credentials.
//!
//! # Roles
//!
//! An integration whose `credentials` is an IAM role ARN invokes through an
//! [`InvokeAsRole`], which names the role for the duration of the invocation. A
//! [`RemoteLambda`] reached from there (directly, or as the fallback of
//! [`Functions`](crate::lambda::Functions)) signs that invocation with the role's
//! temporary credentials, assumed with its configuration's own credentials through
//! the configuration's shared role cache (see the
//! [`assume_role`](super::assume_role) module). Functions that run in process are
//! not signed, so the role does not matter to them and is never assumed for them.
//! A role that cannot be assumed fails the invocation with
//! [`InvokeError::Transport`], the STS error in its message.
//!
//! # Answers
//!
//! | Invoke API answer | result |
//! |---|---|
//! | 2xx | [`InvocationOutput`], `function_error` from `X-Amz-Function-Error` |
//! | 404 | [`InvokeError::NotFound`] |
//! | 401, 403 | [`InvokeError::AccessDenied`] |
//! | 429 | [`InvokeError::Throttled`] |
//! | any other status | [`InvokeError::Service`] |
//! | no connection, a broken answer, an answer over 6 MB, no credentials | [`InvokeError::Transport`] |
//!
//! Error messages are the JSON error body's `message` (or `Message`), else the body's
//! text, else the status's reason phrase.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use gateway_core::lambda::SharedInvoker;

use bytes::Bytes;
use gateway_core::body::{Body, LengthLimitError, cause_ref};
use gateway_core::lambda::{
    FunctionRef, Invocation, InvocationOutput, InvokeError, InvokeFuture, LambdaInvoker,
};
use gateway_core::observe::trace::X_AMZN_TRACE_ID;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use percent_encoding::utf8_percent_encode;

use super::assume_role::RoleArn;
use super::credentials::Credentials;
use super::endpoint::{Endpoint, EndpointError};
use super::service::{AwsConfig, Signer};
use super::sign::{AWS_UNRESERVED, sign_request};
use crate::HttpClient;
use crate::http_proxy::pool::HostPool;

const X_AMZ_INVOCATION_TYPE: HeaderName = HeaderName::from_static("x-amz-invocation-type");
const X_AMZ_FUNCTION_ERROR: &str = "x-amz-function-error";

/// Which form of the function's name goes in the Invoke API's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FunctionNaming {
    /// The reference as the integration writes it, without its qualifier: a name, a
    /// partial ARN or a full ARN (AWS, LocalStack).
    #[default]
    AsWritten,
    /// The bare function name (`sam local start-lambda`).
    Name,
}

/// Invokes Lambda functions through the Lambda Invoke API (AWS's `https://`
/// endpoint, or an emulator's).
///
/// Built once (the endpoint's connection pool is resolved then) and shared by every
/// route as a [`SharedInvoker`]. Cloning shares the pool, the credentials cache and
/// the cache of assumed roles.
#[derive(Clone)]
pub struct RemoteLambda {
    endpoint: Arc<Endpoint>,
    pool: Arc<HostPool>,
    region: Arc<str>,
    signer: Signer,
    /// Where roles named by [`InvokeAsRole`] are assumed: the configuration (its
    /// own credentials, `sts` endpoint and role cache) and the client.
    roles: Arc<(AwsConfig, HttpClient)>,
    naming: FunctionNaming,
}

impl fmt::Debug for RemoteLambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteLambda")
            .field("endpoint", &self.endpoint.url())
            .field("region", &self.region)
            .field("naming", &self.naming)
            .finish_non_exhaustive()
    }
}

impl RemoteLambda {
    /// The largest answer read: Lambda's limit for a synchronous response payload.
    pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

    /// An invoker for the `lambda` endpoint of `config` (its override, else
    /// `https://lambda.{region}.amazonaws.com`), signing with its credentials (its
    /// role's, for a configuration made by [`AwsConfig::assume_role`]), or as the
    /// role an [`InvokeAsRole`] names.
    ///
    /// # Errors
    ///
    /// When the `lambda` endpoint override is invalid.
    pub fn new(config: &AwsConfig, client: &HttpClient) -> Result<Self, EndpointError> {
        let endpoint = config.endpoint_for("lambda", None, config.region())?;
        Ok(Self {
            pool: client.host(endpoint.authority(), &endpoint.security()),
            endpoint: Arc::new(endpoint),
            region: config.region().into(),
            signer: config.signer(),
            roles: Arc::new((config.clone(), client.clone())),
            naming: FunctionNaming::default(),
        })
    }

    /// Chooses which form of the function's name is sent.
    #[must_use]
    pub fn with_function_naming(mut self, naming: FunctionNaming) -> Self {
        self.naming = naming;
        self
    }

    /// What this invocation is signed with: the role named by the [`InvokeAsRole`]
    /// it runs under, else the configuration's signer.
    fn signer(&self) -> Result<Signer, InvokeError> {
        match INTEGRATION_ROLE.try_with(RoleArn::clone) {
            Ok(role) => {
                let (config, client) = &*self.roles;
                let assumed = config
                    .assumed_role(&role, client)
                    .map_err(|e| InvokeError::Transport(e.to_string()))?;
                Ok(Signer::Role(assumed))
            }
            Err(_) => Ok(self.signer.clone()),
        }
    }

    /// The Invoke API request for an invocation, signed with `credentials` at
    /// `time`.
    fn request(
        &self,
        invocation: &Invocation,
        credentials: &Credentials,
        time: SystemTime,
    ) -> Result<Request<Body>, InvokeError> {
        let function = &invocation.function;
        let payload = invocation
            .payload
            .to_json()
            .map_err(|e| InvokeError::Transport(format!("cannot write the event as JSON: {e}")))?;
        let name = match self.naming {
            FunctionNaming::AsWritten => unqualified(function),
            FunctionNaming::Name => function.name(),
        };
        let mut uri = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.endpoint.base_path(),
            utf8_percent_encode(name, AWS_UNRESERVED)
        );
        if let Some(qualifier) = function.qualifier() {
            uri.push_str("?Qualifier=");
            uri.extend(utf8_percent_encode(qualifier, AWS_UNRESERVED));
        }
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(HOST, self.endpoint.host().clone())
            .header(X_AMZ_INVOCATION_TYPE, "RequestResponse")
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_LENGTH, payload.len());
        if let Some(trace) = &invocation.trace_id {
            match HeaderValue::from_str(trace) {
                Ok(value) => builder = builder.header(X_AMZN_TRACE_ID, value),
                Err(_) => tracing::debug!(trace, "trace id is not a valid header value"),
            }
        }
        let mut request = builder
            .body(Body::full(payload.clone()))
            .map_err(|e| InvokeError::Transport(format!("cannot build the request: {e}")))?;
        let region = function.region().unwrap_or(&self.region);
        sign_request(&mut request, &payload, credentials, "lambda", region, time)
            .map_err(|e| InvokeError::Transport(e.to_string()))?;
        Ok(request)
    }
}

impl LambdaInvoker for RemoteLambda {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        let signer = match self.signer() {
            Ok(signer) => signer,
            Err(err) => return Box::pin(std::future::ready(Err(err))),
        };
        let this = self.clone();
        Box::pin(async move {
            let credentials = signer
                .credentials()
                .await
                .map_err(|e| InvokeError::Transport(e.to_string()))?;
            let request = this.request(&invocation, &credentials, SystemTime::now())?;
            let function = invocation.function;
            let response = Arc::clone(&this.pool)
                .send(request)
                .await
                .map_err(|e| InvokeError::Transport(error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let payload = body
                .collect_limited(RemoteLambda::MAX_RESPONSE_BYTES)
                .await
                .map_err(|e| {
                    if cause_ref::<LengthLimitError>(&*e).is_some() {
                        InvokeError::Transport(format!(
                            "the Invoke API's answer exceeds {} bytes",
                            RemoteLambda::MAX_RESPONSE_BYTES
                        ))
                    } else {
                        InvokeError::Transport(format!(
                            "cannot read the Invoke API's answer: {}",
                            error_chain(&*e)
                        ))
                    }
                })?;
            if parts.status.is_success() {
                let function_error = parts
                    .headers
                    .get(X_AMZ_FUNCTION_ERROR)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                return Ok(InvocationOutput {
                    payload: payload.into(),
                    function_error,
                });
            }
            Err(error_for(parts.status, &parts.headers, &payload, &function))
        })
    }
}

tokio::task_local! {
    /// The role the invocation under way is signed as, set by [`InvokeAsRole`].
    static INTEGRATION_ROLE: RoleArn;
}

/// Invokes through another invoker as an IAM role: the invoker for an integration
/// whose `credentials` is a role ARN.
///
/// The role is in scope while the inner invoker's `invoke` runs and while its
/// future is polled; a [`RemoteLambda`] that is called in that scope signs with the
/// role's temporary credentials instead of its own (see the module docs). Other
/// invokers are not affected.
#[derive(Debug, Clone)]
pub struct InvokeAsRole {
    inner: SharedInvoker,
    role: RoleArn,
}

impl InvokeAsRole {
    /// Invokes through `inner` as `role`.
    #[must_use]
    pub fn new(inner: SharedInvoker, role: RoleArn) -> Self {
        Self { inner, role }
    }

    /// The role.
    #[must_use]
    pub fn role(&self) -> &RoleArn {
        &self.role
    }
}

impl LambdaInvoker for InvokeAsRole {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        let future =
            INTEGRATION_ROLE.sync_scope(self.role.clone(), || self.inner.invoke(invocation));
        Box::pin(INTEGRATION_ROLE.scope(self.role.clone(), future))
    }
}

/// The reference as written, less its `:qualifier`.
fn unqualified(function: &FunctionRef) -> &str {
    let written = function.as_str();
    match function.qualifier() {
        Some(_) => written.rsplit_once(':').map_or(written, |(rest, _)| rest),
        None => written,
    }
}

/// The invoke error for a non-2xx answer.
fn error_for(
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &Bytes,
    function: &FunctionRef,
) -> InvokeError {
    let message = error_message(status, body);
    let kind = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::debug!(
        function = %function,
        status = status.as_u16(),
        error_type = kind,
        message,
        "the Lambda Invoke API answered with an error"
    );
    match status.as_u16() {
        404 => InvokeError::NotFound(message),
        401 | 403 => InvokeError::AccessDenied(message),
        429 => InvokeError::Throttled(message),
        status => InvokeError::Service { status, message },
    }
}

/// The error body's `message` or `Message`, else its text, else the reason phrase.
fn error_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body)
        && let Some(serde_json::Value::String(message)) =
            map.get("message").or_else(|| map.get("Message"))
    {
        return message.clone();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status.canonical_reason().unwrap_or("no message").to_owned();
    }
    // Enough to recognise an answer that was not JSON, without logging a page of it.
    text.chars().take(512).collect()
}

/// An error with its sources: `a: b: c`.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::aws::CredentialsProvider;
    use gateway_core::lambda::Payload;

    fn config() -> AwsConfig {
        AwsConfig::new(
            "us-east-1",
            CredentialsProvider::fixed(Credentials::new("AKID", "SECRET")),
        )
        .with_endpoint("lambda", "http://127.0.0.1:3001/base")
        .unwrap()
    }

    fn invocation(function: &str) -> Invocation {
        Invocation {
            function: FunctionRef::parse(function).unwrap(),
            payload: Payload::from("{}"),
            trace_id: Some("Root=1-5759e988-bd862e3fe1be46a994272793".to_owned()),
        }
    }

    #[test]
    fn the_default_endpoint_is_aws_over_tls() {
        let config = AwsConfig::new(
            "eu-west-1",
            CredentialsProvider::fixed(Credentials::new("A", "B")),
        );
        let lambda = RemoteLambda::new(&config, &HttpClient::new()).unwrap();
        let debug = format!("{lambda:?}");
        assert!(
            debug.contains("https://lambda.eu-west-1.amazonaws.com"),
            "{debug}"
        );
    }

    #[test]
    fn names_are_sent_as_written_or_bare() {
        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let lambda = RemoteLambda::new(&config(), &HttpClient::new()).unwrap();
        let credentials = Credentials::new("AKID", "SECRET");
        let arn = invocation("arn:aws:lambda:eu-west-2:123456789012:function:my-fn:live");
        let request = lambda.request(&arn, &credentials, time).unwrap();
        assert_eq!(
            request.uri(),
            "/base/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-2%3A123456789012%3Afunction%3Amy-fn/invocations?Qualifier=live"
        );
        // Signed in the ARN's region.
        let auth = request.headers()["authorization"].to_str().unwrap();
        assert!(auth.contains("/eu-west-2/lambda/aws4_request"), "{auth}");

        let bare = lambda.with_function_naming(FunctionNaming::Name);
        let request = bare.request(&arn, &credentials, time).unwrap();
        assert_eq!(
            request.uri(),
            "/base/2015-03-31/functions/my-fn/invocations?Qualifier=live"
        );
        let request = bare
            .request(&invocation("other"), &credentials, time)
            .unwrap();
        assert_eq!(
            request.uri(),
            "/base/2015-03-31/functions/other/invocations"
        );
        let auth = request.headers()["authorization"].to_str().unwrap();
        assert!(auth.contains("/us-east-1/lambda/aws4_request"), "{auth}");
        assert_eq!(request.headers()["host"], "127.0.0.1:3001");
    }

    #[test]
    fn error_messages_come_from_the_body() {
        assert_eq!(
            error_message(
                StatusCode::NOT_FOUND,
                br#"{"Message":"Function not found"}"#
            ),
            "Function not found"
        );
        assert_eq!(
            error_message(StatusCode::BAD_REQUEST, br#"{"message":"bad"}"#),
            "bad"
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"  upstream down \n"),
            "upstream down"
        );
        assert_eq!(
            error_message(StatusCode::SERVICE_UNAVAILABLE, b""),
            "Service Unavailable"
        );
    }
}
