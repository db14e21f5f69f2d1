//! The `addon` resource: a named bundle of Kubernetes objects applied server-side, like
//! `kubectl apply --server-side --prune`. The applied objects are recorded in `inventory`
//! (with the fields fleetform owns in `objects`), so that an object removed from the
//! bundle is deleted from the cluster on the next apply and a field changed by hand shows
//! as drift.

use std::collections::BTreeMap;

use fleetform_sdk::{Attribute, Block, NestedBlock, Nesting, ObjectAttribute, Schema, Type};

fn optional(ty: Type) -> ObjectAttribute {
    ObjectAttribute {
        ty,
        optional: true,
        default: None,
    }
}

/// The type of `source`.
pub fn source_type() -> Type {
    Type::Object(BTreeMap::from([
        ("url".to_owned(), optional(Type::String)),
        ("path".to_owned(), optional(Type::String)),
        ("sha256".to_owned(), optional(Type::String)),
    ]))
}

/// The type of each `inventory` entry.
pub fn inventory_entry_type() -> Type {
    Type::Object(
        ["group", "version", "kind", "namespace", "name", "uid"]
            .into_iter()
            .map(|name| (name.to_owned(), ObjectAttribute::required(Type::String)))
            .collect(),
    )
}

/// The schema of `resource "addon"`.
pub fn schema() -> Schema {
    let block = Block::new()
        .describe("A bundle of Kubernetes objects applied server-side, with inventory and prune.")
        .attr(
            "name",
            Attribute::required(Type::String)
                .force_new()
                .describe("Add-on name, unique per cluster."),
        );
    Schema::new(with_outputs(with_options(with_contents(with_target(
        block,
    )))))
}

/// Which cluster the add-on goes to.
fn with_target(block: Block) -> Block {
    block
        .attr(
            "cluster",
            Attribute::optional(Type::String).describe(
                "Id of a fleetform cluster (cluster.x.id): fleetform reaches it with its admin \
                 kubeconfig, fails over across every control-plane member, and checks load-balancer \
                 pools against its nodes and networks.",
            ),
        )
        .attr(
            "kubeconfig",
            Attribute::optional(Type::String).sensitive().describe(
                "Kubeconfig (YAML) of a cluster fleetform does not manage, instead of `cluster`; \
                 defaults to the provider's.",
            ),
        )
        .attr(
            "api_servers",
            Attribute::optional(Type::list(Type::String)).describe(
                "More URLs of the same cluster's API servers, tried in order when the kubeconfig's \
                 server does not answer.",
            ),
        )
}

/// What the bundle holds.
fn with_contents(block: Block) -> Block {
    block
        .attr(
            "namespace",
            Attribute::optional_computed(Type::String).describe(
                "Namespace for namespaced objects that name none, like kubectl's -n (default \
                 \"default\"); load-balancer pools and the cluster issuer's secret go there too.",
            ),
        )
        .attr(
            "manifests",
            Attribute::optional(Type::list(Type::String)).describe(
                "YAML documents to apply, e.g. from templatefile(...); each string may hold several \
                 documents separated by \"---\".",
            ),
        )
        .attr(
            "source",
            Attribute::optional(source_type()).describe(
                "Manifests from { url, sha256 } (fetched and verified at `fleetform init`, then read \
                 from the cache; apply never downloads) or { path } (a file or directory of YAML \
                 files; sha256 optional).",
            ),
        )
        .attr(
            "pod_network",
            Attribute::optional(Type::Bool).describe(
                "This bundle is the cluster's pod network (Calico, Cilium, Flannel...): its DaemonSets \
                 are labelled fleetform.io/pod-network=true, and plans of a cluster without one \
                 warn that its nodes cannot run pods.",
            ),
        )
        .attr(
            "exclude",
            Attribute::optional(Type::list(Type::String)).describe(
                "Objects of the bundle to leave out, as \"Kind/name\" or \"Kind/namespace/name\".",
            ),
        )
        .attr(
            "address_pools",
            Attribute::optional(Type::map(Type::list(Type::String))).describe(
                "MetalLB address pools by name, each a list of CIDRs or \"first-last\" ranges; \
                 fleetform renders an IPAddressPool and an L2Advertisement for each. Plans refuse \
                 pools that overlap the cluster's nodes, pod or service network, or another \
                 cluster's pool.",
            ),
        )
        .block(
            "cluster_issuer",
            NestedBlock::new(
                Nesting::Single,
                Block::new()
                    .describe(
                        "A cert-manager ClusterIssuer backed by a CA that fleetform issues from the \
                         cluster's PKI (needs `cluster`).",
                    )
                    .attr(
                        "name",
                        Attribute::required(Type::String)
                            .describe("Name of the ClusterIssuer and of its CA secret."),
                    )
                    .attr(
                        "validity",
                        Attribute::optional_computed(Type::String)
                            .describe("Lifetime of the issued CA, e.g. \"8760h\" (default)."),
                    )
                    .attr(
                        "renew_before",
                        Attribute::optional_computed(Type::String).describe(
                            "Issue a new CA on apply when it expires within this (default \"720h\").",
                        ),
                    ),
            ),
        )
}

/// How the bundle is applied.
fn with_options(block: Block) -> Block {
    block
        .attr(
            "prune",
            Attribute::optional_computed(Type::Bool).describe(
                "Delete objects that were applied before but are no longer in the bundle (default true).",
            ),
        )
        .attr(
            "force_conflicts",
            Attribute::optional(Type::Bool).describe(
                "Take fields other field managers own, like kubectl's --force-conflicts (default \
                 false: they are reported and left alone).",
            ),
        )
        .attr(
            "wait",
            Attribute::optional_computed(Type::Bool).describe(
                "Wait for Deployments, DaemonSets, StatefulSets and Jobs to become ready (default true).",
            ),
        )
        .attr(
            "timeout",
            Attribute::optional_computed(Type::String)
                .describe("Longest wait for readiness, CRDs and deletions, e.g. \"5m\" (default \"5m\")."),
        )
}

/// What the provider records.
fn with_outputs(block: Block) -> Block {
    block
        .attr("id", Attribute::computed(Type::String).describe("Identifier of the add-on in state."))
        .attr(
            "objects",
            Attribute::computed(Type::map(Type::String)).describe(
                "The fields fleetform manages of each object (JSON), by \"group/Kind/namespace/name\"; \
                 plans show their differences field by field (Secrets' are sensitive).",
            ),
        )
        .attr(
            "inventory",
            Attribute::computed(Type::list(inventory_entry_type())).describe(
                "Every applied object: group, version, kind, namespace, name and uid.",
            ),
        )
        .attr(
            "not_owned",
            Attribute::computed(Type::list(Type::String)).describe(
                "Fields of these objects other field managers own (\"Kind ns/name .path (manager)\"): \
                 fleetform leaves them alone.",
            ),
        )
        .attr(
            "certificate_expiry",
            Attribute::computed(Type::map(Type::String))
                .describe("Not-after time (RFC 3339) of the cluster issuer's CA, by issuer name."),
        )
        .attr(
            "issuer_ca",
            Attribute::computed(Type::String).sensitive().describe(
                "The cluster issuer's CA certificate and key, kept so that it is reissued only when due.",
            ),
        )
}
