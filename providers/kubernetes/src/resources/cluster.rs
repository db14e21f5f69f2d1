//! The `cluster` resource: a Kubernetes cluster bootstrapped on `host` resources, the way
//! kubeadm does it: the cluster PKI, a single or highly available control plane with
//! stacked etcd, the API endpoint and an admin kubeconfig. Version changes upgrade in
//! place; only identity and network layout force a new cluster.

use fleetform_sdk::{Attribute, Block, NestedBlock, Nesting, Schema, Type};

/// The schema of `resource "cluster"`.
pub fn schema() -> Schema {
    let block = Block::new()
        .describe(
            "A Kubernetes cluster: PKI, control plane with stacked etcd, endpoint and kubeconfig.",
        )
        .attr(
            "name",
            Attribute::required(Type::String)
                .force_new()
                .describe("Cluster name, as in kubeadm's clusterName and kubeconfig contexts."),
        )
        .attr(
            "kubernetes_version",
            Attribute::required(Type::String).describe(
                "Kubernetes version without the \"v\", e.g. \"1.31.2\". Raising it upgrades the \
                 control plane in place, one minor version at a time, like `kubeadm upgrade`.",
            ),
        )
        .attr(
            "control_plane_hosts",
            Attribute::required(Type::list(Type::String)).describe(
                "Ids of the `host` resources that run the control plane and stacked etcd: one, \
                 or three or five for high availability. The first one bootstraps the cluster.",
            ),
        );
    let block = with_endpoint(with_networking(block));
    let block = block
        .attr(
            "install_runtime",
            Attribute::optional_computed(Type::Bool).describe(
                "Install and configure containerd on the cluster's nodes when it is missing (default true).",
            ),
        )
        .attr(
            "control_plane_schedulable",
            Attribute::optional_computed(Type::Bool).describe(
                "Let workloads run on control-plane nodes by leaving off the \
                 node-role.kubernetes.io/control-plane:NoSchedule taint; needed when a cluster \
                 has no node pool (default false).",
            ),
        )
        .attr(
            "apiserver_extra_args",
            extra_args("kube-apiserver", "kubeadm's apiServer.extraArgs"),
        )
        .attr(
            "controller_manager_extra_args",
            extra_args("kube-controller-manager", "kubeadm's controllerManager.extraArgs"),
        )
        .attr(
            "scheduler_extra_args",
            extra_args("kube-scheduler", "kubeadm's scheduler.extraArgs"),
        )
        .attr(
            "feature_gates",
            Attribute::optional(Type::map(Type::Bool)).describe(
                "Feature gates set on every control-plane component, e.g. { InPlacePodVerticalScaling = true }.",
            ),
        )
        .block("certificates", NestedBlock::new(Nesting::Single, certificates()))
        .block("oidc", NestedBlock::new(Nesting::Single, oidc()))
        .block("kube_vip", NestedBlock::new(Nesting::Single, kube_vip()));
    Schema::new(with_outputs(block))
}

fn extra_args(component: &str, kubeadm_field: &str) -> Attribute {
    Attribute::optional(Type::map(Type::String)).describe(format!(
        "Extra {component} flags without the leading \"--\", like {kubeadm_field}."
    ))
}

/// Where clients reach the API server and which names its certificate carries.
fn with_endpoint(block: Block) -> Block {
    block
        .attr(
            "endpoint_address",
            Attribute::optional_computed(Type::String).describe(
                "Address clients and nodes use for the API server (kubeadm's controlPlaneEndpoint): \
                 a VIP or load balancer for HA; defaults to the first control-plane host's address.",
            ),
        )
        .attr(
            "endpoint_port",
            Attribute::optional_computed(Type::Number)
                .describe("API server port (default 6443)."),
        )
        .attr(
            "apiserver_cert_extra_sans",
            Attribute::optional(Type::list(Type::String)).describe(
                "Extra DNS names and IPs in the API server certificate, like kubeadm's \
                 --apiserver-cert-extra-sans. The endpoint and host addresses are always included.",
            ),
        )
}

/// Cluster networking and image pulls. The CIDRs and DNS domain are baked into every
/// node and certificate, so changing them means a new cluster.
fn with_networking(block: Block) -> Block {
    block
        .attr(
            "pod_cidr",
            Attribute::optional_computed(Type::String)
                .force_new()
                .describe("Pod network CIDR, kubeadm's podSubnet (default \"10.244.0.0/16\")."),
        )
        .attr(
            "service_cidr",
            Attribute::optional_computed(Type::String)
                .force_new()
                .describe(
                    "Service network CIDR, kubeadm's serviceSubnet (default \"10.96.0.0/12\").",
                ),
        )
        .attr(
            "dns_domain",
            Attribute::optional_computed(Type::String)
                .force_new()
                .describe("Cluster DNS domain (default \"cluster.local\")."),
        )
        .attr(
            "registry_mirrors",
            Attribute::optional(Type::map(Type::list(Type::String))).describe(
                "containerd registry mirrors: registry host to mirror URLs tried in order, \
                 e.g. { \"docker.io\" = [\"https://mirror.clinic.lan\"] }.",
            ),
        )
}

/// What the provider reports back once the cluster exists.
fn with_outputs(block: Block) -> Block {
    block
        .attr("id", Attribute::computed(Type::String).describe("Identifier of the cluster in state."))
        .attr(
            "endpoint",
            Attribute::computed(Type::String)
                .describe("API server URL, e.g. \"https://169.254.100.10:6443\"."),
        )
        .attr(
            "ca_certificate",
            Attribute::computed(Type::String).describe("Cluster CA certificate (PEM)."),
        )
        .attr(
            "admin_kubeconfig",
            Attribute::computed(Type::String)
                .sensitive()
                .describe("Kubeconfig (YAML) for the cluster-admin user, like /etc/kubernetes/admin.conf."),
        )
        .attr(
            "certificate_expiry",
            Attribute::computed(Type::map(Type::String)).describe(
                "Not-after time (RFC 3339) of each certificate by name, like `kubeadm certs check-expiration`.",
            ),
        )
        .attr(
            "etcd_members",
            Attribute::computed(Type::list(Type::String)).describe("Names of the etcd members."),
        )
        .attr(
            "node_names",
            Attribute::computed(Type::list(Type::String)).describe("Names of the control-plane nodes."),
        )
        .attr(
            "rollout",
            Attribute::computed(Type::list(Type::String)).describe(
                "The steps of the latest version change, in the order apply takes them: one \
                 control-plane member at a time.",
            ),
        )
        .attr(
            "essential_addons",
            Attribute::computed(Type::map(Type::String)).describe(
                "The essential add-ons applied through the API once the control plane serves \
                 (kube-proxy, CoreDNS, the kubeadm-config and cluster-info ConfigMaps, the \
                 bootstrap RBAC), each \"group/Kind/namespace/name\" with a digest of what was applied.",
            ),
        )
        .attr(
            "drifted_files",
            Attribute::computed(Type::list(Type::String)).describe(
                "Files on the control-plane hosts that differ from what fleetform wrote, as \
                 \"NODE:PATH\", found at refresh; apply writes them back.",
            ),
        )
        .attr(
            "served_versions",
            Attribute::computed(Type::map(Type::String)).describe(
                "What each control-plane member runs, found at refresh: the version its API \
                 server reports on /version (\"NODE/kube-apiserver\") and the kubelet version \
                 its Node reports (\"NODE/kubelet\"). Plan warns when one is not the declared \
                 version while fleetform's files are as written.",
            ),
        )
        .attr(
            "ready_nodes",
            Attribute::computed(Type::list(Type::String)).describe(
                "The control-plane nodes whose Ready condition was True when last looked at \
                 (apply's end, or refresh); `fleetform status` counts them.",
            ),
        )
        .attr(
            "pki",
            Attribute::computed(Type::String).sensitive().describe(
                "The cluster's certificates and keys, kept in state so that renewals reissue from \
                 the same CAs (as Terraform's tls provider keeps keys): protect the state.",
            ),
        )
}

/// The cluster PKI. Changes apply to certificates issued from then on; existing ones are
/// reissued at their next renewal.
fn certificates() -> Block {
    Block::new()
        .describe("The cluster PKI: key algorithm, validity periods and when to renew.")
        .attr(
            "key_algorithm",
            Attribute::optional_computed(Type::String).describe(
                "\"ecdsa-p256\" (default), \"rsa-2048\", \"rsa-4096\" or \"ed25519\".",
            ),
        )
        .attr(
            "ca_validity",
            Attribute::optional_computed(Type::String)
                .describe("Lifetime of the CAs, e.g. \"87600h\" (default, 10 years)."),
        )
        .attr(
            "leaf_validity",
            Attribute::optional_computed(Type::String)
                .describe("Lifetime of the other certificates, e.g. \"8760h\" (default, 1 year)."),
        )
        .attr(
            "renew_before",
            Attribute::optional_computed(Type::String).describe(
                "Renew a certificate on apply when it expires within this, e.g. \"720h\" (default).",
            ),
        )
}

/// A virtual IP in front of the control plane, served by kube-vip static pods.
fn kube_vip() -> Block {
    Block::new()
        .describe(
            "Serve endpoint_address as a virtual IP with kube-vip static pods on the control-plane \
             hosts: the members elect a leader, which answers ARP for it, so the endpoint follows \
             a live member.",
        )
        .attr(
            "interface",
            Attribute::optional_computed(Type::String).describe(
                "The hosts' network interface the virtual IP goes on (default \"eth0\").",
            ),
        )
        .attr(
            "image",
            Attribute::optional_computed(Type::String)
                .describe("kube-vip's image (default \"ghcr.io/kube-vip/kube-vip:v0.8.9\")."),
        )
}

/// OpenID Connect authentication for the API server (Entra ID or any OIDC issuer).
fn oidc() -> Block {
    Block::new()
        .describe("OpenID Connect user authentication, e.g. with Entra ID (kube-apiserver --oidc-* flags).")
        .attr(
            "issuer_url",
            Attribute::required(Type::String).describe(
                "Issuer URL, e.g. \"https://login.microsoftonline.com/<tenant>/v2.0\" (--oidc-issuer-url).",
            ),
        )
        .attr(
            "client_id",
            Attribute::required(Type::String)
                .describe("Client (application) id tokens must be issued for (--oidc-client-id)."),
        )
        .attr(
            "username_claim",
            Attribute::optional_computed(Type::String)
                .describe("Claim used as the user name (--oidc-username-claim, default \"sub\")."),
        )
        .attr(
            "username_prefix",
            Attribute::optional(Type::String)
                .describe("Prefix added to user names, e.g. \"oidc:\" (--oidc-username-prefix)."),
        )
        .attr(
            "groups_claim",
            Attribute::optional(Type::String)
                .describe("Claim holding the user's groups, e.g. \"groups\" (--oidc-groups-claim)."),
        )
        .attr(
            "groups_prefix",
            Attribute::optional(Type::String)
                .describe("Prefix added to group names (--oidc-groups-prefix)."),
        )
}
