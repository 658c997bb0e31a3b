//! The body type every gateway layer speaks.
//!
//! [`Body`] is either a buffered [`Bytes`] (templates, MOCK responses, gateway
//! responses) or a stream (a hyper connection's body passed through to a proxy
//! backend and back). Keeping the two cases apart lets a proxy route stream without
//! buffering while template routes avoid a boxed stream for a few bytes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;

/// The boxed error type that crosses layer boundaries (infrastructure failures).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A request or response body: buffered bytes or a stream of frames.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    Incoming(hyper::body::Incoming),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// An empty body.
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            kind: Kind::Full(None),
        }
    }

    /// A body holding `bytes`.
    #[must_use]
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// Wraps any [`http_body::Body`] as a stream.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            kind: Kind::Boxed(body.map_err(Into::into).boxed_unsync()),
        }
    }

    /// Returns the bytes when the body is buffered, without consuming it.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Full(Some(b)) => Some(b),
            Kind::Full(None) => Some(&[]),
            _ => None,
        }
    }

    /// Buffers the whole body, failing with [`LengthLimitError`] once more than
    /// `limit` bytes arrive.
    pub async fn collect_limited(self, limit: usize) -> Result<Bytes, BoxError> {
        if let Kind::Full(bytes) = self.kind {
            let bytes = bytes.unwrap_or_default();
            if bytes.len() > limit {
                return Err(LengthLimitError { limit }.into());
            }
            return Ok(bytes);
        }
        let collected = http_body_util::Limited::new(self, limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    LengthLimitError { limit }.into()
                } else {
                    e
                }
            })?;
        Ok(collected.to_bytes())
    }

    /// Limits a streamed body to `limit` bytes: a longer stream ends with a
    /// [`LengthLimitError`]. A body whose exact length is known (an HTTP/1
    /// `Content-Length`, which hyper enforces) and within the limit is left as it is,
    /// so only streams of unknown length pay for the check.
    #[must_use]
    pub fn limited(self, limit: usize) -> Self {
        use http_body::Body as _;
        if self
            .size_hint()
            .exact()
            .is_some_and(|len| len <= limit as u64)
        {
            return self;
        }
        match self.kind {
            Kind::Full(_) => self,
            _ => Self::new(http_body_util::Limited::new(self, limit).map_err(move |e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    BoxError::from(LengthLimitError { limit })
                } else {
                    e
                }
            })),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Full(b) => f
                .debug_tuple("Body::Full")
                .field(&b.as_ref().map_or(0, Bytes::len))
                .finish(),
            Kind::Incoming(_) => f.write_str("Body::Incoming"),
            Kind::Boxed(_) => f.write_str("Body::Stream"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self::full(bytes)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Self::full(s)
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Self::full(Bytes::from_static(s.as_bytes()))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Self::full(v)
    }
}

impl From<hyper::body::Incoming> for Body {
    fn from(incoming: hyper::body::Incoming) -> Self {
        Self {
            kind: Kind::Incoming(incoming),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Incoming(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Kind::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Incoming(body) => body.is_end_stream(),
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Incoming(body) => body.size_hint(),
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}

/// A body grew past the configured limit.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("body exceeds the limit of {limit} bytes")]
pub struct LengthLimitError {
    /// The limit in bytes.
    pub limit: usize,
}

/// Finds a cause of type `E` anywhere in an error's source chain.
#[must_use]
pub fn cause_ref<'a, E: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_body_collects_and_respects_limit() {
        let body = Body::from("hello");
        assert_eq!(body.as_bytes(), Some(&b"hello"[..]));
        assert_eq!(&body.collect_limited(5).await.unwrap()[..], b"hello");
        let err = Body::from("hello").collect_limited(4).await.unwrap_err();
        assert!(cause_ref::<LengthLimitError>(&*err).is_some());
    }

    #[tokio::test]
    async fn limited_checks_only_streams_of_unknown_length() {
        use http_body::Body as _;
        // An exact length within the limit needs no check and keeps its size hint.
        let known = Body::new(http_body_util::Full::new(Bytes::from_static(b"abc"))).limited(3);
        assert_eq!(known.size_hint().exact(), Some(3));
        assert_eq!(&known.collect_limited(3).await.unwrap()[..], b"abc");
        // A stream of unknown length that grows past the limit fails.
        let chunks = futures_stream(&[b"0123", b"4567"]);
        let err = Body::new(chunks)
            .limited(6)
            .collect_limited(100)
            .await
            .unwrap_err();
        assert_eq!(cause_ref::<LengthLimitError>(&*err).unwrap().limit, 6);
        let chunks = futures_stream(&[b"0123", b"45"]);
        let ok = Body::new(chunks)
            .limited(6)
            .collect_limited(100)
            .await
            .unwrap();
        assert_eq!(&ok[..], b"012345");
    }

    /// A body of unknown length made of `chunks`.
    fn futures_stream(chunks: &[&'static [u8]]) -> Chunks {
        Chunks(chunks.iter().map(|c| Bytes::from_static(c)).collect())
    }

    struct Chunks(std::collections::VecDeque<Bytes>);

    impl http_body::Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    #[tokio::test]
    async fn streamed_body_limit_is_a_length_limit_error() {
        let stream = Body::new(http_body_util::Full::new(Bytes::from_static(b"0123456789")));
        let err = stream.collect_limited(3).await.unwrap_err();
        assert_eq!(cause_ref::<LengthLimitError>(&*err).unwrap().limit, 3);
        let ok = Body::new(http_body_util::Full::new(Bytes::from_static(b"abc")))
            .collect_limited(3)
            .await
            .unwrap();
        assert_eq!(&ok[..], b"abc");
    }
}
