//! IAM authorization (`AWS_IAM`): inbound Signature Version 4 verification and the
//! signer's identity policies.
//!
//! - [`Verifier`] checks a request's signature, in the `Authorization` header or
//!   as presigned `X-Amz-*` query parameters, against a [`CredentialStore`], and
//!   yields the [`Caller`]. It is what a per-route combinator calls.
//! - [`Caller::evaluate`] runs the caller's identity policies for
//!   `execute-api:Invoke` on a method ARN.
//! - [`SigV4Layer`] does both in front of any service.
//!
//! Refusals are [`Rejection`]s, answered as AWS answers them (all `403`):
//!
//! | Reason | `x-amzn-ErrorType` | Message |
//! |---|---|---|
//! | no signature | `MissingAuthenticationTokenException` | `Missing Authentication Token` |
//! | malformed signature parameters | `IncompleteSignatureException` | what is missing, e.g. `Authorization header requires 'Credential' parameter. ...` |
//! | unknown access key, wrong session token | `UnrecognizedClientException` | `The security token included in the request is invalid.` |
//! | expired temporary credentials | `ExpiredTokenException` | `The security token included in the request is expired` |
//! | timestamp outside the window, presigned URL expired | `InvalidSignatureException` | `Signature expired: ... is now earlier than ...` |
//! | wrong region, service or date in the scope | `InvalidSignatureException` | `Credential should be scoped to a valid region, not '...'. ` |
//! | signature mismatch | `InvalidSignatureException` | `The request signature we calculated does not match ...`, with the canonical request and string to sign |
//! | identity policies do not allow | `AccessDeniedException` | `User: {arn} is not authorized to perform: execute-api:Invoke on resource: {method ARN}` (`... with an explicit deny` for a `Deny`) |
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::SystemTime;
//!
//! use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
//! use aws_sigv4::sign::v4::SigningParams;
//! use gateway_auth::ApiScope;
//! use gateway_auth::policy::Policy;
//! use gateway_auth::sigv4::{Credential, InMemoryCredentials, SigV4Layer};
//! use gateway_core::Body;
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::parse(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
//!     "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/GET/*"}]}"#)?;
//! let store = InMemoryCredentials::new();
//! store.insert(
//!     Credential::new("AKIDEXAMPLE", "secret", "123456789012", "arn:aws:iam::123456789012:user/alice")
//!         .with_policy(policy),
//! );
//! let scope = ApiScope::new("us-east-1", "123456789012", "abc123", "prod");
//! let app = ServiceBuilder::new()
//!     .layer(SigV4Layer::new(scope, Arc::new(store)))
//!     .service_fn(|_req: Request<Body>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Body::from("hello")))
//!     });
//!
//! // Unsigned: refused.
//! let unsigned = Request::get("http://api.local/pets").body(Body::empty())?;
//! let response = app.clone().oneshot(unsigned).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//!
//! // Signed with the access key (here by the AWS SDK's signer): let through.
//! let identity = aws_credential_types::Credentials::new(
//!     "AKIDEXAMPLE", "secret", None, None, "example",
//! ).into();
//! let params = SigningParams::builder()
//!     .identity(&identity)
//!     .region("us-east-1")
//!     .name("execute-api")
//!     .time(SystemTime::now())
//!     .settings(SigningSettings::default())
//!     .build()?
//!     .into();
//! let mut req = Request::get("http://api.local/pets").header("host", "api.local").body(Body::empty())?;
//! let signable = SignableRequest::new(
//!     "GET",
//!     "http://api.local/pets",
//!     [("host", "api.local")].into_iter(),
//!     SignableBody::Bytes(b""),
//! )?;
//! let (instructions, _signature) = sign(signable, &params)?.into_parts();
//! instructions.apply_to_request_http1x(&mut req);
//! let response = app.oneshot(req).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```

mod canonical;
mod credentials;
pub(crate) mod layer;
mod parse;
mod rejection;
mod verify;

#[cfg(test)]
mod tests;

pub use crate::future::ResponseFuture;
pub use credentials::{Credential, CredentialStore, InMemoryCredentials};
pub use layer::{DEFAULT_MAX_BODY, SigV4, SigV4Layer};
pub use rejection::Rejection;
pub use verify::{
    Caller, DEFAULT_MAX_SKEW, MAX_PRESIGNED_EXPIRES, SignedRequest, UNSIGNED_PAYLOAD, Verifier,
};
