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

/// The query string's parameters, percent-decoded; a parameter given twice is refused.
#[derive(Debug)]
pub struct QueryParams(HashMap<String, String>);

impl QueryParams {
    /// Refuses a parameter the route does not take, naming those it does.
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] naming the first unknown parameter.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut names: Vec<&String> = self.0.keys().filter(|p| !allowed.contains(&p.as_str())).collect();
        names.sort();
        match names.first() {
            Some(unknown) if allowed.is_empty() => Err(ApiError::BadRequest {
                message: format!("unknown query parameter {unknown:?}; none is taken"),
            }),
            Some(unknown) => Err(ApiError::BadRequest {
                message: format!("unknown query parameter {unknown:?}; allowed: {}", allowed.join(", ")),
            }),
            None => Ok(()),
        }
    }

    /// The parameter's value. An empty one (`?severity=&k=`, what a form's blank field sends)
    /// reads as not given, on every route alike.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A yes/no parameter: absent is no; bare (`?include_purchased`), `true`, `1` or `on` (a
    /// ticked checkbox) is yes.
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] for any other value.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.0.get(name).map(String::as_str) {
            None | Some("false" | "0" | "off") => Ok(false),
            Some("" | "true" | "1" | "on") => Ok(true),
            Some(other) => {
                Err(ApiError::BadRequest { message: format!("{name} must be true or false, got {other:?}") })
            }
        }
    }
}

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
