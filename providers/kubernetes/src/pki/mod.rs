//! The cluster PKI, laid out as kubeadm lays it out under `/etc/kubernetes`, so operators'
//! habits (`ls /etc/kubernetes/pki`, `openssl x509 -in ...`, `kubectl --kubeconfig
//! /etc/kubernetes/admin.conf`) and tools keep working.
//!
//! This module is pure: [`issue`] turns a [`PkiSpec`] into a [`Bundle`] of file contents in
//! memory, and the caller uploads them. Renewal passes the CAs and the service-account key
//! back in [`PkiSpec::existing`]: leaves are reissued from the same CAs, and a CA changes only
//! when the caller leaves it out, which makes CA rotation a separate, explicit choice.
//!
//! Who is who follows current kubeadm (1.36):
//! - `admin.conf` is in the group `kubeadm:cluster-admins` ([`CLUSTER_ADMINS_GROUP`]), which
//!   has cluster-admin only through a ClusterRoleBinding, so the credential can be revoked
//!   by deleting the binding. `super-admin.conf` (first control-plane node only) is in
//!   `system:masters`, the break-glass credential that creates that binding.
//! - `apiserver-kubelet-client` carries no group; kubeadm 1.36.1/1.35.5 dropped it and binds
//!   the user [`APISERVER_KUBELET_CLIENT_USER`] to `system:kubelet-api-admin` instead.
//! - `apiserver-etcd-client` and `etcd/healthcheck-client` carry no group: etcd ignores it
//!   (kubeadm dropped it from the former in 1.29 for that reason).
//!
//! The provider therefore creates, with `super-admin.conf`, the ClusterRoleBindings
//! `kubeadm:cluster-admins` (group [`CLUSTER_ADMINS_GROUP`] → `cluster-admin`) and
//! `kubeadm:apiserver-kubelet-client` (user [`APISERVER_KUBELET_CLIENT_USER`] →
//! `system:kubelet-api-admin`), as `kubeadm init` does.

mod certs;
mod keys;
mod kubeconfig;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use rcgen::{ExtendedKeyUsagePurpose as Eku, PKCS_ED25519, SanType};

use certs::{Ca, Issued, Leaf, Window};
pub use keys::KeyAlgorithm;

/// Where every path of a [`Bundle`] is rooted on a node.
pub const KUBERNETES_DIR: &str = "/etc/kubernetes";
/// kubeadm's default service network.
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";
/// kubeadm's default cluster DNS domain.
pub const DEFAULT_DNS_DOMAIN: &str = "cluster.local";
/// kubeadm's CA lifetime: ten years.
pub const DEFAULT_CA_VALIDITY: Duration = Duration::from_secs(87_600 * 3600);
/// kubeadm's certificate lifetime: one year.
pub const DEFAULT_LEAF_VALIDITY: Duration = Duration::from_secs(8_760 * 3600);

/// The group of `admin.conf`, bound to `cluster-admin` by a ClusterRoleBinding of the
/// same name.
pub const CLUSTER_ADMINS_GROUP: &str = "kubeadm:cluster-admins";
/// The group whose members are cluster-admin whatever RBAC says; only `super-admin.conf`.
pub const SUPER_ADMINS_GROUP: &str = "system:masters";
/// The user the API server is when it calls kubelets (logs, exec, port-forward).
pub const APISERVER_KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
/// The group of every kubelet's client certificate.
pub const NODES_GROUP: &str = "system:nodes";

/// File paths relative to [`KUBERNETES_DIR`], as kubeadm names them.
pub mod paths {
    pub const CA_CERT: &str = "pki/ca.crt";
    pub const CA_KEY: &str = "pki/ca.key";
    pub const ETCD_CA_CERT: &str = "pki/etcd/ca.crt";
    pub const ETCD_CA_KEY: &str = "pki/etcd/ca.key";
    pub const FRONT_PROXY_CA_CERT: &str = "pki/front-proxy-ca.crt";
    pub const FRONT_PROXY_CA_KEY: &str = "pki/front-proxy-ca.key";
    pub const SERVICE_ACCOUNT_KEY: &str = "pki/sa.key";
    pub const SERVICE_ACCOUNT_PUB: &str = "pki/sa.pub";
    pub const APISERVER_CERT: &str = "pki/apiserver.crt";
    pub const APISERVER_KEY: &str = "pki/apiserver.key";
    pub const APISERVER_KUBELET_CLIENT_CERT: &str = "pki/apiserver-kubelet-client.crt";
    pub const APISERVER_KUBELET_CLIENT_KEY: &str = "pki/apiserver-kubelet-client.key";
    pub const APISERVER_ETCD_CLIENT_CERT: &str = "pki/apiserver-etcd-client.crt";
    pub const APISERVER_ETCD_CLIENT_KEY: &str = "pki/apiserver-etcd-client.key";
    pub const FRONT_PROXY_CLIENT_CERT: &str = "pki/front-proxy-client.crt";
    pub const FRONT_PROXY_CLIENT_KEY: &str = "pki/front-proxy-client.key";
    pub const ETCD_SERVER_CERT: &str = "pki/etcd/server.crt";
    pub const ETCD_SERVER_KEY: &str = "pki/etcd/server.key";
    pub const ETCD_PEER_CERT: &str = "pki/etcd/peer.crt";
    pub const ETCD_PEER_KEY: &str = "pki/etcd/peer.key";
    pub const ETCD_HEALTHCHECK_CLIENT_CERT: &str = "pki/etcd/healthcheck-client.crt";
    pub const ETCD_HEALTHCHECK_CLIENT_KEY: &str = "pki/etcd/healthcheck-client.key";
    pub const ADMIN_CONF: &str = "admin.conf";
    pub const SUPER_ADMIN_CONF: &str = "super-admin.conf";
    pub const CONTROLLER_MANAGER_CONF: &str = "controller-manager.conf";
    pub const SCHEDULER_CONF: &str = "scheduler.conf";
    pub const KUBELET_CONF: &str = "kubelet.conf";
}

/// Mode of private keys and of kubeconfigs, which embed one.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of certificates and public keys.
pub const PUBLIC_MODE: u32 = 0o644;

/// Errors in a [`PkiSpec`] or in the existing files given with it.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("the control plane has no nodes; a cluster needs at least one control-plane node")]
    NoControlPlane,
    #[error("the control-plane node {0:?} is listed more than once")]
    DuplicateNode(String),
    #[error(
        "invalid node name {0:?}: a node name is a lowercase DNS name (letters, digits, '-' \
         and '.', at most 253 characters)"
    )]
    InvalidNodeName(String),
    #[error("the control-plane node {name:?} has the address {address}, which no host can have")]
    InvalidNodeAddress { name: String, address: IpAddr },
    #[error("the cluster name is empty")]
    EmptyClusterName,
    #[error(
        "invalid API endpoint {host:?} port {port}: expected an IP address or a DNS name, and a port from 1 to 65535"
    )]
    InvalidEndpoint { host: String, port: u16 },
    #[error("invalid service CIDR {cidr:?}: {reason}")]
    InvalidServiceCidr { cidr: String, reason: String },
    #[error("invalid DNS domain {0:?}: expected a lowercase DNS name such as \"cluster.local\"")]
    InvalidDnsDomain(String),
    #[error(
        "invalid certificate name {0:?}: expected an IP address or a lowercase DNS name \
         (optionally starting with \"*.\")"
    )]
    InvalidSan(String),
    #[error(
        "unknown key algorithm {0:?}: expected \"ecdsa-p256\", \"rsa-2048\", \"rsa-4096\" or \"ed25519\""
    )]
    UnknownKeyAlgorithm(String),
    #[error(
        "the {what} validity of {validity:?} is out of range: it must be more than zero and end before the year 10000"
    )]
    ValidityOutOfRange {
        what: &'static str,
        validity: Duration,
    },
    #[error("the current time is outside what X.509 certificates can express")]
    NowOutOfRange,
    #[error("the {what} certificate cannot be read: {reason}")]
    InvalidCertificate { what: String, reason: String },
    #[error("the {what} key cannot be read: {reason}")]
    InvalidKey { what: String, reason: String },
    #[error("the existing {0} certificate is not a CA certificate")]
    NotACa(&'static str),
    #[error("the existing {what} expired at {}; renew or rotate it first", rfc3339(*not_after))]
    CaExpired {
        what: &'static str,
        not_after: SystemTime,
    },
    #[error("the existing {0} key does not belong to its certificate")]
    KeyMismatch(&'static str),
    #[error("invalid kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("key generation failed: {0}")]
    Key(#[from] openssl::error::ErrorStack),
}

/// Where clients reach the API server: an address or DNS name, and a port. The API
/// server listens on the same port on every control-plane node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    /// `https://HOST:PORT`, with an IPv6 address in brackets.
    pub fn url(&self) -> String {
        url(&self.host, self.port)
    }
}

/// A control-plane node: its Kubernetes node name and the address its API server and
/// etcd member advertise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub address: IpAddr,
}

/// A CA certificate and its private key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CaPem {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for CaPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaPem")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"(sensitive)")
            .finish()
    }
}

/// The long-lived parts of a cluster's PKI, to keep across runs. Each one that is `None`
/// is created anew; for an existing cluster that is a rotation and must be asked for.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Existing {
    pub ca: Option<CaPem>,
    pub etcd_ca: Option<CaPem>,
    pub front_proxy_ca: Option<CaPem>,
    /// The service-account signing key (PEM). A new one invalidates every
    /// service-account token in the cluster.
    pub service_account_key: Option<String>,
}

impl fmt::Debug for Existing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Existing")
            .field("ca", &self.ca)
            .field("etcd_ca", &self.etcd_ca)
            .field("front_proxy_ca", &self.front_proxy_ca)
            .field(
                "service_account_key",
                &self.service_account_key.as_ref().map(|_| "(sensitive)"),
            )
            .finish()
    }
}

/// Everything the PKI of a cluster is issued from.
#[derive(Debug, Clone)]
pub struct PkiSpec {
    /// kubeadm's clusterName: the cluster's name in every kubeconfig.
    pub cluster_name: String,
    pub endpoint: Endpoint,
    /// The control-plane nodes; the first one also gets `super-admin.conf`.
    pub control_plane: Vec<Member>,
    /// The service network, e.g. "10.96.0.0/12"; its first address (the `kubernetes`
    /// service) is in the API server's certificate. For dual-stack ("v4,v6"), the first.
    pub service_cidr: String,
    /// The cluster DNS domain, e.g. "cluster.local".
    pub dns_domain: String,
    /// More names for the API server certificate: IP addresses or DNS names.
    pub extra_sans: Vec<String>,
    pub key_algorithm: KeyAlgorithm,
    pub ca_validity: Duration,
    pub leaf_validity: Duration,
    /// The time certificates are issued at.
    pub now: SystemTime,
    pub existing: Existing,
}

impl PkiSpec {
    /// A spec with kubeadm's defaults for everything else.
    pub fn new(
        cluster_name: impl Into<String>,
        endpoint: Endpoint,
        control_plane: Vec<Member>,
        now: SystemTime,
    ) -> Self {
        PkiSpec {
            cluster_name: cluster_name.into(),
            endpoint,
            control_plane,
            service_cidr: DEFAULT_SERVICE_CIDR.into(),
            dns_domain: DEFAULT_DNS_DOMAIN.into(),
            extra_sans: Vec::new(),
            key_algorithm: KeyAlgorithm::default(),
            ca_validity: DEFAULT_CA_VALIDITY,
            leaf_validity: DEFAULT_LEAF_VALIDITY,
            now,
            existing: Existing::default(),
        }
    }
}

/// One file's contents and mode. Certificates and kubeconfigs also carry the not-after
/// time of the certificate in them.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct File {
    pub contents: String,
    pub mode: u32,
    pub not_after: Option<SystemTime>,
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("File");
        if self.mode == SECRET_MODE {
            out.field("contents", &"(sensitive)");
        } else {
            out.field("contents", &self.contents);
        }
        out.field("mode", &format_args!("{:o}", self.mode))
            .field("not_after", &self.not_after.map(rfc3339))
            .finish()
    }
}

/// Files by path relative to [`KUBERNETES_DIR`].
pub type Files = BTreeMap<String, File>;

/// The issued PKI of a cluster.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Bundle {
    /// Files every control-plane node gets, the same on each: the CAs, the
    /// service-account key pair, the API server's certificates and `admin.conf`.
    pub common: Files,
    /// Files particular to each control-plane node, by node name: its etcd member's
    /// certificates and the kubeconfigs of its controller-manager, scheduler and kubelet
    /// (which talk to the node's own API server, as kubeadm's do), plus `super-admin.conf`
    /// on the first node.
    pub nodes: BTreeMap<String, Files>,
    /// Not-after of every certificate, by kubeadm's name for it (as `kubeadm certs
    /// check-expiration` lists them), prefixed with "NODE/" for per-node ones, e.g.
    /// "apiserver", "admin.conf", "cp-1/etcd-server", "cp-1/kubelet.conf".
    pub expiry: BTreeMap<String, SystemTime>,
}

impl Bundle {
    /// Every file one control-plane node gets, or `None` for a node not in the bundle.
    pub fn node_files(&self, node: &str) -> Option<BTreeMap<&str, &File>> {
        let own = self.nodes.get(node)?;
        Some(
            self.common
                .iter()
                .chain(own)
                .map(|(path, file)| (path.as_str(), file))
                .collect(),
        )
    }

    /// The cluster CA certificate (PEM).
    pub fn ca_certificate(&self) -> &str {
        &self.common[paths::CA_CERT].contents
    }

    /// `admin.conf`, the kubeconfig for cluster administrators.
    pub fn admin_kubeconfig(&self) -> &str {
        &self.common[paths::ADMIN_CONF].contents
    }

    /// This bundle with the certificates named in `names` (as in [`Bundle::expiry`]) and
    /// their keys taken from `fresh`, which was issued from the same CAs; everything else
    /// stays byte for byte. CAs are never taken: rotating them is a separate choice.
    pub fn renewed(&self, fresh: &Bundle, names: &std::collections::BTreeSet<String>) -> Bundle {
        let mut out = self.clone();
        for name in names {
            let (node, base) = match name.split_once('/') {
                Some((node, base)) => (Some(node), base),
                None => (None, name.as_str()),
            };
            let (from, to) = match node {
                Some(node) => match (fresh.nodes.get(node), out.nodes.get_mut(node)) {
                    (Some(from), Some(to)) => (from, to),
                    _ => continue,
                },
                None => (&fresh.common, &mut out.common),
            };
            for path in renewable_files(base) {
                if let Some(file) = from.get(*path) {
                    to.insert((*path).to_owned(), file.clone());
                }
            }
            if let Some(not_after) = fresh.expiry.get(name) {
                out.expiry.insert(name.clone(), *not_after);
            }
        }
        out
    }

    /// The CAs and service-account key of this bundle, to renew from next time.
    pub fn existing(&self) -> Existing {
        let ca = |cert: &str, key: &str| {
            Some(CaPem {
                cert_pem: self.common[cert].contents.clone(),
                key_pem: self.common[key].contents.clone(),
            })
        };
        Existing {
            ca: ca(paths::CA_CERT, paths::CA_KEY),
            etcd_ca: ca(paths::ETCD_CA_CERT, paths::ETCD_CA_KEY),
            front_proxy_ca: ca(paths::FRONT_PROXY_CA_CERT, paths::FRONT_PROXY_CA_KEY),
            service_account_key: Some(self.common[paths::SERVICE_ACCOUNT_KEY].contents.clone()),
        }
    }
}

/// Whether `name` (an [`Bundle::expiry`] name without its node) is a CA.
pub fn is_ca(name: &str) -> bool {
    matches!(name, "ca" | "etcd-ca" | "front-proxy-ca")
}

/// The files that hold the certificate called `name` and its key; none for the CAs.
fn renewable_files(name: &str) -> &'static [&'static str] {
    use paths::*;
    match name {
        "apiserver" => &[APISERVER_CERT, APISERVER_KEY],
        "apiserver-kubelet-client" => {
            &[APISERVER_KUBELET_CLIENT_CERT, APISERVER_KUBELET_CLIENT_KEY]
        }
        "apiserver-etcd-client" => &[APISERVER_ETCD_CLIENT_CERT, APISERVER_ETCD_CLIENT_KEY],
        "front-proxy-client" => &[FRONT_PROXY_CLIENT_CERT, FRONT_PROXY_CLIENT_KEY],
        "etcd-server" => &[ETCD_SERVER_CERT, ETCD_SERVER_KEY],
        "etcd-peer" => &[ETCD_PEER_CERT, ETCD_PEER_KEY],
        "etcd-healthcheck-client" => &[ETCD_HEALTHCHECK_CLIENT_CERT, ETCD_HEALTHCHECK_CLIENT_KEY],
        "admin.conf" => &[ADMIN_CONF],
        "super-admin.conf" => &[SUPER_ADMIN_CONF],
        "controller-manager.conf" => &[CONTROLLER_MANAGER_CONF],
        "scheduler.conf" => &[SCHEDULER_CONF],
        "kubelet.conf" => &[KUBELET_CONF],
        _ => &[],
    }
}

/// Issues the whole PKI of a cluster: the CAs and service-account key (or the existing
/// ones), and new keys and certificates for everything else.
pub fn issue(spec: &PkiSpec) -> Result<Bundle, PkiError> {
    let checked = check(spec)?;
    let window = Window::at(spec.now)?;
    let ca_not_after = window.until("CA", spec.ca_validity)?;
    let leaf_not_after = window.until("certificate", spec.leaf_validity)?;
    let algorithm = spec.key_algorithm;
    let ca_or_new = |what, cn, existing: &Option<CaPem>| match existing {
        Some(pem) => Ca::load(what, pem, window),
        None => Ca::create(cn, algorithm, window, ca_not_after),
    };
    let ca = ca_or_new("cluster CA", "kubernetes", &spec.existing.ca)?;
    let etcd_ca = ca_or_new("etcd CA", "etcd-ca", &spec.existing.etcd_ca)?;
    let front_proxy_ca = ca_or_new(
        "front-proxy CA",
        "front-proxy-ca",
        &spec.existing.front_proxy_ca,
    )?;

    let mut out = Output::default();
    out.ca("ca", paths::CA_CERT, paths::CA_KEY, &ca);
    out.ca("etcd-ca", paths::ETCD_CA_CERT, paths::ETCD_CA_KEY, &etcd_ca);
    out.ca(
        "front-proxy-ca",
        paths::FRONT_PROXY_CA_CERT,
        paths::FRONT_PROXY_CA_KEY,
        &front_proxy_ca,
    );
    let (sa_key, sa_pub) = service_account_key(spec)?;
    out.common
        .insert(paths::SERVICE_ACCOUNT_KEY.into(), secret(sa_key, None));
    out.common
        .insert(paths::SERVICE_ACCOUNT_PUB.into(), public(sa_pub, None));

    let sign = |ca: &Ca, leaf: Leaf<'_>| ca.issue(leaf, algorithm, window, leaf_not_after);
    let apiserver = sign(
        &ca,
        Leaf {
            common_name: "kube-apiserver",
            organization: None,
            usages: &[Eku::ServerAuth],
            sans: checked.apiserver_sans,
        },
    )?;
    out.pair(
        None,
        "apiserver",
        paths::APISERVER_CERT,
        paths::APISERVER_KEY,
        apiserver,
    );
    let kubelet_client = sign(&ca, client(APISERVER_KUBELET_CLIENT_USER, None))?;
    out.pair(
        None,
        "apiserver-kubelet-client",
        paths::APISERVER_KUBELET_CLIENT_CERT,
        paths::APISERVER_KUBELET_CLIENT_KEY,
        kubelet_client,
    );
    let etcd_client = sign(&etcd_ca, client("kube-apiserver-etcd-client", None))?;
    out.pair(
        None,
        "apiserver-etcd-client",
        paths::APISERVER_ETCD_CLIENT_CERT,
        paths::APISERVER_ETCD_CLIENT_KEY,
        etcd_client,
    );
    let front_proxy_client = sign(&front_proxy_ca, client("front-proxy-client", None))?;
    out.pair(
        None,
        "front-proxy-client",
        paths::FRONT_PROXY_CLIENT_CERT,
        paths::FRONT_PROXY_CLIENT_KEY,
        front_proxy_client,
    );

    let endpoint_url = spec.endpoint.url();
    let conf = |user: &str, group: Option<&str>, server: &str| {
        let issued = sign(&ca, client(user, group))?;
        let contents = kubeconfig::render(&kubeconfig::Credentials {
            cluster_name: &spec.cluster_name,
            server,
            ca_cert_pem: &ca.pem.cert_pem,
            user,
            cert_pem: &issued.cert_pem,
            key_pem: &issued.key_pem,
        })?;
        Ok::<_, PkiError>(secret(contents, Some(issued.not_after)))
    };
    out.file(
        None,
        "admin.conf",
        paths::ADMIN_CONF,
        conf(
            "kubernetes-admin",
            Some(CLUSTER_ADMINS_GROUP),
            &endpoint_url,
        )?,
    );

    for (index, member) in spec.control_plane.iter().enumerate() {
        let node = Some(member.name.as_str());
        let etcd_sans = certs::sans([
            member.name.as_str(),
            "localhost",
            &member.address.to_string(),
            "127.0.0.1",
            "::1",
        ])?;
        let server = sign(
            &etcd_ca,
            Leaf {
                common_name: &member.name,
                organization: None,
                usages: &[Eku::ServerAuth, Eku::ClientAuth],
                sans: etcd_sans.clone(),
            },
        )?;
        out.pair(
            node,
            "etcd-server",
            paths::ETCD_SERVER_CERT,
            paths::ETCD_SERVER_KEY,
            server,
        );
        let peer = sign(
            &etcd_ca,
            Leaf {
                common_name: &member.name,
                organization: None,
                usages: &[Eku::ServerAuth, Eku::ClientAuth],
                sans: etcd_sans,
            },
        )?;
        out.pair(
            node,
            "etcd-peer",
            paths::ETCD_PEER_CERT,
            paths::ETCD_PEER_KEY,
            peer,
        );
        let healthcheck = sign(&etcd_ca, client("kube-etcd-healthcheck-client", None))?;
        out.pair(
            node,
            "etcd-healthcheck-client",
            paths::ETCD_HEALTHCHECK_CLIENT_CERT,
            paths::ETCD_HEALTHCHECK_CLIENT_KEY,
            healthcheck,
        );

        // The node's own API server, not the endpoint: the skew policy forbids these
        // components to be newer than the API server they talk to, and during a rolling
        // upgrade the endpoint (often a load balancer) may lead to a member not yet
        // upgraded. kubeadm does the same (for the kubelet since 1.35).
        let local = url(&member.address.to_string(), spec.endpoint.port);
        out.file(
            node,
            "controller-manager.conf",
            paths::CONTROLLER_MANAGER_CONF,
            conf("system:kube-controller-manager", None, &local)?,
        );
        out.file(
            node,
            "scheduler.conf",
            paths::SCHEDULER_CONF,
            conf("system:kube-scheduler", None, &local)?,
        );
        out.file(
            node,
            "kubelet.conf",
            paths::KUBELET_CONF,
            conf(
                &format!("system:node:{}", member.name),
                Some(NODES_GROUP),
                &local,
            )?,
        );
        if index == 0 {
            out.file(
                node,
                "super-admin.conf",
                paths::SUPER_ADMIN_CONF,
                conf(
                    "kubernetes-super-admin",
                    Some(SUPER_ADMINS_GROUP),
                    &endpoint_url,
                )?,
            );
        }
    }
    Ok(out.into_bundle())
}

/// What a worker node needs under [`KUBERNETES_DIR`] to join: `kubelet.conf`
/// (system:node:NAME in system:nodes, talking to the endpoint) and `pki/ca.crt`.
#[derive(Debug, Clone)]
pub struct KubeletSpec {
    pub cluster_name: String,
    pub endpoint: Endpoint,
    pub node_name: String,
    /// The cluster CA, as in [`Existing::ca`].
    pub ca: CaPem,
    pub key_algorithm: KeyAlgorithm,
    pub validity: Duration,
    pub now: SystemTime,
}

/// Issues a worker node's kubelet credentials from the cluster CA.
pub fn issue_kubelet(spec: &KubeletSpec) -> Result<Files, PkiError> {
    if spec.cluster_name.is_empty() {
        return Err(PkiError::EmptyClusterName);
    }
    check_endpoint(&spec.endpoint)?;
    if !is_dns_subdomain(&spec.node_name) {
        return Err(PkiError::InvalidNodeName(spec.node_name.clone()));
    }
    let window = Window::at(spec.now)?;
    let not_after = window.until("certificate", spec.validity)?;
    let ca = Ca::load("cluster CA", &spec.ca, window)?;
    let user = format!("system:node:{}", spec.node_name);
    let issued = ca.issue(
        client(&user, Some(NODES_GROUP)),
        spec.key_algorithm,
        window,
        not_after,
    )?;
    let contents = kubeconfig::render(&kubeconfig::Credentials {
        cluster_name: &spec.cluster_name,
        server: &spec.endpoint.url(),
        ca_cert_pem: &ca.pem.cert_pem,
        user: &user,
        cert_pem: &issued.cert_pem,
        key_pem: &issued.key_pem,
    })?;
    Ok(Files::from([
        (
            paths::KUBELET_CONF.to_owned(),
            secret(contents, Some(issued.not_after)),
        ),
        (
            paths::CA_CERT.to_owned(),
            public(ca.pem.cert_pem.clone(), Some(ca.not_after)),
        ),
    ]))
}

/// The not-after time of the (first) certificate in a PEM text, such as an existing
/// `pki/apiserver.crt`.
pub fn certificate_not_after(pem: &str) -> Result<SystemTime, PkiError> {
    let der = certs::certificate_der("given", pem)?;
    certs::not_after_der("given", &der)
}

/// The not-after time of the client certificate in a kubeconfig, such as an existing
/// `admin.conf`.
pub fn kubeconfig_not_after(yaml: &str) -> Result<SystemTime, PkiError> {
    certificate_not_after(&kubeconfig::client_certificate(yaml)?)
}

/// RFC 3339 in UTC with whole seconds, as the provider's `certificate_expiry` shows times.
pub fn rfc3339(time: SystemTime) -> String {
    let at = time::OffsetDateTime::from(time);
    at.replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{at:?}"))
}

/// What [`check`] derives from a valid spec.
struct Checked {
    apiserver_sans: Vec<SanType>,
}

fn check(spec: &PkiSpec) -> Result<Checked, PkiError> {
    if spec.cluster_name.is_empty() {
        return Err(PkiError::EmptyClusterName);
    }
    check_endpoint(&spec.endpoint)?;
    if spec.control_plane.is_empty() {
        return Err(PkiError::NoControlPlane);
    }
    for (index, member) in spec.control_plane.iter().enumerate() {
        if !is_dns_subdomain(&member.name) {
            return Err(PkiError::InvalidNodeName(member.name.clone()));
        }
        if spec.control_plane[..index]
            .iter()
            .any(|other| other.name == member.name)
        {
            return Err(PkiError::DuplicateNode(member.name.clone()));
        }
        if member.address.is_unspecified() || member.address.is_multicast() {
            return Err(PkiError::InvalidNodeAddress {
                name: member.name.clone(),
                address: member.address,
            });
        }
    }
    let service_ip = first_service_ip(&spec.service_cidr)?;
    if !is_dns_subdomain(&spec.dns_domain) {
        return Err(PkiError::InvalidDnsDomain(spec.dns_domain.clone()));
    }
    for name in &spec.extra_sans {
        let valid = name.parse::<IpAddr>().is_ok()
            || is_dns_subdomain(name)
            || name.strip_prefix("*.").is_some_and(is_dns_subdomain);
        if !valid {
            return Err(PkiError::InvalidSan(name.clone()));
        }
    }

    // kubeadm's order: DNS names, then IPs, then the endpoint and the extra names.
    let cluster_local = format!("kubernetes.default.svc.{}", spec.dns_domain);
    let service_ip = service_ip.to_string();
    let addresses: Vec<String> = spec
        .control_plane
        .iter()
        .map(|member| member.address.to_string())
        .collect();
    let names = spec
        .control_plane
        .iter()
        .map(|member| member.name.as_str())
        .chain([
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            cluster_local.as_str(),
            service_ip.as_str(),
        ])
        .chain(addresses.iter().map(String::as_str))
        .chain([spec.endpoint.host.as_str()])
        .chain(spec.extra_sans.iter().map(String::as_str));
    Ok(Checked {
        apiserver_sans: certs::sans(names)?,
    })
}

fn check_endpoint(endpoint: &Endpoint) -> Result<(), PkiError> {
    let host_ok = endpoint.host.parse::<IpAddr>().is_ok() || is_dns_subdomain(&endpoint.host);
    if !host_ok || endpoint.port == 0 {
        return Err(PkiError::InvalidEndpoint {
            host: endpoint.host.clone(),
            port: endpoint.port,
        });
    }
    Ok(())
}

/// The first address of the (first) service network: the ClusterIP of the `kubernetes`
/// service. Like Kubernetes (Go's ParseCIDR), host bits in the address are ignored.
fn first_service_ip(cidr: &str) -> Result<IpAddr, PkiError> {
    let invalid = |reason: String| PkiError::InvalidServiceCidr {
        cidr: cidr.to_owned(),
        reason,
    };
    let mut first = None;
    for part in cidr.split(',') {
        let part = part.trim();
        let (address, prefix) = part
            .split_once('/')
            .ok_or_else(|| invalid(format!("{part:?} is not ADDRESS/PREFIX, e.g. 10.96.0.0/12")))?;
        let address: IpAddr = address
            .parse()
            .map_err(|_| invalid(format!("{address:?} is not an IP address")))?;
        let bits: u32 = if address.is_ipv4() { 32 } else { 128 };
        let prefix: u32 = prefix
            .parse()
            .ok()
            .filter(|prefix| *prefix <= bits)
            .ok_or_else(|| {
                invalid(format!(
                    "the prefix length {prefix:?} is not a number from 0 to {bits}"
                ))
            })?;
        if prefix == bits {
            return Err(invalid(format!(
                "/{prefix} has no address for the kubernetes service; use a larger network"
            )));
        }
        let host_bits = bits - prefix;
        let ip = match address {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(host_bits).unwrap_or(0);
                IpAddr::V4(((u32::from(v4) & mask) + 1).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
                IpAddr::V6(((u128::from(v6) & mask) + 1).into())
            }
        };
        first.get_or_insert(ip);
    }
    first.ok_or_else(|| invalid("it is empty".into()))
}

/// A lowercase RFC 1123 DNS subdomain, what Kubernetes requires of node names and kubeadm
/// of certificate names.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        })
}

fn url(host: &str, port: u16) -> String {
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("https://[{host}]:{port}")
    } else {
        format!("https://{host}:{port}")
    }
}

fn client<'a>(common_name: &'a str, organization: Option<&'a str>) -> Leaf<'a> {
    Leaf {
        common_name,
        organization,
        usages: &[Eku::ClientAuth],
        sans: Vec::new(),
    }
}

/// The service-account key pair: the existing key, or a new one. Kubernetes signs tokens
/// with RSA or ECDSA only, so Ed25519 clusters get an ECDSA P-256 key here.
fn service_account_key(spec: &PkiSpec) -> Result<(String, String), PkiError> {
    const WHAT: &str = "service-account";
    match &spec.existing.service_account_key {
        Some(pem) => {
            let key = keys::load(WHAT, pem)?;
            if key.algorithm() == &PKCS_ED25519 {
                return Err(PkiError::InvalidKey {
                    what: WHAT.into(),
                    reason: "Kubernetes signs service-account tokens with RSA or ECDSA keys only"
                        .into(),
                });
            }
            Ok((pem.clone(), key.public_key_pem()))
        }
        None => {
            let algorithm = match spec.key_algorithm {
                KeyAlgorithm::Ed25519 => KeyAlgorithm::EcdsaP256,
                other => other,
            };
            let key = keys::generate(algorithm)?;
            Ok((key.serialize_pem(), key.public_key_pem()))
        }
    }
}

fn secret(contents: String, not_after: Option<SystemTime>) -> File {
    File {
        contents,
        mode: SECRET_MODE,
        not_after,
    }
}

fn public(contents: String, not_after: Option<SystemTime>) -> File {
    File {
        contents,
        mode: PUBLIC_MODE,
        not_after,
    }
}

/// A bundle under construction.
#[derive(Default)]
struct Output {
    common: Files,
    nodes: BTreeMap<String, Files>,
    expiry: BTreeMap<String, SystemTime>,
}

impl Output {
    fn ca(&mut self, name: &str, cert_path: &str, key_path: &str, ca: &Ca) {
        self.common.insert(
            cert_path.into(),
            public(ca.pem.cert_pem.clone(), Some(ca.not_after)),
        );
        self.common
            .insert(key_path.into(), secret(ca.pem.key_pem.clone(), None));
        self.expiry.insert(name.into(), ca.not_after);
    }

    fn pair(
        &mut self,
        node: Option<&str>,
        name: &str,
        cert_path: &str,
        key_path: &str,
        issued: Issued,
    ) {
        self.file(
            node,
            name,
            cert_path,
            public(issued.cert_pem, Some(issued.not_after)),
        );
        self.files(node)
            .insert(key_path.into(), secret(issued.key_pem, None));
    }

    fn file(&mut self, node: Option<&str>, name: &str, path: &str, file: File) {
        if let Some(not_after) = file.not_after {
            let name = match node {
                Some(node) => format!("{node}/{name}"),
                None => name.to_owned(),
            };
            self.expiry.insert(name, not_after);
        }
        self.files(node).insert(path.into(), file);
    }

    fn files(&mut self, node: Option<&str>) -> &mut Files {
        match node {
            Some(node) => self.nodes.entry(node.to_owned()).or_default(),
            None => &mut self.common,
        }
    }

    fn into_bundle(self) -> Bundle {
        Bundle {
            common: self.common,
            nodes: self.nodes,
            expiry: self.expiry,
        }
    }
}
