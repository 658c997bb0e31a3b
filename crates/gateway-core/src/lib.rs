//! The core of the gateway toolkit: what every other gateway crate shares.
//!
//! - [`model`]: the API model (routes, methods, integrations, responses) that OpenAPI
//!   documents are imported into and deployments snapshot.
//! - [`clock`]: the injectable clock every layer reads the time from (a fast wall
//!   clock, or a manual one in tests).
//! - [`router`]: path templates matched by AWS's precedence rules.
//! - [`stage`]: deployments, stages with rollback, stage variables and canaries.
//! - [`context`]: the per-request `$context`, carried in request extensions.
//! - [`error`]: gateway responses (`{"message": ...}` with `x-amzn-ErrorType`), their
//!   per-API customisation, and the edge layer that turns every error into one.
//! - [`limits`]: AWS's request size limits.
//! - [`observe`]: Prometheus metrics, access logs and `X-Amzn-Trace-Id`.
//! - [`body`]: the body type all layers exchange.
//! - [`outbound`] (feature `outbound`): TCP and TLS connections to backends, with a
//!   configurable trust store.
//! - [`lambda`]: the invoker trait for Lambda functions, shared by integrations and
//!   authorizers.
//!
//! This crate depends on no other workspace crate; the others depend on it and talk
//! to each other only through its types.

pub mod body;
pub mod clock;
pub mod context;
pub mod error;
pub mod lambda;
pub mod limits;
pub mod model;
pub mod observe;
#[cfg(feature = "outbound")]
pub mod outbound;
pub mod router;
pub mod stage;

pub use body::{Body, BoxError};
pub use context::RequestContext;
pub use error::{GatewayError, GatewayResponseLayer, GatewayResponseType, GatewayResponses};
pub use router::{PathParams, Router};
