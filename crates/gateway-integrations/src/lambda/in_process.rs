//! Lambda functions run inside the gateway's process, and a registry of functions
//! by name.

use std::any::{Any, type_name};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use gateway_core::body::BoxError;
use gateway_core::lambda::{
    FunctionRef, Invocation, InvocationOutput, InvokeError, InvokeFuture, LambdaInvoker, Payload,
    SharedInvoker,
};
use pin_project_lite::pin_project;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::{Service, ServiceExt};

/// A tower service run as a Lambda function, in process.
///
/// The invocation's payload becomes the service's request type and the service's
/// response the result, so a handler written for the Lambda runtime plugs in
/// unchanged: a service over `aws_lambda_events::apigw::ApiGatewayProxyRequest`
/// answering `ApiGatewayProxyResponse` (payload format 1.0), over
/// `ApiGatewayV2httpRequest` answering `ApiGatewayV2httpResponse` (2.0), or over
/// any type that deserializes from the event's JSON, such as `serde_json::Value`.
///
/// For the runtime's proxy types no JSON is written or parsed: a Lambda proxy
/// route hands over its event built as `ApiGatewayProxyRequest` or
/// `ApiGatewayV2httpRequest` (equal, field for field, to what parsing the event's
/// JSON gives), and reads an `ApiGatewayProxyResponse` or `ApiGatewayV2httpResponse`
/// as it is. Other request types are deserialized from the event's JSON and other
/// response types serialized to JSON.
///
/// As on Lambda, a failure is the function's, not the invoker's: an event the
/// request type cannot hold, a handler error, a response that does not serialize
/// and a panic all answer `function_error: Some("Unhandled")` with Lambda's error
/// object, `{"errorMessage": ..., "errorType": ...}`.
///
/// The service is cloned for each invocation and driven with `ServiceExt::oneshot`,
/// so it should be cheap to clone (`tower::service_fn`, or an `Arc` inside).
///
/// ```
/// use gateway_core::lambda::{FunctionRef, Invocation, LambdaInvoker};
/// use gateway_integrations::lambda::InProcessFunction;
///
/// let echo = InProcessFunction::new(tower::service_fn(|event: serde_json::Value| async move {
///     Ok::<_, std::convert::Infallible>(serde_json::json!({"statusCode": 200, "body": event["body"]}))
/// }));
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let output = runtime.block_on(echo.invoke(Invocation {
///     function: FunctionRef::parse("echo").unwrap(),
///     payload: r#"{"body": "hi"}"#.into(),
///     trace_id: None,
/// }));
/// assert_eq!(
///     output.unwrap().payload.to_json().unwrap(),
///     &br#"{"statusCode":200,"body":"hi"}"#[..]
/// );
/// ```
pub struct InProcessFunction<S, Req> {
    service: S,
    _request: PhantomData<fn(Req)>,
}

impl<S, Req> InProcessFunction<S, Req> {
    /// Wraps a service whose requests are events of type `Req`.
    #[must_use]
    pub fn new(service: S) -> Self
    where
        S: Service<Req>,
    {
        Self {
            service,
            _request: PhantomData,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.service
    }

    /// This function as a [`SharedInvoker`].
    #[must_use]
    pub fn shared(self) -> SharedInvoker
    where
        Self: LambdaInvoker,
    {
        Arc::new(self)
    }
}

impl<S: Clone, Req> Clone for InProcessFunction<S, Req> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            _request: PhantomData,
        }
    }
}

impl<S, Req> fmt::Debug for InProcessFunction<S, Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessFunction")
            .field("service", &type_name::<S>())
            .field("event", &type_name::<Req>())
            .finish()
    }
}

impl<S, Req> LambdaInvoker for InProcessFunction<S, Req>
where
    S: Service<Req> + Clone + Send + Sync + 'static,
    S::Response: Serialize + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    Req: DeserializeOwned + Send + 'static,
{
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        let event: Req = match invocation.payload.deserialize() {
            Ok(event) => event,
            Err(e) => {
                let output = unhandled(
                    &format!("failed to deserialize the event: {e}"),
                    "Runtime.DeserializationError",
                );
                return Box::pin(std::future::ready(Ok(output)));
            }
        };
        let call = CatchPanic {
            inner: self.service.clone().oneshot(event),
        };
        Box::pin(async move {
            let output = match call.await {
                Ok(Ok(response)) => match response_payload(response) {
                    Ok(payload) => InvocationOutput::ok(payload),
                    Err(e) => unhandled(
                        &format!("failed to serialize the response: {e}"),
                        "Runtime.SerializationError",
                    ),
                },
                Ok(Err(error)) => {
                    let error: BoxError = error.into();
                    unhandled(&error.to_string(), type_name::<S::Error>())
                }
                Err(panic) => unhandled(&panic, "Runtime.Panic"),
            };
            Ok(output)
        })
    }
}

/// The function's response as a payload. The Lambda runtime's proxy response types
/// stay the values they are, for the proxy integration to read without JSON (and
/// anyone else to read as the JSON the runtime would write); other responses are
/// serialized now.
fn response_payload<R: Serialize + 'static>(response: R) -> Result<Payload, serde_json::Error> {
    let mut slot = Some(response);
    let any = &mut slot as &mut dyn Any;
    if let Some(v1) = any
        .downcast_mut::<Option<ApiGatewayProxyResponse>>()
        .and_then(Option::take)
    {
        return Ok(Payload::value(v1));
    }
    if let Some(v2) = any
        .downcast_mut::<Option<ApiGatewayV2httpResponse>>()
        .and_then(Option::take)
    {
        return Ok(Payload::value(v2));
    }
    // `Some(response)` writes as the response itself.
    serde_json::to_vec(&slot).map(Payload::from)
}

/// A function's unhandled error, shaped as Lambda reports it.
fn unhandled(message: &str, error_type: &str) -> InvocationOutput {
    let payload = serde_json::json!({"errorMessage": message, "errorType": error_type});
    InvocationOutput {
        payload: Payload::from(payload.to_string()),
        function_error: Some("Unhandled".to_owned()),
    }
}

pin_project! {
    /// Turns a panic while polling the handler into an error message, so that one
    /// failing function answers like a failed Lambda invocation instead of
    /// unwinding through the connection's task.
    struct CatchPanic<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "the function panicked".to_owned());
                Poll::Ready(Err(message))
            }
        }
    }
}

/// Lambda functions by name, for an in-process gateway.
///
/// An invocation is routed to the function registered under the reference the
/// integration names (`my-fn`, `my-fn:live`, a full ARN), then under
/// `name:qualifier`, then under the bare function name; anything else goes to the
/// fallback invoker (for example one that calls the Lambda Invoke API), or fails
/// with [`InvokeError::NotFound`] when there is none.
///
/// ```
/// use gateway_integrations::lambda::{Functions, InProcessFunction};
///
/// let hello = InProcessFunction::new(tower::service_fn(|_: serde_json::Value| async {
///     Ok::<_, std::convert::Infallible>(serde_json::json!({"statusCode": 200, "body": "hello"}))
/// }));
/// let invoker = Functions::new().with_function("hello", hello).shared();
/// # drop(invoker);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Functions {
    functions: HashMap<String, SharedInvoker>,
    fallback: Option<SharedInvoker>,
}

impl Functions {
    /// An empty registry without a fallback.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `function` under `name`: a function name (`my-fn`), a qualified
    /// name (`my-fn:live`) or the reference exactly as integrations write it.
    /// A later registration under the same name replaces the earlier one.
    #[must_use]
    pub fn with_function(mut self, name: impl Into<String>, function: impl LambdaInvoker) -> Self {
        self.insert(name, Arc::new(function));
        self
    }

    /// Registers an already shared invoker under `name`.
    pub fn insert(&mut self, name: impl Into<String>, function: SharedInvoker) {
        self.functions.insert(name.into(), function);
    }

    /// Sends invocations of unregistered functions to `fallback`.
    #[must_use]
    pub fn with_fallback(mut self, fallback: SharedInvoker) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// The function an invocation of `function` goes to, if any.
    #[must_use]
    pub fn resolve(&self, function: &FunctionRef) -> Option<&SharedInvoker> {
        if let Some(found) = self.functions.get(function.as_str()) {
            return Some(found);
        }
        if let Some(qualifier) = function.qualifier()
            && let Some(found) = self
                .functions
                .get(&format!("{}:{qualifier}", function.name()))
        {
            return Some(found);
        }
        self.functions
            .get(function.name())
            .or(self.fallback.as_ref())
    }

    /// The registry as a [`SharedInvoker`].
    #[must_use]
    pub fn shared(self) -> SharedInvoker {
        Arc::new(self)
    }
}

impl LambdaInvoker for Functions {
    fn invoke(&self, invocation: Invocation) -> InvokeFuture {
        match self.resolve(&invocation.function) {
            Some(function) => function.invoke(invocation),
            None => {
                let missing = InvokeError::NotFound(invocation.function.as_str().to_owned());
                Box::pin(std::future::ready(Err(missing)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn invocation(function: &str, payload: &str) -> Invocation {
        Invocation {
            function: FunctionRef::parse(function).unwrap(),
            payload: payload.to_owned().into(),
            trace_id: None,
        }
    }

    fn named(name: &'static str) -> SharedInvoker {
        InProcessFunction::new(tower::service_fn(move |_: serde_json::Value| async move {
            Ok::<_, Infallible>(serde_json::Value::from(name))
        }))
        .shared()
    }

    async fn answer(invoker: &dyn LambdaInvoker, function: &str) -> Result<String, InvokeError> {
        let output = invoker.invoke(invocation(function, "{}")).await?;
        Ok(output.payload.deserialize::<String>().unwrap())
    }

    #[tokio::test]
    async fn functions_resolve_by_reference_then_qualifier_then_name() {
        let mut functions = Functions::new();
        functions.insert(
            "arn:aws:lambda:us-east-1:123456789012:function:f:blue",
            named("arn"),
        );
        functions.insert("f:live", named("live"));
        functions.insert("f", named("bare"));
        assert_eq!(
            answer(
                &functions,
                "arn:aws:lambda:us-east-1:123456789012:function:f:blue"
            )
            .await
            .unwrap(),
            "arn"
        );
        assert_eq!(
            answer(
                &functions,
                "arn:aws:lambda:us-east-1:123456789012:function:f:live"
            )
            .await
            .unwrap(),
            "live"
        );
        assert_eq!(answer(&functions, "f:live").await.unwrap(), "live");
        assert_eq!(
            answer(&functions, "123456789012:function:f").await.unwrap(),
            "bare"
        );
        assert_eq!(answer(&functions, "f:other").await.unwrap(), "bare");
        assert_eq!(
            answer(&functions, "g").await.unwrap_err(),
            InvokeError::NotFound("g".into())
        );
        let with_fallback = functions.with_fallback(named("fallback"));
        assert_eq!(answer(&with_fallback, "g").await.unwrap(), "fallback");
    }

    #[tokio::test]
    async fn failures_are_the_functions_unhandled_errors() {
        let failing = InProcessFunction::new(tower::service_fn(|_: serde_json::Value| async {
            Err::<serde_json::Value, _>(std::io::Error::other("disk on fire"))
        }));
        let output = failing.invoke(invocation("f", "{}")).await.unwrap();
        assert_eq!(output.function_error.as_deref(), Some("Unhandled"));
        let error: serde_json::Value = output.payload.deserialize().unwrap();
        assert_eq!(error["errorMessage"], "disk on fire");
        assert!(
            error["errorType"].as_str().unwrap().contains("io"),
            "{error}"
        );

        let typed = InProcessFunction::new(tower::service_fn(|n: u32| async move {
            Ok::<_, Infallible>(n + 1)
        }));
        let output = typed
            .invoke(invocation("f", r#""not a number""#))
            .await
            .unwrap();
        assert_eq!(output.function_error.as_deref(), Some("Unhandled"));
        let error: serde_json::Value = output.payload.deserialize().unwrap();
        assert_eq!(error["errorType"], "Runtime.DeserializationError");
        let output = typed.invoke(invocation("f", "41")).await.unwrap();
        assert_eq!(
            (
                &output.payload.to_json().unwrap()[..],
                output.function_error
            ),
            (&b"42"[..], None)
        );

        let panicking = InProcessFunction::new(tower::service_fn(|_: serde_json::Value| async {
            if true {
                panic!("handler bug");
            }
            Ok::<serde_json::Value, Infallible>(serde_json::Value::Null)
        }));
        let output = panicking.invoke(invocation("f", "{}")).await.unwrap();
        let error: serde_json::Value = output.payload.deserialize().unwrap();
        assert_eq!(error["errorMessage"], "handler bug");
        assert_eq!(error["errorType"], "Runtime.Panic");
    }
}
