//! The `fleetform` provider: built in, needing no `provider` block, used by the engine's
//! own tests and available to users. It declares two resource types that behave like
//! their Terraform namesakes:
//!
//! - `fleetform_data`, like `terraform_data`: stores `input` and echoes it as `output`,
//!   with a random `id`; changing `triggers_replace` replaces it. Nothing outside
//!   fleetform backs it, so reading never finds drift.
//! - `local_file`, like hashicorp/local's `local_file`: a file on the machine running
//!   fleetform, written atomically (a temporary file in the same directory, created with
//!   the final mode, synced, then renamed over the target), with `id` the hex SHA-1 of the
//!   content. Reading compares the file on disk with the state, so edits and mode changes
//!   show as drift and a deleted file is planned again.
//!
//! Unlike the other provider crates there is no `client.rs`: local_file's file I/O is the
//! resource's whole job, so it lives in `resources/local_file.rs` beside its schema. The
//! I/O is synchronous and small (one file per call); operations check `request.cancel`
//! before they start.

pub mod config;
pub mod resources;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Diagnostics, ImportRequest, PlanRequest, PlanResponse, Provider,
    ProviderError, ProviderSchema, ReadRequest, ValidateRequest, Value,
};

use resources::{fleetform_data, local_file};

/// The provider's name, as written in `provider "fleetform" {}`.
pub const NAME: &str = "fleetform";

/// The built-in `fleetform` provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct FleetformProvider;

#[async_trait::async_trait]
impl Provider for FleetformProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: config::schema(),
            resources: [
                (fleetform_data::TYPE, fleetform_data::schema()),
                (local_file::TYPE, local_file::schema()),
            ]
            .into_iter()
            .map(|(name, schema)| (name.to_owned(), schema))
            .collect(),
            data_sources: Default::default(),
        }
    }

    fn validate_resource(&self, request: &ValidateRequest) -> Diagnostics {
        match request.type_name.as_str() {
            local_file::TYPE => local_file::validate(&request.config),
            _ => Diagnostics::new(),
        }
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, ProviderError> {
        if request.cancel.is_cancelled() {
            return Err(ProviderError::cancelled());
        }
        match request.type_name.as_str() {
            fleetform_data::TYPE => Ok(fleetform_data::plan(&request)),
            local_file::TYPE => local_file::plan(&request),
            other => Err(unknown_type(other)),
        }
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        if request.cancel.is_cancelled() {
            return ApplyResponse {
                new_state: request.prior,
                error: Some(ProviderError::cancelled()),
            };
        }
        match request.type_name.as_str() {
            fleetform_data::TYPE => fleetform_data::apply(request),
            local_file::TYPE => local_file::apply(request),
            other => ApplyResponse {
                error: Some(unknown_type(other)),
                new_state: request.prior,
            },
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        if request.cancel.is_cancelled() {
            return Err(ProviderError::cancelled());
        }
        match request.type_name.as_str() {
            fleetform_data::TYPE => Ok(fleetform_data::read(request.current)),
            local_file::TYPE => local_file::read(&request.current),
            other => Err(unknown_type(other)),
        }
    }

    async fn import(&self, request: ImportRequest) -> Result<Value, ProviderError> {
        if request.cancel.is_cancelled() {
            return Err(ProviderError::cancelled());
        }
        match request.type_name.as_str() {
            fleetform_data::TYPE => Ok(fleetform_data::import(&request.id)),
            local_file::TYPE => local_file::import(&request.id),
            other => Err(unknown_type(other)),
        }
    }
}

fn unknown_type(type_name: &str) -> ProviderError {
    ProviderError::permanent(format!(
        "the {NAME} provider has no resource type named {type_name:?}"
    ))
}

#[cfg(test)]
mod tests;
