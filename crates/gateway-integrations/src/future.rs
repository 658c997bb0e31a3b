//! The response future of integrations that answer from an `async` block.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use gateway_core::body::{Body, BoxError};
use http::Response;

/// A boxed response, always `Ok`: gateway decisions are responses built by
/// [`GatewayError::into_response`](gateway_core::GatewayError::into_response).
pub(crate) struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Response<Body>> + Send>>,
}

impl ResponseFuture {
    /// Boxes `future`.
    pub(crate) fn new(future: impl Future<Output = Response<Body>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}
