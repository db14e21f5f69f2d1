//! `fleet { backend "azurerm" {} }`: state in Azure Blob Storage, with Terraform's `azurerm`
//! backend settings (`storage_account_name`, `container_name`, `key`, `access_key` /
//! `ARM_ACCESS_KEY`, `sas_token` / `ARM_SAS_TOKEN`, `use_azuread_auth`, `snapshot`) and an
//! `endpoint` for the Blob service (Azurite, sovereign clouds).
//!
//! - `config.rs`: the settings.
//! - `credential.rs`: how requests are authorized (SharedKey, SAS; the seam for Entra ID).
//! - `client.rs`: the only file that talks to the Blob service (REST, retries).
//! - `store.rs`: the backend, its stores, journals and leases.
//!
//! The official Azure SDK for Rust is not used: its Blob crate authorizes with Entra ID
//! tokens only (no account keys, which Terraform users rely on and Azurite needs).

pub mod client;
mod config;
mod credential;
mod store;

use fleetform_planner::state::backend::Backend;
use fleetform_planner::state::backend::registry::{
    BackendConfigError, BackendKind, BackendRequest,
};

pub use config::Settings;
pub use store::AzureBackend;

/// The backend kind's name in `backend "azurerm"`.
pub const NAME: &str = "azurerm";

/// The `azurerm` backend kind, registered by the CLI.
pub struct AzurermKind;

impl BackendKind for AzurermKind {
    fn attributes(&self) -> &'static [&'static str] {
        config::ATTRIBUTES
    }

    fn secret_attributes(&self) -> &'static [&'static str] {
        &["access_key", "sas_token"]
    }

    fn configure(
        &self,
        request: &BackendRequest<'_>,
    ) -> Result<Box<dyn Backend>, BackendConfigError> {
        let settings = Settings::from_request(request)?;
        Ok(Box::new(AzureBackend::connect(
            settings,
            request.codec.clone(),
        )?))
    }
}
