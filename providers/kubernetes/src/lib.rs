//! The `kubernetes` provider: conformant Kubernetes clusters bootstrapped on fleet hosts.
//! It declares the `cluster` resource (PKI, control plane with stacked etcd, endpoint,
//! versions, kubeconfig, certificate expiry), `node_pool` (Linux or Windows workers) and
//! the `cluster_kubeconfig` data source. This crate declares the schemas only; planning
//! and applying (bootstrap, join, upgrade, certificate renewal) come with later work.

pub mod config;
pub mod data;
pub mod pki;
pub mod resources;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, PlanRequest, PlanResponse, Provider, ProviderError,
    ProviderSchema, ReadRequest, Value,
};

/// The provider's name, as written in `provider "kubernetes" {}`.
pub const NAME: &str = "kubernetes";

/// The built-in `kubernetes` provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct KubernetesProvider;

#[async_trait::async_trait]
impl Provider for KubernetesProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: config::schema(),
            resources: [
                ("cluster", resources::cluster::schema()),
                ("node_pool", resources::node_pool::schema()),
            ]
            .into_iter()
            .map(|(name, schema)| (name.to_owned(), schema))
            .collect(),
            data_sources: [("cluster_kubeconfig", data::cluster_kubeconfig::schema())]
                .into_iter()
                .map(|(name, schema)| (name.to_owned(), schema))
                .collect(),
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
