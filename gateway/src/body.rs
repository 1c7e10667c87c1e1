//! The body type every handler speaks, and the limits a client's request body must meet: a
//! size, a total time and a longest wait for its next piece, so a slow client cannot hold a
//! connection (and a worker's memory) open byte by byte.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use tokio::time::{Instant, Sleep};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// A body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A request body that did not arrive in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimeout;

/// A request body over its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body is too large")]
pub struct BodyTooLarge;

/// Whether an error (or one of its causes) is a `T`.
fn caused_by<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<T>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Whether an error (or one of its causes) is a [`BodyTimeout`].
pub fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<BodyTimeout>(e)
}

/// Why a body could not be read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    TooLarge,
    Timeout,
    Broken,
}

/// Reads a whole body of at most `cap` bytes.
pub async fn read_all(mut body: Body, cap: usize) -> Result<Bytes, ReadError> {
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if is_timeout(e.as_ref()) {
                ReadError::Timeout
            } else if caused_by::<BodyTooLarge>(e.as_ref()) {
                ReadError::TooLarge
            } else {
                ReadError::Broken
            }
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > cap {
                return Err(ReadError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// What a client's request body must meet.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub total: Duration,
    pub gap: Duration,
}

/// A client's body under its limits.
struct Guarded<B> {
    inner: B,
    left: u64,
    total: Pin<Box<Sleep>>,
    gap: Duration,
    next: Pin<Box<Sleep>>,
    /// Waiting for the client since `next` was armed.
    waiting: bool,
}

impl<B> HttpBody for Guarded<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.waiting = false;
                if let Some(data) = frame.data_ref() {
                    let n = u64::try_from(data.len()).unwrap_or(u64::MAX);
                    if n > this.left {
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge))));
                    }
                    this.left -= n;
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        // Only time spent waiting for the client counts toward the gap, not time the
        // reader (the upstream) took before asking.
        if !this.waiting {
            this.waiting = true;
            let at = Instant::now() + this.gap;
            this.next.as_mut().reset(at);
        }
        if this.total.as_mut().poll(cx).is_ready() || this.next.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A client's request body under its limits; a body that is already complete (no body at
/// all) goes without timers.
pub fn guarded<B>(inner: B, limits: Limits) -> Body
where
    B: HttpBody<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if inner.is_end_stream() {
        return inner.map_err(|e| Box::new(e) as BoxError).boxed();
    }
    let now = Instant::now();
    Guarded {
        inner,
        left: limits.max_bytes,
        total: Box::pin(tokio::time::sleep_until(now + limits.total)),
        gap: limits.gap,
        next: Box::pin(tokio::time::sleep_until(now + limits.gap)),
        waiting: false,
    }
    .boxed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(total: u64, gap: u64) -> Limits {
        Limits {
            max_bytes: 10,
            total: Duration::from_secs(total),
            gap: Duration::from_secs(gap),
        }
    }

    #[tokio::test]
    async fn a_body_over_the_size_is_cut_and_read_all_caps() {
        let big = Full::new(Bytes::from(vec![b'x'; 11]));
        let body = guarded(big, limits(60, 5));
        assert_eq!(read_all(body, 100).await, Err(ReadError::TooLarge));
        let ok = guarded(Full::new(Bytes::from_static(b"0123456789")), limits(60, 5));
        assert_eq!(read_all(ok, 100).await.unwrap().len(), 10);
        assert_eq!(
            read_all(full(vec![0u8; 20]), 19).await,
            Err(ReadError::TooLarge)
        );
    }

    /// One piece, then nothing ever again.
    struct Stall(bool);

    impl HttpBody for Stall {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            if self.0 {
                return Poll::Pending;
            }
            self.0 = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"a")))))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_is_cut() {
        let mut body = guarded(Stall(false), limits(60, 5));
        assert!(body.frame().await.unwrap().is_ok());
        let started = Instant::now();
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(is_timeout(err.as_ref()));
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(5),
            "the gap, on a paused clock"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_total_holds_however_the_pieces_come() {
        let mut body = guarded(Stall(false), limits(3, 5));
        assert!(body.frame().await.unwrap().is_ok());
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(is_timeout(err.as_ref()));
    }
}
