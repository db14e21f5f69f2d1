//! The `addons` provider: bundles of Kubernetes objects (monitoring, ingress, load
//! balancing, certificate management...) applied to a cluster through its API with
//! server-side apply, tracked by an inventory so that objects dropped from a bundle are
//! pruned. This crate declares the schemas only; planning and applying come with later
//! work.

pub mod config;
pub mod resources;

use fleetform_sdk::{Provider, ProviderSchema};

/// The provider's name, as written in `provider "addons" {}`.
pub const NAME: &str = "addons";

/// The built-in `addons` provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddonsProvider;

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
}

#[cfg(test)]
mod tests;
