//! The only file that talks to the Blob service: the REST operations the backend uses,
//! authorized with the configured credential, retried with backoff when the service says a
//! failure is transient (429, 5xx, a dropped connection). Every write the backend makes is
//! conditional (a lease, an ETag, or an append position), so a retried write cannot land
//! twice.
//!
//! With Entra ID, every request carries `Authorization: Bearer` with a Storage token from
//! fleetform-azure's shared `Credential` (built on first use: the cloud may have to be read
//! from a metadata host), which caches and refreshes it. A 401 or 403 answered to a bearer
//! token makes the credential forget it and the request go once more with a new one; a
//! second refusal is the error, which names the identity, never the token.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fleetform_azure::AzureError;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tokio::sync::OnceCell;

use crate::config::Settings;
use crate::credential::{Credential, EntraId, STORAGE_SCOPE};

/// The Blob service version requests ask for (bearer tokens need 2017-11-09 or later).
const VERSION: &str = "2021-08-06";
const ATTEMPTS: u32 = 5;

/// Characters encoded in a blob's path (RFC 3986: everything but unreserved characters,
/// sub-delimiters, `:`, `@` and `/`).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// The service answered with an error status.
    #[error("{status} {code}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The service's error code (`LeaseAlreadyPresent`, `ConditionNotMet`, ...).
        code: String,
        /// Its message.
        message: String,
    },
    /// The service could not be reached.
    #[error("{0}")]
    Transport(String),
    /// No Entra ID token could be had (the identity was refused, or is misconfigured).
    #[error("{0}")]
    Auth(String),
}

impl BlobError {
    /// The HTTP status, if the service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            BlobError::Status { status, .. } => Some(*status),
            BlobError::Transport(_) | BlobError::Auth(_) => None,
        }
    }

    /// The service's error code, if it answered.
    pub fn code(&self) -> &str {
        match self {
            BlobError::Status { code, .. } => code,
            BlobError::Transport(_) | BlobError::Auth(_) => "",
        }
    }
}

/// A blob's properties.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    /// Its ETag.
    pub etag: String,
    /// `x-ms-meta-*` values, by lowercase name.
    pub metadata: BTreeMap<String, String>,
    /// `leased`, `available`, `expired`, `breaking`, `broken`.
    pub lease_state: String,
    /// Its length in bytes.
    pub length: u64,
}

/// A lease operation.
#[derive(Debug, Clone)]
pub enum Lease<'a> {
    /// Acquire for `duration` seconds with the proposed id.
    Acquire { id: &'a str, seconds: u64 },
    /// Renew lease `id`.
    Renew(&'a str),
    /// Release lease `id`.
    Release(&'a str),
    /// Break the lease now.
    Break,
}

/// A container of one storage account.
#[derive(Debug, Clone)]
pub struct BlobClient {
    http: reqwest::Client,
    endpoint: String,
    container: String,
    account: String,
    credential: Credential,
    /// Entra ID tokens, when the credential is Entra ID.
    bearer: Option<Arc<Bearer>>,
}

/// Storage tokens from fleetform-azure's shared credential, which caches them per scope
/// and refreshes them before they expire.
struct Bearer {
    entra: Arc<EntraId>,
    /// The HTTP client of Azure calls (fleetform-azure's: rustls, the system's trust roots
    /// as `SSL_CERT_FILE` / `SSL_CERT_DIR` may replace them, verification always on).
    http: reqwest::Client,
    credential: OnceCell<fleetform_azure::Credential>,
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bearer")
            .field("credential", &self.entra.kind)
            .finish_non_exhaustive()
    }
}

impl Bearer {
    /// The shared credential, built on first use.
    async fn credential(&self) -> Result<&fleetform_azure::Credential, BlobError> {
        self.credential
            .get_or_try_init(|| async {
                let cloud = self
                    .entra
                    .cloud
                    .resolve(&self.http)
                    .await
                    .map_err(|e| self.error(e))?;
                fleetform_azure::Credential::new(&self.entra.auth, &cloud, &self.http)
                    .map_err(|e| self.error(e))
            })
            .await
    }

    /// `Bearer TOKEN` for Azure Storage.
    async fn header(&self) -> Result<String, BlobError> {
        let token = self
            .credential()
            .await?
            .token(STORAGE_SCOPE)
            .await
            .map_err(|e| self.error(e))?;
        Ok(format!("Bearer {}", token.token.expose()))
    }

    /// Drops the cached token after the service refused it.
    async fn forget(&self) {
        if let Some(credential) = self.credential.get() {
            credential.forget(STORAGE_SCOPE).await;
        }
    }

    /// A failure to get a token: unreachable authorities are retried like any
    /// unreachable endpoint; anything else is the identity's problem.
    fn error(&self, e: AzureError) -> BlobError {
        match e {
            AzureError::Unreachable { .. } => BlobError::Transport(format!(
                "Entra ID ({}) for Azure Storage: {e}",
                self.entra.kind
            )),
            // It names the credential already.
            e @ AzureError::Auth { .. } => BlobError::Auth(format!(
                "cannot get an Entra ID token for Azure Storage (use_azuread_auth): {e}"
            )),
            e => BlobError::Auth(format!(
                "cannot get an Entra ID token for Azure Storage with the {} credential (use_azuread_auth): {e}",
                self.entra.kind
            )),
        }
    }
}

struct Response {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl BlobClient {
    /// A client for the settings' container.
    pub fn new(settings: &Settings) -> Result<BlobClient, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let bearer = match settings.credential.entra() {
            Some(entra) => Some(Arc::new(Bearer {
                entra: entra.clone(),
                http: fleetform_azure::http_client(None).map_err(|e| e.to_string())?,
                credential: OnceCell::new(),
            })),
            None => None,
        };
        Ok(BlobClient {
            http,
            endpoint: settings.endpoint.clone(),
            container: settings.container.clone(),
            account: settings.account.clone(),
            credential: settings.credential.clone(),
            bearer,
        })
    }

    /// `https://…/container/blob`, for messages.
    pub fn url_of(&self, blob: &str) -> String {
        format!("{}/{}/{}", self.endpoint, self.container, blob)
    }

    async fn send(
        &self,
        method: Method,
        blob: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Response, BlobError> {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0;
        let mut token_renewed = false;
        loop {
            attempt += 1;
            match self
                .send_once(method.clone(), blob, query, headers, body)
                .await
            {
                Err(e) if attempt < ATTEMPTS && transient(&e.0) => {
                    let wait = e.1.unwrap_or(delay);
                    tracing::debug!(attempt, "blob service: {}; retrying in {wait:?}", e.0);
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(Duration::from_secs(4));
                }
                Err((e, _)) if refused(&e) => {
                    let Some(bearer) = &self.bearer else {
                        return Err(e);
                    };
                    if token_renewed {
                        return Err(refused_again(e, bearer));
                    }
                    // Revoked, or expired earlier than it said: once with a new token.
                    tracing::debug!(
                        credential = %bearer.entra.kind,
                        "blob service refused the access token ({e}); asking Entra ID for a new one"
                    );
                    bearer.forget().await;
                    token_renewed = true;
                    attempt -= 1;
                }
                other => return other.map_err(|e| e.0),
            }
        }
    }

    async fn send_once(
        &self,
        method: Method,
        blob: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Response, (BlobError, Option<Duration>)> {
        let path = match blob {
            Some(b) => format!("/{}/{}", self.container, utf8_percent_encode(b, PATH)),
            None => format!("/{}", self.container),
        };
        let mut url = format!("{}{path}", self.endpoint);
        let mut pairs: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                )
            })
            .collect();
        if let Some(sas) = self.credential.sas() {
            pairs.push(sas.to_owned());
        }
        if !pairs.is_empty() {
            url.push('?');
            url.push_str(&pairs.join("&"));
        }
        let date = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .unwrap_or_default();
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        all.push(("x-ms-date".into(), date));
        all.push(("x-ms-version".into(), VERSION.into()));
        let mut request = self.http.request(method.clone(), &url);
        for (k, v) in &all {
            request = request.header(k.as_str(), v.as_str());
        }
        if method == Method::PUT || !body.is_empty() {
            request = request.header("content-length", body.len().to_string());
        }
        // The canonical resource is the whole URL path: with a path-style endpoint
        // (Azurite's `http://host:port/account`) it includes the account segment.
        let full_path = format!("{}{path}", endpoint_path(&self.endpoint));
        if let Some(auth) = self.sign(&method, &full_path, query, &all, body.len()) {
            request = request.header("authorization", auth);
        }
        if let Some(bearer) = &self.bearer {
            let mut value = reqwest::header::HeaderValue::try_from(
                bearer.header().await.map_err(|e| (e, None))?,
            )
            .map_err(|_| {
                (
                    BlobError::Auth("Entra ID answered a token that is no header value".into()),
                    None,
                )
            })?;
            value.set_sensitive(true);
            request = request.header("authorization", value);
        }
        let response = request.body(body.to_vec()).send().await.map_err(|e| {
            (
                BlobError::Transport(format!(
                    "{}: {}",
                    self.url_of(blob.unwrap_or("")),
                    chain(&e)
                )),
                None,
            )
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| (BlobError::Transport(chain(&e)), None))?
            .to_vec();
        if status.is_success() {
            return Ok(Response { headers, body });
        }
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(30)));
        let code = headers
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| tag(&body, "Code"))
            .unwrap_or_default();
        let message = tag(&body, "Message")
            .map(|m| m.lines().next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
        Err((
            BlobError::Status {
                status: status.as_u16(),
                code,
                message,
            },
            retry_after,
        ))
    }

    /// SharedKey: the canonical request signed with the account key.
    fn sign(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(String, String)],
        length: usize,
    ) -> Option<String> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let length = if length == 0 {
            String::new()
        } else {
            length.to_string()
        };
        let mut ms: Vec<&(String, String)> = headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-ms-"))
            .collect();
        ms.sort_by(|a, b| a.0.cmp(&b.0));
        let mut text = format!(
            "{method}\n{}\n{}\n{length}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n",
            header("content-encoding"),
            header("content-language"),
            header("content-md5"),
            header("content-type"),
            header("if-modified-since"),
            header("if-match"),
            header("if-none-match"),
            header("if-unmodified-since"),
            header("range"),
        );
        for (k, v) in ms {
            text.push_str(&format!("{k}:{}\n", v.trim()));
        }
        text.push_str(&format!("/{}{}", self.account, path));
        let mut params: Vec<(String, &str)> = query
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        params.sort();
        for (k, v) in params {
            text.push_str(&format!("\n{k}:{v}"));
        }
        self.credential.shared_key_header(&text)
    }

    /// Creates the container (nothing when it exists). The backend never does this itself
    /// (as Terraform's does not); setup scripts and tests do.
    pub async fn create_container(&self) -> Result<(), BlobError> {
        match self
            .send(Method::PUT, None, &[("restype", "container")], &[], b"")
            .await
        {
            Err(e) if e.status() == Some(409) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Whether the container exists.
    pub async fn container_exists(&self) -> Result<bool, BlobError> {
        match self
            .send(Method::HEAD, None, &[("restype", "container")], &[], b"")
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A blob's content and properties; `None` when it does not exist.
    pub async fn get(&self, blob: &str) -> Result<Option<(Vec<u8>, Properties)>, BlobError> {
        match self.send(Method::GET, Some(blob), &[], &[], b"").await {
            Ok(r) => {
                let props = properties(&r.headers, r.body.len() as u64);
                Ok(Some((r.body, props)))
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A blob's properties; `None` when it does not exist.
    pub async fn head(&self, blob: &str) -> Result<Option<Properties>, BlobError> {
        match self.send(Method::HEAD, Some(blob), &[], &[], b"").await {
            Ok(r) => {
                let length = r
                    .headers
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                Ok(Some(properties(&r.headers, length)))
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a block blob whole; returns its new ETag. `if_match`: only over this version
    /// (`*`: over any); `only_new`: only if there is none.
    pub async fn put(
        &self,
        blob: &str,
        body: &[u8],
        lease: Option<&str>,
        if_match: Option<&str>,
        only_new: bool,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, BlobError> {
        let mut headers = vec![("x-ms-blob-type", "BlockBlob".to_owned())];
        condition(&mut headers, lease, if_match, only_new);
        let meta: Vec<(String, String)> = metadata
            .iter()
            .map(|(k, v)| (format!("x-ms-meta-{k}"), v.clone()))
            .collect();
        let mut all: Vec<(&str, String)> = headers;
        all.extend(meta.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let r = self.send(Method::PUT, Some(blob), &[], &all, body).await?;
        Ok(etag(&r.headers))
    }

    /// Creates (or replaces) an empty append blob with `metadata`.
    pub async fn create_append(
        &self,
        blob: &str,
        lease: Option<&str>,
        only_new: bool,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String, BlobError> {
        let mut headers = vec![("x-ms-blob-type", "AppendBlob".to_owned())];
        condition(&mut headers, lease, None, only_new);
        let meta: Vec<(String, String)> = metadata
            .iter()
            .map(|(k, v)| (format!("x-ms-meta-{k}"), v.clone()))
            .collect();
        headers.extend(meta.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let r = self
            .send(Method::PUT, Some(blob), &[], &headers, b"")
            .await?;
        Ok(etag(&r.headers))
    }

    /// Appends `body` as one block at offset `at` (the append is atomic; a retry after a
    /// lost answer finds the block already there and succeeds).
    pub async fn append(
        &self,
        blob: &str,
        body: &[u8],
        lease: Option<&str>,
        at: u64,
    ) -> Result<(), BlobError> {
        let mut headers = vec![("x-ms-blob-condition-appendpos", at.to_string())];
        condition(&mut headers, lease, None, false);
        match self
            .send(
                Method::PUT,
                Some(blob),
                &[("comp", "appendblock")],
                &headers,
                body,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == "AppendPositionConditionNotMet" => match self.head(blob).await? {
                Some(p) if p.length == at + body.len() as u64 => Ok(()),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Deletes a blob (and its snapshots); nothing when it does not exist.
    pub async fn delete(&self, blob: &str, lease: Option<&str>) -> Result<(), BlobError> {
        let mut headers = vec![("x-ms-delete-snapshots", "include".to_owned())];
        condition(&mut headers, lease, None, false);
        match self
            .send(Method::DELETE, Some(blob), &[], &headers, b"")
            .await
        {
            Err(e) if e.status() == Some(404) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Takes a snapshot of a blob.
    pub async fn snapshot(&self, blob: &str, lease: Option<&str>) -> Result<(), BlobError> {
        let mut headers = Vec::new();
        condition(&mut headers, lease, None, false);
        self.send(
            Method::PUT,
            Some(blob),
            &[("comp", "snapshot")],
            &headers,
            b"",
        )
        .await
        .map(|_| ())
    }

    /// Replaces a blob's metadata.
    pub async fn set_metadata(
        &self,
        blob: &str,
        lease: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), BlobError> {
        let mut headers = Vec::new();
        condition(&mut headers, lease, None, false);
        let meta: Vec<(String, String)> = metadata
            .iter()
            .map(|(k, v)| (format!("x-ms-meta-{k}"), v.clone()))
            .collect();
        headers.extend(meta.iter().map(|(k, v)| (k.as_str(), v.clone())));
        self.send(
            Method::PUT,
            Some(blob),
            &[("comp", "metadata")],
            &headers,
            b"",
        )
        .await
        .map(|_| ())
    }

    /// A lease operation on a blob.
    pub async fn lease(&self, blob: &str, op: Lease<'_>) -> Result<(), BlobError> {
        let headers: Vec<(&str, String)> = match op {
            Lease::Acquire { id, seconds } => vec![
                ("x-ms-lease-action", "acquire".into()),
                ("x-ms-lease-duration", seconds.to_string()),
                ("x-ms-proposed-lease-id", id.to_owned()),
            ],
            Lease::Renew(id) => vec![
                ("x-ms-lease-action", "renew".into()),
                ("x-ms-lease-id", id.to_owned()),
            ],
            Lease::Release(id) => vec![
                ("x-ms-lease-action", "release".into()),
                ("x-ms-lease-id", id.to_owned()),
            ],
            Lease::Break => vec![
                ("x-ms-lease-action", "break".into()),
                ("x-ms-lease-break-period", "0".into()),
            ],
        };
        self.send(Method::PUT, Some(blob), &[("comp", "lease")], &headers, b"")
            .await
            .map(|_| ())
    }

    /// The names of the blobs starting with `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let mut names = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![
                ("restype", "container"),
                ("comp", "list"),
                ("prefix", prefix),
            ];
            if !marker.is_empty() {
                query.push(("marker", marker.as_str()));
            }
            let r = self.send(Method::GET, None, &query, &[], b"").await?;
            names.extend(tags(&r.body, "Name"));
            match tag(&r.body, "NextMarker").filter(|m| !m.is_empty()) {
                Some(m) => marker = m,
                None => return Ok(names),
            }
        }
    }
}

fn condition(
    headers: &mut Vec<(&str, String)>,
    lease: Option<&str>,
    if_match: Option<&str>,
    only_new: bool,
) {
    if let Some(id) = lease {
        headers.push(("x-ms-lease-id", id.to_owned()));
    }
    if let Some(etag) = if_match {
        headers.push(("if-match", etag.to_owned()));
    }
    if only_new {
        headers.push(("if-none-match", "*".to_owned()));
    }
}

/// The path part of an endpoint URL (`/devstoreaccount1` or empty).
fn endpoint_path(endpoint: &str) -> &str {
    let after_scheme = endpoint
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(endpoint);
    match after_scheme.find('/') {
        Some(i) => &after_scheme[i..],
        None => "",
    }
}

fn transient(e: &BlobError) -> bool {
    match e {
        BlobError::Transport(_) => true,
        BlobError::Auth(_) => false,
        BlobError::Status { status, .. } => {
            *status == StatusCode::TOO_MANY_REQUESTS.as_u16() || (500..600).contains(status)
        }
    }
}

/// The service refused the request's authorization.
fn refused(e: &BlobError) -> bool {
    matches!(e.status(), Some(401 | 403))
}

/// A bearer token refused again after a fresh one was asked for: what to check.
fn refused_again(e: BlobError, bearer: &Bearer) -> BlobError {
    let BlobError::Status {
        status,
        code,
        message,
    } = e
    else {
        return e;
    };
    let hint = if status == 403 {
        "the identity needs a data role on the container or storage account, such as Storage Blob Data Contributor"
    } else {
        "check that the identity's tenant and cloud are the storage account's"
    };
    BlobError::Status {
        status,
        code,
        message: format!(
            "{message} (Entra ID, {} credential: a newly requested token was refused too; {hint})",
            bearer.entra.kind
        ),
    }
}

fn etag(headers: &HeaderMap) -> String {
    headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn properties(headers: &HeaderMap, length: u64) -> Properties {
    let mut metadata = BTreeMap::new();
    for (k, v) in headers {
        if let Some(name) = k.as_str().strip_prefix("x-ms-meta-")
            && let Ok(v) = v.to_str()
        {
            metadata.insert(name.to_ascii_lowercase(), v.to_owned());
        }
    }
    Properties {
        etag: etag(headers),
        metadata,
        lease_state: headers
            .get("x-ms-lease-state")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        length,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The text of the first `<name>…</name>` element.
fn tag(xml: &[u8], name: &str) -> Option<String> {
    tags(xml, name).into_iter().next()
}

/// The texts of every `<name>…</name>` element, unescaped.
fn tags(xml: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(xml);
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(
            rest[..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &rest[end + close.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;

    use fleetform_azure::{AuthConfig, CloudConfig};

    use super::*;

    /// What the fake service saw: (path and query, Authorization header).
    type Seen = Arc<Mutex<Vec<(String, String)>>>;

    /// A loopback HTTP server playing a managed identity endpoint (tokens `token-1`,
    /// `token-2`, ...) and a Blob service that accepts only the tokens `accept` allows.
    fn fake_azure(accept: fn(&str) -> bool) -> (String, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            let mut issued = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let target = line.split(' ').nth(1).unwrap_or_default().to_owned();
                let (mut authorization, mut length) = (String::new(), 0);
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap_or_default();
                    match name.to_ascii_lowercase().as_str() {
                        "authorization" => authorization = value.trim().to_owned(),
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                log.lock()
                    .unwrap()
                    .push((target.clone(), authorization.clone()));
                let answer = if target.starts_with("/msi") {
                    assert!(
                        target.contains("resource=https%3A%2F%2Fstorage.azure.com&")
                            || target.ends_with("resource=https%3A%2F%2Fstorage.azure.com"),
                        "{target}"
                    );
                    issued += 1;
                    let token = format!(
                        r#"{{"access_token":"token-{issued}","expires_in":"3600","token_type":"Bearer"}}"#
                    );
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{token}",
                        token.len()
                    )
                } else if accept(authorization.trim_start_matches("Bearer ")) {
                    "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
                } else {
                    "HTTP/1.1 403 Server failed to authenticate the request.\r\nx-ms-error-code: AuthenticationFailed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
                };
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        (base, seen)
    }

    fn client(base: &str) -> BlobClient {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let auth = AuthConfig {
            use_msi: true,
            msi_endpoint: Some(format!("{base}/msi")),
            ..AuthConfig::default()
        };
        let entra = EntraId::new(auth, CloudConfig::default()).unwrap();
        let settings = Settings {
            account: "acct".into(),
            container: "states".into(),
            key: "fleet.state".into(),
            endpoint: format!("{base}/acct"),
            credential: Credential::EntraId(Arc::new(entra)),
            snapshot: false,
            lease_duration: Duration::from_secs(15),
        };
        BlobClient::new(&settings).unwrap()
    }

    #[tokio::test]
    async fn a_refused_token_is_forgotten_and_the_request_sent_once_more() {
        let (base, log) = fake_azure(|token| token != "token-1");
        let client = client(&base);
        assert!(client.container_exists().await.unwrap());
        let seen = log.lock().unwrap().clone();
        let blob: Vec<&str> = seen
            .iter()
            .filter(|(t, _)| t.starts_with("/acct"))
            .map(|(_, a)| a.as_str())
            .collect();
        assert_eq!(blob, ["Bearer token-1", "Bearer token-2"], "{seen:?}");
        // The cached token serves the next request.
        assert!(client.container_exists().await.unwrap());
        let tokens = log
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t.starts_with("/msi"))
            .count();
        assert_eq!(tokens, 2, "the renewed token is cached");
    }

    #[tokio::test]
    async fn a_token_refused_twice_fails_with_a_message_without_the_token() {
        let (base, seen) = fake_azure(|_| false);
        let client = client(&base);
        let err = client.container_exists().await.unwrap_err();
        let text = err.to_string();
        assert_eq!(err.status(), Some(403), "{text}");
        assert!(text.contains("managed identity"), "{text}");
        assert!(text.contains("Storage Blob Data"), "{text}");
        assert!(!text.contains("token-"), "{text}");
        let blob_requests = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t.starts_with("/acct"))
            .count();
        assert_eq!(blob_requests, 2, "one request, one retry with a new token");
    }

    #[test]
    fn xml_names_are_read_and_unescaped() {
        let xml = b"<EnumerationResults><Blobs><Blob><Name>a&amp;b</Name></Blob><Blob><Name>fleet.stateenv:prod</Name></Blob></Blobs><NextMarker /></EnumerationResults>";
        assert_eq!(tags(xml, "Name"), ["a&b", "fleet.stateenv:prod"]);
        assert_eq!(tag(xml, "NextMarker"), None);
    }
}
