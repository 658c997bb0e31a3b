//! API Gateway's authorization, as tower layers an application puts in front of any
//! service, and as checks the gateway composes per route.
//!
//! - [`api_key`]: API keys (`x-api-key` or an authorizer's `usageIdentifierKey`), a
//!   key store, and the layer that answers `403 Forbidden` for a missing or unknown key.
//! - [`sigv4`]: IAM authorization: inbound Signature Version 4 verification (header
//!   and presigned-query forms) against a credential store, then the caller's
//!   identity policies.
//! - [`jwt`]: HTTP API JWT authorizers and REST Cognito user-pool authorizers, over
//!   JWKS fetched from the issuer and cached.
//! - [`lambda`]: Lambda authorizers (TOKEN and REQUEST, REST policies and HTTP API
//!   simple responses), invoked through [`gateway_core::lambda::LambdaInvoker`], with
//!   their results cached.
//! - [`policy`]: the IAM policy language: one evaluator for identity policies,
//!   authorizer policies and resource policies.
//! - [`route`]: one layer combining a method's resource policy, authorizer and API
//!   key requirement by AWS's evaluation rules; what the gateway builds per route.
//!
//! Every layer answers its rejections as AWS does (`{"message": ...}` with
//! `x-amzn-ErrorType`), through [`gateway_core::GatewayError`], so an outer
//! [`gateway_core::GatewayResponseLayer`] can customise them. What a layer learns
//! about the caller goes into the request's [`gateway_core::RequestContext`] (when the
//! request has one): `$context.identity.*` and `$context.authorizer.*`.

pub mod api_key;
mod future;
pub mod jwt;
pub mod lambda;
pub mod policy;
pub mod route;
mod scope;
pub mod sigv4;

pub use future::ResponseFuture;
pub use scope::{ApiScope, format_method_arn};
