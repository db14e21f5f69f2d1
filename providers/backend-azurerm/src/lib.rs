//! `fleet { backend "azurerm" {} }`: state in Azure Blob Storage, with Terraform's `azurerm`
//! backend settings (`storage_account_name`, `container_name`, `key`, `access_key` /
//! `ARM_ACCESS_KEY`, `sas_token` / `ARM_SAS_TOKEN`, `use_azuread_auth` / `ARM_USE_AZUREAD`
//! with azurerm's identity settings, `snapshot`) and an `endpoint` for the Blob service
//! (Azurite, sovereign clouds).
//!
//! - `config.rs`: the settings.
//! - `credential.rs`: how requests are authorized (SharedKey, SAS, or Entra ID through
//!   fleetform-azure's shared credentials).
//! - `client.rs`: the only file that talks to the Blob service (REST, retries, bearer
//!   tokens asked of the shared credential).
//! - `store.rs`: the backend, its stores, journals and leases.
//!
//! The official Azure SDK's Blob crate is not used: it authorizes with Entra ID tokens only
//! (no account keys, which Terraform users rely on and Azurite needs). Entra ID tokens come
//! from fleetform-azure, the crate the Arc provider uses, so both choose an identity alike.

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
        config::SECRET_ATTRIBUTES
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
