//! HTTP caching of the API's answers, so a storefront's browser (or a cache the shop runs) can
//! keep them and ask again cheaply.
//!
//! Every successful `GET` under `/api/` carries an `ETag` (a digest of its body) and a
//! `Cache-Control`; a request whose `If-None-Match` holds that tag gets `304 Not Modified` and no
//! body. Answers change when a retrain goes live or an inventory snapshot lands, so
//! recommendations, segments and forecasts may be reused for a minute ([`REUSED`]), and the
//! shop's own views (models, alerts, health) must be checked each time. All are `private`:
//! every route but health is behind a function key in Azure, and a shared cache would hand one
//! caller's answer to another who has no key.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The `Cache-Control` of a recommendation, segment or forecast: a browser may reuse it for a
/// minute without asking.
pub const REUSED: &str = "private, max-age=60";

/// Routes whose answers may be reused ([`REUSED`]).
const REUSABLE: [&str; 3] = ["/api/recommendations/", "/api/segments/", "/api/forecasts/"];

/// Largest answer given a tag: far above any the API writes (1,000 alerts are about 1 MB).
const MOST_TAGGED: usize = 64 << 20;

/// The `Cache-Control` of an answer to `path`.
fn cache_control(path: &str) -> HeaderValue {
    if REUSABLE.iter().any(|prefix| path.starts_with(prefix)) {
        HeaderValue::from_static(REUSED)
    } else {
        HeaderValue::from_static("private, no-cache")
    }
}

/// Whether `If-None-Match` (a list of tags, or `*`) names `tag`; weak tags match too, as the
/// header's weak comparison has it.
fn matches(if_none_match: &str, tag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == tag)
}

/// The middleware: tags and marks successful `GET` and `HEAD` answers under `/api/`, and answers
/// 304 when the caller holds the same. A `HEAD` is answered as the `GET` would be, without the
/// body: axum empties a `HEAD` answer's body before a tag could be taken from it.
pub async fn validators(mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let head = request.method() == Method::HEAD;
    if (request.method() != Method::GET && !head) || !path.starts_with("/api/") {
        return next.run(request).await;
    }
    if head {
        *request.method_mut() = Method::GET;
    }
    let if_none_match =
        request.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MOST_TAGGED).await {
        Ok(body) => body,
        Err(e) => {
            return ApiError::Internal { message: format!("reading the answer to tag it: {e}") }
                .into_response();
        }
    };
    let digest = shopsense::bronze::sha256_hex(&body);
    let tag = format!("\"{}\"", &digest[..32]);
    if let Ok(value) = HeaderValue::from_str(&tag) {
        parts.headers.insert(header::ETAG, value);
    }
    parts.headers.insert(header::CACHE_CONTROL, cache_control(&path));
    if if_none_match.as_deref().is_some_and(|held| matches(held, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    if head {
        parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_tag_matches_in_a_list_weak_or_as_a_wildcard() {
        let tag = "\"abc\"";
        assert!(matches("\"abc\"", tag));
        assert!(matches("\"x\", W/\"abc\"", tag));
        assert!(matches("*", tag));
        assert!(!matches("\"abd\"", tag));
    }

    #[test]
    fn answers_for_the_storefront_are_reused_briefly_and_the_shops_views_revalidated() {
        assert_eq!(cache_control("/api/recommendations/items/85123A/similar"), "private, max-age=60");
        assert_eq!(cache_control("/api/forecasts/85123A"), "private, max-age=60");
        assert_eq!(cache_control("/api/alerts"), "private, no-cache");
        assert_eq!(cache_control("/api/models"), "private, no-cache");
    }
}
