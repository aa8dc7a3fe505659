//! Path and query extractors whose rejections are [`ApiError`]s: a bad URL gets the JSON 400
//! every other bad input gets (axum's own rejections answer in plain text, e.g. `Invalid URL:
//! Invalid UTF-8 in 'sku'` for `/api/forecasts/%FF`).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;

use crate::error::ApiError;

/// The route's one path parameter, percent-decoded.
#[derive(Debug)]
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(e) => Err(ApiError::BadRequest { message: format!("path: {}", e.body_text()) }),
        }
    }
}

/// The query string's parameters, percent-decoded (a repeated one keeps its last value).
#[derive(Debug)]
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Read as pairs first: a parameter given twice (`?k=2&k=50`) is refused, not decided by
        // whichever comes last.
        let pairs = match Query::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Query(pairs)) => pairs,
            Err(e) => {
                return Err(ApiError::BadRequest { message: format!("query string: {}", e.body_text()) });
            }
        };
        let mut params = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if params.contains_key(&name) {
                return Err(ApiError::BadRequest {
                    message: format!("query parameter {name:?} is given more than once; give it once"),
                });
            }
            params.insert(name, value);
        }
        Ok(Self(params))
    }
}
