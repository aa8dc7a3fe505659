//! Settings from the environment, in Azure Functions' conventions, with `local.settings.json`
//! for local runs.
//!
//! Connections follow the Functions host's rules for identity-based connections: a setting
//! `<Conn>` holds a connection string (keys or SAS: local emulators only), while
//! `<Conn>__blobServiceUri` / `<Conn>__accountEndpoint` select an identity-based connection with
//! `<Conn>__credential = managedidentity` and `<Conn>__clientId` for a user-assigned identity.
//! Values present in the process environment win over `local.settings.json`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Connection holding the blob account (uploads, bronze/silver/quarantine, models).
pub const BLOB_CONNECTION: &str = "ShopsenseStorage";
/// Connection the Functions host itself uses; the blob connection falls back to it.
pub const HOST_STORAGE_CONNECTION: &str = "AzureWebJobsStorage";
/// Connection holding the Cosmos DB account (serving documents, alerts, registry pointers).
pub const COSMOS_CONNECTION: &str = "ShopsenseCosmos";
/// `auto` (default), `local` or `azure`.
pub const BACKEND: &str = "SHOPSENSE_BACKEND";
/// Root folder of the local backends (`.shopsense` by default).
pub const HOME: &str = "SHOPSENSE_HOME";
/// Cosmos DB database name (`shopsense` by default).
pub const COSMOS_DATABASE: &str = "SHOPSENSE_COSMOS_DATABASE";
/// The port the Functions host gives a custom handler.
pub const CUSTOM_HANDLER_PORT: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";
/// The local settings file, read from the working directory.
pub const LOCAL_SETTINGS_FILE: &str = "local.settings.json";

/// Every app setting the code reads by name (connections also read the `__`-suffixed forms
/// listed). Deployment (Bicep) must set each one that has no default; a test compares the lists.
pub const READ_SETTINGS: &[&str] = &[
    "AzureWebJobsStorage",
    "ShopsenseStorage",
    "ShopsenseStorage__blobServiceUri",
    "ShopsenseStorage__serviceUri",
    "ShopsenseStorage__credential",
    "ShopsenseStorage__clientId",
    "ShopsenseCosmos",
    "ShopsenseCosmos__accountEndpoint",
    "ShopsenseCosmos__credential",
    "ShopsenseCosmos__clientId",
    "SHOPSENSE_BACKEND",
    "SHOPSENSE_HOME",
    "SHOPSENSE_COSMOS_DATABASE",
    "SHOPSENSE_BLOB_CONTAINER_PREFIX",
    "FUNCTIONS_CUSTOMHANDLER_PORT",
    "INGEST_QUARANTINE_WARN",
    "INGEST_QUARANTINE_FAIL",
    "INGEST_STALE_WARN_DAYS",
    "INGEST_GAP_WARN_DAYS",
    "INGEST_DUPLICATE_WARN",
    "INGEST_MAX_TABLE_BYTES",
    "SHOPSENSE_RETRAIN_SCHEDULE",
    "SHOPSENSE_KEEP_VERSIONS",
    "SHOPSENSE_SERVING_POINTER_TTL_SECONDS",
    "SHOPSENSE_DRIFT_PSI_THRESHOLD",
    "SHOPSENSE_GATE_RECOMMEND_NDCG_VS_LIVE",
    "SHOPSENSE_GATE_FORECAST_WAPE_VS_LIVE",
    "SHOPSENSE_GATE_SEGMENTS_SILHOUETTE_VS_LIVE",
    "SHOPSENSE_GATE_SEGMENTS_MIN_SILHOUETTE",
    "SHOPSENSE_GATE_MAX_STALE_DAYS",
    "SHOPSENSE_STALE_MODEL_DAYS",
    "SHOPSENSE_ALERT_LEAD_TIME_DAYS",
    "SHOPSENSE_ALERT_SERVICE_LEVEL",
    "SHOPSENSE_ALERT_COVER_DAYS",
    "SHOPSENSE_ALERT_OVERSTOCK_COVER_DAYS",
    "SHOPSENSE_ALERTS_KEEP_DAYS",
];

/// The storage account's well-known emulator account and key (public: Azurite's documented
/// development credentials, not a secret).
pub const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
/// The emulator's documented key.
pub const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Why settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `local.settings.json` exists but cannot be read or parsed.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A setting has a value we cannot use.
    #[error("setting {name}: {reason}")]
    Invalid {
        /// The setting's name.
        name: String,
        /// What is wrong with it (never echoes a secret).
        reason: String,
    },
    /// A setting the chosen backend needs is absent.
    #[error("setting {name} is required: {why}")]
    Missing {
        /// The setting's name.
        name: String,
        /// What needs it.
        why: String,
    },
}

/// A secret value: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that signs with it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which Microsoft Entra credential an identity-based connection uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityCredential {
    /// `__credential = managedidentity`: the app's managed identity; `client_id` selects a
    /// user-assigned one.
    ManagedIdentity {
        /// `__clientId`, for a user-assigned identity.
        client_id: Option<String>,
    },
    /// No `__credential`: a developer's sign-in (Azure CLI / azd), for runs on a workstation.
    Developer,
}

/// How to reach and authenticate to a blob account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobAuth {
    /// Entra ID tokens (production).
    Identity(IdentityCredential),
    /// An account key, used only to sign short-lived account SAS tokens (emulators).
    AccountKey {
        /// The account name.
        account: String,
        /// The base64 key.
        key: Secret,
    },
    /// A ready SAS token (without the leading `?`).
    Sas(Secret),
}

/// A blob account connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobConnection {
    /// The blob service endpoint, without a trailing `/` (path-style for emulators:
    /// `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: String,
    /// How to authenticate.
    pub auth: BlobAuth,
}

/// How to authenticate to Cosmos DB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CosmosAuth {
    /// Entra ID tokens (production).
    Identity(IdentityCredential),
    /// The account key (emulators).
    Key(Secret),
}

/// A Cosmos DB connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosmosConnection {
    /// The account endpoint, e.g. `https://myacct.documents.azure.com:443/`.
    pub endpoint: String,
    /// How to authenticate.
    pub auth: CosmosAuth,
    /// The database holding our containers.
    pub database: String,
}

/// Which storage the process uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A blob folder and an embedded database under `home`: no server to install.
    Local,
    /// Azure Blob Storage and Cosmos DB (or their emulators).
    Azure {
        /// The blob account.
        blob: BlobConnection,
        /// The Cosmos DB account.
        cosmos: CosmosConnection,
    },
}

/// What the user asked for with `SHOPSENSE_BACKEND` or a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// Azure when a shopsense connection is configured, local otherwise.
    #[default]
    Auto,
    /// Always the local backends.
    Local,
    /// Always Azure; missing connections are an error.
    Azure,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "local" => Ok(Self::Local),
            "azure" => Ok(Self::Azure),
            other => Err(format!("unknown backend {other:?}: use auto, local or azure")),
        }
    }
}

/// The process's settings: the resolved backend plus every raw value, for later lookups.
#[derive(Clone)]
pub struct Settings {
    /// Root folder of local state (`.shopsense` unless `SHOPSENSE_HOME` says otherwise).
    pub home: PathBuf,
    /// The storage to use.
    pub backend: Backend,
    /// `FUNCTIONS_CUSTOMHANDLER_PORT`, when the Functions host started us.
    pub custom_handler_port: Option<u16>,
    /// The `Host` section of `local.settings.json` (empty unless read from the file).
    pub local_host: LocalHost,
    values: BTreeMap<String, String>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Raw values may hold connection strings: show names only.
        f.debug_struct("Settings")
            .field("home", &self.home)
            .field("backend", &self.backend)
            .field("custom_handler_port", &self.custom_handler_port)
            .field("value_names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A `local.settings.json`: its app settings and its `Host` section.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LocalSettings {
    /// `Values`: app settings, environment-style names.
    #[serde(rename = "Values", default)]
    pub values: BTreeMap<String, String>,
    /// `Host`: what Core Tools' `func start` reads for the local host.
    #[serde(rename = "Host", default)]
    pub host: LocalHost,
}

/// The `Host` section of `local.settings.json`, as Core Tools reads it for `func start`: the
/// local port and the browser origins allowed to call the API (CORS). `shopsense local` reads it
/// the same way; in Azure the platform answers CORS (`corsAllowedOrigins` in `infra/`).
///
/// Read as leniently as Core Tools reads it (every command reads the file, so a quirk here must
/// not stop `train`): a port or flag written as a string (`"7072"`, `"true"`) or `null` is taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LocalHost {
    /// `LocalHttpPort`: the API's port when no `--port` is given.
    #[serde(rename = "LocalHttpPort", default, deserialize_with = "lenient::port")]
    pub local_http_port: Option<u16>,
    /// `CORS`: allowed origins, comma-separated, or `*` for any.
    #[serde(rename = "CORS", default)]
    pub cors: Option<String>,
    /// `CORSCredentials`: whether browsers may send cookies or credentials with requests.
    #[serde(rename = "CORSCredentials", default, deserialize_with = "lenient::flag")]
    pub cors_credentials: bool,
}

/// Numbers and flags of `local.settings.json` as Core Tools takes them: also as strings, and
/// `null` as absent.
mod lenient {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    pub(super) fn port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        let value = Value::deserialize(d)?;
        let number = match &value {
            Value::Null => return Ok(None),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        number
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("Host.LocalHttpPort {value} is not a port number")))
    }

    pub(super) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let value = Value::deserialize(d)?;
        match &value {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") || s.trim().is_empty() => Ok(false),
            _ => Err(D::Error::custom(format!("Host.CORSCredentials {value} is not true or false"))),
        }
    }
}

/// Reads a `local.settings.json`; an absent file has no values and an empty `Host`.
pub fn read_local_settings(path: &Path) -> Result<LocalSettings, SettingsError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<LocalSettings>(&bytes)
            .map_err(|e| SettingsError::File { path: path.to_owned(), reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LocalSettings::default()),
        Err(e) => Err(SettingsError::File { path: path.to_owned(), reason: e.to_string() }),
    }
}

impl Settings {
    /// Settings from the process environment over `local.settings.json` in the current folder.
    pub fn from_env(choice: Option<BackendChoice>) -> Result<Self, SettingsError> {
        let LocalSettings { mut values, host } = read_local_settings(Path::new(LOCAL_SETTINGS_FILE))?;
        values.extend(std::env::vars());
        let mut settings = Self::from_values(values, choice)?;
        settings.local_host = host;
        Ok(settings)
    }

    /// Settings from a map of values (environment-style names). `choice` overrides
    /// `SHOPSENSE_BACKEND`.
    pub fn from_values(
        values: BTreeMap<String, String>,
        choice: Option<BackendChoice>,
    ) -> Result<Self, SettingsError> {
        let lookup = Lookup(&values);
        let home = PathBuf::from(lookup.get(HOME).unwrap_or(".shopsense"));
        let custom_handler_port = lookup
            .get(CUSTOM_HANDLER_PORT)
            .map(|v| {
                v.trim().parse::<u16>().map_err(|_| SettingsError::Invalid {
                    name: CUSTOM_HANDLER_PORT.into(),
                    reason: format!("{v:?} is not a port number"),
                })
            })
            .transpose()?;
        let choice = match choice {
            Some(choice) => choice,
            None => lookup
                .get(BACKEND)
                .map(str::parse)
                .transpose()
                .map_err(|reason| SettingsError::Invalid { name: BACKEND.into(), reason })?
                .unwrap_or_default(),
        };
        let configured = |conn: &str| {
            values
                .iter()
                .any(|(k, v)| (k == conn || k.starts_with(&format!("{conn}__"))) && !v.trim().is_empty())
        };
        let use_azure = match choice {
            BackendChoice::Local => false,
            BackendChoice::Azure => true,
            BackendChoice::Auto => configured(BLOB_CONNECTION) || configured(COSMOS_CONNECTION),
        };
        let backend = if use_azure {
            let blob = match blob_connection(lookup, BLOB_CONNECTION)? {
                Some(blob) => Some(blob),
                None => blob_connection(lookup, HOST_STORAGE_CONNECTION)?,
            }
            .ok_or_else(|| SettingsError::Missing {
                name: format!("{BLOB_CONNECTION} (or {BLOB_CONNECTION}__blobServiceUri)"),
                why: "the Azure backend needs a blob account".into(),
            })?;
            let database = lookup.get(COSMOS_DATABASE).unwrap_or("shopsense").to_owned();
            let cosmos = cosmos_connection(lookup, COSMOS_CONNECTION, database)?.ok_or_else(|| {
                SettingsError::Missing {
                    name: format!("{COSMOS_CONNECTION} (or {COSMOS_CONNECTION}__accountEndpoint)"),
                    why: "the Azure backend needs a Cosmos DB account".into(),
                }
            })?;
            Backend::Azure { blob, cosmos }
        } else {
            Backend::Local
        };
        Ok(Self { home, backend, custom_handler_port, local_host: LocalHost::default(), values })
    }

    /// A raw setting, if set and not blank.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// A setting parsed as `T`, or `default` when unset.
    pub fn parse_or<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, SettingsError> {
        self.get(name).map_or(Ok(default), |v| {
            v.trim().parse().map_err(|_| SettingsError::Invalid {
                name: name.into(),
                reason: format!("cannot parse {v:?}"),
            })
        })
    }
}

/// Borrowed settings with blank values treated as unset.
#[derive(Clone, Copy)]
struct Lookup<'a>(&'a BTreeMap<String, String>);

impl<'a> Lookup<'a> {
    fn get(self, name: &str) -> Option<&'a str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }
}

fn identity_credential(lookup: Lookup<'_>, conn: &str) -> Result<IdentityCredential, SettingsError> {
    let client_id = lookup.get(&format!("{conn}__clientId")).map(str::to_owned);
    match lookup.get(&format!("{conn}__credential")).map(str::to_ascii_lowercase).as_deref() {
        Some("managedidentity") => Ok(IdentityCredential::ManagedIdentity { client_id }),
        None => Ok(IdentityCredential::Developer),
        Some(other) => Err(SettingsError::Invalid {
            name: format!("{conn}__credential"),
            reason: format!("{other:?} is not supported: use managedidentity or leave it unset"),
        }),
    }
}

/// Splits `Key=Value;Key=Value` (keys case-insensitive, values may contain `=`).
fn connection_string_parts(conn: &str, raw: &str) -> Result<BTreeMap<String, String>, SettingsError> {
    let mut parts = BTreeMap::new();
    for piece in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = piece.split_once('=') else {
            return Err(SettingsError::Invalid {
                name: conn.into(),
                reason: "a connection string is `Key=Value` pairs separated by `;`".into(),
            });
        };
        parts.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    Ok(parts)
}

fn blob_connection(lookup: Lookup<'_>, conn: &str) -> Result<Option<BlobConnection>, SettingsError> {
    let service_uri =
        lookup.get(&format!("{conn}__blobServiceUri")).or_else(|| lookup.get(&format!("{conn}__serviceUri")));
    if let Some(uri) = service_uri {
        let credential = identity_credential(lookup, conn)?;
        return Ok(Some(BlobConnection {
            endpoint: uri.trim_end_matches('/').to_owned(),
            auth: BlobAuth::Identity(credential),
        }));
    }
    let Some(raw) = lookup.get(conn) else { return Ok(None) };
    let parts = connection_string_parts(conn, raw)?;
    if parts.get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(Some(BlobConnection {
            endpoint: format!("http://127.0.0.1:10000/{EMULATOR_ACCOUNT}"),
            auth: BlobAuth::AccountKey { account: EMULATOR_ACCOUNT.into(), key: Secret::new(EMULATOR_KEY) },
        }));
    }
    let account = parts.get("accountname").cloned();
    let endpoint = match (parts.get("blobendpoint"), &account) {
        (Some(endpoint), _) => endpoint.trim_end_matches('/').to_owned(),
        (None, Some(account)) => {
            let protocol = parts.get("defaultendpointsprotocol").map_or("https", String::as_str);
            let suffix = parts.get("endpointsuffix").map_or("core.windows.net", String::as_str);
            format!("{protocol}://{account}.blob.{suffix}")
        }
        (None, None) => {
            return Err(SettingsError::Invalid {
                name: conn.into(),
                reason: "the connection string names neither BlobEndpoint nor AccountName".into(),
            });
        }
    };
    let auth = if let Some(sas) = parts.get("sharedaccesssignature") {
        BlobAuth::Sas(Secret::new(sas.trim_start_matches('?')))
    } else if let (Some(account), Some(key)) = (account, parts.get("accountkey")) {
        BlobAuth::AccountKey { account, key: Secret::new(key.clone()) }
    } else {
        return Err(SettingsError::Invalid {
            name: conn.into(),
            reason: "the connection string has neither AccountName+AccountKey nor SharedAccessSignature"
                .into(),
        });
    };
    Ok(Some(BlobConnection { endpoint, auth }))
}

fn cosmos_connection(
    lookup: Lookup<'_>,
    conn: &str,
    database: String,
) -> Result<Option<CosmosConnection>, SettingsError> {
    if let Some(endpoint) = lookup.get(&format!("{conn}__accountEndpoint")) {
        let credential = identity_credential(lookup, conn)?;
        return Ok(Some(CosmosConnection {
            endpoint: endpoint.to_owned(),
            auth: CosmosAuth::Identity(credential),
            database,
        }));
    }
    let Some(raw) = lookup.get(conn) else { return Ok(None) };
    let parts = connection_string_parts(conn, raw)?;
    match (parts.get("accountendpoint"), parts.get("accountkey")) {
        (Some(endpoint), Some(key)) => Ok(Some(CosmosConnection {
            endpoint: endpoint.clone(),
            auth: CosmosAuth::Key(Secret::new(key.clone())),
            database,
        })),
        _ => Err(SettingsError::Invalid {
            name: conn.into(),
            reason: "a Cosmos DB connection string needs AccountEndpoint and AccountKey".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let values = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_values(values, None)
    }

    #[test]
    fn nothing_configured_means_the_local_backend_under_dot_shopsense() {
        let s = settings(&[
            ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
            ("ShopsenseStorage__blobServiceUri", ""),
        ])
        .unwrap();
        assert_eq!(s.backend, Backend::Local);
        assert_eq!(s.home, PathBuf::from(".shopsense"));
        let s = settings(&[("SHOPSENSE_HOME", "/tmp/x")]).unwrap();
        assert_eq!(s.home, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn identity_based_connections_use_the_managed_identity_with_its_client_id() {
        let s = settings(&[
            ("ShopsenseStorage__blobServiceUri", "https://acct.blob.core.windows.net/"),
            ("ShopsenseStorage__credential", "managedidentity"),
            ("ShopsenseStorage__clientId", "abc"),
            ("ShopsenseCosmos__accountEndpoint", "https://db.documents.azure.com:443/"),
            ("ShopsenseCosmos__credential", "managedidentity"),
        ])
        .unwrap();
        let Backend::Azure { blob, cosmos } = s.backend else { panic!("expected azure") };
        assert_eq!(blob.endpoint, "https://acct.blob.core.windows.net");
        assert_eq!(
            blob.auth,
            BlobAuth::Identity(IdentityCredential::ManagedIdentity { client_id: Some("abc".into()) })
        );
        assert_eq!(
            cosmos.auth,
            CosmosAuth::Identity(IdentityCredential::ManagedIdentity { client_id: None })
        );
        assert_eq!(cosmos.database, "shopsense");
    }

    #[test]
    fn development_storage_and_key_connection_strings_resolve_endpoints() {
        let s = Settings::from_values(
            [
                ("AzureWebJobsStorage".to_owned(), "UseDevelopmentStorage=true".to_owned()),
                (
                    "ShopsenseCosmos".to_owned(),
                    "AccountEndpoint=https://127.0.0.1:8081/;AccountKey=k==".to_owned(),
                ),
            ]
            .into(),
            Some(BackendChoice::Azure),
        )
        .unwrap();
        let Backend::Azure { blob, cosmos } = s.backend else { panic!("expected azure") };
        assert_eq!(blob.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
        assert_eq!(cosmos.auth, CosmosAuth::Key(Secret::new("k==")));

        let s = settings(&[
            ("ShopsenseStorage", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"),
            ("ShopsenseCosmos", "AccountEndpoint=https://x/;AccountKey=y"),
        ])
        .unwrap();
        let Backend::Azure { blob, .. } = s.backend else { panic!("expected azure") };
        assert_eq!(blob.endpoint, "https://acct.blob.core.windows.net");
    }

    #[test]
    fn the_azure_backend_without_cosmos_names_the_missing_setting() {
        let err =
            settings(&[("ShopsenseStorage__blobServiceUri", "https://a.blob.core.windows.net")]).unwrap_err();
        assert!(err.to_string().contains("ShopsenseCosmos"), "{err}");
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let s = settings(&[
            ("ShopsenseStorage", "AccountName=acct;AccountKey=SUPERSECRETKEY"),
            ("ShopsenseCosmos", "AccountEndpoint=https://x/;AccountKey=OTHERSECRET"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("SUPERSECRETKEY") && !shown.contains("OTHERSECRET"), "{shown}");
    }

    #[test]
    fn local_settings_values_are_read_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("local.settings.json");
        let absent = read_local_settings(&path).unwrap();
        assert!(absent.values.is_empty());
        assert_eq!(absent.host, LocalHost::default());
        std::fs::write(&path, r#"{"IsEncrypted":false,"Values":{"SHOPSENSE_HOME":"h"}}"#).unwrap();
        assert_eq!(read_local_settings(&path).unwrap().values["SHOPSENSE_HOME"], "h");
        std::fs::write(
            &path,
            r#"{"Values":{},"Host":{"LocalHttpPort":7080,"CORS":"http://localhost:3000","CORSCredentials":true}}"#,
        )
        .unwrap();
        let host = read_local_settings(&path).unwrap().host;
        assert_eq!(host.local_http_port, Some(7080));
        assert_eq!(host.cors.as_deref(), Some("http://localhost:3000"));
        assert!(host.cors_credentials);
        // Quirks Core Tools takes: strings for numbers and flags, nulls.
        std::fs::write(&path, r#"{"Host":{"LocalHttpPort":"7072","CORS":null,"CORSCredentials":null}}"#)
            .unwrap();
        let host = read_local_settings(&path).unwrap().host;
        assert_eq!((host.local_http_port, host.cors, host.cors_credentials), (Some(7072), None, false));
        std::fs::write(&path, r#"{"Host":{"LocalHttpPort":70000}}"#).unwrap();
        let error = read_local_settings(&path).unwrap_err().to_string();
        assert!(error.contains("Host.LocalHttpPort 70000 is not a port number"), "{error}");
        std::fs::write(&path, "{not json").unwrap();
        assert!(read_local_settings(&path).unwrap_err().to_string().contains("local.settings.json"));
    }
}
