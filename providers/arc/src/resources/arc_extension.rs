//! The `arc_extension` resource: a Microsoft.KubernetesConfiguration/extensions resource
//! (api-version 2025-03-01) on a connected cluster, e.g. Azure Monitor
//! (`Microsoft.AzureMonitor.Containers`), Defender or Flux. The ARM `scope` object is
//! flattened into `release_namespace` (cluster scope) and `target_namespace` (namespace
//! scope), as azurerm does.

use fleetform_sdk::{Attribute, Block, Schema, Type};

/// The schema of `resource "arc_extension"`.
pub fn schema() -> Schema {
    let block = Block::new()
        .describe("An Azure Arc cluster extension. Set at most one of `release_namespace` or `target_namespace`.")
        .attr(
            "cluster_id",
            Attribute::required(Type::String).force_new().describe(
                "ARM id of the connected cluster, e.g. arc_connected_cluster.this[0].id.",
            ),
        )
        .attr(
            "name",
            Attribute::required(Type::String)
                .force_new()
                .describe("Name of the extension instance on the cluster."),
        )
        .attr(
            "extension_type",
            Attribute::required(Type::String).force_new().describe(
                "Registered extension type, e.g. \"Microsoft.AzureMonitor.Containers\" or \"microsoft.flux\".",
            ),
        )
        .attr(
            "release_train",
            Attribute::optional_computed(Type::String)
                .describe("Release train to follow when auto-upgrading, e.g. \"Stable\" (default) or \"Preview\"."),
        )
        .attr(
            "version",
            Attribute::optional(Type::String)
                .describe("Pinned extension version; requires `auto_upgrade_minor_version = false`."),
        )
        .attr(
            "auto_upgrade_minor_version",
            Attribute::optional_computed(Type::Bool)
                .describe("Let Azure upgrade the extension's minor version (default true)."),
        )
        .attr(
            "configuration_settings",
            Attribute::optional(Type::map(Type::String))
                .describe("Extension settings (configurationSettings), e.g. Helm values as dotted keys."),
        )
        .attr(
            "configuration_protected_settings",
            Attribute::optional(Type::map(Type::String))
                .sensitive()
                .describe("Secret settings (configurationProtectedSettings); Azure never returns them."),
        )
        .attr(
            "release_namespace",
            Attribute::optional(Type::String)
                .force_new()
                .describe("Cluster-scoped install: namespace the extension is released into (scope.cluster)."),
        )
        .attr(
            "target_namespace",
            Attribute::optional(Type::String)
                .force_new()
                .describe("Namespace-scoped install: the namespace the extension is confined to (scope.namespace)."),
        )
        .attr("id", Attribute::computed(Type::String).describe("ARM resource id of the extension."))
        .attr(
            "provisioning_state",
            Attribute::computed(Type::String).describe("ARM provisioning state, e.g. \"Succeeded\"."),
        )
        .attr(
            "current_version",
            Attribute::computed(Type::String).describe("Extension version installed now."),
        );
    Schema::new(block)
}
