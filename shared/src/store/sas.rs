//! Account SAS tokens signed with a storage account key, for key-based blob connections
//! (Azurite, or a real account reached with a key).
//!
//! The official `azure_storage_blob` client has no shared-key constructor: with no credential it
//! sends whatever query the URL carries. So a key never travels; instead [`AccountSasPolicy`], a
//! per-try pipeline policy, puts a fresh account SAS on every request. Tokens live one hour
//! ([`LIFETIME`], starting [`CLOCK_SKEW`] in the past) and are re-signed when less than
//! [`RENEW_BEFORE`] remains, so a long-running process never holds an expired token and a leaked
//! URL is useless within the hour.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request, Url};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::{StoreError, StoreResult};
use crate::settings::Secret;

/// The SAS version (`sv`) we sign: it fixes the string-to-sign layout (>= 2020-12-06 adds the
/// encryption scope field), independently of the REST API version the client speaks.
pub(crate) const SAS_VERSION: &str = "2022-11-02";
/// Signed services (`ss`): Blob only.
const SERVICES: &str = "b";
/// Signed resource types (`srt`): service, container and object.
const RESOURCE_TYPES: &str = "sco";
/// Signed permissions (`sp`), in the documented order: read, write, delete, list, create.
/// Everything the store does (including creating its containers) and nothing more.
const PERMISSIONS: &str = "rwdlc";
/// How long one token is valid.
pub(crate) const LIFETIME: Duration = Duration::hours(1);
/// A token is re-signed when less than this remains (covers long retries of one request).
pub(crate) const RENEW_BEFORE: Duration = Duration::minutes(15);
/// Tokens start this far in the past so that a server clock slightly behind ours accepts them.
pub(crate) const CLOCK_SKEW: Duration = Duration::minutes(5);
/// The query parameters an account SAS consists of (replaced, never duplicated, on retries).
const SAS_PARAMETERS: [&str; 10] = ["sv", "ss", "srt", "sp", "st", "se", "sip", "spr", "ses", "sig"];

/// Signs account SAS tokens for one account; caches the current token.
pub(crate) struct AccountSas {
    account: String,
    key: Vec<u8>,
    protocol: &'static str,
    current: Mutex<Option<Token>>,
}

#[derive(Clone)]
struct Token {
    query: String,
    expires: DateTime<Utc>,
}

impl fmt::Debug for AccountSas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key, never a token.
        f.debug_struct("AccountSas")
            .field("account", &self.account)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl AccountSas {
    /// A signer for `account` with its base64 `key`. `https_only` restricts the tokens to
    /// HTTPS (`spr=https`); otherwise they also allow HTTP (`spr=https,http`, emulators).
    pub(crate) fn new(account: &str, key: &Secret, https_only: bool) -> StoreResult<Self> {
        if account.is_empty() {
            return Err(StoreError::Config("the blob account name is empty".into()));
        }
        let key = STANDARD.decode(key.expose().trim()).map_err(|_| {
            StoreError::Config(format!("the account key of blob account {account:?} is not valid base64"))
        })?;
        if key.is_empty() {
            return Err(StoreError::Config(format!("the account key of blob account {account:?} is empty")));
        }
        Ok(Self {
            account: account.to_owned(),
            key,
            protocol: if https_only { "https" } else { "https,http" },
            current: Mutex::new(None),
        })
    }

    /// The account this signer signs for.
    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// A token valid at `now` for at least [`RENEW_BEFORE`] more: the cached one, or a fresh
    /// one valid from `now - CLOCK_SKEW` to `now + LIFETIME`.
    pub(crate) fn token_at(&self, now: DateTime<Utc>) -> String {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(token) = current.as_ref().filter(|t| t.expires - now > RENEW_BEFORE) {
            return token.query.clone();
        }
        let expires = now + LIFETIME;
        let token = Token { query: self.sign(now - CLOCK_SKEW, expires), expires };
        *current = Some(token.clone());
        token.query
    }

    /// The query string of an account SAS valid from `start` to `expiry`.
    pub(crate) fn sign(&self, start: DateTime<Utc>, expiry: DateTime<Utc>) -> String {
        let (st, se) = (sas_time(start), sas_time(expiry));
        let to_sign = string_to_sign(&AccountSasFields {
            account: &self.account,
            permissions: PERMISSIONS,
            services: SERVICES,
            resource_types: RESOURCE_TYPES,
            start: &st,
            expiry: &se,
            ip: "",
            protocol: self.protocol,
            version: SAS_VERSION,
            encryption_scope: "",
        });
        let sig = signature(&self.key, &to_sign);
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("sv", SAS_VERSION)
            .append_pair("ss", SERVICES)
            .append_pair("srt", RESOURCE_TYPES)
            .append_pair("sp", PERMISSIONS)
            .append_pair("st", &st)
            .append_pair("se", &se)
            .append_pair("spr", self.protocol)
            .append_pair("sig", &sig)
            .finish()
    }
}

/// The fields of an account SAS, in string-to-sign order.
pub(crate) struct AccountSasFields<'a> {
    pub account: &'a str,
    pub permissions: &'a str,
    pub services: &'a str,
    pub resource_types: &'a str,
    pub start: &'a str,
    pub expiry: &'a str,
    pub ip: &'a str,
    pub protocol: &'a str,
    pub version: &'a str,
    pub encryption_scope: &'a str,
}

/// The account-SAS string-to-sign for `sv >= 2020-12-06`: each field followed by `\n`.
pub(crate) fn string_to_sign(f: &AccountSasFields<'_>) -> String {
    [
        f.account,
        f.permissions,
        f.services,
        f.resource_types,
        f.start,
        f.expiry,
        f.ip,
        f.protocol,
        f.version,
        f.encryption_scope,
    ]
    .iter()
    .fold(String::new(), |mut out, field| {
        out.push_str(field);
        out.push('\n');
        out
    })
}

/// `base64(HMAC-SHA256(key, string_to_sign))`.
pub(crate) fn signature(key: &[u8], string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// ISO 8601 UTC to the second, as SAS times are written.
fn sas_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Puts `token` (a SAS query string) on `url`, replacing any SAS parameters already there and
/// keeping every other parameter as it was encoded.
pub(crate) fn apply_sas(url: &mut Url, token: &str) {
    let kept: Vec<&str> = url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            !pair.is_empty() && !SAS_PARAMETERS.contains(&name)
        })
        .collect();
    let mut query = kept.join("&");
    if !token.is_empty() {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(token);
    }
    url.set_query((!query.is_empty()).then_some(query.as_str()));
}

/// Pipeline policy (per try) that signs every request with a current account SAS.
#[derive(Debug)]
pub(crate) struct AccountSasPolicy {
    sas: Arc<AccountSas>,
}

impl AccountSasPolicy {
    pub(crate) fn new(sas: Arc<AccountSas>) -> Self {
        Self { sas }
    }
}

#[async_trait]
impl Policy for AccountSasPolicy {
    async fn send(&self, ctx: &Context, request: &mut Request, next: &[Arc<dyn Policy>]) -> PolicyResult {
        let token = self.sas.token_at(Utc::now());
        apply_sas(request.url_mut(), &token);
        next[0].send(ctx, request, &next[1..]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::EMULATOR_KEY;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    // Expected values computed independently, once, with Python's hmac/hashlib/base64 and
    // urllib.parse.urlencode over the same fields and Azurite's documented key.
    const EXPECTED_STRING_TO_SIGN: &str = "devstoreaccount1\nrwdlc\nb\nsco\n2026-01-01T00:00:00Z\n2026-01-01T01:00:00Z\n\nhttps,http\n2022-11-02\n\n";
    const EXPECTED_SIG_HTTP: &str = "eQTUQoNbLz1thrrvICzBh/PqtWjpdyTn2pHc4VOTLjU=";
    const EXPECTED_QUERY_HTTP: &str = "sv=2022-11-02&ss=b&srt=sco&sp=rwdlc&st=2026-01-01T00%3A00%3A00Z\
        &se=2026-01-01T01%3A00%3A00Z&spr=https%2Chttp&sig=eQTUQoNbLz1thrrvICzBh%2FPqtWjpdyTn2pHc4VOTLjU%3D";
    const EXPECTED_QUERY_HTTPS: &str = "sv=2022-11-02&ss=b&srt=sco&sp=rwdlc&st=2026-01-01T00%3A00%3A00Z\
        &se=2026-01-01T01%3A00%3A00Z&spr=https&sig=s5EiBQW6ywgXZOUt4u%2BLRpxpT9NBbCrs8d4c36UG0Tk%3D";

    #[test]
    fn string_to_sign_and_signature_match_a_known_answer() {
        let to_sign = string_to_sign(&AccountSasFields {
            account: "devstoreaccount1",
            permissions: "rwdlc",
            services: "b",
            resource_types: "sco",
            start: "2026-01-01T00:00:00Z",
            expiry: "2026-01-01T01:00:00Z",
            ip: "",
            protocol: "https,http",
            version: "2022-11-02",
            encryption_scope: "",
        });
        assert_eq!(to_sign, EXPECTED_STRING_TO_SIGN);
        let key = STANDARD.decode(EMULATOR_KEY).unwrap();
        assert_eq!(signature(&key, &to_sign), EXPECTED_SIG_HTTP);
    }

    #[test]
    fn signed_query_matches_a_known_answer() {
        let (start, expiry) = (at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"));
        let http = AccountSas::new("devstoreaccount1", &Secret::new(EMULATOR_KEY), false).unwrap();
        assert_eq!(http.sign(start, expiry), EXPECTED_QUERY_HTTP);
        let https = AccountSas::new("devstoreaccount1", &Secret::new(EMULATOR_KEY), true).unwrap();
        assert_eq!(https.sign(start, expiry), EXPECTED_QUERY_HTTPS);
    }

    #[test]
    fn tokens_are_cached_then_re_signed_before_they_expire() {
        let sas = AccountSas::new("devstoreaccount1", &Secret::new(EMULATOR_KEY), false).unwrap();
        let t0 = at("2026-01-01T00:00:00Z");
        let first = sas.token_at(t0);
        assert!(first.contains("st=2025-12-31T23%3A55%3A00Z"), "starts CLOCK_SKEW early: {first}");
        assert!(first.contains("se=2026-01-01T01%3A00%3A00Z"), "lives LIFETIME: {first}");
        assert_eq!(sas.token_at(t0 + Duration::minutes(44)), first, "still fresh: reused");
        let renewed = sas.token_at(t0 + Duration::minutes(46));
        assert_ne!(renewed, first, "under RENEW_BEFORE left: re-signed");
        assert!(renewed.contains("se=2026-01-01T01%3A46%3A00Z"), "{renewed}");
    }

    #[test]
    fn bad_keys_are_configuration_errors_that_do_not_echo_the_key() {
        let err = AccountSas::new("acct", &Secret::new("not base64 !!"), true).unwrap_err();
        assert!(matches!(err, StoreError::Config(_)), "{err:?}");
        assert!(!err.to_string().contains("not base64 !!"), "{err}");
        assert!(AccountSas::new("", &Secret::new(EMULATOR_KEY), true).is_err());
    }

    #[test]
    fn debug_never_shows_the_key_or_a_token() {
        let sas = AccountSas::new("devstoreaccount1", &Secret::new(EMULATOR_KEY), false).unwrap();
        let token = sas.token_at(Utc::now());
        let shown = format!("{sas:?}");
        let shown = format!("{shown} {:?}", AccountSasPolicy::new(Arc::new(sas)));
        assert!(!shown.contains(&EMULATOR_KEY[..12]), "{shown}");
        assert!(!shown.contains("sig=") && !shown.contains(&token), "{shown}");
    }

    #[test]
    fn applying_a_token_replaces_old_sas_parameters_and_keeps_the_rest() {
        let mut url = Url::parse("http://h/acct/c?restype=container&comp=list&prefix=a%2Fb").unwrap();
        apply_sas(&mut url, "sv=1&sig=one");
        assert_eq!(url.query(), Some("restype=container&comp=list&prefix=a%2Fb&sv=1&sig=one"));
        apply_sas(&mut url, "sv=2&sig=two");
        assert_eq!(url.query(), Some("restype=container&comp=list&prefix=a%2Fb&sv=2&sig=two"));
        let mut bare = Url::parse("http://h/acct/c/blob").unwrap();
        apply_sas(&mut bare, "sv=3&sig=three");
        assert_eq!(bare.as_str(), "http://h/acct/c/blob?sv=3&sig=three");
    }
}
