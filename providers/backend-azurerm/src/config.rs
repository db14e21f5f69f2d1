//! The `backend "azurerm"` settings, named as Terraform's `azurerm` backend names them.

use std::path::PathBuf;
use std::time::Duration;

use fleetform_azure::{AuthConfig, CloudConfig, Secret};
use fleetform_planner::state::backend::registry::{BackendConfigError, BackendRequest};

use crate::credential::{Credential, EntraId};

pub(crate) const ATTRIBUTES: &[&str] = &[
    "storage_account_name",
    "container_name",
    "key",
    "access_key",
    "sas_token",
    "use_azuread_auth",
    "endpoint",
    "snapshot",
    "lease_duration",
    // Entra ID (`use_azuread_auth`): Terraform's azurerm backend names, each falling back
    // to the ARM_* variable the Arc provider (and azurerm) reads.
    "tenant_id",
    "client_id",
    "client_secret",
    "client_certificate",
    "client_certificate_path",
    "client_certificate_password",
    "use_oidc",
    "oidc_token",
    "oidc_token_file_path",
    "oidc_request_url",
    "oidc_request_token",
    "ado_pipeline_service_connection_id",
    "use_msi",
    "msi_endpoint",
    "use_cli",
    "environment",
    "metadata_host",
    // Accepted so that Terraform backend blocks work unchanged; Terraform uses it only to
    // look up access keys or the blob endpoint through Resource Manager, which fleetform
    // does not do (the data plane needs no subscription).
    "subscription_id",
];

/// Settings that hold secrets.
pub(crate) const SECRET_ATTRIBUTES: &[&str] = &[
    "access_key",
    "sas_token",
    "client_secret",
    "client_certificate",
    "client_certificate_password",
    "oidc_token",
    "oidc_request_token",
];

/// Where and how states are kept.
#[derive(Clone)]
pub struct Settings {
    /// The storage account.
    pub account: String,
    /// The container (which must exist).
    pub container: String,
    /// The default workspace's blob; other workspaces' blobs are `KEY` + `env:` + name.
    pub key: String,
    /// The Blob service endpoint: `https://ACCOUNT.blob.core.windows.net` unless set
    /// (Azurite: `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: String,
    /// How requests are authorized.
    pub(crate) credential: Credential,
    /// Snapshot the state blob before each write.
    pub snapshot: bool,
    /// How long a lease lasts unless renewed (15 to 60 seconds): a killed run's lock ends
    /// within this.
    pub lease_duration: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("account", &self.account)
            .field("container", &self.container)
            .field("key", &self.key)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads the settings (and `ARM_*` environment variables).
    pub fn from_request(r: &BackendRequest<'_>) -> Result<Settings, BackendConfigError> {
        let required = |name: &str, value: Option<String>| {
            value
                .filter(|v| !v.is_empty())
                .ok_or_else(|| BackendConfigError::at(name, format!("{name} is required")))
        };
        let account = required(
            "storage_account_name",
            r.string("storage_account_name", &[])?,
        )?;
        if !account
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            || account.len() < 3
            || account.len() > 24
        {
            return Err(BackendConfigError::at(
                "storage_account_name",
                format!(
                    "{account:?} is not a storage account name (3 to 24 lowercase letters and digits)"
                ),
            ));
        }
        let container = required("container_name", r.string("container_name", &[])?)?;
        let key = required("key", r.string("key", &[])?)?;
        if key.ends_with(crate::store::JOURNAL_SUFFIX) {
            return Err(BackendConfigError::at(
                "key",
                format!("key may not end in {}", crate::store::JOURNAL_SUFFIX),
            ));
        }
        let endpoint = r
            .string("endpoint", &["ARM_STORAGE_BLOB_ENDPOINT"])?
            .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(BackendConfigError::at(
                "endpoint",
                "endpoint must be an http(s) URL",
            ));
        }
        let access_key = r.string("access_key", &["ARM_ACCESS_KEY"])?;
        let sas_token = r.string("sas_token", &["ARM_SAS_TOKEN"])?;
        let use_azuread = r.bool("use_azuread_auth", &["ARM_USE_AZUREAD"], false)?;
        let credential =
            Credential::choose(&account, access_key, sas_token, use_azuread, || entra_id(r))?;
        if credential.entra().is_some() && !endpoint.starts_with("https://") {
            return Err(BackendConfigError::at(
                "endpoint",
                format!(
                    "use_azuread_auth sends bearer tokens, which are never sent over plain HTTP (Azure Storage refuses them too): {endpoint} must be an https URL"
                ),
            ));
        }
        // Checked for its type only (see ATTRIBUTES).
        r.string("subscription_id", &[])?;
        let lease = r.number("lease_duration", 60)?;
        if !(15..=60).contains(&lease) {
            return Err(BackendConfigError::at(
                "lease_duration",
                format!("a lease lasts 15 to 60 seconds, not {lease}"),
            ));
        }
        Ok(Settings {
            account,
            container,
            key,
            endpoint,
            credential,
            snapshot: r.bool("snapshot", &[], false)?,
            lease_duration: Duration::from_secs(lease),
        })
    }
}

/// The Entra ID identity and cloud, built as the Arc provider builds them: each attribute,
/// else the ARM_* variable fleetform-azure's `AuthConfig::from_env` and
/// `CloudConfig::from_env` read (azurerm's names and fallbacks) from the process's
/// environment, which is what the CLI passes as the request's too.
fn entra_id(r: &BackendRequest<'_>) -> Result<EntraId, BackendConfigError> {
    let text = |name: &str| -> Result<Option<String>, BackendConfigError> {
        Ok(r.string(name, &[])?.filter(|v| !v.trim().is_empty()))
    };
    let secret = |name: &str| Ok::<_, BackendConfigError>(text(name)?.map(Secret::new));
    let path = |name: &str| Ok::<_, BackendConfigError>(text(name)?.map(PathBuf::from));
    let env = AuthConfig::from_env();
    let auth = AuthConfig {
        tenant_id: text("tenant_id")?.or(env.tenant_id),
        client_id: text("client_id")?.or(env.client_id),
        client_secret: secret("client_secret")?.or(env.client_secret),
        client_certificate_path: path("client_certificate_path")?.or(env.client_certificate_path),
        client_certificate: secret("client_certificate")?.or(env.client_certificate),
        client_certificate_password: secret("client_certificate_password")?
            .or(env.client_certificate_password),
        use_oidc: r.bool("use_oidc", &[], env.use_oidc)?,
        oidc_token: secret("oidc_token")?.or(env.oidc_token),
        oidc_token_file_path: path("oidc_token_file_path")?.or(env.oidc_token_file_path),
        oidc_request_url: text("oidc_request_url")?.or(env.oidc_request_url),
        oidc_request_token: secret("oidc_request_token")?.or(env.oidc_request_token),
        ado_pipeline_service_connection_id: text("ado_pipeline_service_connection_id")?
            .or(env.ado_pipeline_service_connection_id),
        use_msi: r.bool("use_msi", &[], env.use_msi)?,
        msi_endpoint: text("msi_endpoint")?.or(env.msi_endpoint),
        use_cli: r.bool("use_cli", &[], env.use_cli)?,
    };
    let env_cloud = CloudConfig::from_env();
    let cloud = CloudConfig {
        environment: text("environment")?.or(env_cloud.environment),
        metadata_host: text("metadata_host")?.or(env_cloud.metadata_host),
        resource_manager_endpoint: None,
        authority_host: None,
    };
    EntraId::new(auth, cloud)
}
