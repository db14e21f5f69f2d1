//! The ARM client: the one place that sends requests to Azure Resource Manager. Every
//! request carries a cached bearer token and is retried as [`RetryPolicy`] says;
//! long-running operations are followed through `Azure-AsyncOperation` or `Location`
//! (only on Resource Manager's own origin, so a token never goes elsewhere) until they
//! end; error bodies become [`AzureError::Arm`] with ARM's code and message.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use fleetform_sdk::CancellationToken;
use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

use crate::cloud::Cloud;
use crate::credential::Credential;
use crate::error::{ArmFailure, AzureError};
use crate::retry::{RetryPolicy, Verdict, retry_after};

/// Builds the HTTP client every Azure call uses: rustls (the process's ring provider),
/// the system's trust roots plus `extra_ca_pem` when given (an Azure Stack or lab CA;
/// verification is never turned off), and bounded connect and request times.
pub fn http_client(extra_ca_pem: Option<&[u8]>) -> Result<reqwest::Client, AzureError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("fleetform/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120));
    if let Some(pem) = extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| AzureError::Config(format!("CA certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(AzureError::Config(
                "CA certificate file holds no PEM certificate".into(),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| AzureError::Config(format!("cannot build the HTTP client: {e}")))
}

/// A reqwest failure in a few words, with its causes (refused, timed out, reset).
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The JSON body (`null` when empty).
    pub body: Value,
}

/// Talks to Resource Manager for one cloud and credential.
#[derive(Debug, Clone)]
pub struct ArmClient {
    http: reqwest::Client,
    endpoint: Url,
    scope: String,
    credential: Arc<Credential>,
    retry: RetryPolicy,
    /// The longest a long-running operation is followed.
    operation_timeout: Duration,
    /// The poll interval when ARM suggests none.
    poll_interval: Duration,
}

impl ArmClient {
    /// A client for `cloud`'s Resource Manager with `credential`.
    pub fn new(http: reqwest::Client, cloud: &Cloud, credential: Arc<Credential>) -> ArmClient {
        ArmClient {
            http,
            endpoint: cloud.resource_manager.clone(),
            scope: cloud.resource_manager_scope(),
            credential,
            retry: RetryPolicy::default(),
            operation_timeout: Duration::from_secs(25 * 60),
            poll_interval: Duration::from_secs(5),
        }
    }

    /// Uses `policy` for retries.
    pub fn with_retry(mut self, policy: RetryPolicy) -> ArmClient {
        self.retry = policy;
        self
    }

    /// Follows long-running operations for at most `timeout`.
    pub fn with_operation_timeout(mut self, timeout: Duration) -> ArmClient {
        self.operation_timeout = timeout;
        self
    }

    /// Reads a resource; `None` when ARM says it does not exist.
    pub async fn get(
        &self,
        id: &str,
        api_version: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<Value>, AzureError> {
        match self
            .send(Method::GET, self.url(id, api_version)?, None, cancel)
            .await
        {
            Ok(r) => Ok(Some(r.body)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates or replaces a resource and waits until its operation ends; returns the
    /// resource as ARM then reads it. PUT is idempotent, so a retried PUT is safe.
    pub async fn put(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
        cancel: &CancellationToken,
    ) -> Result<Value, AzureError> {
        self.write(Method::PUT, id, api_version, body, cancel).await
    }

    /// Updates a resource in place and waits until its operation ends.
    pub async fn patch(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
        cancel: &CancellationToken,
    ) -> Result<Value, AzureError> {
        self.write(Method::PATCH, id, api_version, body, cancel)
            .await
    }

    /// Deletes a resource and waits until it is gone; a resource already gone is fine.
    pub async fn delete(
        &self,
        id: &str,
        api_version: &str,
        cancel: &CancellationToken,
    ) -> Result<(), AzureError> {
        let what = format!("DELETE {id}");
        let first = match self
            .send(Method::DELETE, self.url(id, api_version)?, None, cancel)
            .await
        {
            Err(e) if e.status() == Some(404) => return Ok(()),
            other => other?,
        };
        if first.status == StatusCode::ACCEPTED {
            match self.follow(&what, &first, cancel).await {
                Err(e) if e.status() == Some(404) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Sends a POST action (e.g. `listClusterUserCredential`) and returns its answer.
    pub async fn post(
        &self,
        path: &str,
        api_version: &str,
        body: &Value,
        cancel: &CancellationToken,
    ) -> Result<Value, AzureError> {
        Ok(self
            .send(
                Method::POST,
                self.url(path, api_version)?,
                Some(body),
                cancel,
            )
            .await?
            .body)
    }

    async fn write(
        &self,
        method: Method,
        id: &str,
        api_version: &str,
        body: &Value,
        cancel: &CancellationToken,
    ) -> Result<Value, AzureError> {
        let what = format!("{method} {id}");
        let first = self
            .send(method, self.url(id, api_version)?, Some(body), cancel)
            .await?;
        let mut current = first.body.clone();
        if operation_url(&first.headers).is_some() {
            if let Some(final_body) = self.follow(&what, &first, cancel).await? {
                current = final_body;
            }
            current = self.get(id, api_version, cancel).await?.unwrap_or(current);
        }
        self.settle(&what, id, api_version, current, cancel).await
    }

    /// Polls a resource whose provisioning state is not final yet (an operation answered
    /// 200/201 without a status URL).
    async fn settle(
        &self,
        what: &str,
        id: &str,
        api_version: &str,
        mut current: Value,
        cancel: &CancellationToken,
    ) -> Result<Value, AzureError> {
        let deadline = Instant::now() + self.operation_timeout;
        loop {
            let state = current["properties"]["provisioningState"]
                .as_str()
                .unwrap_or("Succeeded")
                .to_owned();
            match state.to_ascii_lowercase().as_str() {
                "succeeded" => return Ok(current),
                "failed" | "canceled" => {
                    let error = &current["properties"]["errorInfo"];
                    return Err(AzureError::OperationFailed {
                        what: what.to_owned(),
                        status: state,
                        code: error["code"]
                            .as_str()
                            .unwrap_or("ProvisioningFailed")
                            .into(),
                        message: error["message"]
                            .as_str()
                            .unwrap_or("the resource's provisioning failed")
                            .into(),
                    });
                }
                _ => {}
            }
            if Instant::now() > deadline {
                return Err(AzureError::TimedOut {
                    what: what.to_owned(),
                    secs: self.operation_timeout.as_secs(),
                });
            }
            pause(self.poll_interval, cancel).await?;
            current = self
                .get(id, api_version, cancel)
                .await?
                .ok_or_else(|| AzureError::Decode(format!("{what}: the resource disappeared")))?;
        }
    }

    /// Follows a long-running operation until it ends. Returns the final body when the
    /// operation was followed through `Location` and ended with one.
    async fn follow(
        &self,
        what: &str,
        first: &Response,
        cancel: &CancellationToken,
    ) -> Result<Option<Value>, AzureError> {
        let Some((url, via_status)) = operation_url(&first.headers) else {
            return Ok(None);
        };
        let url = self.same_origin(&url)?;
        let deadline = Instant::now() + self.operation_timeout;
        let mut delay = self.poll_delay(&first.headers);
        loop {
            pause(delay, cancel).await?;
            let poll = self.send(Method::GET, url.clone(), None, cancel).await?;
            if via_status {
                let status = poll.body["status"].as_str().unwrap_or("InProgress");
                match status.to_ascii_lowercase().as_str() {
                    "succeeded" => return Ok(None),
                    "failed" | "canceled" | "cancelled" => {
                        let error = &poll.body["error"];
                        return Err(AzureError::OperationFailed {
                            what: what.to_owned(),
                            status: status.to_owned(),
                            code: error["code"].as_str().unwrap_or("OperationFailed").into(),
                            message: error["message"].as_str().unwrap_or("no message").into(),
                        });
                    }
                    _ => {}
                }
            } else if poll.status != StatusCode::ACCEPTED {
                return Ok((!poll.body.is_null()).then_some(poll.body));
            }
            if Instant::now() > deadline {
                return Err(AzureError::TimedOut {
                    what: what.to_owned(),
                    secs: self.operation_timeout.as_secs(),
                });
            }
            delay = self.poll_delay(&poll.headers);
            tracing::debug!(operation = %what, delay_ms = delay.as_millis() as u64, "operation still running");
        }
    }

    fn poll_delay(&self, headers: &HeaderMap) -> Duration {
        retry_after(headers, SystemTime::now())
            .unwrap_or(self.poll_interval)
            .min(Duration::from_secs(60))
    }

    /// `url` when it is on Resource Manager's origin: the bearer token goes nowhere else.
    fn same_origin(&self, url: &str) -> Result<Url, AzureError> {
        let parsed = Url::parse(url)
            .map_err(|e| AzureError::Decode(format!("operation URL {url:?}: {e}")))?;
        if parsed.origin() != self.endpoint.origin() {
            return Err(AzureError::Decode(format!(
                "the operation status URL {}://{} is not Resource Manager's ({}); not following it",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default(),
                self.endpoint.origin().ascii_serialization()
            )));
        }
        Ok(parsed)
    }

    fn url(&self, id: &str, api_version: &str) -> Result<Url, AzureError> {
        if !id.starts_with('/') || id.contains("..") || id.contains('?') || id.contains('#') {
            return Err(AzureError::Config(format!(
                "{id:?} is not an ARM resource id"
            )));
        }
        let mut url = self.endpoint.clone();
        url.set_path(&format!(
            "{}{id}",
            self.endpoint.path().trim_end_matches('/')
        ));
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        Ok(url)
    }

    /// Sends one request, retrying transient failures as the policy says.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        cancel: &CancellationToken,
    ) -> Result<Response, AzureError> {
        let what = format!("{method} {}", url.path());
        let (mut retry, mut waited) = (0u32, Duration::ZERO);
        let mut answered = false;
        let mut renewed_token = false;
        loop {
            let token = self.credential.token(&self.scope).await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.token.expose())
                .header(ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            tracing::trace!(request = %what, attempt = retry + 1, "sending an ARM request");
            let sent = tokio::select! {
                r = request.send() => r,
                () = cancel.cancelled() => return Err(AzureError::Cancelled),
            };
            let (verdict, last) = match sent {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Ok(bytes) if status.is_success() => {
                            let body = if bytes.is_empty() {
                                Value::Null
                            } else {
                                serde_json::from_slice(&bytes)
                                    .map_err(|e| AzureError::Decode(format!("{what}: {e}")))?
                            };
                            tracing::debug!(request = %what, status = status.as_u16(), attempts = retry + 1, "ARM answered");
                            return Ok(Response {
                                status,
                                headers,
                                body,
                            });
                        }
                        Ok(bytes) => {
                            answered = true;
                            let error = arm_error(&method, url.path(), status, &headers, &bytes);
                            // A cached token ARM no longer accepts is replaced once.
                            if status == StatusCode::UNAUTHORIZED && !renewed_token {
                                renewed_token = true;
                                tracing::debug!(request = %what, code = error.code().unwrap_or_default(), "ARM refused the token; asking for a new one");
                                self.credential.forget(&self.scope).await;
                                continue;
                            }
                            let verdict =
                                self.retry
                                    .after_status(retry, status, &headers, SystemTime::now());
                            if verdict == Verdict::GiveUp {
                                return Err(if retry == 0 || !crate::retry::is_transient(status) {
                                    error
                                } else {
                                    AzureError::RetriesExhausted {
                                        what,
                                        attempts: retry + 1,
                                        waited_secs: waited.as_secs(),
                                        last: error.to_string(),
                                    }
                                });
                            }
                            (verdict, error.to_string())
                        }
                        Err(e) => (
                            self.retry.after_connection_failure(retry),
                            format!("reading the answer: {}", describe_reqwest(&e)),
                        ),
                    }
                }
                Err(e) => (
                    self.retry.after_connection_failure(retry),
                    describe_reqwest(&e),
                ),
            };
            let Verdict::RetryAfter(wait) = verdict else {
                let endpoint = format!("{}{}", url.origin().ascii_serialization(), url.path());
                return Err(if answered {
                    AzureError::RetriesExhausted {
                        what,
                        attempts: retry + 1,
                        waited_secs: waited.as_secs(),
                        last,
                    }
                } else {
                    AzureError::Unreachable {
                        endpoint,
                        reason: format!("{last} (after {} attempts)", retry + 1),
                    }
                });
            };
            tracing::debug!(
                request = %what,
                attempt = retry + 1,
                wait_ms = wait.as_millis() as u64,
                reason = %last,
                "retrying an ARM request"
            );
            pause(wait, cancel).await?;
            waited += wait;
            retry += 1;
        }
    }
}

/// The status URL of a long-running operation, and whether it is an
/// `Azure-AsyncOperation` status (rather than a `Location` to poll for the result).
fn operation_url(headers: &HeaderMap) -> Option<(String, bool)> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    get("azure-asyncoperation")
        .map(|u| (u, true))
        .or_else(|| get("location").map(|u| (u, false)))
}

/// ARM's error body (`{"error": {"code", "message", "details"}}`, or the same fields at
/// the top) as an [`AzureError::Arm`].
pub fn arm_error(
    method: &Method,
    path: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> AzureError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or_default();
    let error = if parsed["error"].is_object() {
        &parsed["error"]
    } else {
        &parsed
    };
    let code = error["code"]
        .as_str()
        .unwrap_or(status.canonical_reason().unwrap_or("Error"))
        .to_owned();
    let mut message = error["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    let details: Vec<String> = error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let place = d["target"].as_str().or(d["code"].as_str())?;
            Some(format!(
                "{place}: {}",
                d["message"].as_str().unwrap_or_default()
            ))
        })
        .collect();
    if !details.is_empty() {
        message = format!("{message} ({})", details.join("; "));
    }
    AzureError::Arm(Box::new(ArmFailure {
        method: method.to_string(),
        path: path.to_owned(),
        status: status.as_u16(),
        code,
        message,
        request_id: headers
            .get("x-ms-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }))
}

async fn pause(wait: Duration, cancel: &CancellationToken) -> Result<(), AzureError> {
    tokio::select! {
        () = tokio::time::sleep(wait) => Ok(()),
        () = cancel.cancelled() => Err(AzureError::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_error_bodies_keep_code_message_and_details() {
        let body = br#"{"error":{"code":"InvalidRequestContent","message":"The request content was invalid.","details":[{"code":"MissingProperty","message":"properties.agentPublicKeyCertificate is required"}]}}"#;
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-request-id", "abc".parse().unwrap());
        let e = arm_error(
            &Method::PUT,
            "/subscriptions/s/resourcegroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c",
            StatusCode::BAD_REQUEST,
            &headers,
            body,
        );
        assert_eq!(e.code(), Some("InvalidRequestContent"));
        let text = e.to_string();
        assert!(text.contains("400 InvalidRequestContent: The request content was invalid. (MissingProperty: properties.agentPublicKeyCertificate is required)"), "{text}");
        assert!(text.contains("(request id abc)"), "{text}");
        let provider: fleetform_sdk::ProviderError = e.into();
        assert_eq!(provider.kind, fleetform_sdk::ErrorKind::Permanent);
    }

    #[test]
    fn bodies_without_the_error_wrapper_and_without_json_still_read() {
        let e = arm_error(
            &Method::GET,
            "/x",
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"upstream connect error",
        );
        assert_eq!(e.code(), Some("Service Unavailable"));
        assert!(e.to_string().contains("upstream connect error"));
        let provider: fleetform_sdk::ProviderError = e.into();
        assert_eq!(provider.kind, fleetform_sdk::ErrorKind::Transient);
    }

    #[test]
    fn operation_urls_prefer_the_async_status() {
        let mut headers = HeaderMap::new();
        headers.insert("location", "https://arm/loc".parse().unwrap());
        assert_eq!(
            operation_url(&headers),
            Some(("https://arm/loc".to_owned(), false))
        );
        headers.insert("azure-asyncoperation", "https://arm/op".parse().unwrap());
        assert_eq!(
            operation_url(&headers),
            Some(("https://arm/op".to_owned(), true))
        );
    }
}
