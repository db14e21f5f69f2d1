//! The `arc_connected_cluster` resource: a Microsoft.Kubernetes/connectedClusters ARM
//! resource (api-version 2024-01-01) and the Arc agents installed in the cluster, as
//! `az connectedk8s connect` does. The provider generates the agent key pair, so the
//! ARM `agentPublicKeyCertificate` is not an argument. The operations are in
//! `crate::connected_cluster`.

use fleetform_sdk::{Attribute, Block, NestedBlock, Nesting, Schema, Type};

use crate::deferral;

/// The schema of `resource "arc_connected_cluster"`.
pub fn schema() -> Schema {
    let block = Block::new()
        .describe("A cluster connected to Azure Arc: the connectedClusters resource and the in-cluster agents.")
        .attr(
            "name",
            Attribute::required(Type::String)
                .force_new()
                .describe("Name of the connected cluster in Azure."),
        )
        .attr(
            "resource_group_name",
            Attribute::required(Type::String)
                .force_new()
                .describe("Resource group that holds the connected cluster."),
        )
        .attr(
            "location",
            Attribute::required(Type::String)
                .force_new()
                .describe("Azure region of the resource, e.g. \"westeurope\"."),
        )
        .attr(
            "kubeconfig",
            Attribute::required(Type::String).sensitive().describe(
                "Kubeconfig (YAML) used to install the Arc agents, e.g. cluster.this.admin_kubeconfig.",
            ),
        )
        .attr(
            "tags",
            Attribute::optional(Type::map(Type::String)).describe("Tags on the Azure resource."),
        )
        .attr(
            "distribution",
            Attribute::optional_computed(Type::String)
                .describe("Kubernetes distribution reported to Azure (properties.distribution, default \"generic\")."),
        )
        .attr(
            "distribution_version",
            Attribute::optional(Type::String)
                .describe("Version of the distribution (properties.distributionVersion)."),
        )
        .attr(
            "infrastructure",
            Attribute::optional_computed(Type::String)
                .force_new()
                .describe("Infrastructure the cluster runs on (properties.infrastructure, default \"generic\")."),
        )
        .attr(
            "agent_auto_upgrade",
            Attribute::optional_computed(Type::Bool).describe(
                "Let Azure upgrade the Arc agents (arcAgentProfile.agentAutoUpgrade, default true).",
            ),
        )
        .attr(
            "desired_agent_version",
            Attribute::optional(Type::String).describe(
                "Arc agent version to run when `agent_auto_upgrade` is false (arcAgentProfile.desiredAgentVersion).",
            ),
        )
        .attr(
            "private_link_state",
            Attribute::optional_computed(Type::String)
                .force_new()
                .describe("\"Enabled\" or \"Disabled\" (default); cannot change after connecting."),
        )
        .attr(
            "private_link_scope_resource_id",
            Attribute::optional(Type::String)
                .force_new()
                .describe("Resource id of the Arc private link scope, when `private_link_state` is \"Enabled\"."),
        )
        .attr(
            "azure_hybrid_benefit",
            Attribute::optional_computed(Type::String)
                .describe("\"True\", \"False\" or \"NotApplicable\" (default)."),
        )
        .attr(
            "identity_type",
            Attribute::optional_computed(Type::String).describe(
                "The cluster's managed identity: \"SystemAssigned\" (default) or \"None\".",
            ),
        )
        .block("aad_profile", NestedBlock::new(Nesting::Single, aad_profile()))
        .block("proxy", NestedBlock::new(Nesting::Single, proxy()))
        .block("agent_bundle", NestedBlock::new(Nesting::Single, agent_bundle()));
    Schema::new(deferral::schema(with_read_only(block)))
}

/// The agents' outbound proxy (in-cluster configuration, not ARM).
fn proxy() -> Block {
    Block::new()
        .describe("Proxy for the Arc agents' outbound connections to Azure.")
        .attr("https_proxy", Attribute::optional(Type::String).describe("HTTPS proxy URL."))
        .attr("http_proxy", Attribute::optional(Type::String).describe("HTTP proxy URL."))
        .attr(
            "no_proxy",
            Attribute::optional(Type::String)
                .describe("Comma-separated hosts and CIDRs reached directly (the cluster's service and pod networks belong here)."),
        )
        .attr(
            "ca_certificate",
            Attribute::optional(Type::String).describe("CA certificate (PEM) of a TLS-inspecting proxy."),
        )
}

/// Where the agent workloads come from.
fn agent_bundle() -> Block {
    Block::new()
        .describe("The Arc agent workloads: a multi-document manifest (the azure-arc-k8sagents chart rendered for your agent version), fetched once, checked against its digest and cached; mirror it for air-gapped sites.")
        .attr(
            "url",
            Attribute::required(Type::String)
                .describe("https://, http:// or file:// URL (or a path) of the manifest."),
        )
        .attr(
            "sha256",
            Attribute::required(Type::String).describe("SHA-256 (hex) the manifest must have."),
        )
        .attr(
            "version",
            Attribute::optional(Type::String)
                .describe("Agent version the bundle installs, for the support window check."),
        )
}

/// Entra ID authentication and Azure RBAC for cluster connect (properties.aadProfile).
fn aad_profile() -> Block {
    Block::new()
        .describe("Entra ID integration of the connected cluster (properties.aadProfile).")
        .attr(
            "enable_azure_rbac",
            Attribute::optional(Type::Bool)
                .describe("Authorize Kubernetes requests with Azure RBAC."),
        )
        .attr(
            "admin_group_object_ids",
            Attribute::optional(Type::list(Type::String))
                .describe("Object ids of the Entra ID groups that are cluster admins."),
        )
        .attr(
            "tenant_id",
            Attribute::optional_computed(Type::String)
                .describe("Entra ID tenant for authentication; defaults to the provider's."),
        )
}

/// Read-only properties ARM reports back.
fn with_read_only(block: Block) -> Block {
    let read_only = |ty: Type, description: &str| Attribute::computed(ty).describe(description);
    block
        .attr(
            "id",
            read_only(Type::String, "ARM resource id of the connected cluster."),
        )
        .attr(
            "agent_version",
            read_only(Type::String, "Version of the Arc agents in the cluster."),
        )
        .attr(
            "kubernetes_version",
            read_only(Type::String, "Kubernetes version the agents report."),
        )
        .attr(
            "total_node_count",
            read_only(Type::Number, "Number of nodes the agents report."),
        )
        .attr(
            "total_core_count",
            read_only(Type::Number, "Number of CPU cores the agents report."),
        )
        .attr(
            "connectivity_status",
            read_only(
                Type::String,
                "\"Connecting\", \"Connected\", \"Offline\" or \"Expired\".",
            ),
        )
        .attr(
            "provisioning_state",
            read_only(Type::String, "ARM provisioning state, e.g. \"Succeeded\"."),
        )
        .attr(
            "identity_principal_id",
            read_only(
                Type::String,
                "Principal id of the cluster's system-assigned identity.",
            ),
        )
        .attr(
            "identity_tenant_id",
            read_only(
                Type::String,
                "Tenant id of the cluster's system-assigned identity.",
            ),
        )
        .attr(
            "last_connectivity_time",
            read_only(Type::String, "When Azure last heard from the agents (RFC 3339)."),
        )
        .attr(
            "identity_certificate_expiration_time",
            read_only(
                Type::String,
                "When the agents' managed identity certificate expires (RFC 3339); offline past it, the cluster must be re-onboarded.",
            ),
        )
        .attr(
            "agent_public_key",
            read_only(
                Type::String,
                "The agents' public key as sent to Azure (agentPublicKeyCertificate); the private key lives only in the cluster.",
            ),
        )
        .attr(
            "pending_agent_key",
            Attribute::computed(Type::String).sensitive().describe(
                "The agents' private key while its installation waits for an unreachable site; null once it is in the cluster.",
            ),
        )
        .attr(
            "agent_objects",
            read_only(
                Type::list(Type::String),
                "The in-cluster objects fleetform applied for the agents, for pruning and deletion.",
            ),
        )
}
