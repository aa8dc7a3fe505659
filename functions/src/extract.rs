//! Path and query extractors whose rejections are [`ApiError`]s: a bad URL gets the JSON 400
//! every other bad input gets (axum's own rejections answer in plain text, e.g. `Invalid URL:
//! Invalid UTF-8 in 'sku'` for `/api/forecasts/%FF`).

use std::collections::{HashMap, HashSet};

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

/// The query parameter a caller may send the function key in (`?code=`, as Azure Functions
/// takes it). The Functions host checks it and forwards the query string as it came, so every
/// route takes it and reads nothing from it.
pub const FUNCTION_KEY: &str = "code";

/// Ad networks' click ids, carried from a storefront's own URL as campaign tags are.
const CLICK_IDS: [&str; 5] = ["gclid", "fbclid", "msclkid", "gbraid", "wbraid"];

/// Whether a parameter is one a caller's tooling adds to any URL rather than one it means for
/// the route: the function key, a cache-buster (`_`, what jQuery's `cache: false` and many fetch
/// wrappers append), a campaign tag (`utm_source`, ... in any case) or an ad click id (`gclid`,
/// `fbclid`, ...), both carried from a storefront's own URL.
/// Every route takes them and reads nothing from them; any other parameter a route does not take
/// is refused, so a misspelt one (`?kk=5`) is not quietly ignored.
#[must_use]
pub fn is_passed_over(name: &str) -> bool {
    name == FUNCTION_KEY
        || name == "_"
        || name.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("utm_"))
        || CLICK_IDS.iter().any(|id| id.eq_ignore_ascii_case(name))
}

/// The query string's parameters, percent-decoded; a parameter given twice is refused.
#[derive(Debug)]
pub struct QueryParams {
    values: HashMap<String, String>,
    /// Parameters given bare, without `=` (`?include_purchased`).
    bare: HashSet<String>,
}

impl QueryParams {
    /// Refuses a parameter the route does not take, naming those it does. The function key, a
    /// cache-buster and campaign tags ([`is_passed_over`]) are taken everywhere.
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] naming the first unknown parameter.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut names: Vec<&String> =
            self.values.keys().filter(|p| !is_passed_over(p) && !allowed.contains(&p.as_str())).collect();
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
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A yes/no parameter, in any case: absent or empty (`?include_purchased=`, as [`Self::get`]
    /// reads any empty value) is no; bare (`?include_purchased`), `true`, `1`, `yes` or `on` (a
    /// ticked checkbox) is yes; `false`, `0`, `no` or `off` is no.
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] for any other value.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        if self.bare.contains(name) {
            return Ok(true);
        }
        let Some(value) = self.get(name) else { return Ok(false) };
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ApiError::BadRequest {
                message: format!("{name} must be true or false (or 1/0, yes/no, on/off), got {value:?}"),
            }),
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
        let mut values = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            // Tooling's parameters may repeat (two cache-busters, a tag carried twice): read once.
            if values.contains_key(&name) && !is_passed_over(&name) {
                return Err(ApiError::BadRequest {
                    message: format!("query parameter {name:?} is given more than once; give it once"),
                });
            }
            values.insert(name, value);
        }
        // `?a` and `?a=` decode alike; only the raw query tells a bare flag from a blank field.
        let bare = parts
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|piece| !piece.is_empty() && !piece.contains('='))
            .filter_map(|piece| {
                let name = piece.replace('+', " ");
                percent_encoding::percent_decode_str(&name)
                    .decode_utf8()
                    .ok()
                    .map(std::borrow::Cow::into_owned)
            })
            .collect();
        Ok(Self { values, bare })
    }
}
