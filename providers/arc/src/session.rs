//! One run's connection to Azure: the settings of the provider block, and the Resource
//! Manager client built from them on first use (so a run that touches no Arc resource
//! never asks for a token), shared by every resource of the run.

use std::sync::{Arc, OnceLock};

use fleetform_azure::{ArmClient, Cloud, Credential, http_client};
use fleetform_sdk::ProviderError;
use tokio::sync::OnceCell;

use crate::config::Settings;
use crate::in_cluster::{InCluster, InClusterError};
use fleetform_provider_addons::directory::ClusterDirectory;

/// Resource Manager and the cloud it belongs to.
struct Azure {
    arm: ArmClient,
    cloud: Cloud,
}

/// The provider's state for a run.
pub struct Session {
    /// The provider block's settings.
    pub settings: Settings,
    /// The clusters the run's kubernetes provider knows: how to reach one behind a jump
    /// host, given its admin kubeconfig.
    clusters: Arc<dyn ClusterDirectory>,
    azure: OnceCell<Azure>,
    http: OnceLock<reqwest::Client>,
}

impl Session {
    /// A session for `settings`; nothing is contacted yet.
    pub fn new(settings: Settings, clusters: Arc<dyn ClusterDirectory>) -> Session {
        Session {
            settings,
            clusters,
            azure: OnceCell::new(),
            http: OnceLock::new(),
        }
    }

    /// A connection to the cluster `kubeconfig` names: through SSH port forwards when it is
    /// a fleetform cluster behind a jump host, directly otherwise.
    pub async fn in_cluster(&self, kubeconfig: &str) -> Result<InCluster, InClusterError> {
        let connector = self
            .clusters
            .cluster_with_kubeconfig(kubeconfig)
            .and_then(|facts| facts.connector);
        InCluster::connect(kubeconfig, connector).await
    }

    /// The HTTP client for Azure and agent bundles: the system's roots plus the
    /// configured CA file.
    pub fn http(&self) -> Result<&reqwest::Client, ProviderError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let pem = match &self.settings.ca_certificate_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                ProviderError::permanent(format!("ca_certificate_file {}: {e}", path.display()))
            })?),
            None => None,
        };
        let http = http_client(pem.as_deref()).map_err(ProviderError::from)?;
        Ok(self.http.get_or_init(|| http))
    }

    /// The Resource Manager client, built on first use.
    pub async fn arm(&self) -> Result<&ArmClient, ProviderError> {
        Ok(&self.azure().await?.arm)
    }

    /// The cloud, resolved on first use.
    pub async fn cloud(&self) -> Result<&Cloud, ProviderError> {
        Ok(&self.azure().await?.cloud)
    }

    async fn azure(&self) -> Result<&Azure, ProviderError> {
        self.azure
            .get_or_try_init(|| async {
                let http = self.http()?.clone();
                let cloud = self
                    .settings
                    .cloud
                    .resolve(&http)
                    .await
                    .map_err(ProviderError::from)?;
                let credential = Credential::new(&self.settings.auth, &cloud, &http)
                    .map_err(ProviderError::from)?;
                tracing::debug!(
                    cloud = %cloud.name,
                    resource_manager = %cloud.resource_manager,
                    credential = %credential.kind(),
                    "Azure Resource Manager client ready"
                );
                let arm = ArmClient::new(http, &cloud, Arc::new(credential))
                    .with_operation_timeout(self.settings.operation_timeout);
                Ok(Azure { arm, cloud })
            })
            .await
    }

    /// The subscription, or the error saying how to set it.
    pub fn subscription(&self) -> Result<&str, ProviderError> {
        self.settings.subscription_id.as_deref().ok_or_else(|| {
            ProviderError::permanent(
                "the arc provider has no subscription: set subscription_id in provider \"arc\" {} or ARM_SUBSCRIPTION_ID",
            )
        })
    }
}
