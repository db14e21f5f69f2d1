//! The `provider "arc" {}` block: the Azure subscription and service principal, the ARM
//! and Entra ID endpoints (configurable so the lab can stand in for Azure), and what to do
//! when a site cannot reach Azure.

use fleetform_sdk::{Attribute, Block, Type};

/// The schema of the `provider "arc" {}` block.
pub fn schema() -> Block {
    Block::new()
        .describe("Azure credentials and endpoints for Arc; unset values come from the ARM_* environment variables.")
        .attr(
            "subscription_id",
            Attribute::optional(Type::String)
                .describe("Azure subscription id; defaults to ARM_SUBSCRIPTION_ID."),
        )
        .attr(
            "tenant_id",
            Attribute::optional(Type::String)
                .describe("Entra ID tenant id; defaults to ARM_TENANT_ID."),
        )
        .attr(
            "client_id",
            Attribute::optional(Type::String)
                .describe("Service principal application (client) id; defaults to ARM_CLIENT_ID."),
        )
        .attr(
            "client_secret",
            Attribute::optional(Type::String)
                .sensitive()
                .describe("Service principal client secret; defaults to ARM_CLIENT_SECRET."),
        )
        .attr(
            "resource_manager_endpoint",
            Attribute::optional_computed(Type::String).describe(
                "Azure Resource Manager URL (default \"https://management.azure.com\").",
            ),
        )
        .attr(
            "authority_host",
            Attribute::optional_computed(Type::String).describe(
                "Entra ID authority that issues tokens (default \"https://login.microsoftonline.com\").",
            ),
        )
        .attr(
            "defer_when_offline",
            Attribute::optional(Type::Bool).describe(
                "When Azure cannot be reached from a site, leave its Arc changes pending for the \
                 next apply instead of failing them; the rest of the fleet goes on (default false).",
            ),
        )
}
