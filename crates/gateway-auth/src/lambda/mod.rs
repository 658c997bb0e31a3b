//! Lambda authorizers: TOKEN and REQUEST authorizers of REST APIs, and REQUEST
//! authorizers of HTTP APIs (payload formats 1.0 and 2.0, IAM policy or simple
//! responses).
//!
//! A [`LambdaAuthorizer`] is compiled once from an API model's
//! [`Authorizer`](gateway_core::model::Authorizer): the function named by its
//! `authorizerUri`, its identity sources, its validation expression and its
//! result TTL. Per request it reads the identity values, refuses a request that
//! lacks them with 401 without calling the function, looks for a cached answer,
//! and otherwise sends the function AWS's event through a
//! [`LambdaInvoker`](gateway_core::lambda::LambdaInvoker) (in process or through
//! the Lambda Invoke API, as for `AWS_PROXY` integrations). The answer's policy is
//! evaluated against the request's method ARN; a cached policy is evaluated again
//! for each method ARN, so an answer that allowed one route does not allow
//! another. The function's `principalId` and `context` reach
//! `$context.authorizer.*` (and so templates and the Lambda proxy event), and a
//! `usageIdentifierKey` becomes the request's
//! [`UsageIdentifierKey`](gateway_core::context::UsageIdentifierKey).
//!
//! Each authorizer instance keeps its own cache, so instances built per API stage
//! never share results; keys also carry the API id and the stage. Results expire by
//! the [`Clock`] given to [`LambdaAuthorizerBuilder::clock`] (the system clock by
//! default; a manual one in tests, which then expire entries without waiting).
//!
//! ```
//! use std::sync::Arc;
//!
//! use gateway_auth::lambda::LambdaAuthorizer;
//! use gateway_core::lambda::{Invocation, InvocationOutput, InvokeFuture, LambdaInvoker};
//! use gateway_core::model::{ApiProtocol, Authorizer, AuthorizerType};
//!
//! /// Allows the token `allow` to call everything.
//! #[derive(Debug)]
//! struct Function;
//!
//! impl LambdaInvoker for Function {
//!     fn invoke(&self, invocation: Invocation) -> InvokeFuture {
//!         let event: serde_json::Value = invocation.payload.deserialize().unwrap_or_default();
//!         let effect = if event["authorizationToken"] == "allow" { "Allow" } else { "Deny" };
//!         let answer = serde_json::json!({
//!             "principalId": "user",
//!             "policyDocument": {"Version": "2012-10-17", "Statement": [
//!                 {"Action": "execute-api:Invoke", "Effect": effect, "Resource": "*"}]},
//!             "context": {"tier": "gold"},
//!         });
//!         Box::pin(async move { Ok(InvocationOutput::ok(answer.to_string())) })
//!     }
//! }
//!
//! let model = Authorizer {
//!     name: "tokens".into(),
//!     kind: AuthorizerType::Token,
//!     uri: Some("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
//!                arn:aws:lambda:us-east-1:123456789012:function:auth/invocations".into()),
//!     identity_source: vec!["method.request.header.Authorization".into()],
//!     ..Authorizer::default()
//! };
//! let authorizer = LambdaAuthorizer::new(&model, ApiProtocol::Rest, Arc::new(Function))?;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
//! runtime.block_on(async {
//!     let mut req = http::Request::get("/pets").header("authorization", "allow").body(())?;
//!     let authorized = authorizer.check(&mut req).await?;
//!     assert_eq!(authorized.principal_id(), Some("user"));
//!
//!     let mut req = http::Request::get("/pets").header("authorization", "nope").body(())?;
//!     let denied = authorizer.check(&mut req).await.unwrap_err();
//!     assert_eq!(denied.status(), 403);
//!
//!     let mut req = http::Request::get("/pets").body(())?;
//!     assert_eq!(authorizer.check(&mut req).await.unwrap_err().status(), 401);
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod authorizer;
mod cache;
mod config;
mod event;
mod layer;
mod output;

pub use crate::future::ResponseFuture;
pub use authorizer::{
    Authorized, DEFAULT_AUTHORIZER_TIMEOUT, LambdaAuthorizer, LambdaAuthorizerBuilder,
};
pub use cache::DEFAULT_MAX_ENTRIES;
pub use config::{
    DEFAULT_RESULT_TTL, EventFormat, IdentitySource, LambdaAuthorizerConfig, LambdaAuthorizerError,
    MAX_RESULT_TTL_SECONDS,
};
pub use gateway_core::clock::{Clock, ManualClock};
pub use layer::{LambdaAuthorizerLayer, LambdaAuthorizerService};
pub use output::{AuthorizerOutput, Verdict};
