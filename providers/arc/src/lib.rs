//! The `arc` provider: Azure Arc for the fleet's clusters through Azure Resource Manager.
//! It declares `arc_connected_cluster` (the Microsoft.Kubernetes/connectedClusters
//! resource plus the in-cluster Arc agents), `arc_extension` (a
//! Microsoft.KubernetesConfiguration cluster extension such as Azure Monitor or Flux) and
//! `gitops_configuration` (a Flux configuration). Attribute names are the snake_case of
//! the ARM property names, as in azurerm. This crate declares the schemas only; planning
//! and applying, including deferring work for sites that are offline, come with later work.

pub mod config;
pub mod resources;

use fleetform_sdk::{Provider, ProviderSchema};

/// The provider's name, as written in `provider "arc" {}`.
pub const NAME: &str = "arc";

/// The built-in `arc` provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArcProvider;

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
}

#[cfg(test)]
mod tests;
