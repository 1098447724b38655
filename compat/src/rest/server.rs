//! The server side of Go's REST conventions, as axum pieces.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;

use super::{RemoteError, INVALID_XAUTH};
use crate::models::json;

const JSON: &str = "application/json; charset=utf-8";

/// 200 with `v` encoded like Go's `json.MarshalIndent(v, "", "    ")`.
pub fn json_ok<T: Serialize + ?Sized>(v: &T) -> Response {
    let mut r = (StatusCode::OK, json::to_vec_indent(v)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

/// 200 `"OK"`, the answer of every successful command route.
pub fn ok() -> Response {
    json_ok("OK")
}

/// Go's `ApiResponseError`: status 800, reason `status code 800`, `{"Cause": ..., "Stack": null}`.
pub fn error(cause: impl std::fmt::Display) -> Response {
    remote_error(&RemoteError::new(cause.to_string()))
}

/// Status 800 with a full [`RemoteError`] (e.g. relaying a Go server's error).
pub fn remote_error(e: &RemoteError) -> Response {
    let status = StatusCode::from_u16(800).expect("800 is a valid status code");
    let mut r = (status, e.encode()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    r.extensions_mut().insert(hyper::ext::ReasonPhrase::from_static(b"status code 800"));
    r
}

/// Go's `http.NotFound` (also what martini answers for a wrong method).
pub fn not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r.headers_mut().insert("X-Content-Type-Options", HeaderValue::from_static("nosniff"));
    r
}

/// `302` to `to` (`/` → `/topom` or `/proxy`); Go's martini keeps the JSON content type.
pub fn redirect(to: &'static str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_static(to));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    r
}

/// The xauth check of every `/api/.../<xauth>` route: `Some(800 response)` when it is wrong.
pub fn check_xauth(given: &str, expected: &str) -> Option<Response> {
    (given != expected).then(|| error(INVALID_XAUTH))
}

/// Unknown paths and wrong methods answer Go's 404 instead of axum's 404/405.
pub fn with_go_fallbacks<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.fallback(|| async { not_found() }).method_not_allowed_fallback(|| async { not_found() })
}
