//! The `backend "azurerm"` settings, named as Terraform's `azurerm` backend names them.

use std::time::Duration;

use fleetform_planner::state::backend::registry::{BackendConfigError, BackendRequest};

use crate::credential::Credential;

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
        let credential = Credential::choose(&account, access_key, sas_token, use_azuread)?;
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
