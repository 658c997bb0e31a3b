//! The authorizer as a tower layer in front of any service.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service};

use super::authorizer::LambdaAuthorizer;
use crate::ResponseFuture;

/// Runs a [`LambdaAuthorizer`] before the inner service: requests it allows go
/// on (with `$context.authorizer.*` filled in), others are answered with its
/// 401, 403 or 500.
#[derive(Debug, Clone)]
#[must_use]
pub struct LambdaAuthorizerLayer {
    authorizer: LambdaAuthorizer,
}

/// The service [`LambdaAuthorizerLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct LambdaAuthorizerService<S> {
    inner: S,
    authorizer: LambdaAuthorizer,
}

impl LambdaAuthorizerLayer {
    /// A layer running `authorizer`.
    pub fn new(authorizer: LambdaAuthorizer) -> Self {
        Self { authorizer }
    }

    /// The authorizer.
    #[must_use]
    pub fn authorizer(&self) -> &LambdaAuthorizer {
        &self.authorizer
    }
}

impl<S> Layer<S> for LambdaAuthorizerLayer {
    type Service = LambdaAuthorizerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LambdaAuthorizerService::new(inner, self.authorizer.clone())
    }
}

impl<S> LambdaAuthorizerService<S> {
    /// Wraps `inner` with `authorizer`.
    pub fn new(inner: S, authorizer: LambdaAuthorizer) -> Self {
        Self { inner, authorizer }
    }

    /// A layer running `authorizer`.
    pub fn layer(authorizer: LambdaAuthorizer) -> LambdaAuthorizerLayer {
        LambdaAuthorizerLayer::new(authorizer)
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

impl<S, ReqB, ResB> Service<Request<ReqB>> for LambdaAuthorizerService<S>
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
        // The instance polled ready goes into the future; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authorizer = self.authorizer.clone();
        ResponseFuture::new(async move {
            match authorizer.check(&mut req).await {
                Ok(_) => inner.call(req).await,
                Err(error) => Ok(error.into_response_with::<ResB>()),
            }
        })
    }
}
