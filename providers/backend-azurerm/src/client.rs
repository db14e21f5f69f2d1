//! The only file that talks to the Blob service: the REST operations the backend uses,
//! authorized with the configured credential, retried with backoff when the service says a
//! failure is transient (429, 5xx, a dropped connection). Every write the backend makes is
//! conditional (a lease, an ETag, or an append position), so a retried write cannot land
//! twice.

use std::collections::BTreeMap;
use std::time::Duration;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::config::Settings;
use crate::credential::Credential;

/// The Blob service version requests ask for.
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
}

impl BlobError {
    /// The HTTP status, if the service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            BlobError::Status { status, .. } => Some(*status),
            BlobError::Transport(_) => None,
        }
    }

    /// The service's error code, if it answered.
    pub fn code(&self) -> &str {
        match self {
            BlobError::Status { code, .. } => code,
            BlobError::Transport(_) => "",
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
        Ok(BlobClient {
            http,
            endpoint: settings.endpoint.clone(),
            container: settings.container.clone(),
            account: settings.account.clone(),
            credential: settings.credential.clone(),
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
        for attempt in 1..=ATTEMPTS {
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
                other => return other.map_err(|e| e.0),
            }
        }
        unreachable!("the last attempt returns")
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
        BlobError::Status { status, .. } => {
            *status == StatusCode::TOO_MANY_REQUESTS.as_u16() || (500..600).contains(status)
        }
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
    use super::*;

    #[test]
    fn xml_names_are_read_and_unescaped() {
        let xml = b"<EnumerationResults><Blobs><Blob><Name>a&amp;b</Name></Blob><Blob><Name>fleet.stateenv:prod</Name></Blob></Blobs><NextMarker /></EnumerationResults>";
        assert_eq!(tags(xml, "Name"), ["a&b", "fleet.stateenv:prod"]);
        assert_eq!(tag(xml, "NextMarker"), None);
    }
}
