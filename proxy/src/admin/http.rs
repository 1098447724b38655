//! The HTTP framing Go's `net/http` + martini give the admin API, so replies match the recorded
//! ones byte for byte apart from the date:
//!
//! - header names in canonical case (`Content-Type`), written sorted, then `Date`, then
//!   `Content-Length` — or `Transfer-Encoding: chunked` when the body is over 2048 bytes (Go's
//!   buffer before chunking) or gzipped;
//! - `Accept-Encoding: gzip` gzips every reply (martini's `gzip.All`), adding
//!   `Content-Encoding: gzip` and `Vary: Accept-Encoding`.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// Go's `bufferBeforeChunkingSize`.
const CHUNKING_THRESHOLD: usize = 2048;

/// A whole reply body; `chunked` hides its length so hyper sends it chunked.
pub struct AdminBody {
    data: Option<Bytes>,
    len: u64,
    chunked: bool,
}

impl Body for AdminBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.data.take().filter(|d| !d.is_empty()).map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(|d| d.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        if self.chunked {
            SizeHint::default()
        } else {
            SizeHint::with_exact(self.len)
        }
    }
}

/// Turns a reply into what goes on the wire.
pub async fn finish(rsp: axum::response::Response, gzip: bool) -> hyper::Response<AdminBody> {
    let (mut parts, body) = rsp.into_parts();
    let mut data = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut chunked = data.len() > CHUNKING_THRESHOLD;
    if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&data);
        data = Bytes::from(enc.finish().unwrap_or_default());
        parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        parts.headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        chunked = true;
    }
    parts.headers = sorted_with_date(&parts.headers);
    let len = data.len() as u64;
    hyper::Response::from_parts(parts, AdminBody { data: Some(data), len, chunked })
}

fn sorted_with_date(h: &HeaderMap) -> HeaderMap {
    let mut pairs: Vec<(&HeaderName, &HeaderValue)> =
        h.iter().filter(|(n, _)| **n != header::CONTENT_LENGTH && **n != header::DATE).collect();
    pairs.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let mut out = HeaderMap::with_capacity(pairs.len() + 1);
    for (n, v) in pairs {
        out.append(n.clone(), v.clone());
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())) {
        out.insert(header::DATE, v);
    }
    out
}

/// Whether the client accepts gzip (`Accept-Encoding` lists it).
pub fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim().split(';').next().is_some_and(|e| e.eq_ignore_ascii_case("gzip"))))
}
