//! Azure for fleetform: which cloud ([`cloud`]), who we are ([`credential`]: Entra ID
//! tokens as azurerm obtains them, from provider attributes or the ARM_* variables), and
//! the Resource Manager client ([`client`]: retries as ARM defines transient faults, in
//! [`retry`]; long-running operations; ARM's error bodies as [`AzureError`]s).
//!
//! The credential API is small and knows nothing of Resource Manager, so that other users
//! (the Azure Blob state backend) can ask for a token for their own scope:
//!
//! ```no_run
//! # async fn demo() -> Result<(), fleetform_azure::AzureError> {
//! use fleetform_azure::{AuthConfig, CloudConfig, Credential, http_client};
//!
//! let http = http_client(None)?;
//! let cloud = CloudConfig::from_env().resolve(&http).await?;
//! let credential = Credential::new(&AuthConfig::from_env(), &cloud, &http)?;
//! let token = credential.token("https://storage.azure.com/.default").await?;
//! # let _ = token;
//! # Ok(())
//! # }
//! ```
//!
//! Nothing here prints, and no secret reaches a log line or an error message: secrets are
//! [`Secret`]s, whose `Debug` and `Display` hide them.

pub mod client;
pub mod cloud;
pub mod credential;
pub mod error;
mod managed_identity;
pub mod retry;
mod secret;

pub use client::{ArmClient, Response, http_client};
pub use cloud::{Cloud, CloudConfig, Environment};
pub use credential::{AccessToken, AuthConfig, Credential, CredentialKind, FederatedSource};
pub use error::{ArmFailure, AzureError};
pub use managed_identity::IMDS_ENDPOINT;
pub use retry::RetryPolicy;
pub use secret::Secret;
