//! The `cluster_kubeconfig` data source: an admin kubeconfig for a cluster in state, for
//! configurations that connect to a cluster they do not manage.

use fleetform_sdk::{Attribute, Block, Schema, Type};

/// The schema of `data "cluster_kubeconfig"`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .describe("Connection details of a cluster: kubeconfig, API endpoint and CA.")
            .attr(
                "cluster",
                Attribute::required(Type::String)
                    .describe("The cluster: a `cluster` resource's id, e.g. cluster.this.id."),
            )
            .attr(
                "kubeconfig",
                Attribute::computed(Type::String).sensitive().describe(
                    "Admin kubeconfig (YAML) with a client certificate signed by the cluster CA.",
                ),
            )
            .attr(
                "endpoint",
                Attribute::computed(Type::String)
                    .describe("API server URL, e.g. \"https://169.254.100.10:6443\"."),
            )
            .attr(
                "ca_certificate",
                Attribute::computed(Type::String).describe("Cluster CA certificate (PEM)."),
            ),
    )
}
