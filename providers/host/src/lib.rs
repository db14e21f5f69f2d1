//! The `host` provider: the machines of a fleet, reached over SSH. It declares the
//! `host` resource (connection, pinned host key, preflight checks and gathered facts),
//! `host_file` (a file converged on a host), `host_command` (an idempotent command with
//! guards and triggers) and the `host_facts` data source. This crate declares the schemas
//! only; planning and applying over SSH come with later work.

mod connection;
mod facts;

pub mod config;
pub mod data;
pub mod resources;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, PlanRequest, PlanResponse, Provider, ProviderError,
    ProviderSchema, ReadRequest, Value,
};

/// The provider's name, as written in `provider "host" {}`.
pub const NAME: &str = "host";

/// The built-in `host` provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostProvider;

#[async_trait::async_trait]
impl Provider for HostProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: config::schema(),
            resources: [
                ("host", resources::host::schema()),
                ("host_file", resources::host_file::schema()),
                ("host_command", resources::host_command::schema()),
            ]
            .into_iter()
            .map(|(name, schema)| (name.to_owned(), schema))
            .collect(),
            data_sources: [("host_facts", data::host_facts::schema())]
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
