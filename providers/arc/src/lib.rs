//! The `arc` provider: Azure Arc for the fleet's clusters. `arc_connected_cluster`
//! connects a cluster (the Microsoft.Kubernetes/connectedClusters resource, and the
//! agents' key, configuration and workloads in the cluster), `arc_extension` manages a
//! cluster extension (Azure Monitor, Defender, Flux, ...), and `gitops_configuration` a
//! Flux configuration, through Arc or, for sites without Arc, directly in the cluster.
//! Attribute names are the snake_case of ARM's property names, as in azurerm.
//!
//! Azure is reached through `fleetform-azure` (credentials as azurerm resolves them, the
//! ARM client with retries and long-running operations); clusters through
//! [`in_cluster`], the one module that speaks to a Kubernetes API. A site whose cluster
//! cannot be reached does not fail the run: the Azure side is done and the in-cluster side
//! is recorded as deferred ([`deferral`]) until an apply reaches the site. Every plan
//! checks the [`deadlines`] of each connected cluster.

pub mod agent;
pub mod config;
pub mod connected_cluster;
pub mod deadlines;
pub mod deferral;
pub mod extension;
mod failure;
pub mod flux;
pub mod gates;
pub mod health;
pub mod in_cluster;
pub mod resources;
pub mod session;
mod values;

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, ConfigureRequest, Diagnostics, GateRequest, GateStatus,
    PlanRequest, PlanResponse, Provider, ProviderError, ProviderSchema, ReadRequest,
    ValidateRequest, Value,
};

use config::Settings;
use session::Session;

/// The provider's name, as written in `provider "arc" {}`.
pub const NAME: &str = "arc";

use fleetform_provider_addons::directory::{ClusterDirectory, NoClusters};

/// The built-in `arc` provider.
pub struct ArcProvider {
    session: RwLock<Option<Arc<Session>>>,
    clusters: Arc<dyn ClusterDirectory>,
}

impl Default for ArcProvider {
    fn default() -> ArcProvider {
        ArcProvider::new()
    }
}

impl ArcProvider {
    /// A provider that reads its settings when configured and reaches clusters with the
    /// kubeconfigs it is given.
    pub fn new() -> ArcProvider {
        ArcProvider::with_clusters(Arc::new(NoClusters))
    }

    /// A provider that reaches the fleet's own clusters as `clusters` (the kubernetes
    /// provider) says, also those behind a jump host.
    pub fn with_clusters(clusters: Arc<dyn ClusterDirectory>) -> ArcProvider {
        ArcProvider {
            session: RwLock::new(None),
            clusters,
        }
    }

    /// The run's session: configured by the provider block, or from the ARM_* variables
    /// alone when the configuration has no `provider "arc" {}` block.
    fn session(&self) -> Result<Arc<Session>, ProviderError> {
        if let Some(session) = self.session.read().ok().and_then(|s| s.clone()) {
            return Ok(session);
        }
        let session = Arc::new(Session::new(
            Settings::from_config(&Value::Null)?,
            self.clusters.clone(),
        ));
        if let Ok(mut slot) = self.session.write() {
            return Ok(slot.get_or_insert(session).clone());
        }
        Ok(session)
    }
}

#[async_trait::async_trait]
impl Provider for ArcProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: config::schema(),
            resources: [
                (
                    "arc_connected_cluster",
                    resources::arc_connected_cluster::schema(),
                ),
                ("arc_extension", resources::arc_extension::schema()),
                (
                    "gitops_configuration",
                    resources::gitops_configuration::schema(),
                ),
            ]
            .into_iter()
            .map(|(name, schema)| (name.to_owned(), schema))
            .collect(),
            data_sources: Default::default(),
        }
    }

    fn validate_resource(&self, request: &ValidateRequest) -> Diagnostics {
        match request.type_name.as_str() {
            "arc_connected_cluster" => connected_cluster::validate(&request.config),
            "arc_extension" => extension::validate(&request.config),
            "gitops_configuration" => flux::validate(&request.config),
            _ => Diagnostics::new(),
        }
    }

    fn health(&self, type_name: &str, value: &Value) -> Option<fleetform_sdk::Health> {
        match type_name {
            "arc_connected_cluster" => {
                let warning = self
                    .session()
                    .map(|s| s.settings.deadlines.identity_certificate_warning)
                    .unwrap_or_else(|_| {
                        deadlines::Deadlines::default().identity_certificate_warning
                    });
                Some(health::connected_cluster(value, warning))
            }
            "gitops_configuration" => health::gitops_configuration(value),
            _ => None,
        }
    }

    async fn configure(&self, request: ConfigureRequest) -> Result<(), ProviderError> {
        let settings = Settings::from_config(&request.config)?;
        if let Ok(mut slot) = self.session.write() {
            *slot = Some(Arc::new(Session::new(settings, self.clusters.clone())));
        }
        Ok(())
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, ProviderError> {
        let session = self.session()?;
        match request.type_name.as_str() {
            "arc_connected_cluster" => Ok(connected_cluster::plan(
                &session,
                &request,
                SystemTime::now(),
            )),
            "arc_extension" => Ok(extension::plan(&request)),
            "gitops_configuration" => Ok(flux::plan(&request)),
            other => Err(unknown_type(other)),
        }
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        let session = match self.session() {
            Ok(session) => session,
            Err(e) => {
                return ApplyResponse {
                    new_state: request.prior,
                    error: Some(e),
                };
            }
        };
        let mut response = match request.type_name.as_str() {
            "arc_connected_cluster" => connected_cluster::apply(&session, request).await,
            "arc_extension" => extension::apply(&session, request).await,
            "gitops_configuration" => flux::apply(&session, request).await,
            other => ApplyResponse {
                new_state: request.prior,
                error: Some(unknown_type(other)),
            },
        };
        // State never records "known after apply".
        response.new_state = response.new_state.map(values::known);
        response
    }

    fn health_gates(&self, type_name: &str) -> &'static [&'static str] {
        match type_name {
            "arc_connected_cluster" => gates::GATES,
            _ => &[],
        }
    }

    async fn check_gates(&self, request: GateRequest) -> Result<Vec<GateStatus>, ProviderError> {
        match request.type_name.as_str() {
            "arc_connected_cluster" => {
                let session = self.session()?;
                gates::check(&session, &request.state, &request.gates, &request.cancel).await
            }
            other => Err(ProviderError::permanent(format!(
                "{other} reports no health gates"
            ))),
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        let session = self.session()?;
        match request.type_name.as_str() {
            "arc_connected_cluster" => {
                connected_cluster::read(&session, &request.current, &request.cancel).await
            }
            "arc_extension" => extension::read(&session, &request.current, &request.cancel).await,
            "gitops_configuration" => flux::read(&session, &request.current, &request.cancel).await,
            other => Err(unknown_type(other)),
        }
    }
}

#[cfg(test)]
mod tests;

fn unknown_type(type_name: &str) -> ProviderError {
    ProviderError::permanent(format!(
        "the {NAME} provider has no resource type {type_name:?}"
    ))
}
