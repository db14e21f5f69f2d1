//! The `arc` provider: Azure Arc for the fleet's clusters through Azure Resource Manager.
//! It declares `arc_connected_cluster` (the Microsoft.Kubernetes/connectedClusters
//! resource plus the in-cluster Arc agents), `arc_extension` (a
//! Microsoft.KubernetesConfiguration cluster extension such as Azure Monitor or Flux) and
//! `gitops_configuration` (a Flux configuration). Attribute names are the snake_case of
//! the ARM property names, as in azurerm. This crate declares the schemas only; planning
//! and applying, including deferring work for sites that are offline, come with later work.

pub mod config;
pub mod resources;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, PlanRequest, PlanResponse, Provider, ProviderError,
    ProviderSchema, ReadRequest, Value,
};

/// The provider's name, as written in `provider "arc" {}`.
pub const NAME: &str = "arc";

/// The built-in `arc` provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArcProvider;

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

    // Planning and applying arrive with this provider's own work; until then a plan that
    // reaches one of its resources fails with this message rather than pretending.
    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, ProviderError> {
        Err(not_yet(&request.type_name))
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        ApplyResponse {
            new_state: request.prior,
            error: Some(not_yet(&request.type_name)),
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        Err(not_yet(&request.type_name))
    }
}

#[cfg(test)]
mod tests;

fn not_yet(type_name: &str) -> ProviderError {
    ProviderError::permanent(format!(
        "the {NAME} provider checks {type_name} configurations but cannot plan or apply them yet"
    ))
}
