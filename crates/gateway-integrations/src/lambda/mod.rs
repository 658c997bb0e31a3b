//! AWS_PROXY integrations: Lambda proxy integrations, and functions run in process.
//!
//! The route's request becomes a Lambda event, the function named by the
//! integration URI is invoked through the [`CompileContext`](crate::CompileContext)'s
//! [`LambdaInvoker`](gateway_core::lambda::LambdaInvoker), and its result becomes
//! the response.
//!
//! # The function
//!
//! The integration `uri`, with `${stageVariables.NAME}` substituted at compile time
//! (so one route can invoke `my-fn:${stageVariables.alias}` per stage), is a Lambda
//! invocation URI,
//! `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations`,
//! or, for HTTP APIs, a bare function name or ARN. A URI that names no function as
//! written fails the compile; one that only does so because of a stage variable's
//! value answers 500 per request and logs why. REST APIs refuse an `httpMethod`
//! other than `POST`. WebSocket APIs are not supported.
//!
//! # The event
//!
//! REST APIs send payload format 1.0. HTTP APIs send 2.0 unless the integration's
//! `payloadFormatVersion` is `1.0`.
//!
//! - **1.0**: `resource` (the route's template), `path` (the request path without
//!   the stage segment), `httpMethod`, `headers` (the last value of each) and
//!   `multiValueHeaders`, `queryStringParameters` (the last value of each) and
//!   `multiValueQueryStringParameters`, `pathParameters`, `stageVariables`,
//!   `requestContext`, `body`, `isBase64Encoded`. Absent query strings, path
//!   parameters and stage variables, and an empty body, are `null`, as AWS sends
//!   them. `requestContext` has every key AWS documents (`identity` keys the gateway
//!   cannot know, such as the Cognito ones, are `null`; an unauthorised request's
//!   `authorizer` is `{"claims": null, "scopes": null}`). HTTP APIs add
//!   `"version": "1.0"`.
//! - **2.0**: `version`, `routeKey`, `rawPath`, `rawQueryString`, `cookies` (each
//!   cookie of the `Cookie` headers, which are left out of `headers`), `headers`
//!   (repeated values joined with commas), `queryStringParameters` (likewise
//!   joined), `pathParameters`, `stageVariables`, `requestContext` (`http` with
//!   method, path, protocol, source IP and user agent; `authorizer` only when the
//!   request was authorised), `body`, `isBase64Encoded`. Keys with nothing to carry
//!   (`cookies`, `queryStringParameters`, `pathParameters`, `stageVariables`,
//!   `body`) are left out.
//! - Header names are lower case (the gateway does not keep the client's casing).
//!   Hop-by-hop headers are left out; `X-Amzn-Trace-Id`, `X-Forwarded-For` (the
//!   client's address appended), `X-Forwarded-Port` and `X-Forwarded-Proto` are set,
//!   as API Gateway sets them. 1.0 events on REST APIs leave out `Content-Length`.
//! - Bodies: REST APIs base64-encode a body whose `Content-Type` is one of the API's
//!   binary media types (`image/png`, `image/*`, `*/*`); other bodies are text.
//!   HTTP APIs send a body as text when its media type is `text/*`,
//!   `application/json`, `application/javascript`, `application/xml` or a `+json` /
//!   `+xml` type and it is UTF-8, and base64-encode every other body.
//! - HTTP APIs' `requestId` is the request's extended id, the value their
//!   `apigw-requestid` header carries.
//!
//! # The response
//!
//! See the `output` module: 1.0 and 2.0 fields, REST APIs' strictness about unknown
//! fields, 2.0's inference of a response from a bare value, base64 bodies, cookies.
//! The response carries [`IntegrationStatus`](crate::IntegrationStatus)`(200)`, the
//! status of the Invoke call, even when the function failed.
//!
//! # HTTP APIs' parameter mapping
//!
//! On HTTP APIs, the integration's `requestParameters`
//! (`append|overwrite|remove:header.NAME`, `...:querystring.NAME`, `overwrite:path`)
//! change the request the event is built from, and its `responseParameters` change
//! the function's response for its status code (not the gateway's own failures);
//! see the `http_api_params` module. A request mapping whose value finds nothing
//! answers 400 without invoking the function.
//!
//! # Failures
//!
//! HTTP APIs answer every failure below except the timeout with 500
//! `{"message":"Internal Server Error"}`; REST APIs answer as the table says. The
//! gateway response type is the one an API's customised gateway responses match.
//!
//! | situation | REST API answer |
//! |---|---|
//! | the result is not a proxy response (not JSON, wrong field types, bad status, undecodable base64, invalid header) | 502 `API_CONFIGURATION_ERROR` "Internal server error" |
//! | the function failed (`X-Amz-Function-Error`) | 502 `INTEGRATION_FAILURE` "Internal server error" |
//! | the invocation was refused: no such function, permission denied, throttled, another Lambda error, Lambda unreachable | 500 `API_CONFIGURATION_ERROR` "Internal server error" |
//! | no result within the integration timeout | 504 `INTEGRATION_TIMEOUT` "Endpoint request timed out" |
//! | a stage variable made the URI invalid | 500 `API_CONFIGURATION_ERROR` |
//! | the request body is over the limit set with `Body::limited` | 413 `REQUEST_TOO_LARGE` |
//!
//! The 500 for a refused invocation and the 502 for a failed function or a
//! malformed result are what AWS documents for Lambda behind API Gateway; each is
//! logged with the route, AWS's wording and the reason.
//!
//! # Functions in process
//!
//! [`InProcessFunction`] runs any tower service over a Lambda event type as a
//! function; [`Functions`] routes invocations to such functions by name, with an
//! optional fallback invoker for the rest.
//!
//! The event travels as a lazy [`Payload`](gateway_core::lambda::Payload): an
//! invoker that sends it elsewhere writes its JSON, while a function over
//! `aws_lambda_events`' `ApiGatewayProxyRequest` or `ApiGatewayV2httpRequest` gets
//! it built as that type, equal to what parsing the JSON would give, and its
//! `ApiGatewayProxyResponse` or `ApiGatewayV2httpResponse` is read as it is. No
//! JSON is written or parsed on that path.
//!
//! ```
//! use gateway_core::body::Body;
//! use gateway_core::model::{ApiProtocol, Integration, IntegrationType, Route, RouteMethod};
//! use gateway_core::stage::StageVariables;
//! use gateway_integrations::lambda::{Functions, InProcessFunction};
//! use gateway_integrations::{CompileContext, HttpClient, compile};
//! use tower::ServiceExt;
//!
//! // A function over the raw event, answering in payload format 1.0.
//! let hello = InProcessFunction::new(tower::service_fn(|event: serde_json::Value| async move {
//!     let body = format!("hello from {}", event["path"].as_str().unwrap_or("?"));
//!     Ok::<_, std::convert::Infallible>(serde_json::json!({"statusCode": 200, "body": body}))
//! }));
//! let invoker = Functions::new().with_function("hello", hello).shared();
//!
//! let mut integration = Integration::new(IntegrationType::AwsProxy);
//! integration.uri = Some(
//!     "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/hello/invocations".into(),
//! );
//! let route = Route::new(RouteMethod::Any, "/hello").with_integration(integration);
//! let (variables, client) = (StageVariables::new(), HttpClient::new());
//! let ctx = CompileContext::new(&variables, &client, ApiProtocol::Rest).with_invoker(&invoker);
//! let service = compile(&route, &ctx).expect("compiles");
//!
//! # let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! let request = http::Request::get("/hello").body(Body::empty()).unwrap();
//! let response = runtime.block_on(service.oneshot(request)).unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.body().as_bytes(), Some(&b"hello from /hello"[..]));
//! ```

mod event;
mod in_process;
mod media;
mod output;
mod service;

pub use in_process::{Functions, InProcessFunction};
pub(crate) use service::{LambdaProxyIntegration, error_message};
