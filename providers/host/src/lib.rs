//! The `host` provider: the machines of a fleet, reached over SSH. It manages the `host`
//! resource (connection, pinned host key, preflight checks and gathered facts),
//! `host_file` (a file converged on a host), `host_command` (an idempotent command with
//! guards and triggers) and the `host_facts` data source.
//!
//! Every host has one SSH connection per run, kept in a [`Fleet`] that other providers
//! (the cluster provider) share to work on the same hosts.

mod connection;
mod facts;
mod preflight;
mod shell;

pub mod config;
pub mod data;
pub mod files;
pub mod fleet;
pub mod resources;
pub mod ssh;

use std::sync::{Arc, RwLock};

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, ConfigureRequest, Diagnostics, PlanRequest, PlanResponse,
    Provider, ProviderError, ProviderSchema, ReadDataRequest, ReadRequest, Resume, ResumeRequest,
    ValidateRequest, Value,
};

pub use config::Defaults;
pub use fleet::Fleet;
pub use shell::{Invocation, Shell, join, quote};

/// The provider's name, as written in `provider "host" {}`.
pub const NAME: &str = "host";

/// The built-in `host` provider.
pub struct HostProvider {
    fleet: Arc<Fleet>,
    defaults: RwLock<Defaults>,
}

impl HostProvider {
    /// A provider working on `fleet`'s hosts.
    pub fn new(fleet: Arc<Fleet>) -> HostProvider {
        HostProvider {
            fleet,
            defaults: RwLock::new(Defaults::default()),
        }
    }

    fn defaults(&self) -> Defaults {
        self.defaults.read().expect("defaults lock").clone()
    }
}

impl Default for HostProvider {
    fn default() -> Self {
        HostProvider::new(Fleet::new())
    }
}

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

    fn validate_resource(&self, request: &ValidateRequest) -> Diagnostics {
        match request.type_name.as_str() {
            "host" => resources::host::validate(&request.config),
            "host_file" => resources::host_file::validate(&request.config),
            "host_command" => resources::host_command::validate(&request.config),
            _ => Diagnostics::new(),
        }
    }

    fn observe(&self, type_name: &str, state: &Value) {
        if type_name == "host" {
            resources::host::observe(&self.fleet, &self.defaults(), state);
        }
    }

    async fn configure(&self, request: ConfigureRequest) -> Result<(), ProviderError> {
        let defaults = Defaults::from_config(&request.config).map_err(ProviderError::permanent)?;
        self.fleet.set_parallelism(defaults.parallelism);
        *self.defaults.write().expect("defaults lock") = defaults;
        Ok(())
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, ProviderError> {
        match request.type_name.as_str() {
            "host" => resources::host::plan(&self.fleet, &self.defaults(), &request).await,
            "host_file" => resources::host_file::plan(&request),
            "host_command" => Ok(resources::host_command::plan(&self.fleet, &request)),
            other => Err(unknown_type(other)),
        }
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        match request.type_name.as_str() {
            "host" => resources::host::apply(&self.fleet, &self.defaults(), request).await,
            "host_file" => resources::host_file::apply(&self.fleet, request).await,
            "host_command" => resources::host_command::apply(&self.fleet, request).await,
            other => ApplyResponse {
                new_state: request.prior,
                error: Some(unknown_type(other)),
            },
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        match request.type_name.as_str() {
            "host" => resources::host::read(&self.fleet, &self.defaults(), request.current).await,
            "host_file" => resources::host_file::read(&self.fleet, request.current).await,
            // A command leaves nothing to read back; its record is what ran.
            "host_command" => Ok(Some(request.current)),
            other => Err(unknown_type(other)),
        }
    }

    async fn resume(&self, request: ResumeRequest) -> Result<Resume, ProviderError> {
        Ok(match request.type_name.as_str() {
            "host_command" => resources::host_command::resume(&request),
            // Hosts, facts and files converge to what is planned: doing it again is safe.
            _ => Resume::Continue,
        })
    }

    async fn read_data(&self, request: ReadDataRequest) -> Result<Value, ProviderError> {
        match request.type_name.as_str() {
            "host_facts" => data::host_facts::read(&self.fleet, request.config).await,
            other => Err(unknown_type(other)),
        }
    }
}

fn unknown_type(type_name: &str) -> ProviderError {
    ProviderError::permanent(format!("the {NAME} provider has no type {type_name:?}"))
}

#[cfg(test)]
mod tests;
