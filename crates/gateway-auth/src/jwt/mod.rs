//! JWT authorizers of HTTP APIs and Cognito user pool authorizers of REST APIs.
//!
//! A [`JwtAuthorizer`] trusts a set of issuers. It reads the token from its identity
//! source (the `Authorization` header by default; a `Bearer ` prefix is dropped),
//! then, in this order:
//!
//! 1. decodes the header: `alg` must be an asymmetric algorithm the authorizer
//!    allows (never `none` or `HS*`), `kid` must be present, `crit` must not;
//! 2. picks the issuer whose name equals `iss` exactly; keys are only ever fetched
//!    for configured issuers;
//! 3. finds the key named `kid` in that issuer's key set, which is fetched on first
//!    use (from the issuer's `/.well-known/openid-configuration` `jwks_uri`, from
//!    `/.well-known/jwks.json` when there is no discovery document, or from a
//!    configured URL), kept for [`DEFAULT_MAX_KEY_AGE`], and fetched again for an
//!    unknown `kid` at most once per [`DEFAULT_REFRESH_INTERVAL`]; concurrent
//!    requests share one fetch;
//! 4. checks that the key permits `alg` (an RSA key RS* and PS*, a P-256 key ES256,
//!    a P-384 key ES384, and a key's own `alg` pins it to that one) before any
//!    signature work, then verifies the signature (RSA keys of 2048 to 8192 bits;
//!    keys are prepared once per fetched key set, and a signature the same key
//!    verified before, up to [`DEFAULT_SIGNATURE_CACHE`] of them, is not computed
//!    again);
//! 5. checks `exp` (required), `nbf` and `iat` against the clock with
//!    [`DEFAULT_LEEWAY`] (the [`Clock`] of [`JwtConfig::clock`], which key ages
//!    are measured by too);
//! 6. checks the audience and scopes by the [`JwtProfile`]: an HTTP API JWT
//!    authorizer compares `aud` (or, only when there is no `aud`, `client_id`) with
//!    its audiences and wants one of the route's scopes in `scope` or `scp`; a
//!    Cognito authorizer accepts ID tokens on methods without scopes and access
//!    tokens holding one of the method's scopes on methods with scopes.
//!
//! Refusals are `401 {"message":"Unauthorized"}`; on HTTP APIs a missing scope is
//! `403 {"message":"Forbidden"}` and every refusal carries a `www-authenticate:
//! Bearer scope="..." error="..." error_description="..."` challenge, on REST APIs
//! an expired token is `401 {"message":"The incoming token has expired"}`. When an
//! issuer's keys have never been fetched successfully, the answer is a `500`
//! (`AUTHORIZER_FAILURE`): the caller cannot fix that. Once fetched, keys stay in
//! use past their age while refetching fails.
//!
//! The claims of an accepted token go to `$context.authorizer.claims` and its
//! scopes to `$context.authorizer.scopes`, which Lambda proxy events render as
//! `requestContext.authorizer.claims` (REST) and
//! `requestContext.authorizer.jwt.{claims,scopes}` (HTTP APIs).
//!
//! Keys are fetched over HTTPS, checked against the operating system's trust
//! store or the one [`JwtConfig::tls`] sets (a private authority), or over plain
//! HTTP for `http` URLs (a local identity provider).
//!
//! # Example
//!
//! ```no_run
//! use gateway_auth::jwt::{JwtConfig, JwtLayer};
//! use gateway_core::Body;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let authorizer = JwtConfig::jwt("http://127.0.0.1:8080/realms/demo")
//!     .audience("orders-api")
//!     .build()?;
//! let service = ServiceBuilder::new()
//!     .layer(JwtLayer::new(authorizer).scopes(["orders/read"]))
//!     .service_fn(|_req: Request<Body>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Body::from("orders")))
//!     });
//! let response = service
//!     .oneshot(
//!         Request::get("/orders")
//!             .header("authorization", "Bearer eyJ...")
//!             .body(Body::empty())?,
//!     )
//!     .await?;
//! println!("{}", response.status());
//! # Ok(())
//! # }
//! ```

mod config;
mod jwks;
mod layer;
mod signature;
mod verify;

pub use crate::future::ResponseFuture;
pub use config::{
    ConfigError, DEFAULT_ALGORITHMS, DEFAULT_FETCH_TIMEOUT, DEFAULT_LEEWAY, DEFAULT_MAX_KEY_AGE,
    DEFAULT_REFRESH_INTERVAL, DEFAULT_SIGNATURE_CACHE, IdentitySource, JwtConfig, JwtProfile,
};
pub use gateway_core::clock::{Clock, ManualClock};
pub use jsonwebtoken::Algorithm;
pub use layer::{JwtAuth, JwtLayer};
pub use verify::{JwtAuthorizer, Verified};
