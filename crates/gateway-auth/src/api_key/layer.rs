//! The API key check as a tower layer, and as a plain function over a request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway_core::context::UsageIdentifierKey;
use gateway_core::model::ApiKeySource;
use gateway_core::{GatewayError, GatewayResponseType, RequestContext};
use http::header::HeaderName;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::key::ApiKey;
use super::store::ApiKeyStore;

/// The header a key arrives in when the API's key source is `HEADER`.
pub const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The key a request was accepted with, left in the request's extensions for
/// usage plans, throttling and logging further in.
#[derive(Debug, Clone)]
pub struct ResolvedApiKey(pub Arc<ApiKey>);

/// Requires an enabled API key on every request (a method with
/// `apiKeyRequired`).
///
/// The key is read from the `x-api-key` header or, when the API's key source is
/// `AUTHORIZER`, from the [`UsageIdentifierKey`] a Lambda authorizer left in the
/// request's extensions. A request with no key, an unknown key or a disabled key
/// is answered `403` with `{"message":"Forbidden"}` and
/// `x-amzn-ErrorType: ForbiddenException` (the `INVALID_API_KEY` gateway
/// response); AWS gives the caller the same answer in all three cases, so the
/// caller cannot tell a wrong key from a missing one.
///
/// An accepted key goes into the request's extensions as [`ResolvedApiKey`] and,
/// when the request carries a [`RequestContext`], into
/// `$context.identity.apiKey` and `$context.identity.apiKeyId`.
#[derive(Clone)]
#[must_use]
pub struct ApiKeyLayer {
    store: Arc<dyn ApiKeyStore>,
    source: ApiKeySource,
}

/// The service [`ApiKeyLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct ApiKeyService<S> {
    inner: S,
    layer: ApiKeyLayer,
}

pin_project! {
    /// The response future of [`ApiKeyService`]: the inner service's future, or
    /// the rejection when the key was refused.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<B>> },
    }
}

impl fmt::Debug for ApiKeyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayer")
            .field("store", &self.store)
            .field("source", &self.source)
            .finish()
    }
}

impl ApiKeyLayer {
    /// Checks keys against `store`, reading them from `source`.
    pub fn new(store: Arc<dyn ApiKeyStore>, source: ApiKeySource) -> Self {
        Self { store, source }
    }

    /// The store keys are checked against.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn ApiKeyStore> {
        &self.store
    }

    /// Where keys are read from.
    #[must_use]
    pub fn source(&self) -> ApiKeySource {
        self.source
    }

    /// The key value `req` presents, if any.
    ///
    /// With the `HEADER` source this is the `x-api-key` header. An empty header, a
    /// header that is not visible ASCII, or more than one `x-api-key` header
    /// presents no key: AWS documents nothing for repeated headers, and
    /// picking one of several keys would bill or throttle a caller by a guess.
    /// With the `AUTHORIZER` source it is the non-empty [`UsageIdentifierKey`]
    /// in the request's extensions; the header is then ignored.
    #[must_use]
    pub fn presented<'r, B>(&self, req: &'r Request<B>) -> Option<&'r str> {
        match self.source {
            ApiKeySource::Header => {
                let mut values = req.headers().get_all(&X_API_KEY).into_iter();
                let value = values.next()?;
                if values.next().is_some() {
                    return None;
                }
                value.to_str().ok().filter(|v| !v.is_empty())
            }
            ApiKeySource::Authorizer => req
                .extensions()
                .get::<UsageIdentifierKey>()
                .map(|k| k.0.as_str())
                .filter(|v| !v.is_empty()),
        }
    }

    /// The enabled key `req` presents, without changing the request.
    ///
    /// # Errors
    /// `INVALID_API_KEY` (403 `Forbidden`) when the request presents no key, an
    /// unknown key or a disabled key.
    pub fn resolve<B>(&self, req: &Request<B>) -> Result<Arc<ApiKey>, GatewayError> {
        let Some(value) = self.presented(req) else {
            tracing::debug!(source = ?self.source, "api key missing");
            return Err(forbidden());
        };
        let Some(key) = self.store.find(value) else {
            tracing::debug!("api key unknown");
            return Err(forbidden());
        };
        if !key.enabled {
            tracing::debug!(api_key_id = %key.id, "api key disabled");
            return Err(forbidden());
        }
        Ok(key)
    }

    /// Checks `req` as the layer does: resolves its key and, when accepted,
    /// records it in the request (see [`record`](Self::record)).
    ///
    /// # Errors
    /// As [`resolve`](Self::resolve); the request is left unchanged then.
    pub fn check<B>(&self, req: &mut Request<B>) -> Result<Arc<ApiKey>, GatewayError> {
        let key = self.resolve(req)?;
        Self::record(req, &key);
        Ok(key)
    }

    /// Records an accepted key in `req`: [`ResolvedApiKey`] in its extensions, and
    /// `identity.api_key` / `identity.api_key_id` in its [`RequestContext`] when it
    /// has one.
    pub fn record<B>(req: &mut Request<B>, key: &Arc<ApiKey>) {
        let extensions = req.extensions_mut();
        if let Some(ctx) = extensions.get_mut::<RequestContext>() {
            ctx.identity.api_key = Some(key.value.clone());
            ctx.identity.api_key_id = Some(key.id.clone());
        }
        extensions.insert(ResolvedApiKey(Arc::clone(key)));
    }
}

fn forbidden() -> GatewayError {
    GatewayError::new(GatewayResponseType::InvalidApiKey)
}

impl<S> Layer<S> for ApiKeyLayer {
    type Service = ApiKeyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKeyService::new(inner, self.clone())
    }
}

impl<S> ApiKeyService<S> {
    /// Wraps `inner` with the check `layer` describes.
    pub fn new(inner: S, layer: ApiKeyLayer) -> Self {
        Self { inner, layer }
    }

    /// A layer checking keys against `store`, read from `source`.
    pub fn layer(store: Arc<dyn ApiKeyStore>, source: ApiKeySource) -> ApiKeyLayer {
        ApiKeyLayer::new(store, source)
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

impl<S, ReqB, ResB> Service<Request<ReqB>> for ApiKeyService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: From<Bytes>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        // The check is synchronous, so the instance polled ready is called right
        // here and the future never needs to own the inner service.
        match self.layer.check(&mut req) {
            Ok(_) => ResponseFuture {
                kind: Kind::Inner {
                    future: self.inner.call(req),
                },
            },
            Err(err) => ResponseFuture {
                kind: Kind::Rejected {
                    response: Some(err.into_response_with::<ResB>()),
                },
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<Bytes>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Rejected { response } => Poll::Ready(Ok(response.take().unwrap_or_else(
                // Only reached when polled again after completing.
                || GatewayError::new(GatewayResponseType::Default5xx).into_response_with(),
            ))),
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.kind {
            Kind::Inner { .. } => "Inner",
            Kind::Rejected { .. } => "Rejected",
        };
        f.debug_tuple("ResponseFuture").field(&state).finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::api_key::InMemoryApiKeyStore;

    #[test]
    fn check_records_the_key_and_leaves_rejected_requests_alone() {
        let store = Arc::new(InMemoryApiKeyStore::new());
        let key = store.generate("partner").unwrap();
        let layer = ApiKeyLayer::new(store, ApiKeySource::Header);

        let mut req = Request::get("/").body(()).unwrap();
        req.extensions_mut().insert(RequestContext::default());
        let err = layer.check(&mut req).unwrap_err();
        assert_eq!(err.kind(), GatewayResponseType::InvalidApiKey);
        assert!(req.extensions().get::<ResolvedApiKey>().is_none());

        req.headers_mut()
            .insert(&X_API_KEY, key.value.parse().unwrap());
        let accepted = layer.check(&mut req).unwrap();
        assert!(Arc::ptr_eq(&accepted, &key));
        let ctx = req.extensions().get::<RequestContext>().unwrap();
        assert_eq!(ctx.variable("identity.apiKey").unwrap(), key.value);
        assert_eq!(ctx.variable("identity.apiKeyId").unwrap(), key.id);
        assert!(Arc::ptr_eq(
            &req.extensions().get::<ResolvedApiKey>().unwrap().0,
            &key
        ));
    }

    #[test]
    fn repeated_or_empty_headers_present_no_key() {
        let store = Arc::new(InMemoryApiKeyStore::new());
        let key = store.generate("partner").unwrap();
        let layer = ApiKeyLayer::new(store, ApiKeySource::Header);
        let req = Request::get("/")
            .header("x-api-key", &key.value)
            .header("x-api-key", &key.value)
            .body(())
            .unwrap();
        assert!(layer.presented(&req).is_none());
        let req = Request::get("/").header("x-api-key", "").body(()).unwrap();
        assert!(layer.presented(&req).is_none());
        let req = Request::get("/")
            .header("X-Api-Key", &key.value)
            .body(())
            .unwrap();
        assert_eq!(layer.presented(&req), Some(key.value.as_str()));
    }
}
