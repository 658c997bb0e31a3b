//! The tower layer: verifies each request's token before the inner service sees it.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway_core::RequestContext;
use http::{Request, Response};
use tower::{Layer, Service};

use super::verify::JwtAuthorizer;
use crate::ResponseFuture;

/// Puts a [`JwtAuthorizer`] in front of a service, requiring the given scopes.
///
/// An accepted request carries the [`Verified`](super::Verified) token in its
/// extensions and, when it has a [`RequestContext`], the claims and scopes in
/// `$context.authorizer`. A refused one is answered with the authorizer's gateway
/// response and never reaches the inner service.
#[derive(Debug, Clone)]
#[must_use]
pub struct JwtLayer {
    authorizer: JwtAuthorizer,
    scopes: Arc<[String]>,
}

impl JwtLayer {
    /// A layer requiring a valid token and no particular scope.
    pub fn new(authorizer: JwtAuthorizer) -> Self {
        Self {
            authorizer,
            scopes: Arc::new([]),
        }
    }

    /// Requires one of `scopes` (a route's `authorizationScopes`).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl<S> Layer<S> for JwtLayer {
    type Service = JwtAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            authorizer: self.authorizer.clone(),
            scopes: Arc::clone(&self.scopes),
        }
    }
}

/// The service [`JwtLayer`] makes.
#[derive(Debug, Clone)]
pub struct JwtAuth<S> {
    inner: S,
    authorizer: JwtAuthorizer,
    scopes: Arc<[String]>,
}

impl<S> JwtAuth<S> {
    /// Wraps `inner`, requiring a valid token and no particular scope.
    pub fn new(inner: S, authorizer: JwtAuthorizer) -> Self {
        JwtLayer::new(authorizer).layer(inner)
    }

    /// A layer making this service.
    pub fn layer(authorizer: JwtAuthorizer) -> JwtLayer {
        JwtLayer::new(authorizer)
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

impl<S, ReqB, ResB> Service<Request<ReqB>> for JwtAuth<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqB: Send + 'static,
    ResB: From<Bytes> + Send + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authorizer = self.authorizer.clone();
        let scopes = Arc::clone(&self.scopes);
        ResponseFuture::new(async move {
            let verified = authorizer
                .authorize(req.headers(), req.uri().query(), &scopes)
                .await;
            match verified {
                Ok(verified) => {
                    if let Some(context) = req.extensions_mut().get_mut::<RequestContext>() {
                        verified.apply_to(context);
                    }
                    req.extensions_mut().insert(verified);
                    inner.call(req).await
                }
                Err(error) => Ok(error.into_response_with()),
            }
        })
    }
}
