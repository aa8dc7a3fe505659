//! Browser access to the local API (CORS), configured as Core Tools configures `func start`:
//! `Host.CORS` and `Host.CORSCredentials` in `local.settings.json`, or `--cors` and
//! `--cors-credentials` on `shopsense local`.
//!
//! Only the local runner answers CORS itself. In Azure the platform answers it in front of the
//! Functions host (`corsAllowedOrigins` in `infra/`), so `serve` adds no headers of its own.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use tower::ServiceExt;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// The routes browsers may call: the API, not the invocation routes the host and timers use.
const BROWSER_ROUTES: &str = "/api/";

/// Why a CORS setting cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CorsError {
    /// An entry is not an origin (`scheme://host[:port]`, nothing after it).
    #[error(
        "CORS origin {origin:?} is not an origin: write scheme://host[:port] with nothing after it, e.g. http://localhost:3000"
    )]
    NotAnOrigin {
        /// The entry as written.
        origin: String,
    },
    /// `*` with credentials: browsers refuse a wildcard answer to a request with credentials.
    #[error(
        "CORS origin * cannot go with credentials (CORSCredentials / --cors-credentials): browsers refuse it; list the origins"
    )]
    WildcardWithCredentials,
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `*`: any origin.
    Any,
    /// These origins, exactly as browsers send them (no trailing slash).
    List(Vec<String>),
}

/// A parsed CORS setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    /// The origins allowed.
    pub origins: AllowedOrigins,
    /// Whether requests may carry credentials (cookies, authorization).
    pub credentials: bool,
}

impl CorsPolicy {
    /// Parses a comma-separated list of origins (`*` for any). A blank setting allows none:
    /// `None`, as without the setting.
    pub fn parse(setting: &str, credentials: bool) -> Result<Option<Self>, CorsError> {
        let entries: Vec<&str> = setting.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        if entries.is_empty() {
            return Ok(None);
        }
        let origins = if entries.contains(&"*") {
            if credentials {
                return Err(CorsError::WildcardWithCredentials);
            }
            AllowedOrigins::Any
        } else {
            AllowedOrigins::List(entries.into_iter().map(origin).collect::<Result<_, _>>()?)
        };
        Ok(Some(Self { origins, credentials }))
    }

    /// `app` answering CORS on [`BROWSER_ROUTES`] and as before everywhere else.
    ///
    /// Dispatched by path in front of the router rather than mounted as a route of its own, so
    /// the API's handlers see exactly the path parameters they declare.
    pub fn apply(&self, app: Router) -> Router {
        let with_cors = app.clone().layer(self.layer());
        Router::new().fallback_service(tower::service_fn(move |request: Request| {
            let target = if request.uri().path().starts_with(BROWSER_ROUTES) { &with_cors } else { &app };
            target.clone().oneshot(request)
        }))
    }

    /// The tower layer answering preflights and adding the headers to every answer.
    fn layer(&self) -> CorsLayer {
        let layer = CorsLayer::new()
            .allow_methods([Method::GET, Method::HEAD, Method::POST])
            .expose_headers([header::RETRY_AFTER, header::ALLOW, header::ETAG])
            .max_age(std::time::Duration::from_secs(600));
        match &self.origins {
            AllowedOrigins::Any => layer.allow_origin(AllowOrigin::any()).allow_headers(AllowHeaders::any()),
            AllowedOrigins::List(list) => layer
                .allow_origin(AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok())))
                // With credentials a wildcard is refused by browsers: echo what was asked.
                .allow_headers(AllowHeaders::mirror_request())
                .allow_credentials(self.credentials),
        }
    }

    /// One line for the log and the local runner's banner.
    #[must_use]
    pub fn describe(&self) -> String {
        let origins = match &self.origins {
            AllowedOrigins::Any => "any origin".to_owned(),
            AllowedOrigins::List(list) => list.join(", "),
        };
        if self.credentials { format!("{origins} (with credentials)") } else { origins }
    }
}

/// One origin, normalised as browsers send it: lower-case scheme and host, no trailing slash.
fn origin(entry: &str) -> Result<String, CorsError> {
    let not_an_origin = || CorsError::NotAnOrigin { origin: entry.to_owned() };
    let url = url::Url::parse(entry).map_err(|_| not_an_origin())?;
    // A wildcard inside a host (`https://*.shop.example`) would be taken literally and match
    // nothing: refused rather than silently useless.
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(|host| host.contains('*'))
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(not_an_origin());
    }
    let origin = url.origin().ascii_serialization();
    HeaderValue::from_str(&origin).map_err(|_| not_an_origin())?;
    Ok(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_and_anything_else_is_refused_by_name() {
        let policy =
            CorsPolicy::parse(" http://localhost:3000 , HTTPS://Shop.Example/ ", false).unwrap().unwrap();
        assert_eq!(
            policy.origins,
            AllowedOrigins::List(vec!["http://localhost:3000".into(), "https://shop.example".into()])
        );
        for bad in
            ["localhost:3000", "ftp://x.example", "https://shop.example/path", "https://*.shop.example"]
        {
            assert_eq!(
                CorsPolicy::parse(bad, false),
                Err(CorsError::NotAnOrigin { origin: bad.into() }),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn a_wildcard_allows_any_but_not_with_credentials_and_blank_allows_none() {
        assert_eq!(CorsPolicy::parse("*", false).unwrap().unwrap().origins, AllowedOrigins::Any);
        assert_eq!(CorsPolicy::parse("*", true), Err(CorsError::WildcardWithCredentials));
        assert_eq!(CorsPolicy::parse(" , ", true), Ok(None));
    }
}
