//! The `provider "kubernetes" {}` block: how long to wait for clusters to become ready
//! and how much bootstrap work runs at once.

use fleetform_sdk::{Attribute, Block, Type};

/// The schema of the `provider "kubernetes" {}` block.
pub fn schema() -> Block {
    Block::new()
        .describe("Settings for bootstrapping and upgrading clusters.")
        .attr(
            "wait_timeout",
            Attribute::optional(Type::String).describe(
                "Longest wait for a control plane or node to become Ready, e.g. \"10m\" (default \"10m\").",
            ),
        )
        .attr(
            "parallelism",
            Attribute::optional(Type::Number).describe(
                "Most nodes joined or upgraded at once across all clusters (default 10).",
            ),
        )
}
