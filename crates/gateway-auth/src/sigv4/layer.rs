//! [`SigV4Layer`]: IAM authorization in front of any service.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway_core::body::BoxError;
use gateway_core::{GatewayError, GatewayResponseType, RequestContext};
use http::{Request, Response};
use http_body::Body as HttpBody;
use http_body_util::{BodyExt as _, Limited};
use tower::{Layer, Service};

use super::{Caller, CredentialStore, Rejection, Verifier};
use crate::policy::{NetworkHeaders, RequestFacts};
use crate::{ApiScope, ResponseFuture};

/// The largest body the layer reads to check its hash by default: 10 MiB, API
/// Gateway's payload limit.
pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;

/// Authorizes requests as an `AWS_IAM` method does: a valid Signature Version 4
/// signature, then the signer's identity policies allowing `execute-api:Invoke` on
/// the method ARN.
///
/// The body is read (up to [`max_body`](Self::max_body)) only when the signature
/// covers its hash, and handed on to the inner service as one chunk. On success
/// the request's [`RequestContext`] (when it has one) gets
/// `identity.accountId`, `userArn`, `caller` and `accessKey`, and its extensions
/// get the [`Caller`].
///
/// Used alone, only identity policies decide; a gateway that also has a resource
/// policy combines both from [`Verifier`] and [`Caller::evaluate`] instead.
#[derive(Debug, Clone)]
#[must_use]
pub struct SigV4Layer {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    verifier: Arc<Verifier>,
    scope: ApiScope,
    max_body: usize,
}

impl SigV4Layer {
    /// IAM authorization for the API of `scope`, signatures scoped to its region,
    /// with the credentials of `store`.
    pub fn new(scope: ApiScope, store: Arc<dyn CredentialStore>) -> Self {
        let verifier = Verifier::new(Arc::clone(&scope.region), store);
        Self::with_verifier(Arc::new(verifier), scope)
    }

    /// IAM authorization with a configured `verifier` (a clock, a skew window);
    /// method ARNs come from `scope`.
    pub fn with_verifier(verifier: Arc<Verifier>, scope: ApiScope) -> Self {
        Self {
            config: Arc::new(Config {
                verifier,
                scope,
                max_body: DEFAULT_MAX_BODY,
            }),
        }
    }

    /// Sets the largest body read for hashing; a longer one is answered
    /// `413 Request Too Long`.
    pub fn max_body(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.config).max_body = bytes;
        self
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.config.verifier
    }
}

impl<S> Layer<S> for SigV4Layer {
    type Service = SigV4<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SigV4 {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service [`SigV4Layer`] makes.
#[derive(Debug, Clone)]
pub struct SigV4<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> SigV4<S> {
    /// Wraps `inner` with the authorization `layer` describes.
    pub fn new(inner: S, layer: &SigV4Layer) -> Self {
        layer.layer(inner)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for SigV4<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqB: HttpBody + From<Bytes> + Send + 'static,
    ReqB::Data: Send,
    ReqB::Error: Into<BoxError>,
    ResB: From<Bytes> + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        ResponseFuture::new(authorize_then_call(config, inner, req))
    }
}

async fn authorize_then_call<S, ReqB, ResB>(
    config: Arc<Config>,
    mut inner: S,
    req: Request<ReqB>,
) -> Result<Response<ResB>, S::Error>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ReqB: HttpBody + From<Bytes>,
    ReqB::Error: Into<BoxError>,
    ResB: From<Bytes>,
{
    let mut req = match authenticate(&config.verifier, req, config.max_body).await {
        Ok(req) => req,
        Err(err) => return Ok(err.into_response_with()),
    };
    if let Err(rejection) = authorize(&config.scope, &req) {
        return Ok(rejection.into_response());
    }
    if let Some(caller) = req.extensions().get::<Caller>().cloned()
        && let Some(ctx) = req.extensions_mut().get_mut::<RequestContext>()
    {
        caller.fill_identity(&mut ctx.identity);
    }
    inner.call(req).await
}

/// Verifies the signature, reading the body when it is signed; the request comes
/// back (with its body rebuilt if it was read) and the [`Caller`] in its
/// extensions.
pub(crate) async fn authenticate<B>(
    verifier: &Verifier,
    req: Request<B>,
    max_body: usize,
) -> Result<Request<B>, GatewayError>
where
    B: HttpBody + From<Bytes>,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = req.into_parts();
    let (caller, body) = {
        let signed = verifier.begin(&parts)?;
        if !signed.needs_body() || body.is_end_stream() {
            (signed.verify(&[])?, body)
        } else {
            let bytes = read_body(body, max_body).await?;
            (signed.verify(&bytes)?, B::from(bytes))
        }
    };
    parts.extensions.insert(caller);
    Ok(Request::from_parts(parts, body))
}

async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, GatewayError>
where
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            Err(GatewayError::new(GatewayResponseType::RequestTooLarge))
        }
        Err(err) => Err(GatewayError::from_box_error(&err)),
    }
}

/// Evaluates the caller's identity policies on the request's method ARN.
fn authorize<B>(scope: &ApiScope, req: &Request<B>) -> Result<(), Rejection> {
    let Some(caller) = req.extensions().get::<Caller>() else {
        return Err(Rejection::MissingAuthenticationToken);
    };
    let method_arn = scope.method_arn(req);
    let facts = RequestFacts::of(req, &NetworkHeaders::default());
    caller.authorize(&facts.request(&method_arn, caller.principal()))
}
