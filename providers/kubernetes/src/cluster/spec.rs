//! A `cluster` block read into what bootstrapping needs, with kubeadm's defaults filled in
//! and every rule the schema cannot express checked: the same reading serves validation
//! (where values may still be unknown), plan and apply, and the state of an existing
//! cluster (which node pools read).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use fleetform_sdk::{Diagnostic, Diagnostics, Value, parse_duration};
use ipnet::IpNet;

use crate::pki::{self, KeyAlgorithm};
use crate::version::Version;

pub const DEFAULT_POD_CIDR: &str = "10.244.0.0/16";
pub const DEFAULT_PORT: u16 = 6443;
pub const DEFAULT_RENEW_BEFORE: &str = "720h";
pub const DEFAULT_CA_VALIDITY: &str = "87600h";
pub const DEFAULT_LEAF_VALIDITY: &str = "8760h";

/// OpenID Connect settings for the API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    pub issuer_url: String,
    pub client_id: String,
    pub username_claim: Option<String>,
    pub username_prefix: Option<String>,
    pub groups_claim: Option<String>,
    pub groups_prefix: Option<String>,
}

/// Certificate settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificates {
    pub key_algorithm: KeyAlgorithm,
    pub ca_validity: Duration,
    pub leaf_validity: Duration,
    pub renew_before: Duration,
}

/// A cluster as configured, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    pub name: String,
    pub version: Version,
    pub control_plane_hosts: Vec<String>,
    /// The endpoint's host when set; the first control-plane host's address otherwise.
    pub endpoint_address: Option<String>,
    pub endpoint_port: u16,
    pub pod_cidr: IpNet,
    pub service_cidr: IpNet,
    pub dns_domain: String,
    pub extra_sans: Vec<String>,
    pub install_runtime: bool,
    pub control_plane_schedulable: bool,
    pub registry_mirrors: BTreeMap<String, Vec<String>>,
    pub apiserver_extra_args: BTreeMap<String, String>,
    pub controller_manager_extra_args: BTreeMap<String, String>,
    pub scheduler_extra_args: BTreeMap<String, String>,
    pub feature_gates: BTreeMap<String, bool>,
    pub certificates: Certificates,
    pub oidc: Option<Oidc>,
    /// The virtual IP that kube-vip serves on the control-plane hosts: the endpoint.
    pub kube_vip: Option<crate::render::KubeVip>,
}

impl ClusterSpec {
    /// The spec of a wholly known configuration (or recorded state), or the diagnostics
    /// that say what is wrong with it.
    pub fn read(config: &Value) -> Result<ClusterSpec, Diagnostics> {
        let mut diags = Diagnostics::new();
        let spec = read(config, &mut diags);
        match spec {
            Some(spec) if !diags.has_errors() => Ok(spec),
            _ => Err(diags),
        }
    }

    /// The cluster DNS service's address: the tenth of the service network, as kubeadm
    /// picks it.
    pub fn cluster_dns(&self) -> IpAddr {
        match self.service_cidr.network() {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4).wrapping_add(10)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6).wrapping_add(10)).into()),
        }
    }
}

/// Checks what can be checked of a configuration whose values may be unknown.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    read(config, &mut diags);
    diags
}

fn error(attribute: &str, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error(summary, detail).attribute(attribute)
}

/// Reads every field it can; `None` when something needed is unknown or invalid (the
/// reason is in `diags`, unless it was only unknown).
fn read(config: &Value, diags: &mut Diagnostics) -> Option<ClusterSpec> {
    let mut complete = true;

    let name = config.get("name").as_str().unwrap_or_default().to_owned();
    if known(config.get("name"), &mut complete) && name.is_empty() {
        diags.push(error(
            "name",
            "Invalid cluster name",
            "A cluster needs a name: it names the cluster in every kubeconfig.".into(),
        ));
    }

    let version = match config.get("kubernetes_version") {
        v if !known(v, &mut complete) => None,
        v => match v.as_str().unwrap_or_default().parse::<Version>() {
            Ok(version) => Some(version),
            Err(e) => {
                diags.push(error(
                    "kubernetes_version",
                    "Invalid Kubernetes version",
                    format!("{e}."),
                ));
                None
            }
        },
    };

    // The member count is known once the list is, even before the hosts' ids are.
    if let Some(list) = config.get("control_plane_hosts").as_list() {
        check_member_count(list.len(), diags);
    }
    let hosts = strings(config.get("control_plane_hosts"), &mut complete);
    if let Some(hosts) = &hosts {
        check_duplicates(hosts, diags);
    }

    let endpoint_address = match config.get("endpoint_address") {
        v if v.is_unknown() => {
            complete = false;
            None
        }
        v => v.as_str().map(str::to_owned),
    };
    if let Some(address) = &endpoint_address
        && !coverable(address)
    {
        diags.push(error(
            "endpoint_address",
            "Endpoint not coverable by a certificate",
            format!(
                "{address:?} cannot be a name in the API server's certificate, so no client could \
                 verify the endpoint: give an IP address or a lowercase DNS name, without scheme \
                 or port (the port is endpoint_port)."
            ),
        ));
    }
    let endpoint_port = match config.get("endpoint_port") {
        v if v.is_unknown() => {
            complete = false;
            DEFAULT_PORT
        }
        Value::Null => DEFAULT_PORT,
        v => match v
            .as_i64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
        {
            Some(port) => port,
            None => {
                diags.push(error(
                    "endpoint_port",
                    "Invalid endpoint port",
                    "The API server port must be between 1 and 65535.".into(),
                ));
                DEFAULT_PORT
            }
        },
    };

    let extra_sans =
        strings(config.get("apiserver_cert_extra_sans"), &mut complete).unwrap_or_default();
    for san in &extra_sans {
        if !coverable(san) {
            diags.push(error(
                "apiserver_cert_extra_sans",
                "Invalid certificate name",
                format!(
                    "{san:?} cannot be a name in a certificate: give IP addresses or lowercase DNS \
                     names."
                ),
            ));
        }
    }

    let pod_cidr = cidr(config, "pod_cidr", DEFAULT_POD_CIDR, diags, &mut complete);
    let service_cidr = cidr(
        config,
        "service_cidr",
        pki::DEFAULT_SERVICE_CIDR,
        diags,
        &mut complete,
    );
    if let (Some(pods), Some(services)) = (pod_cidr, service_cidr) {
        check_networks(pods, services, diags);
    }

    let dns_domain = match config.get("dns_domain") {
        v if v.is_unknown() => {
            complete = false;
            String::new()
        }
        Value::Null => pki::DEFAULT_DNS_DOMAIN.to_owned(),
        v => v.as_str().unwrap_or_default().to_owned(),
    };
    if !dns_domain.is_empty() && !pki::is_dns_subdomain(&dns_domain) {
        diags.push(error(
            "dns_domain",
            "Invalid DNS domain",
            format!("{dns_domain:?} is not a lowercase DNS domain such as \"cluster.local\"."),
        ));
    }

    let registry_mirrors = mirrors(config.get("registry_mirrors"), diags, &mut complete);
    let mut args = |name: &str| {
        let map = string_map(config.get(name), &mut complete);
        for flag in map.keys() {
            if flag.starts_with('-') || flag.is_empty() || flag.contains('=') {
                diags.push(error(
                    name,
                    "Invalid flag name",
                    format!(
                        "{flag:?}: write flag names without the leading \"--\" and without \"=\", \
                         e.g. {{ \"audit-log-maxage\" = \"30\" }}."
                    ),
                ));
            }
        }
        map
    };
    let apiserver_extra_args = args("apiserver_extra_args");
    let controller_manager_extra_args = args("controller_manager_extra_args");
    let scheduler_extra_args = args("scheduler_extra_args");
    let feature_gates = match config.get("feature_gates") {
        v if v.is_unknown() => {
            complete = false;
            BTreeMap::new()
        }
        v => v
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_bool()?)))
                    .collect()
            })
            .unwrap_or_default(),
    };

    let certificates = certificates(config.get("certificates"), diags, &mut complete);
    let oidc = oidc(config.get("oidc"), diags, &mut complete);
    let kube_vip = kube_vip(
        config.get("kube_vip"),
        config.get("endpoint_address"),
        diags,
        &mut complete,
    );

    let flag = |name: &str, default: bool| config.get(name).as_bool().unwrap_or(default);
    let spec = ClusterSpec {
        name,
        version: version?,
        control_plane_hosts: hosts?,
        endpoint_address,
        endpoint_port,
        pod_cidr: pod_cidr?,
        service_cidr: service_cidr?,
        dns_domain,
        extra_sans,
        install_runtime: flag("install_runtime", true),
        control_plane_schedulable: flag("control_plane_schedulable", false),
        registry_mirrors,
        apiserver_extra_args,
        controller_manager_extra_args,
        scheduler_extra_args,
        feature_gates,
        certificates: certificates?,
        oidc,
        kube_vip,
    };
    complete.then_some(spec)
}

/// etcd needs a majority to serve: an even member count tolerates no more failures than
/// one fewer member, and two members tolerate none.
fn check_member_count(n: usize, diags: &mut Diagnostics) {
    if n == 0 {
        diags.push(error(
            "control_plane_hosts",
            "No control-plane hosts",
            "A cluster needs one control-plane host, or three or five for high availability."
                .into(),
        ));
    } else if n.is_multiple_of(2) {
        diags.push(
            error(
                "control_plane_hosts",
                "Even number of etcd members",
                format!(
                    "{n} control-plane hosts would form an etcd cluster of {n} members, which \
                     needs {} of them up: it survives no more failures than a cluster of {} \
                     would.",
                    n / 2 + 1,
                    n - 1
                ),
            )
            .help(format!("use {} or {} control-plane hosts", n - 1, n + 1)),
        );
    }
}

fn check_duplicates(hosts: &[String], diags: &mut Diagnostics) {
    let mut seen = std::collections::BTreeSet::new();
    for host in hosts {
        if !seen.insert(host) {
            diags.push(error(
                "control_plane_hosts",
                "Duplicate control-plane host",
                format!("{host:?} is listed twice."),
            ));
        }
    }
}

fn check_networks(pods: IpNet, services: IpNet, diags: &mut Diagnostics) {
    if pods.contains(&services.network()) || services.contains(&pods.network()) {
        diags.push(error(
            "pod_cidr",
            "Overlapping pod and service networks",
            format!(
                "The pod network {pods} and the service network {services} overlap: pod and \
                 service addresses would collide. Choose disjoint ranges."
            ),
        ));
    }
    // kube-apiserver refuses service ranges with more than 2^20 addresses.
    let host_bits = services.max_prefix_len() - services.prefix_len();
    if host_bits > 20 {
        diags.push(error(
            "service_cidr",
            "Service network too large",
            format!(
                "{services} holds 2^{host_bits} addresses; kube-apiserver accepts at most 2^20 \
                 (a /12 for IPv4, a /108 for IPv6)."
            ),
        ));
    }
}

/// Whether a certificate can carry `name`: an IP address or a lowercase DNS name.
pub fn coverable(name: &str) -> bool {
    name.parse::<IpAddr>().is_ok() || pki::is_dns_subdomain(name)
}

fn cidr(
    config: &Value,
    name: &str,
    default: &str,
    diags: &mut Diagnostics,
    complete: &mut bool,
) -> Option<IpNet> {
    let text = match config.get(name) {
        v if v.is_unknown() => {
            *complete = false;
            return None;
        }
        Value::Null => default.to_owned(),
        v => v.as_str().unwrap_or_default().to_owned(),
    };
    match text.parse::<IpNet>() {
        Ok(net) => Some(net.trunc()),
        Err(_) => {
            diags.push(error(
                name,
                "Invalid CIDR",
                format!("{text:?} is not a network in CIDR notation, e.g. \"10.244.0.0/16\"."),
            ));
            None
        }
    }
}

/// Whether `value` is known; clears `complete` when it is not.
fn known(value: &Value, complete: &mut bool) -> bool {
    if value.is_unknown() {
        *complete = false;
    }
    !value.is_unknown()
}

fn strings(value: &Value, complete: &mut bool) -> Option<Vec<String>> {
    if !known(value, complete) {
        return None;
    }
    let items = value.as_list().unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if !known(item, complete) {
            return None;
        }
        out.push(item.as_str().unwrap_or_default().to_owned());
    }
    Some(out)
}

fn string_map(value: &Value, complete: &mut bool) -> BTreeMap<String, String> {
    if !value.is_wholly_known() {
        *complete = false;
        return BTreeMap::new();
    }
    value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn mirrors(
    value: &Value,
    diags: &mut Diagnostics,
    complete: &mut bool,
) -> BTreeMap<String, Vec<String>> {
    if !value.is_wholly_known() {
        *complete = false;
        return BTreeMap::new();
    }
    let mut out = BTreeMap::new();
    for (registry, urls) in value.as_object().into_iter().flatten() {
        let urls: Vec<String> = urls
            .as_list()
            .unwrap_or_default()
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect();
        for url in &urls {
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if !scheme_ok || url.chars().any(|c| c.is_whitespace() || c == '"') {
                diags.push(error(
                    "registry_mirrors",
                    "Invalid registry mirror",
                    format!(
                        "{url:?} (for {registry}) is not a mirror URL such as \
                         \"https://mirror.clinic.lan\"."
                    ),
                ));
            }
        }
        out.insert(registry.clone(), urls);
    }
    out
}

fn certificates(
    block: &Value,
    diags: &mut Diagnostics,
    complete: &mut bool,
) -> Option<Certificates> {
    let text = |name: &str, default: &str, complete: &mut bool| match block.get(name) {
        v if v.is_unknown() => {
            *complete = false;
            None
        }
        Value::Null => Some(default.to_owned()),
        v => Some(v.as_str().unwrap_or_default().to_owned()),
    };
    let key_algorithm = text("key_algorithm", "ecdsa-p256", complete).and_then(|t| {
        t.parse::<KeyAlgorithm>()
            .map_err(|e| {
                diags.push(error(
                    "certificates.key_algorithm",
                    "Invalid key algorithm",
                    format!("{e}."),
                ))
            })
            .ok()
    });
    let mut duration = |name: &str, default: &str| {
        let t = text(name, default, complete)?;
        match parse_duration(&t) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) | Err(_) => {
                diags.push(error(
                    &format!("certificates.{name}"),
                    "Invalid duration",
                    format!("{t:?} is not a duration such as \"720h\"."),
                ));
                None
            }
        }
    };
    let ca_validity = duration("ca_validity", DEFAULT_CA_VALIDITY);
    let leaf_validity = duration("leaf_validity", DEFAULT_LEAF_VALIDITY);
    let renew_before = duration("renew_before", DEFAULT_RENEW_BEFORE);
    if let (Some(ca), Some(leaf)) = (ca_validity, leaf_validity)
        && leaf > ca
    {
        diags.push(error(
            "certificates.leaf_validity",
            "Certificates outlive their CA",
            "leaf_validity is longer than ca_validity: certificates would stop verifying when \
             the CA expires."
                .into(),
        ));
    }
    Some(Certificates {
        key_algorithm: key_algorithm?,
        ca_validity: ca_validity?,
        leaf_validity: leaf_validity?,
        renew_before: renew_before?,
    })
}

/// kube-vip serves `endpoint_address`, which must then be an IP address of the hosts'
/// network that no host has.
fn kube_vip(
    block: &Value,
    endpoint: &Value,
    diags: &mut Diagnostics,
    complete: &mut bool,
) -> Option<crate::render::KubeVip> {
    if block.is_null() {
        return None;
    }
    if !block.is_wholly_known() || endpoint.is_unknown() {
        *complete = false;
        return None;
    }
    let Some(address) = endpoint.as_str().and_then(|a| a.parse::<IpAddr>().ok()) else {
        diags.push(error(
            "endpoint_address",
            "kube-vip needs a virtual IP",
            "With a kube_vip block, endpoint_address is the virtual IP kube-vip serves: give an \
             unused IP address on the control-plane hosts' network."
                .into(),
        ));
        return None;
    };
    let interface = block.get("interface").as_str().unwrap_or("eth0").to_owned();
    let valid_interface = !interface.is_empty()
        && interface.len() <= 15
        && interface
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid_interface {
        diags.push(error(
            "kube_vip.interface",
            "Invalid interface name",
            format!("{interface:?} is not a network interface name such as \"eth0\"."),
        ));
    }
    Some(crate::render::KubeVip {
        address,
        interface,
        image: block
            .get("image")
            .as_str()
            .unwrap_or(crate::render::DEFAULT_KUBE_VIP_IMAGE)
            .to_owned(),
    })
}

fn oidc(block: &Value, diags: &mut Diagnostics, complete: &mut bool) -> Option<Oidc> {
    if block.is_null() {
        return None;
    }
    if !block.is_wholly_known() {
        *complete = false;
        return None;
    }
    let text = |name: &str| block.get(name).as_str().map(str::to_owned);
    let issuer_url = text("issuer_url").unwrap_or_default();
    if !issuer_url.starts_with("https://") {
        diags.push(error(
            "oidc.issuer_url",
            "Invalid OIDC issuer",
            format!(
                "{issuer_url:?}: kube-apiserver accepts only https issuers, e.g. \
                 \"https://login.microsoftonline.com/<tenant>/v2.0\"."
            ),
        ));
    }
    Some(Oidc {
        issuer_url,
        client_id: text("client_id").unwrap_or_default(),
        username_claim: text("username_claim"),
        username_prefix: text("username_prefix"),
        groups_claim: text("groups_claim"),
        groups_prefix: text("groups_prefix"),
    })
}
