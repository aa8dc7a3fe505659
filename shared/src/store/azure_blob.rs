//! Azure Blob Storage behind [`BlobService`] / [`BlobStore`], with the official
//! `azure_storage_blob` 1.x client.
//!
//! Authentication follows [`BlobAuth`]:
//! - `Identity`: Entra ID tokens from `ManagedIdentityCredential` (user-assigned when a client
//!   id is given) or, on a workstation, `DeveloperToolsCredential` (Azure CLI, then azd). The
//!   endpoint must be https.
//! - `AccountKey`: the key never travels. A per-try pipeline policy puts an **account SAS**
//!   signed with it on every request; a token lives one hour and is re-signed 15 minutes before
//!   it expires (see the `sas` module), so the process never holds an expired one.
//! - `Sas`: the ready token goes into the service URL's query, which every client inherits.
//!
//! Errors: 404 on reads is `Ok(None)`/`false`; conditional-write failures become
//! `AlreadyExists`/`Precondition`/`NotFound`; everything else is `Backend { backend:
//! "azure-blob" }`, transient for 408, 429, 5xx and I/O or connection failures. Messages say
//! what was being done and the HTTP status and storage error code, and never carry a SAS.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, Etag, Url};
use azure_core::time::OffsetDateTime;
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use azure_storage_blob::models::{
    BlobClientDeleteOptions, BlobClientGetPropertiesResultHeaders, BlobClientUploadOptions,
    BlobContainerClientListBlobsOptions, BlobItem, DeleteSnapshotsOptionType, ListBlobsIncludeItem,
};
use azure_storage_blob::{BlobContainerClient, BlobServiceClient, BlobServiceClientOptions};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;

use super::blob::{
    Blob, BlobMeta, BlobService, BlobStore, ETag, PutMode, PutOptions, validate_container_name,
    validate_metadata, validate_path,
};
use super::error::{StoreError, StoreResult};
use super::sas::{AccountSas, AccountSasPolicy, apply_sas};
use crate::settings::{BlobAuth, BlobConnection, IdentityCredential};

/// The `backend` name in [`StoreError::Backend`].
const BACKEND: &str = "azure-blob";

/// A blob account reached through one shared `BlobServiceClient`.
pub struct AzureBlobService {
    client: BlobServiceClient,
    /// The endpoint without any query, for messages.
    endpoint: String,
    /// How we authenticate, for `Debug` (no secrets).
    auth: String,
}

impl fmt::Debug for AzureBlobService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBlobService")
            .field("endpoint", &self.endpoint)
            .field("auth", &self.auth)
            .finish()
    }
}

impl AzureBlobService {
    /// Builds the client for `connection` once; makes no request.
    pub fn new(connection: &BlobConnection) -> StoreResult<Self> {
        let raw = connection.endpoint.trim().trim_end_matches('/');
        let mut url = Url::parse(raw).map_err(|e| {
            StoreError::Config(format!("blob endpoint {:?} is not a URL: {e}", strip_query(raw)))
        })?;
        if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
            return Err(StoreError::Config(format!(
                "blob endpoint {:?} must be an http(s) URL such as https://<account>.blob.core.windows.net",
                strip_query(raw)
            )));
        }
        if url.query().is_some() {
            return Err(StoreError::Config(format!(
                "blob endpoint {:?} must not carry a query: give a SAS as the connection's SharedAccessSignature",
                strip_query(raw)
            )));
        }
        let endpoint = url.as_str().trim_end_matches('/').to_owned();
        let https = url.scheme() == "https";
        let mut options = BlobServiceClientOptions::default();
        let (credential, auth): (Option<Arc<dyn TokenCredential>>, String) = match &connection.auth {
            BlobAuth::Identity(identity) => {
                if !https {
                    return Err(StoreError::Config(format!(
                        "blob endpoint {endpoint:?} must use https with an identity-based connection"
                    )));
                }
                identity_credential(identity)?
            }
            BlobAuth::AccountKey { account, key } => {
                let sas = Arc::new(AccountSas::new(account, key, https)?);
                let auth =
                    format!("account key of {:?} (account SAS per request, re-signed hourly)", sas.account());
                options.client_options = ClientOptions {
                    per_try_policies: vec![Arc::new(AccountSasPolicy::new(sas))],
                    ..ClientOptions::default()
                };
                (None, auth)
            }
            BlobAuth::Sas(token) => {
                let token = token.expose().trim().trim_start_matches('?');
                if !token.split('&').any(|pair| pair.starts_with("sig=")) {
                    return Err(StoreError::Config(
                        "the blob SAS token has no `sig` parameter: give the whole token (sv=...&sig=...)"
                            .into(),
                    ));
                }
                apply_sas(&mut url, token);
                (None, "SAS token".to_owned())
            }
        };
        let client = BlobServiceClient::new(url, credential, Some(options)).map_err(|e| {
            StoreError::Config(format!(
                "cannot build the blob client for {endpoint}: {}",
                redact(&e.to_string())
            ))
        })?;
        Ok(Self { client, endpoint, auth })
    }

    /// Opens (creating it if needed) the container `name` as its concrete type.
    pub async fn open_container(&self, name: &str) -> StoreResult<AzureBlobContainer> {
        validate_container_name(name)?;
        let client = self.client.blob_container_client(name);
        let location = format!("{}/{name}", self.endpoint);
        // Look first, so an identity that may only read and write blobs can still open an
        // existing container; create only when it is missing.
        let exists = client
            .exists()
            .await
            .map_err(|e| backend_error(&format!("check that container {location} exists"), e))?;
        if !exists {
            match client.create(None).await {
                Ok(_) => tracing::info!(container = %location, "created blob container"),
                // Someone else created it meanwhile: fine.
                Err(e) if error_code(&e) == Some("ContainerAlreadyExists") => {}
                Err(e) => return Err(backend_error(&format!("create container {location}"), e)),
            }
        }
        Ok(AzureBlobContainer { client, location, list_page_size: None })
    }
}

fn identity_credential(
    identity: &IdentityCredential,
) -> StoreResult<(Option<Arc<dyn TokenCredential>>, String)> {
    let credential_error =
        |what: &str, e: azure_core::Error| StoreError::Config(format!("cannot set up {what}: {e}"));
    match identity {
        IdentityCredential::ManagedIdentity { client_id } => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                ..ManagedIdentityCredentialOptions::default()
            };
            let credential = ManagedIdentityCredential::new(Some(options))
                .map_err(|e| credential_error("the managed identity credential", e))?;
            let auth = match client_id {
                Some(id) => format!("managed identity (user-assigned, client id {id})"),
                None => "managed identity (system-assigned)".to_owned(),
            };
            Ok((Some(credential), auth))
        }
        IdentityCredential::Developer => {
            let credential = DeveloperToolsCredential::new(None)
                .map_err(|e| credential_error("the developer credential (Azure CLI / azd)", e))?;
            Ok((Some(credential), "developer tools (Azure CLI, then azd)".to_owned()))
        }
    }
}

#[async_trait]
impl BlobService for AzureBlobService {
    async fn container(&self, name: &str) -> StoreResult<Arc<dyn BlobStore>> {
        Ok(Arc::new(self.open_container(name).await?))
    }
}

/// One blob container.
pub struct AzureBlobContainer {
    client: BlobContainerClient,
    /// `<endpoint>/<container>`, without any SAS.
    location: String,
    /// Page size of listings (`maxresults`); the service default (5000) when `None`.
    list_page_size: Option<i32>,
}

impl fmt::Debug for AzureBlobContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBlobContainer").field("location", &self.location).finish()
    }
}

impl AzureBlobContainer {
    /// Lists in pages of `size` blobs (tests use a small size to exercise paging).
    #[must_use]
    pub fn with_list_page_size(mut self, size: u16) -> Self {
        self.list_page_size = Some(i32::from(size.max(1)));
        self
    }

    fn describe(&self, path: &str) -> String {
        format!("blob {path:?} in {}", self.location)
    }

    /// Deletes `path`, only while its ETag is `only_at` when given (If-Match: a 412 means it was
    /// written since, or, from Azurite, that it is gone: look).
    async fn delete_at(&self, path: &str, only_at: Option<&ETag>) -> StoreResult<bool> {
        validate_path(path)?;
        let options = BlobClientDeleteOptions {
            delete_snapshots: Some(DeleteSnapshotsOptionType::Include),
            if_match: only_at.map(|etag| Etag::from(etag.0.as_str())),
            ..BlobClientDeleteOptions::default()
        };
        match self.client.blob_client(path).delete(Some(options)).await {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(404) => Ok(false),
            Err(e) if status(&e) == Some(412) && only_at.is_some() => match self.head(path).await? {
                Some(_) => Err(StoreError::Precondition { what: path.to_owned() }),
                None => Ok(false),
            },
            Err(e) => Err(backend_error(&format!("delete {}", self.describe(path)), e)),
        }
    }

    /// Turns a failed upload into the error its mode calls for.
    async fn put_failed(&self, path: &str, mode: &PutMode, err: azure_core::Error) -> StoreError {
        let status = status(&err);
        let code = error_code(&err);
        match mode {
            PutMode::Create if status == Some(412) || code == Some("BlobAlreadyExists") => {
                StoreError::AlreadyExists { what: path.to_owned() }
            }
            PutMode::Update(_) if code == Some("BlobNotFound") => {
                StoreError::NotFound { what: path.to_owned() }
            }
            // 412 means either "changed" or "not there at all": look.
            PutMode::Update(_) if status == Some(412) => match self.head(path).await {
                Ok(Some(_)) => StoreError::Precondition { what: path.to_owned() },
                Ok(None) => StoreError::NotFound { what: path.to_owned() },
                Err(e) => e,
            },
            _ => backend_error(&format!("write {} ({})", self.describe(path), mode_header(mode)), err),
        }
    }
}

fn mode_header(mode: &PutMode) -> String {
    match mode {
        PutMode::Overwrite => "unconditional".to_owned(),
        PutMode::Create => "If-None-Match: *".to_owned(),
        PutMode::Update(etag) => format!("If-Match: {etag}"),
    }
}

#[async_trait]
impl BlobStore for AzureBlobContainer {
    fn location(&self) -> String {
        format!("azure-blob {}", self.location)
    }

    async fn put(&self, path: &str, body: Bytes, options: PutOptions) -> StoreResult<BlobMeta> {
        validate_path(path)?;
        validate_metadata(&options.metadata)?;
        if let Some(content_type) = &options.content_type
            && (content_type.is_empty() || !content_type.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            return Err(StoreError::invalid(
                format!("content type {content_type:?}"),
                "use non-empty printable ASCII",
            ));
        }
        let size = body.len() as u64;
        let mut upload = BlobClientUploadOptions {
            blob_content_type: options.content_type.clone(),
            metadata: (!options.metadata.is_empty()).then(|| {
                options.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>()
            }),
            ..BlobClientUploadOptions::default()
        };
        match &options.mode {
            PutMode::Overwrite => {}
            PutMode::Create => upload.if_none_match = Some(Etag::from("*")),
            PutMode::Update(etag) => upload.if_match = Some(Etag::from(etag.0.as_str())),
        }
        let result = match self.client.blob_client(path).upload(body.into(), Some(upload)).await {
            Ok(result) => result,
            Err(err) => return Err(self.put_failed(path, &options.mode, err).await),
        };
        let etag =
            result.etag.ok_or_else(|| missing_header("ETag", &format!("write {}", self.describe(path))))?;
        Ok(BlobMeta {
            path: path.to_owned(),
            size,
            etag: ETag(etag.to_string()),
            last_modified: result.last_modified.map_or_else(Utc::now, to_utc),
            content_type: options.content_type,
            metadata: options.metadata,
        })
    }

    async fn get(&self, path: &str) -> StoreResult<Option<Blob>> {
        validate_path(path)?;
        let doing = || format!("read {}", self.describe(path));
        let download = match self.client.blob_client(path).download(None).await {
            Ok(download) => download,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(read_error(&doing(), e)),
        };
        let props = download.properties;
        let body = download.body.collect().await.map_err(|e| read_error(&doing(), e))?;
        let etag = props.etag.ok_or_else(|| missing_header("ETag", &doing()))?;
        let meta = BlobMeta {
            path: path.to_owned(),
            size: body.len() as u64,
            etag: ETag(etag.to_string()),
            last_modified: props.last_modified.map_or_else(Utc::now, to_utc),
            content_type: props.content_type,
            metadata: props.metadata.into_iter().collect(),
        };
        Ok(Some(Blob { meta, body }))
    }

    async fn head(&self, path: &str) -> StoreResult<Option<BlobMeta>> {
        validate_path(path)?;
        let doing = || format!("read the properties of {}", self.describe(path));
        let response = match self.client.blob_client(path).get_properties(None).await {
            Ok(response) => response,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(backend_error(&doing(), e)),
        };
        let header = |e| backend_error(&format!("{} (parse headers)", doing()), e);
        let etag = response.etag().map_err(header)?.ok_or_else(|| missing_header("ETag", &doing()))?;
        Ok(Some(BlobMeta {
            path: path.to_owned(),
            size: response.content_length().map_err(header)?.unwrap_or(0),
            etag: ETag(etag.to_string()),
            last_modified: response.last_modified().map_err(header)?.map_or_else(Utc::now, to_utc),
            content_type: response.content_type().map_err(header)?,
            metadata: response.metadata().map_err(header)?.into_iter().collect(),
        }))
    }

    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobMeta>> {
        let doing = || format!("list blobs with prefix {prefix:?} in {}", self.location);
        let options = BlobContainerClientListBlobsOptions {
            include: Some(vec![ListBlobsIncludeItem::Metadata]),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            maxresults: self.list_page_size,
            ..BlobContainerClientListBlobsOptions::default()
        };
        // Flat listing (no delimiter); the pager follows NextMarker through every page.
        let mut items = self.client.list_blobs(Some(options)).map_err(|e| backend_error(&doing(), e))?;
        let mut metas = Vec::new();
        loop {
            match items.try_next().await {
                Ok(Some(item)) => metas.push(list_item_meta(item).ok_or_else(|| StoreError::Backend {
                    backend: BACKEND,
                    message: format!("{}: the listing has an entry without a name or ETag", doing()),
                    transient: false,
                    source: None,
                })?),
                Ok(None) => break,
                // The container is gone: nothing is under any prefix.
                Err(e) if status(&e) == Some(404) => return Ok(Vec::new()),
                Err(e) => return Err(backend_error(&doing(), e)),
            }
        }
        metas.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(metas)
    }

    async fn delete(&self, path: &str) -> StoreResult<bool> {
        self.delete_at(path, None).await
    }

    async fn delete_if(&self, path: &str, etag: &ETag) -> StoreResult<bool> {
        self.delete_at(path, Some(etag)).await
    }
}

/// A listing entry as [`BlobMeta`]; `None` when the service left out the name or ETag.
fn list_item_meta(item: BlobItem) -> Option<BlobMeta> {
    let properties = item.properties.unwrap_or_default();
    Some(BlobMeta {
        path: item.name?,
        size: properties.content_length.unwrap_or(0),
        etag: ETag(quoted_etag(properties.etag?.as_ref())),
        last_modified: properties.last_modified.map_or_else(Utc::now, to_utc),
        content_type: properties.content_type,
        metadata: item
            .metadata
            .and_then(|m| m.values)
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    })
}

/// Listings write ETags bare (`0x8D...`) where headers quote them (`"0x8D..."`): quote bare
/// ones so that put, head, get and list agree and any of them works in `If-Match`.
fn quoted_etag(etag: &str) -> String {
    if etag.starts_with('"') || etag.starts_with("W/") { etag.to_owned() } else { format!("\"{etag}\"") }
}

fn to_utc(t: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_default()
}

fn strip_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(base, _)| base)
}

/// The HTTP status of a service answer, if the error is one.
fn status(err: &azure_core::Error) -> Option<u16> {
    err.http_status().map(u16::from)
}

/// The storage error code (`x-ms-error-code`, e.g. `BlobNotFound`), if the service sent one.
fn error_code(err: &azure_core::Error) -> Option<&str> {
    match err.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

/// Whether a failure may go away on its own: 408, 429, 5xx, and I/O or connection failures.
fn is_transient(err: &azure_core::Error) -> bool {
    match err.kind() {
        ErrorKind::HttpResponse { status, .. } => {
            let status = u16::from(*status);
            status == 408 || status == 429 || status >= 500
        }
        ErrorKind::Io | ErrorKind::Connection => true,
        _ => false,
    }
}

/// The service's own `<Message>` (first line), if the error body has one.
fn service_message(err: &azure_core::Error) -> Option<String> {
    let ErrorKind::HttpResponse { raw_response: Some(response), .. } = err.kind() else { return None };
    let body = std::str::from_utf8(response.body()).ok()?;
    let start = body.find("<Message>")? + "<Message>".len();
    let end = start + body[start..].find("</Message>")?;
    let line = body[start..end].lines().next()?.trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// A [`StoreError::Backend`] saying what was being done and what the service said.
fn backend_error(doing: &str, err: azure_core::Error) -> StoreError {
    let transient = is_transient(&err);
    if let Some(status) = status(&err) {
        let code = error_code(&err)
            .filter(|c| *c != status.to_string())
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        let detail = service_message(&err).map(|m| format!(": {m}")).unwrap_or_default();
        let hint = match status {
            401 | 403 => " (check the credential and its role on the account, or the SAS/key and its expiry)",
            _ => "",
        };
        let message = redact(&format!("{doing}: HTTP {status}{code}{detail}{hint}"));
        // The service's answer holds no request URL, so no SAS: keep it for the logs.
        StoreError::backend(BACKEND, message, transient, err)
    } else {
        // Transport errors name the request URL, SAS included: flatten the chain, redacted,
        // and keep no source.
        let mut chain = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        StoreError::Backend {
            backend: BACKEND,
            message: redact(&format!("{doing}: {chain}")),
            transient,
            source: None,
        }
    }
}

/// Like [`backend_error`], but a 412 while reading means the blob changed between the ranged
/// requests of one download: reading again will see a consistent version.
fn read_error(doing: &str, err: azure_core::Error) -> StoreError {
    if status(&err) == Some(412) {
        StoreError::backend(BACKEND, format!("{doing}: it changed while being read (HTTP 412)"), true, err)
    } else {
        backend_error(doing, err)
    }
}

fn missing_header(header: &str, doing: &str) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        message: format!("{doing}: the answer has no {header} header"),
        transient: false,
        source: None,
    }
}

/// Replaces the value of every `sig=` (the secret part of a SAS) with `REDACTED`.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sig=") {
        let value_start = at + "sig=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("REDACTED");
        let tail = &rest[value_start..];
        let end = tail
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c == ')' || c.is_whitespace())
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{EMULATOR_KEY, Secret};
    use azure_core::http::StatusCode;

    fn http_error(status: u16, code: Option<&str>) -> azure_core::Error {
        azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status: StatusCode::from(status),
                error_code: code.map(str::to_owned),
                raw_response: None,
            },
            "service error",
        )
    }

    #[test]
    fn throttling_timeouts_server_errors_and_io_are_transient() {
        for status in [408, 429, 500, 503] {
            let err = backend_error("doing", http_error(status, Some("ServerBusy")));
            assert!(err.is_transient(), "{status} should be transient");
            assert!(err.to_string().contains(&format!("HTTP {status} ServerBusy")), "{err}");
        }
        for status in [400, 403, 404, 409, 412] {
            assert!(!backend_error("doing", http_error(status, None)).is_transient(), "{status}");
        }
        let io = azure_core::Error::with_message(ErrorKind::Io, "connection reset");
        assert!(backend_error("doing", io).is_transient());
        let conn = azure_core::Error::with_message(ErrorKind::Connection, "refused");
        assert!(backend_error("doing", conn).is_transient());
        let credential = azure_core::Error::with_message(ErrorKind::Credential, "no az login");
        assert!(!backend_error("doing", credential).is_transient());
    }

    #[test]
    fn messages_never_carry_a_sas_signature() {
        let err = azure_core::Error::with_message(
            ErrorKind::Io,
            "error sending request for url (http://h/a/c?sv=1&sig=c2VjcmV0%3D&sp=r)",
        );
        let message = backend_error("read blob", err).to_string();
        assert!(message.contains("sig=REDACTED&sp=r"), "{message}");
        assert!(!message.contains("c2VjcmV0"), "{message}");
        assert_eq!(redact("a sig=xyz"), "a sig=REDACTED");
        assert_eq!(redact("no secret"), "no secret");
    }

    #[test]
    fn listing_etags_are_quoted_like_header_etags() {
        assert_eq!(quoted_etag("0x8D1"), "\"0x8D1\"");
        assert_eq!(quoted_etag("\"0x8D1\""), "\"0x8D1\"");
        assert_eq!(quoted_etag("W/\"x\""), "W/\"x\"");
    }

    fn key_connection(endpoint: &str) -> BlobConnection {
        BlobConnection {
            endpoint: endpoint.into(),
            auth: BlobAuth::AccountKey { account: "devstoreaccount1".into(), key: Secret::new(EMULATOR_KEY) },
        }
    }

    #[test]
    fn debug_shows_endpoint_and_auth_kind_only() {
        let service =
            AzureBlobService::new(&key_connection("http://127.0.0.1:10000/devstoreaccount1/")).unwrap();
        let shown = format!("{service:?}");
        assert!(shown.contains("http://127.0.0.1:10000/devstoreaccount1\""), "{shown}");
        assert!(shown.contains("account key"), "{shown}");
        assert!(!shown.contains(&EMULATOR_KEY[..12]) && !shown.contains("sig="), "{shown}");

        let sas = BlobConnection {
            endpoint: "https://acct.blob.core.windows.net".into(),
            auth: BlobAuth::Sas(Secret::new("?sv=2022-11-02&sp=r&sig=c2VjcmV0")),
        };
        let shown = format!("{:?}", AzureBlobService::new(&sas).unwrap());
        assert!(shown.contains("SAS token") && !shown.contains("c2VjcmV0"), "{shown}");
    }

    #[test]
    fn unusable_connections_are_configuration_errors() {
        for endpoint in ["not a url", "ftp://host/acct", "http://h/acct?sv=1&sig=x"] {
            let err = AzureBlobService::new(&key_connection(endpoint)).unwrap_err();
            assert!(matches!(err, StoreError::Config(_)), "{endpoint}: {err:?}");
            assert!(!err.to_string().contains("sig=x"), "{err}");
        }
        let identity_over_http = BlobConnection {
            endpoint: "http://127.0.0.1:10000/devstoreaccount1".into(),
            auth: BlobAuth::Identity(IdentityCredential::Developer),
        };
        assert!(matches!(AzureBlobService::new(&identity_over_http), Err(StoreError::Config(_))));
        let no_sig = BlobConnection {
            endpoint: "https://a.blob.core.windows.net".into(),
            auth: BlobAuth::Sas(Secret::new("sv=1")),
        };
        assert!(matches!(AzureBlobService::new(&no_sig), Err(StoreError::Config(_))));
    }

    #[test]
    fn identity_connections_build_without_network() {
        for identity in [
            IdentityCredential::ManagedIdentity {
                client_id: Some("00000000-0000-0000-0000-000000000001".into()),
            },
            IdentityCredential::ManagedIdentity { client_id: None },
            IdentityCredential::Developer,
        ] {
            let connection = BlobConnection {
                endpoint: "https://acct.blob.core.windows.net".into(),
                auth: BlobAuth::Identity(identity.clone()),
            };
            let service = AzureBlobService::new(&connection).unwrap_or_else(|e| panic!("{identity:?}: {e}"));
            assert!(format!("{service:?}").contains("https://acct.blob.core.windows.net"));
        }
    }
}
