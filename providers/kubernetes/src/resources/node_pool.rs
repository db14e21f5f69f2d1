//! The `node_pool` resource: worker nodes of a cluster on `host` resources, Linux or
//! Windows, with the labels and taints every node of the pool carries. Hosts join and
//! leave in place; the pool's identity (cluster, name, OS) forces a new pool.

use fleetform_sdk::{Attribute, Block, NestedBlock, Nesting, Schema, Type};

/// The schema of `resource "node_pool"`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .describe("Worker nodes of a cluster: Linux or Windows hosts with shared labels and taints.")
            .attr(
                "cluster",
                Attribute::required(Type::String)
                    .force_new()
                    .describe("The cluster the nodes join: a `cluster` resource's id, e.g. cluster.this.id."),
            )
            .attr(
                "name",
                Attribute::required(Type::String)
                    .force_new()
                    .describe("Pool name, unique in the cluster; nodes carry it as a label."),
            )
            .attr(
                "os",
                Attribute::optional_computed(Type::String)
                    .force_new()
                    .describe("\"linux\" (default) or \"windows\"; the same for every host of the pool."),
            )
            .attr(
                "hosts",
                Attribute::required(Type::list(Type::String)).describe(
                    "Ids of the `host` resources that become nodes; adding or removing one joins or drains it.",
                ),
            )
            .attr(
                "labels",
                Attribute::optional(Type::map(Type::String)).describe("Kubernetes labels set on every node."),
            )
            .attr(
                "kubelet_extra_args",
                Attribute::optional(Type::map(Type::String))
                    .describe("Extra kubelet flags without the leading \"--\", like kubeadm's kubeletExtraArgs."),
            )
            .attr(
                "max_pods",
                Attribute::optional_computed(Type::Number).describe("Most pods per node (kubelet maxPods, default 110)."),
            )
            .attr(
                "kubernetes_version",
                Attribute::optional_computed(Type::String).describe(
                    "kubelet version, e.g. \"1.31.2\"; defaults to the cluster's. Set it to upgrade \
                     workers after the control plane.",
                ),
            )
            .attr(
                "node_names",
                Attribute::computed(Type::list(Type::String)).describe("Names of the pool's nodes."),
            )
            .attr(
                "ready_nodes",
                Attribute::computed(Type::list(Type::String)).describe(
                    "The pool's nodes whose Ready condition was True when last looked at \
                     (apply's end, or refresh); `fleetform status` counts them.",
                ),
            )
            .attr(
                "certificate_expiry",
                Attribute::computed(Type::map(Type::String)).describe(
                    "Not-after time (RFC 3339) of each node's kubelet client certificate, as \
                     \"NODE/kubelet.conf\"; plans renew those due within the cluster's renew_before.",
                ),
            )
            .attr(
                "rollout",
                Attribute::computed(Type::list(Type::String)).describe(
                    "The steps of the latest version change, in the order apply takes them: one node at a time.",
                ),
            )
            .attr("id", Attribute::computed(Type::String).describe("Identifier of the pool in state."))
            .block("taint", NestedBlock::new(Nesting::List, taint())),
    )
}

/// One taint, as in `kubectl taint nodes NODE key=value:Effect`.
fn taint() -> Block {
    Block::new()
        .describe("A taint set on every node of the pool.")
        .attr(
            "key",
            Attribute::required(Type::String).describe("Taint key, e.g. \"os\"."),
        )
        .attr(
            "value",
            Attribute::optional(Type::String).describe("Taint value, e.g. \"windows\"."),
        )
        .attr(
            "effect",
            Attribute::required(Type::String)
                .describe("\"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\"."),
        )
}
