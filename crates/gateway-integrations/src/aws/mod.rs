//! Calling AWS: credentials, SigV4 signing, the remote Lambda invoker, and requests
//! to AWS service APIs.
//!
//! - [`credentials`]: [`Credentials`] and a [`CredentialsProvider`] that resolves them
//!   as the AWS SDKs do (environment variables, then the shared credentials and
//!   config files), plus the region; the environment is injectable
//!   ([`Environment`]).
//! - [`sign`]: [`sign_request`] signs an `http::Request` with Signature Version 4,
//!   making the choices botocore makes.
//! - [`lambda_invoke`]: [`RemoteLambda`], a
//!   [`LambdaInvoker`](gateway_core::lambda::LambdaInvoker) over the Lambda Invoke API,
//!   and [`InvokeAsRole`], which has it sign as an integration's role.
//! - [`assume_role`]: [`RoleArn`] parses an integration's `credentials`, and an
//!   [`AssumedRole`] gets the role's temporary credentials from STS `AssumeRole`,
//!   signed with the gateway's own, and caches them until shortly before they
//!   expire. [`AwsConfig::assume_role`] gives a configuration that signs as a role.
//! - [`service`]: [`AwsTarget`] parses AWS integration URIs
//!   (`arn:aws:apigateway:{region}:{service}:action/{Action}` or `:path/{path}`),
//!   [`AwsConfig`] holds the region, credentials and endpoint overrides, and a
//!   [`PreparedTarget`] builds, signs and sends the requests for one target.
//! - [`subtype`]: the AWS service actions of HTTP APIs' `integrationSubtype`
//!   ([`Subtype`]), their parameters, and the service requests they make.
//!
//! Requests go out through the crate's pooled [`HttpClient`](crate::HttpClient):
//! to AWS's own `https://` endpoints by default, or to an override per service
//! (`http://` for a local emulator such as LocalStack, moto or
//! `sam local start-lambda`).
//!
//! # Example
//!
//! ```
//! use gateway_integrations::HttpClient;
//! use gateway_integrations::aws::{
//!     AwsConfig, AwsTarget, Credentials, CredentialsProvider, ServiceRequest,
//! };
//! use http::Method;
//!
//! let config = AwsConfig::new(
//!     "us-east-1",
//!     CredentialsProvider::fixed(Credentials::new("AKIDEXAMPLE", "secret")),
//! )
//! .with_endpoint("states", "http://127.0.0.1:5000")?;
//! let target = AwsTarget::parse("arn:aws:apigateway:us-east-1:states:action/StartExecution")?;
//! let prepared = config.prepare(&target, &HttpClient::new())?;
//! let request = prepared.build_request(ServiceRequest::new(
//!     Method::POST,
//!     r#"{"stateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:m"}"#,
//! ))?;
//! assert_eq!(request.headers()["x-amz-target"], "AWSStepFunctions.StartExecution");
//! assert_eq!(request.headers()["content-type"], "application/x-amz-json-1.0");
//! assert!(request.headers().contains_key("authorization"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod assume_role;
pub mod credentials;
mod endpoint;
pub mod lambda_invoke;
mod protocols;
pub mod service;
pub mod sign;
pub mod subtype;
mod target;
mod timestamp;

pub use assume_role::{
    AssumeRoleError, AssumeRoleErrorKind, AssumedRole, Clock, RoleArn, RoleArnError,
};
pub use credentials::{Credentials, CredentialsError, CredentialsProvider, Environment};
pub use endpoint::EndpointError;
pub use lambda_invoke::{FunctionNaming, InvokeAsRole, RemoteLambda};
pub use service::{AwsConfig, PreparedTarget, SendError, ServiceError, ServiceRequest};
pub use sign::{SignError, sign_request};
pub use subtype::Subtype;
pub use target::{AwsTarget, TargetApi, TargetError};
