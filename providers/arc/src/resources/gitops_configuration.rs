//! The `gitops_configuration` resource: a Flux GitRepository source and the
//! Kustomizations reconciled from it, in one of two modes. With `cluster_id`, it is a
//! Microsoft.KubernetesConfiguration fluxConfigurations resource (api-version 2025-04-01)
//! that Arc's Flux extension reconciles. With `kubeconfig` instead (direct mode, for sites
//! without Arc), fleetform applies the Flux objects (source.toolkit.fluxcd.io/v1
//! GitRepository, kustomize.toolkit.fluxcd.io/v1 Kustomization) into the cluster itself,
//! pruning the ones it no longer declares. Intervals and timeouts are integer seconds, as
//! in ARM and azurerm. HTTPS and SSH keys travel in ARM's protected settings (Arc mode) or
//! a Secret (direct mode), so they are sensitive here. The operations are in
//! `crate::flux`.

use fleetform_sdk::{Attribute, Block, NestedBlock, Nesting, Schema, Type};

use crate::deferral;

/// The schema of `resource "gitops_configuration"`.
pub fn schema() -> Schema {
    let block = Block::new()
        .describe("A Flux configuration: a Git repository and the kustomizations built from it, through Arc (cluster_id) or applied directly (kubeconfig). Set exactly one of the two.")
        .attr(
            "cluster_id",
            Attribute::optional(Type::String).force_new().describe(
                "Arc mode: ARM id of the connected cluster, e.g. arc_connected_cluster.this.id.",
            ),
        )
        .attr(
            "kubeconfig",
            Attribute::optional(Type::String).sensitive().describe(
                "Direct mode: kubeconfig (YAML) of a cluster running Flux's controllers, e.g. cluster.this.admin_kubeconfig.",
            ),
        )
        .attr(
            "name",
            Attribute::required(Type::String)
                .force_new()
                .describe("Name of the Flux configuration."),
        )
        .attr(
            "namespace",
            Attribute::optional_computed(Type::String)
                .force_new()
                .describe("Namespace of the Flux source and kustomization objects (default \"flux-system\")."),
        )
        .attr(
            "scope",
            Attribute::optional_computed(Type::String)
                .force_new()
                .describe("\"cluster\" (default) or \"namespace\": what the kustomizations may change."),
        )
        .attr(
            "suspend",
            Attribute::optional(Type::Bool).describe("Pause reconciliation without deleting anything."),
        )
        .attr("id", Attribute::computed(Type::String).describe("ARM resource id of the configuration (Arc mode), or \"NAMESPACE/NAME\" of its GitRepository (direct mode)."))
        .attr(
            "compliance_state",
            Attribute::computed(Type::String)
                .describe("\"Compliant\", \"Non-Compliant\", \"Pending\", \"Suspended\" or \"Unknown\"."),
        )
        .attr(
            "provisioning_state",
            Attribute::computed(Type::String).describe("ARM provisioning state, e.g. \"Succeeded\"."),
        )
        .attr(
            "source_synced_commit_id",
            Attribute::computed(Type::String).describe("Commit the source last synced, as \"branch@sha1:...\"."),
        )
        .attr(
            "repository_public_key",
            Attribute::computed(Type::String)
                .describe("Public SSH key Flux generated when no `ssh_private_key` is given; add it as a deploy key."),
        )
        .block(
            "git_repository",
            NestedBlock::new(Nesting::Single, git_repository()).items(1, Some(1)),
        )
        .attr(
            "applied_objects",
            Attribute::computed(Type::list(Type::String))
                .describe("Direct mode: the objects fleetform applied, for pruning and deletion."),
        )
        .block("kustomization", NestedBlock::new(Nesting::Map, kustomization()));
    Schema::new(deferral::schema(block))
}

/// The Git source (properties.gitRepository). Set at most one of `branch`, `tag`,
/// `semver`; `commit` also needs `branch`.
fn git_repository() -> Block {
    let seconds = |what: &str| {
        Attribute::optional_computed(Type::Number)
            .describe(format!("{what} in seconds (default 600)."))
    };
    Block::new()
        .describe("The Git repository Flux syncs from.")
        .attr(
            "url",
            Attribute::required(Type::String)
                .describe("Repository URL: https://... or ssh://git@..."),
        )
        .attr("branch", ref_attr("Branch to follow, e.g. \"main\"."))
        .attr("tag", ref_attr("Tag to check out."))
        .attr(
            "semver",
            ref_attr("Semver range of tags to follow, e.g. \">=1.0.0 <2.0.0\"."),
        )
        .attr(
            "commit",
            ref_attr("Commit SHA to check out; wins over branch, tag and semver."),
        )
        .attr(
            "sync_interval_in_seconds",
            seconds("How often to fetch the repository,"),
        )
        .attr("timeout_in_seconds", seconds("Longest a fetch may take,"))
        .attr(
            "https_user",
            Attribute::optional(Type::String).describe("User name for HTTPS authentication."),
        )
        .attr(
            "https_key",
            Attribute::optional(Type::String)
                .sensitive()
                .describe("Password or personal access token for HTTPS authentication."),
        )
        .attr(
            "https_ca_cert",
            Attribute::optional(Type::String).describe(
                "CA certificate (PEM) of the Git server; the provider base64-encodes it.",
            ),
        )
        .attr(
            "ssh_private_key",
            Attribute::optional(Type::String)
                .sensitive()
                .describe("Private SSH key (PEM) for ssh:// URLs."),
        )
        .attr(
            "ssh_known_hosts",
            Attribute::optional(Type::String)
                .describe("known_hosts content for ssh:// URLs; the provider base64-encodes it."),
        )
}

fn ref_attr(description: &str) -> Attribute {
    Attribute::optional(Type::String).describe(description)
}

/// One Flux Kustomization (properties.kustomizations), labelled by its name.
fn kustomization() -> Block {
    let seconds = |what: &str, default: &str| {
        Attribute::optional_computed(Type::Number)
            .describe(format!("{what} in seconds ({default})."))
    };
    Block::new()
        .describe("A kustomization reconciled from the repository; the block label is its name.")
        .attr(
            "path",
            Attribute::optional_computed(Type::String)
                .describe("Directory in the repository to build (default: the repository root)."),
        )
        .attr(
            "depends_on",
            Attribute::optional(Type::list(Type::String)).describe(
                "Names of kustomizations of this configuration that must be ready first.",
            ),
        )
        .attr(
            "sync_interval_in_seconds",
            seconds("How often to reconcile,", "default 600"),
        )
        .attr(
            "timeout_in_seconds",
            seconds("Longest a reconciliation may take,", "default 600"),
        )
        .attr(
            "retry_interval_in_seconds",
            seconds(
                "Wait before retrying a failed reconciliation,",
                "default: the sync interval",
            ),
        )
        .attr(
            "prune",
            Attribute::optional_computed(Type::Bool)
                .describe("Delete objects removed from the repository (default false)."),
        )
        .attr(
            "force",
            Attribute::optional_computed(Type::Bool)
                .describe("Recreate objects whose immutable fields changed (default false)."),
        )
        .attr(
            "wait",
            Attribute::optional_computed(Type::Bool)
                .describe("Wait for the applied objects to be healthy (default true)."),
        )
}
