//! The `addon` resource: a named bundle of Kubernetes objects applied server-side, like
//! `kubectl apply --server-side --prune`. The applied objects are recorded in `inventory`
//! so that an object removed from the bundle is deleted from the cluster on the next apply.

use fleetform_sdk::{Attribute, Block, Schema, Type};

/// The schema of `resource "addon"`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .describe("A bundle of Kubernetes objects applied server-side, with inventory and prune.")
            .attr(
                "kubeconfig",
                Attribute::optional(Type::String).sensitive().describe(
                    "Kubeconfig (YAML) of the target cluster, e.g. cluster.this.admin_kubeconfig; \
                     defaults to the provider's.",
                ),
            )
            .attr(
                "name",
                Attribute::required(Type::String)
                    .force_new()
                    .describe("Add-on name, unique per cluster; it labels the inventory."),
            )
            .attr(
                "namespace",
                Attribute::optional(Type::String)
                    .describe("Namespace for namespaced objects that name none, like kubectl's -n."),
            )
            .attr(
                "manifests",
                Attribute::optional(Type::list(Type::String)).describe(
                    "YAML documents to apply, e.g. from templatefile(...); each string may hold several \
                     documents separated by \"---\".",
                ),
            )
            .attr(
                "manifest_files",
                Attribute::optional(Type::list(Type::String)).describe(
                    "Paths of YAML files to apply, rendered as Tera templates with `values` first.",
                ),
            )
            .attr(
                "values",
                Attribute::optional(Type::map(Type::Any))
                    .describe("Variables for the Tera templates in `manifest_files`."),
            )
            .attr(
                "prune",
                Attribute::optional_computed(Type::Bool).describe(
                    "Delete objects that were applied before but are no longer in the bundle (default true).",
                ),
            )
            .attr(
                "force_conflicts",
                Attribute::optional(Type::Bool).describe(
                    "Take ownership of fields another manager owns, like kubectl's --force-conflicts.",
                ),
            )
            .attr(
                "wait",
                Attribute::optional_computed(Type::Bool).describe(
                    "Wait for the objects to become ready (Deployments rolled out, Jobs complete) (default true).",
                ),
            )
            .attr(
                "timeout",
                Attribute::optional_computed(Type::String)
                    .describe("Longest wait for readiness, e.g. \"5m\" (default \"5m\")."),
            )
            .attr(
                "inventory",
                Attribute::computed(Type::list(Type::String)).describe(
                    "Applied objects as \"group/kind/namespace/name\" (group and namespace empty when none).",
                ),
            )
            .attr("id", Attribute::computed(Type::String).describe("Identifier of the add-on in state.")),
    )
}
