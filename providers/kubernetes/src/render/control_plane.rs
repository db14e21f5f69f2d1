//! Static pod manifests of a stacked-etcd control plane, flag for flag as kubeadm 1.31
//! writes them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::versions::{self, Release};
use super::{
    ClusterSettings, Component, ConfigHashes, EtcdState, FILE_MODE, Member, RenderError,
    RenderedFile, host_port, render, url, validate,
};
use crate::version::Version;

const ETCD_CLIENT_PORT: u16 = 2379;
const ETCD_PEER_PORT: u16 = 2380;
const ETCD_METRICS_PORT: u16 = 2381;
const CONTROLLER_MANAGER_PORT: u16 = 10257;
const SCHEDULER_PORT: u16 = 10259;

/// The four static pod manifests of one control-plane node, `/etc/kubernetes/manifests/
/// {etcd,kube-apiserver,kube-controller-manager,kube-scheduler}.yaml`, in that order.
///
/// `member` is this node; it must be one of `cluster.etcd_members`. Its etcd member joins
/// the members listed there, as a new cluster or an existing one (`etcd_state`). Each
/// manifest carries its component's hash from `config_hashes`.
pub fn control_plane_manifests(
    cluster: &ClusterSettings,
    member: &Member,
    etcd_state: EtcdState,
    config_hashes: &ConfigHashes,
) -> Result<Vec<RenderedFile>, RenderError> {
    let (version, release) = check(cluster, member)?;
    let loopback = loopback_of(member.address);

    Ok(vec![
        etcd(
            cluster,
            member,
            etcd_state,
            release,
            loopback,
            &config_hashes.etcd,
        )?,
        apiserver(
            cluster,
            member,
            version,
            loopback,
            &config_hashes.kube_apiserver,
        )?,
        controller_manager(cluster, version, &config_hashes.kube_controller_manager)?,
        scheduler(cluster, version, &config_hashes.kube_scheduler)?,
    ])
}

fn check(
    cluster: &ClusterSettings,
    member: &Member,
) -> Result<(Version, &'static Release), RenderError> {
    let (version, release) = versions::supported(&cluster.kubernetes_version)?;
    super::check_cluster(cluster)?;
    if cluster.etcd_members.is_empty() {
        return Err(RenderError::NoEtcdMembers);
    }
    let mut names = BTreeSet::new();
    for other in &cluster.etcd_members {
        validate::node_name(&other.name)?;
        if !names.insert(other.name.as_str()) {
            return Err(RenderError::DuplicateEtcdMember(other.name.clone()));
        }
    }
    if !cluster.etcd_members.contains(member) {
        return Err(RenderError::UnknownEtcdMember {
            name: member.name.clone(),
            address: member.address,
        });
    }
    validate::cidrs("pod CIDR", &cluster.pod_cidr)?;
    for (component, args) in [
        ("kube-apiserver", &cluster.apiserver_extra_args),
        (
            "kube-controller-manager",
            &cluster.controller_manager_extra_args,
        ),
        ("kube-scheduler", &cluster.scheduler_extra_args),
    ] {
        for name in args.keys() {
            validate::flag_name(component, name)?;
        }
    }
    Ok((version, release))
}

/// Local clients reach etcd over the loopback address of the member's family, as kubeadm's
/// do.
fn loopback_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

#[derive(Serialize)]
struct EtcdManifest<'a> {
    config_hash: &'a str,
    advertise_client_url: String,
    command: Vec<String>,
    image: String,
    metrics_host: String,
}

#[derive(Serialize)]
struct ComponentManifest<'a> {
    config_hash: &'a str,
    /// kube-apiserver only: its kubeadm.kubernetes.io/...advertise-address.endpoint.
    advertise_endpoint: Option<String>,
    command: Vec<String>,
    image: String,
    probe_host: String,
    probe_port: u16,
}

/// etcd with only flags etcd 3.4 knows as well: kubeadm 1.34+ passes the 3.6 names
/// (`--feature-gates=InitialCorruptCheck=true`, `--watch-progress-notify-interval`), but
/// 3.6 still accepts the `--experimental-*` ones kubeadm 1.31 writes.
fn etcd(
    cluster: &ClusterSettings,
    member: &Member,
    state: EtcdState,
    release: &Release,
    loopback: IpAddr,
    config_hash: &str,
) -> Result<RenderedFile, RenderError> {
    use crate::pki::paths;
    let pki = |path: &str| format!("/etc/kubernetes/{path}");
    let client_url = url("https", member.address, ETCD_CLIENT_PORT);
    let peer_url = url("https", member.address, ETCD_PEER_PORT);
    let initial_cluster = cluster
        .etcd_members
        .iter()
        .map(|other| {
            format!(
                "{}={}",
                other.name,
                url("https", other.address, ETCD_PEER_PORT)
            )
        })
        .collect::<Vec<_>>()
        .join(",");

    let flags: BTreeMap<&str, String> = [
        ("advertise-client-urls", client_url.clone()),
        ("cert-file", pki(paths::ETCD_SERVER_CERT)),
        ("client-cert-auth", "true".into()),
        ("data-dir", "/var/lib/etcd".into()),
        ("experimental-initial-corrupt-check", "true".into()),
        ("experimental-watch-progress-notify-interval", "5s".into()),
        ("initial-advertise-peer-urls", peer_url.clone()),
        ("initial-cluster", initial_cluster),
        (
            "initial-cluster-state",
            match state {
                EtcdState::New => "new",
                EtcdState::Existing => "existing",
            }
            .into(),
        ),
        ("key-file", pki(paths::ETCD_SERVER_KEY)),
        (
            "listen-client-urls",
            format!("{},{client_url}", url("https", loopback, ETCD_CLIENT_PORT)),
        ),
        (
            "listen-metrics-urls",
            url("http", loopback, ETCD_METRICS_PORT),
        ),
        ("listen-peer-urls", peer_url),
        ("name", member.name.clone()),
        ("peer-cert-file", pki(paths::ETCD_PEER_CERT)),
        ("peer-client-cert-auth", "true".into()),
        ("peer-key-file", pki(paths::ETCD_PEER_KEY)),
        ("peer-trusted-ca-file", pki(paths::ETCD_CA_CERT)),
        ("snapshot-count", "10000".into()),
        ("trusted-ca-file", pki(paths::ETCD_CA_CERT)),
    ]
    .into_iter()
    .collect();

    let content = render(
        "manifests/etcd.yaml",
        &EtcdManifest {
            config_hash,
            advertise_client_url: client_url,
            command: command("etcd", flags.iter().map(|(k, v)| (*k, v.as_str()))),
            image: format!(
                "{}/etcd:{}",
                cluster.image_repository, release.etcd_image_tag
            ),
            metrics_host: loopback.to_string(),
        },
    )?;
    Ok(manifest(Component::Etcd, content))
}

fn apiserver(
    cluster: &ClusterSettings,
    member: &Member,
    version: Version,
    loopback: IpAddr,
    config_hash: &str,
) -> Result<RenderedFile, RenderError> {
    use crate::pki::paths;
    let pki = |path: &str| format!("/etc/kubernetes/{path}");
    let mut flags: BTreeMap<String, String> = [
        ("advertise-address", member.address.to_string()),
        ("allow-privileged", "true".into()),
        ("authorization-mode", "Node,RBAC".into()),
        ("client-ca-file", pki(paths::CA_CERT)),
        ("enable-admission-plugins", "NodeRestriction".into()),
        ("enable-bootstrap-token-auth", "true".into()),
        ("etcd-cafile", pki(paths::ETCD_CA_CERT)),
        ("etcd-certfile", pki(paths::APISERVER_ETCD_CLIENT_CERT)),
        ("etcd-keyfile", pki(paths::APISERVER_ETCD_CLIENT_KEY)),
        ("etcd-servers", url("https", loopback, ETCD_CLIENT_PORT)),
        (
            "kubelet-client-certificate",
            pki(paths::APISERVER_KUBELET_CLIENT_CERT),
        ),
        (
            "kubelet-client-key",
            pki(paths::APISERVER_KUBELET_CLIENT_KEY),
        ),
        (
            "kubelet-preferred-address-types",
            "InternalIP,ExternalIP,Hostname".into(),
        ),
        (
            "proxy-client-cert-file",
            pki(paths::FRONT_PROXY_CLIENT_CERT),
        ),
        ("proxy-client-key-file", pki(paths::FRONT_PROXY_CLIENT_KEY)),
        ("requestheader-allowed-names", "front-proxy-client".into()),
        (
            "requestheader-client-ca-file",
            pki(paths::FRONT_PROXY_CA_CERT),
        ),
        (
            "requestheader-extra-headers-prefix",
            "X-Remote-Extra-".into(),
        ),
        ("requestheader-group-headers", "X-Remote-Group".into()),
        ("requestheader-username-headers", "X-Remote-User".into()),
        ("secure-port", cluster.endpoint_port.to_string()),
        (
            "service-account-issuer",
            format!("https://kubernetes.default.svc.{}", cluster.dns_domain),
        ),
        ("service-account-key-file", pki(paths::SERVICE_ACCOUNT_PUB)),
        (
            "service-account-signing-key-file",
            pki(paths::SERVICE_ACCOUNT_KEY),
        ),
        ("service-cluster-ip-range", cluster.service_cidr.clone()),
        ("tls-cert-file", pki(paths::APISERVER_CERT)),
        ("tls-private-key-file", pki(paths::APISERVER_KEY)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    if let Some(oidc) = &cluster.oidc {
        let optional = [
            ("oidc-username-claim", &oidc.username_claim),
            ("oidc-groups-claim", &oidc.groups_claim),
            ("oidc-username-prefix", &oidc.username_prefix),
            ("oidc-groups-prefix", &oidc.groups_prefix),
        ];
        flags.insert("oidc-issuer-url".into(), oidc.issuer_url.clone());
        flags.insert("oidc-client-id".into(), oidc.client_id.clone());
        for (name, value) in optional {
            if let Some(value) = value {
                flags.insert(name.into(), value.clone());
            }
        }
    }
    add_feature_gates(cluster, &mut flags);
    flags.extend(cluster.apiserver_extra_args.clone());

    // kubeadm probes the API server where it listens: the advertised address, unless the
    // bind address names one.
    let probe_host = specific_bind_address(&flags)
        .or_else(|| flags["advertise-address"].parse().ok())
        .unwrap_or(member.address);
    let probe_port = port_flag(&flags, cluster.endpoint_port);

    let content = render(
        "manifests/kube-apiserver.yaml",
        &ComponentManifest {
            config_hash,
            advertise_endpoint: Some(host_port(member.address, cluster.endpoint_port)),
            command: command("kube-apiserver", string_flags(&flags)),
            image: image(cluster, "kube-apiserver", version),
            probe_host: probe_host.to_string(),
            probe_port,
        },
    )?;
    Ok(manifest(Component::KubeApiserver, content))
}

fn controller_manager(
    cluster: &ClusterSettings,
    version: Version,
    config_hash: &str,
) -> Result<RenderedFile, RenderError> {
    use crate::pki::paths;
    let pki = |path: &str| format!("/etc/kubernetes/{path}");
    let kubeconfig = pki(paths::CONTROLLER_MANAGER_CONF);
    let mut flags: BTreeMap<String, String> = [
        ("allocate-node-cidrs", "true".into()),
        ("authentication-kubeconfig", kubeconfig.clone()),
        ("authorization-kubeconfig", kubeconfig.clone()),
        ("bind-address", "127.0.0.1".into()),
        ("client-ca-file", pki(paths::CA_CERT)),
        ("cluster-cidr", cluster.pod_cidr.clone()),
        ("cluster-name", cluster.name.clone()),
        ("cluster-signing-cert-file", pki(paths::CA_CERT)),
        ("cluster-signing-key-file", pki(paths::CA_KEY)),
        ("controllers", "*,bootstrapsigner,tokencleaner".into()),
        ("kubeconfig", kubeconfig),
        ("leader-elect", "true".into()),
        (
            "requestheader-client-ca-file",
            pki(paths::FRONT_PROXY_CA_CERT),
        ),
        ("root-ca-file", pki(paths::CA_CERT)),
        (
            "service-account-private-key-file",
            pki(paths::SERVICE_ACCOUNT_KEY),
        ),
        ("service-cluster-ip-range", cluster.service_cidr.clone()),
        ("use-service-account-credentials", "true".into()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    add_feature_gates(cluster, &mut flags);
    flags.extend(cluster.controller_manager_extra_args.clone());

    let content = render(
        "manifests/kube-controller-manager.yaml",
        &ComponentManifest {
            config_hash,
            advertise_endpoint: None,
            command: command("kube-controller-manager", string_flags(&flags)),
            image: image(cluster, "kube-controller-manager", version),
            probe_host: local_probe_host(&flags),
            probe_port: port_flag(&flags, CONTROLLER_MANAGER_PORT),
        },
    )?;
    Ok(manifest(Component::KubeControllerManager, content))
}

fn scheduler(
    cluster: &ClusterSettings,
    version: Version,
    config_hash: &str,
) -> Result<RenderedFile, RenderError> {
    let kubeconfig = format!("/etc/kubernetes/{}", crate::pki::paths::SCHEDULER_CONF);
    let mut flags: BTreeMap<String, String> = [
        ("authentication-kubeconfig", kubeconfig.clone()),
        ("authorization-kubeconfig", kubeconfig.clone()),
        ("bind-address", "127.0.0.1".into()),
        ("kubeconfig", kubeconfig),
        ("leader-elect", "true".into()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    add_feature_gates(cluster, &mut flags);
    flags.extend(cluster.scheduler_extra_args.clone());

    let content = render(
        "manifests/kube-scheduler.yaml",
        &ComponentManifest {
            config_hash,
            advertise_endpoint: None,
            command: command("kube-scheduler", string_flags(&flags)),
            image: image(cluster, "kube-scheduler", version),
            probe_host: local_probe_host(&flags),
            probe_port: port_flag(&flags, SCHEDULER_PORT),
        },
    )?;
    Ok(manifest(Component::KubeScheduler, content))
}

fn add_feature_gates(cluster: &ClusterSettings, flags: &mut BTreeMap<String, String>) {
    if let Some(gates) = super::feature_gates_flag(&cluster.feature_gates) {
        flags.insert("feature-gates".into(), gates);
    }
}

/// The binary, then one `--name=value` per flag in name order, as kubeadm writes them.
fn command<'a>(binary: &str, flags: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    std::iter::once(binary.to_owned())
        .chain(flags.map(|(name, value)| format!("--{name}={value}")))
        .collect()
}

fn string_flags(flags: &BTreeMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
    flags
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
}

fn image(cluster: &ClusterSettings, component: &str, version: Version) -> String {
    format!("{}/{component}:v{version}", cluster.image_repository)
}

/// The `--bind-address` when it names one address (not 0.0.0.0 or ::).
fn specific_bind_address(flags: &BTreeMap<String, String>) -> Option<IpAddr> {
    flags
        .get("bind-address")
        .and_then(|address| address.parse::<IpAddr>().ok())
        .filter(|address| !address.is_unspecified())
}

/// The controller-manager and scheduler serve health on their bind address, 127.0.0.1 by
/// default; one listening everywhere is probed on 127.0.0.1.
fn local_probe_host(flags: &BTreeMap<String, String>) -> String {
    specific_bind_address(flags)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .to_string()
}

/// The `--secure-port`, or the component's default when unset or not a port.
fn port_flag(flags: &BTreeMap<String, String>, default: u16) -> u16 {
    flags
        .get("secure-port")
        .and_then(|port| port.parse().ok())
        .filter(|port| *port != 0)
        .unwrap_or(default)
}

fn manifest(component: Component, content: String) -> RenderedFile {
    RenderedFile {
        path: component.manifest_path(),
        content,
        mode: FILE_MODE,
    }
}
