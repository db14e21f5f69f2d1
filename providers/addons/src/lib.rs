//! The `addons` provider: bundles of Kubernetes objects (monitoring, ingress, load
//! balancing, certificate management...) applied to a cluster through its API with
//! server-side apply, tracked by an inventory so that objects dropped from a bundle are
//! pruned. This crate declares the schemas only; planning and applying come with later
//! work.

pub mod config;
pub mod resources;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, PlanRequest, PlanResponse, Provider, ProviderError,
    ProviderSchema, ReadRequest, Value,
};

/// The provider's name, as written in `provider "addons" {}`.
pub const NAME: &str = "addons";

/// The built-in `addons` provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddonsProvider;

#[async_trait::async_trait]
impl Provider for AddonsProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: config::schema(),
            resources: [("addon".to_owned(), resources::addon::schema())]
                .into_iter()
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
