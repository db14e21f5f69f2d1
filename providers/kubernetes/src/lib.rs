//! The `kubernetes` provider: conformant Kubernetes clusters bootstrapped on fleet hosts.
//! It declares the `cluster` resource (PKI, control plane with stacked etcd, endpoint,
//! versions, kubeconfig, certificate expiry), `node_pool` (Linux or Windows workers) and
//! the `cluster_kubeconfig` data source. This crate declares the schemas only; planning
//! and applying (bootstrap, join, upgrade, certificate renewal) come with later work.

pub mod config;
pub mod data;
pub mod resources;

use fleetform_sdk::{Provider, ProviderSchema};

/// The provider's name, as written in `provider "kubernetes" {}`.
pub const NAME: &str = "kubernetes";

/// The built-in `kubernetes` provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct KubernetesProvider;

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
}

#[cfg(test)]
mod tests;
