//! Entra ID credentials, chosen as azurerm chooses them so that pipelines written for
//! Terraform work unchanged: a client certificate, else a client secret, else (with
//! `use_oidc`) a federated token (given, read from a file, or requested from GitHub
//! Actions or Azure Pipelines), else (with `use_msi`) a managed identity, else (unless
//! `use_cli = false`) the Azure CLI's login. Provider attributes win over the ARM_*
//! environment variables.
//!
//! Tokens come from the official Azure SDK's credentials (azure_identity) where they fit:
//! client secret, client certificate, client assertion (every federated token source) and
//! the Azure CLI. Managed identity is done here because azure_identity 1.0 always asks the
//! fixed IMDS address, while azurerm lets `msi_endpoint` / `ARM_MSI_ENDPOINT` point
//! elsewhere. Every credential shares the HTTP client this crate builds (rustls with ring,
//! trusting only the system's roots plus any CA given explicitly), and tokens are cached
//! per scope and refreshed five minutes before they expire; a token a service refuses is
//! forgotten (the credential is built again, since azure_identity's own cache cannot be
//! told to drop one) and asked for anew.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{SecretBytes, TokenCredential};
use azure_core::http::{ClientMethodOptions, ClientOptions, Transport};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertion, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientCertificateCredential,
    ClientCertificateCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
};
use tokio::sync::Mutex;

use crate::cloud::Cloud;
use crate::error::AzureError;
use crate::managed_identity::ManagedIdentity;
use crate::secret::Secret;

/// The audience GitHub Actions and Azure Pipelines tokens are requested for, as azurerm
/// requests them.
pub const FEDERATED_TOKEN_AUDIENCE: &str = "api://AzureADTokenExchange";

/// How long before expiry a cached token is replaced.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// Everything that selects and feeds a credential; each field is a provider attribute of
/// the same name, falling back to the ARM_* variable azurerm reads.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// `tenant_id` / `ARM_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// `client_id` / `ARM_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `client_secret` / `ARM_CLIENT_SECRET`.
    pub client_secret: Option<Secret>,
    /// `client_certificate_path` / `ARM_CLIENT_CERTIFICATE_PATH`: a PKCS#12 (.pfx) file.
    pub client_certificate_path: Option<PathBuf>,
    /// `client_certificate` / `ARM_CLIENT_CERTIFICATE`: the same, base64-encoded.
    pub client_certificate: Option<Secret>,
    /// `client_certificate_password` / `ARM_CLIENT_CERTIFICATE_PASSWORD`.
    pub client_certificate_password: Option<Secret>,
    /// `use_oidc` / `ARM_USE_OIDC`.
    pub use_oidc: bool,
    /// `oidc_token` / `ARM_OIDC_TOKEN`.
    pub oidc_token: Option<Secret>,
    /// `oidc_token_file_path` / `ARM_OIDC_TOKEN_FILE_PATH` (or `AZURE_FEDERATED_TOKEN_FILE`).
    pub oidc_token_file_path: Option<PathBuf>,
    /// `oidc_request_url` / `ARM_OIDC_REQUEST_URL`, `ACTIONS_ID_TOKEN_REQUEST_URL` or
    /// `SYSTEM_OIDCREQUESTURI`.
    pub oidc_request_url: Option<String>,
    /// `oidc_request_token` / `ARM_OIDC_REQUEST_TOKEN`, `ACTIONS_ID_TOKEN_REQUEST_TOKEN` or
    /// `SYSTEM_ACCESSTOKEN`.
    pub oidc_request_token: Option<Secret>,
    /// `ado_pipeline_service_connection_id` / `ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID` (or
    /// `ARM_OIDC_AZURE_SERVICE_CONNECTION_ID`): request the token the Azure Pipelines way.
    pub ado_pipeline_service_connection_id: Option<String>,
    /// `use_msi` / `ARM_USE_MSI`.
    pub use_msi: bool,
    /// `msi_endpoint` / `ARM_MSI_ENDPOINT`.
    pub msi_endpoint: Option<String>,
    /// `use_cli` / `ARM_USE_CLI` (default true).
    pub use_cli: bool,
}

impl AuthConfig {
    /// The settings the environment gives, with azurerm's variable names and fallbacks.
    pub fn from_env() -> AuthConfig {
        AuthConfig {
            tenant_id: first_env(&["ARM_TENANT_ID"]),
            client_id: first_env(&["ARM_CLIENT_ID"]),
            client_secret: first_env(&["ARM_CLIENT_SECRET"]).map(Secret::new),
            client_certificate_path: first_env(&["ARM_CLIENT_CERTIFICATE_PATH"]).map(PathBuf::from),
            client_certificate: first_env(&["ARM_CLIENT_CERTIFICATE"]).map(Secret::new),
            client_certificate_password: first_env(&["ARM_CLIENT_CERTIFICATE_PASSWORD"])
                .map(Secret::new),
            use_oidc: env_bool("ARM_USE_OIDC").unwrap_or(false),
            oidc_token: first_env(&["ARM_OIDC_TOKEN"]).map(Secret::new),
            oidc_token_file_path: first_env(&[
                "ARM_OIDC_TOKEN_FILE_PATH",
                "AZURE_FEDERATED_TOKEN_FILE",
            ])
            .map(PathBuf::from),
            oidc_request_url: first_env(&[
                "ARM_OIDC_REQUEST_URL",
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "SYSTEM_OIDCREQUESTURI",
            ]),
            oidc_request_token: first_env(&[
                "ARM_OIDC_REQUEST_TOKEN",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                "SYSTEM_ACCESSTOKEN",
            ])
            .map(Secret::new),
            ado_pipeline_service_connection_id: first_env(&[
                "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
                "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID",
            ]),
            use_msi: env_bool("ARM_USE_MSI").unwrap_or(false),
            msi_endpoint: first_env(&["ARM_MSI_ENDPOINT"]),
            use_cli: env_bool("ARM_USE_CLI").unwrap_or(true),
        }
    }

    /// Which credential these settings select, in azurerm's order, or why none can be
    /// used.
    pub fn kind(&self) -> Result<CredentialKind, AzureError> {
        let service_principal = self.tenant_id.is_some() && self.client_id.is_some();
        if service_principal
            && (self.client_certificate_path.is_some() || self.client_certificate.is_some())
        {
            return Ok(CredentialKind::ClientCertificate);
        }
        if service_principal && self.client_secret.is_some() {
            return Ok(CredentialKind::ClientSecret);
        }
        if self.use_oidc && service_principal {
            if self.oidc_token.is_some() {
                return Ok(CredentialKind::Federated(FederatedSource::Token));
            }
            if self.oidc_token_file_path.is_some() {
                return Ok(CredentialKind::Federated(FederatedSource::TokenFile));
            }
            if self.oidc_request_url.is_some() && self.oidc_request_token.is_some() {
                return Ok(CredentialKind::Federated(
                    if self.ado_pipeline_service_connection_id.is_some() {
                        FederatedSource::AzurePipelines
                    } else {
                        FederatedSource::GitHubActions
                    },
                ));
            }
        }
        if self.use_msi {
            return Ok(CredentialKind::ManagedIdentity);
        }
        if self.use_cli {
            return Ok(CredentialKind::AzureCli);
        }
        Err(AzureError::Config(
            "no Azure credential is configured: set tenant_id and client_id with a client \
             secret, a client certificate or use_oidc (ARM_TENANT_ID, ARM_CLIENT_ID, \
             ARM_CLIENT_SECRET, ...), or use_msi, or allow the Azure CLI"
                .into(),
        ))
    }
}

/// The credential in use, for messages and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A service principal's PKCS#12 certificate.
    ClientCertificate,
    /// A service principal's client secret.
    ClientSecret,
    /// Workload identity federation.
    Federated(FederatedSource),
    /// The machine's managed identity.
    ManagedIdentity,
    /// `az login`.
    AzureCli,
}

/// Where a federated token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FederatedSource {
    /// `oidc_token`.
    Token,
    /// `oidc_token_file_path`, read again for every new access token.
    TokenFile,
    /// GitHub Actions' ID token request.
    GitHubActions,
    /// Azure Pipelines' OIDC request for a service connection.
    AzurePipelines,
}

impl std::fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CredentialKind::ClientCertificate => "client certificate",
            CredentialKind::ClientSecret => "client secret",
            CredentialKind::Federated(FederatedSource::Token) => "federated token",
            CredentialKind::Federated(FederatedSource::TokenFile) => "federated token file",
            CredentialKind::Federated(FederatedSource::GitHubActions) => {
                "federated token from GitHub Actions"
            }
            CredentialKind::Federated(FederatedSource::AzurePipelines) => {
                "federated token from Azure Pipelines"
            }
            CredentialKind::ManagedIdentity => "managed identity",
            CredentialKind::AzureCli => "Azure CLI",
        })
    }
}

/// An access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Secret,
    /// When it stops working.
    pub expires_on: SystemTime,
}

/// A credential that hands out cached access tokens for any scope.
pub struct Credential {
    kind: CredentialKind,
    source: Mutex<Arc<dyn TokenCredential>>,
    cache: Mutex<HashMap<String, AccessToken>>,
    /// What the source was built from, to build it again: azure_identity's credentials
    /// keep a cache of their own that cannot be told to forget a refused token.
    origin: (AuthConfig, Cloud, reqwest::Client),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The credential `auth` selects, asking `cloud`'s authority over `http`.
    pub fn new(
        auth: &AuthConfig,
        cloud: &Cloud,
        http: &reqwest::Client,
    ) -> Result<Credential, AzureError> {
        let kind = auth.kind()?;
        let source = source(kind, auth, cloud, http)?;
        tracing::debug!(credential = %kind, authority = %cloud.authority_host, "Azure credential selected");
        Ok(Credential {
            kind,
            source: Mutex::new(source),
            cache: Mutex::default(),
            origin: (auth.clone(), cloud.clone(), http.clone()),
        })
    }

    /// Which credential this is.
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// Forgets the cached token for `scope`, after a service refused it (revoked, or
    /// expired earlier than it said), so that the next call asks for a new one.
    pub async fn forget(&self, scope: &str) {
        self.cache.lock().await.remove(scope);
        let (auth, cloud, http) = &self.origin;
        match source(self.kind, auth, cloud, http) {
            Ok(fresh) => *self.source.lock().await = fresh,
            Err(e) => tracing::debug!(credential = %self.kind, "cannot renew the credential: {e}"),
        }
    }

    /// A token for `scope` (e.g. `https://management.azure.com/.default`), from the cache
    /// while it has more than five minutes left.
    pub async fn token(&self, scope: &str) -> Result<AccessToken, AzureError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.get(scope)
            && cached.expires_on > SystemTime::now() + REFRESH_BEFORE
        {
            return Ok(cached.clone());
        }
        tracing::debug!(credential = %self.kind, %scope, "requesting an access token");
        let source = self.source.lock().await.clone();
        let token = source
            .get_token(&[scope], None)
            .await
            .map_err(|e| auth_error(self.kind, e))?;
        let expires_on = SystemTime::from(token.expires_on);
        let token = AccessToken {
            token: Secret::new(token.token.secret().to_owned()),
            expires_on,
        };
        tracing::debug!(
            credential = %self.kind,
            expires_in_secs = expires_on.duration_since(SystemTime::now()).unwrap_or_default().as_secs(),
            "access token received"
        );
        cache.insert(scope.to_owned(), token.clone());
        Ok(token)
    }
}

/// The token source for `kind`: azure_identity's credential, or ours for managed identity.
fn source(
    kind: CredentialKind,
    auth: &AuthConfig,
    cloud: &Cloud,
    http: &reqwest::Client,
) -> Result<Arc<dyn TokenCredential>, AzureError> {
    let fail = |e: azure_core::Error| AzureError::Auth {
        credential: kind.to_string(),
        message: e.to_string(),
    };
    let tenant = auth.tenant_id.clone().unwrap_or_default();
    let client = auth.client_id.clone().unwrap_or_default();
    let options = || client_options(cloud, http);
    Ok(match kind {
        CredentialKind::ClientCertificate => {
            let der = certificate_bytes(auth)?;
            ClientCertificateCredential::new(
                tenant,
                client,
                SecretBytes::new(der),
                Some(ClientCertificateCredentialOptions {
                    client_options: options(),
                    password: auth
                        .client_certificate_password
                        .as_ref()
                        .map(|p| p.expose().to_owned().into()),
                }),
            )
            .map_err(fail)?
        }
        CredentialKind::ClientSecret => ClientSecretCredential::new(
            &tenant,
            client,
            auth.client_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default()
                .into(),
            Some(ClientSecretCredentialOptions {
                client_options: options(),
            }),
        )
        .map_err(fail)?,
        CredentialKind::Federated(source) => ClientAssertionCredential::new(
            tenant,
            client,
            FederatedToken::new(source, auth, http.clone()),
            Some(ClientAssertionCredentialOptions {
                client_options: options(),
            }),
        )
        .map_err(fail)?,
        CredentialKind::ManagedIdentity => Arc::new(ManagedIdentity::new(
            auth.msi_endpoint.as_deref(),
            auth.client_id.clone(),
            http.clone(),
        )?),
        CredentialKind::AzureCli => AzureCliCredential::new(Some(AzureCliCredentialOptions {
            tenant_id: auth.tenant_id.clone(),
            ..AzureCliCredentialOptions::default()
        }))
        .map_err(fail)?,
    })
}

fn auth_error(kind: CredentialKind, e: azure_core::Error) -> AzureError {
    // A transport failure means the authority could not be reached, which a plan treats
    // like any unreachable endpoint.
    if matches!(e.kind(), azure_core::error::ErrorKind::Io) {
        return AzureError::Unreachable {
            endpoint: "the Entra ID token endpoint".into(),
            reason: e.to_string(),
        };
    }
    AzureError::Auth {
        credential: kind.to_string(),
        message: e.to_string(),
    }
}

/// The credentials' HTTP pipeline options: this crate's client and the cloud's authority.
fn client_options(cloud: &Cloud, http: &reqwest::Client) -> ClientOptions {
    let mut custom = CustomConfiguration::default();
    custom.authority_host = cloud
        .authority_host
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(custom))),
        ..ClientOptions::default()
    }
}

fn certificate_bytes(auth: &AuthConfig) -> Result<Vec<u8>, AzureError> {
    if let Some(path) = &auth.client_certificate_path {
        return std::fs::read(path).map_err(|e| {
            AzureError::Config(format!("client certificate {}: {e}", path.display()))
        });
    }
    let encoded = auth
        .client_certificate
        .as_ref()
        .map(|c| c.expose().trim().to_owned())
        .unwrap_or_default();
    base64_decode(&encoded).ok_or_else(|| {
        AzureError::Config("client_certificate is not base64-encoded PKCS#12 data".into())
    })
}

/// Standard base64 with or without padding or line breaks (what `base64 cert.pfx` prints).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let compact: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && *c != '=')
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(compact)
        .ok()
        .filter(|bytes| !bytes.is_empty())
}

/// A federated token for the client assertion: given, read from a file, or requested from
/// the pipeline's OIDC provider each time a new access token is needed.
struct FederatedToken {
    source: FederatedSource,
    token: Option<Secret>,
    file: Option<PathBuf>,
    request_url: Option<String>,
    request_token: Option<Secret>,
    service_connection: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for FederatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederatedToken")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl FederatedToken {
    fn new(source: FederatedSource, auth: &AuthConfig, http: reqwest::Client) -> FederatedToken {
        FederatedToken {
            source,
            token: auth.oidc_token.clone(),
            file: auth.oidc_token_file_path.clone(),
            request_url: auth.oidc_request_url.clone(),
            request_token: auth.oidc_request_token.clone(),
            service_connection: auth.ado_pipeline_service_connection_id.clone(),
            http,
        }
    }

    async fn fetch(&self) -> Result<String, String> {
        match self.source {
            FederatedSource::Token => Ok(self
                .token
                .as_ref()
                .map(|t| t.expose().to_owned())
                .unwrap_or_default()),
            FederatedSource::TokenFile => {
                let path = self.file.clone().unwrap_or_default();
                tokio::fs::read_to_string(&path)
                    .await
                    .map(|t| t.trim().to_owned())
                    .map_err(|e| format!("federated token file {}: {e}", path.display()))
            }
            FederatedSource::GitHubActions => {
                let mut url = url::Url::parse(self.request_url.as_deref().unwrap_or_default())
                    .map_err(|e| format!("oidc_request_url is not a URL: {e}"))?;
                url.query_pairs_mut()
                    .append_pair("audience", FEDERATED_TOKEN_AUDIENCE);
                let answer = self.request(self.http.get(url)).await?;
                string_field(&answer, "value")
            }
            FederatedSource::AzurePipelines => {
                let mut url = url::Url::parse(self.request_url.as_deref().unwrap_or_default())
                    .map_err(|e| format!("oidc_request_url is not a URL: {e}"))?;
                url.query_pairs_mut()
                    .append_pair("api-version", "7.1")
                    .append_pair(
                        "serviceConnectionId",
                        self.service_connection.as_deref().unwrap_or_default(),
                    );
                let answer = self
                    .request(
                        self.http
                            .post(url)
                            .header(reqwest::header::CONTENT_TYPE, "application/json"),
                    )
                    .await?;
                string_field(&answer, "oidcToken")
            }
        }
    }

    async fn request(&self, request: reqwest::RequestBuilder) -> Result<serde_json::Value, String> {
        let token = self
            .request_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        let response = request
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                format!(
                    "requesting the federated token: {}",
                    crate::client::describe_reqwest(&e)
                )
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "requesting the federated token: the pipeline's OIDC endpoint answered {status}"
            ));
        }
        response
            .json()
            .await
            .map_err(|e| format!("requesting the federated token: unreadable answer: {e}"))
    }
}

fn string_field(answer: &serde_json::Value, name: &str) -> Result<String, String> {
    answer[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the pipeline's OIDC endpoint answered without {name:?}"))
}

#[async_trait::async_trait]
impl ClientAssertion for FederatedToken {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        tracing::debug!(source = ?self.source, "reading the federated token");
        self.fetch().await.map_err(|message| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message)
        })
    }
}

fn first_env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
}

fn env_bool(name: &str) -> Option<bool> {
    let value = first_env(&[name])?;
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> AuthConfig {
        AuthConfig {
            tenant_id: Some("t".into()),
            client_id: Some("c".into()),
            use_cli: true,
            ..AuthConfig::default()
        }
    }

    #[test]
    fn credentials_are_chosen_in_azurerms_order() {
        let mut auth = sp();
        assert_eq!(auth.kind().unwrap(), CredentialKind::AzureCli);
        auth.use_msi = true;
        assert_eq!(auth.kind().unwrap(), CredentialKind::ManagedIdentity);
        auth.use_oidc = true;
        auth.oidc_request_url = Some("https://gh/token?x=1".into());
        auth.oidc_request_token = Some(Secret::new("r"));
        assert_eq!(
            auth.kind().unwrap(),
            CredentialKind::Federated(FederatedSource::GitHubActions)
        );
        auth.ado_pipeline_service_connection_id = Some("sc".into());
        assert_eq!(
            auth.kind().unwrap(),
            CredentialKind::Federated(FederatedSource::AzurePipelines)
        );
        auth.oidc_token_file_path = Some("/var/run/token".into());
        assert_eq!(
            auth.kind().unwrap(),
            CredentialKind::Federated(FederatedSource::TokenFile)
        );
        auth.client_secret = Some(Secret::new("s"));
        assert_eq!(auth.kind().unwrap(), CredentialKind::ClientSecret);
        auth.client_certificate_path = Some("/cert.pfx".into());
        assert_eq!(auth.kind().unwrap(), CredentialKind::ClientCertificate);
        let none = AuthConfig::default();
        assert!(
            none.kind()
                .unwrap_err()
                .to_string()
                .contains("no Azure credential")
        );
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let mut auth = sp();
        auth.client_secret = Some(Secret::new("canary-secret"));
        auth.oidc_token = Some(Secret::new("canary-token"));
        assert!(!format!("{auth:?}").contains("canary"));
    }

    #[test]
    fn base64_certificates_decode_with_or_without_padding() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVs\nbG8=").unwrap(), b"hello");
        assert!(base64_decode("not base64!").is_none());
    }
}
