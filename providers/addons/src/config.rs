//! The `provider "addons" {}` block: the default cluster connection, the field manager,
//! which managers' changes count as drift, and where sources come from.

use fleetform_sdk::{Attribute, Block, Type};

/// The schema of the `provider "addons" {}` block.
pub fn schema() -> Block {
    Block::new()
        .describe("Defaults for applying add-ons; an addon's own `cluster` or `kubeconfig` wins.")
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
        .attr(
            "drift_managers",
            Attribute::optional_computed(Type::list(Type::String)).describe(
                "Field managers (name prefixes) whose changes to fields fleetform applies are drift \
                 that apply undoes (default [\"kubectl\"]: edits by hand). Fields other managers \
                 take are left to them.",
            ),
        )
        .attr(
            "source_mirror",
            Attribute::optional(Type::String).describe(
                "A directory or URL laid out like the source cache (`fleetform sources mirror DIR` \
                 writes one): `init` fetches every source from it instead of its URL.",
            ),
        )
}
