//! The managed identity of the machine fleetform runs on, through the Instance Metadata
//! Service protocol: `GET {endpoint}?api-version=2018-02-01&resource=...` with the
//! `Metadata: true` header. The endpoint is IMDS's fixed address unless `msi_endpoint`
//! (`ARM_MSI_ENDPOINT`) names another, as azurerm allows.

use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error, ErrorKind};
use azure_core::time::OffsetDateTime;
use serde::Deserialize;
use url::Url;

use crate::error::AzureError;

/// The Instance Metadata Service's token endpoint.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// A managed identity: the system-assigned one, or a user-assigned one by client id.
#[derive(Debug)]
pub struct ManagedIdentity {
    endpoint: Url,
    client_id: Option<String>,
    http: reqwest::Client,
}

impl ManagedIdentity {
    /// The identity behind `endpoint` (IMDS when `None`).
    pub fn new(
        endpoint: Option<&str>,
        client_id: Option<String>,
        http: reqwest::Client,
    ) -> Result<ManagedIdentity, AzureError> {
        let text = endpoint.unwrap_or(IMDS_ENDPOINT);
        let endpoint = Url::parse(text)
            .map_err(|e| AzureError::Config(format!("msi_endpoint {text:?}: {e}")))?;
        Ok(ManagedIdentity {
            endpoint,
            client_id,
            http,
        })
    }
}

/// IMDS answers numbers as strings; App Service style endpoints as numbers.
#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
}

fn seconds(value: &Option<serde_json::Value>) -> Option<i64> {
    match value.as_ref()? {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

#[async_trait::async_trait]
impl TokenCredential for ManagedIdentity {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let scope = scopes.first().copied().unwrap_or_default();
        let resource = scope.strip_suffix("/.default").unwrap_or(scope);
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("api-version", "2018-02-01")
            .append_pair("resource", resource);
        if let Some(client_id) = &self.client_id {
            url.query_pairs_mut().append_pair("client_id", client_id);
        }
        let response = self
            .http
            .get(url)
            .header("Metadata", "true")
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| {
                Error::with_message(
                    ErrorKind::Io,
                    format!(
                        "managed identity endpoint {}: {}",
                        self.endpoint,
                        crate::client::describe_reqwest(&e)
                    ),
                )
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            Error::with_message(ErrorKind::Io, format!("managed identity endpoint: {e}"))
        })?;
        if !status.is_success() {
            let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let described = answer["error_description"]
                .as_str()
                .or(answer["error"].as_str())
                .unwrap_or("no description");
            return Err(Error::with_message(
                ErrorKind::Credential,
                format!("managed identity endpoint answered {status}: {described}"),
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            Error::with_message(
                ErrorKind::Credential,
                format!("managed identity endpoint: unreadable answer: {e}"),
            )
        })?;
        let now = OffsetDateTime::now_utc();
        let expires_on = seconds(&answer.expires_on)
            .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok())
            .or_else(|| seconds(&answer.expires_in).map(|s| now + time::Duration::seconds(s)))
            .unwrap_or(now + time::Duration::minutes(5));
        Ok(AccessToken::new(answer.access_token, expires_on))
    }
}
