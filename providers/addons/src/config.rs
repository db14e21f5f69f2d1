//! The `provider "addons" {}` block: the default cluster connection and the field manager
//! name used for server-side apply.

use fleetform_sdk::{Attribute, Block, Type};

/// The schema of the `provider "addons" {}` block.
pub fn schema() -> Block {
    Block::new()
        .describe("Defaults for applying add-ons; an addon's own `kubeconfig` wins.")
        .attr(
            "kubeconfig",
            Attribute::optional(Type::String)
                .sensitive()
                .describe("Kubeconfig (YAML) for addons that set none, e.g. cluster.this.admin_kubeconfig."),
        )
        .attr(
            "kubeconfig_path",
            Attribute::optional(Type::String)
                .describe("Path of a kubeconfig file for addons that set none; its current context is used."),
        )
        .attr(
            "field_manager",
            Attribute::optional_computed(Type::String).describe(
                "Field manager name for server-side apply (default \"fleetform\"), as kubectl's --field-manager.",
            ),
        )
}
