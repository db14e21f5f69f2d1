//! The files a cluster's hosts run on, rendered from the cluster's and the node's settings:
//! static pod manifests of the control plane, the kubelet's configuration and service,
//! containerd's configuration with registry mirrors, and the script that installs the
//! container runtime and the kubelet. Everything is laid out as kubeadm 1.31 lays it out, so
//! operators' habits and tools keep working on fleetform's hosts.
//!
//! This module is pure: settings in, [`RenderedFile`]s out; the caller uploads them and
//! restarts what changed. Nothing rendered here holds a secret (keys and kubeconfigs come from
//! [`crate::pki`]).
//!
//! Every value from configuration goes through one quoting filter per output language (`q`
//! for YAML and TOML, `sh` for POSIX shell, `ps` for PowerShell, `word` for the kubelet's
//! environment file, which only lets validated words through), so a value can never change
//! the structure of a file; the kubelet's config.yaml, re-serialised after merging the node's
//! extra configuration, is written with the same quoting. Settings that end up where Kubernetes itself restricts them (node
//! names, labels, taints, flag names, feature gates, registries) are validated as Kubernetes
//! validates them, so mistakes surface at plan time instead of as a crash-looping kubelet.
//!
//! Kubernetes 1.31 to 1.35 are supported; see [`KubernetesVersion::release`] for the images
//! each one gets.

mod addons;
mod containerd;
mod control_plane;
mod kube_vip;
mod kubelet;
#[cfg(test)]
mod tests;
mod validate;
mod versions;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::LazyLock;

use tera::{Context, Kwargs, State, Tera, Value};

pub use crate::pki::Member;
pub use addons::essential_addons;
pub use containerd::{
    LINUX_RUNTIME_INSTALL_SCRIPT, WINDOWS_RUNTIME_INSTALL_SCRIPT, containerd_files, runtime_install,
};
pub use control_plane::control_plane_manifests;
pub use kube_vip::{DEFAULT_KUBE_VIP_IMAGE, KubeVip, kube_vip_manifest};
pub use kubelet::kubelet_files;
pub use versions::Release;

/// kubeadm's default image registry.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "registry.k8s.io";
/// Mode of every rendered file that is not a script.
pub const FILE_MODE: u32 = 0o644;
/// Mode of rendered scripts.
pub const SCRIPT_MODE: u32 = 0o755;
/// Where [`kubelet_files`] puts the script that registers the kubelet service on Windows;
/// the caller runs it after writing the other files, and again whenever it changes.
pub const WINDOWS_KUBELET_SERVICE_SCRIPT: &str = r"C:\k\kubelet-service.ps1";

/// The cluster-wide settings the files are rendered from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSettings {
    /// kubeadm's clusterName; the controller-manager's `--cluster-name`.
    pub name: String,
    /// The exact version, without a "v": "1.31.2".
    pub kubernetes_version: String,
    /// Where clients reach the API server (an address or a DNS name). Not rendered: the
    /// kubeconfigs that name it come from [`crate::pki`].
    pub endpoint: String,
    /// The API server's port. Every API server listens on it (`--secure-port`), as the
    /// per-node kubeconfigs of [`crate::pki`] expect (`https://ADDRESS:PORT`).
    pub endpoint_port: u16,
    /// The pod network, e.g. "10.244.0.0/16" (or "v4,v6" for dual-stack).
    pub pod_cidr: String,
    /// The service network, e.g. "10.96.0.0/12" (or "v4,v6").
    pub service_cidr: String,
    /// The cluster DNS domain, e.g. "cluster.local".
    pub dns_domain: String,
    /// The cluster DNS service address (kubeadm's: the 10th address of the service network).
    pub cluster_dns: IpAddr,
    /// Mirrors per registry host ("docker.io", "registry.example:5000", or "_default" for
    /// every registry), as URLs tried in this order before the registry itself.
    pub registry_mirrors: BTreeMap<String, Vec<String>>,
    /// Flags by name without dashes, like kubeadm's extraArgs: they replace the defaults of
    /// the same name and add to the rest.
    pub apiserver_extra_args: BTreeMap<String, String>,
    pub controller_manager_extra_args: BTreeMap<String, String>,
    pub scheduler_extra_args: BTreeMap<String, String>,
    /// Feature gates of the API server, controller-manager, scheduler and kubelets.
    pub feature_gates: BTreeMap<String, bool>,
    pub oidc: Option<Oidc>,
    /// Where the control-plane and pause images come from; [`DEFAULT_IMAGE_REPOSITORY`]
    /// unless mirrored.
    pub image_repository: String,
    /// Every etcd member, which is every control-plane node (stacked etcd).
    pub etcd_members: Vec<Member>,
}

/// The API server's OpenID Connect authentication (`--oidc-*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    pub issuer_url: String,
    pub client_id: String,
    pub username_claim: Option<String>,
    pub groups_claim: Option<String>,
    pub username_prefix: Option<String>,
    pub groups_prefix: Option<String>,
}

/// One node's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSettings {
    /// The Kubernetes node name: a lowercase DNS name.
    pub name: String,
    /// The node's address, its `--node-ip`.
    pub address: IpAddr,
    pub os: Os,
    /// Control-plane nodes must be Linux. The control-plane role label and taint are not
    /// added here: kubelets may not label themselves `node-role.kubernetes.io/*` (the caller
    /// sets that label through the API, as kubeadm does), and the caller lists the taint in
    /// [`NodeSettings::taints`] when it wants one.
    pub control_plane: bool,
    /// Labels the kubelet registers the node with (`--node-labels`).
    pub labels: BTreeMap<String, String>,
    /// Taints the kubelet registers the node with (`--register-with-taints`).
    pub taints: Vec<Taint>,
    pub max_pods: Option<u32>,
    /// KubeletConfiguration fields, merged over the rendered ones as a JSON merge patch
    /// (RFC 7386): objects merge key by key, anything else replaces, and null removes.
    pub kubelet_extra_config: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Windows,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl fmt::Display for TaintEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        })
    }
}

/// Whether an etcd member starts a new cluster or joins the running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdState {
    /// Every member of [`ClusterSettings::etcd_members`] starts together (first bootstrap).
    New,
    /// The member joins a cluster that already runs; the caller adds it with the etcd API
    /// (`member add`) before starting it.
    Existing,
}

/// A hash of everything each control-plane component reads from disk, written into its
/// manifest's `fleetform.io/config-hash` annotation: a new hash changes the manifest, so the
/// kubelet restarts the static pod. [`Component::reads`] lists what to hash for each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigHashes {
    pub etcd: String,
    pub kube_apiserver: String,
    pub kube_controller_manager: String,
    pub kube_scheduler: String,
}

/// A control-plane component, run as a static pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    Etcd,
    KubeApiserver,
    KubeControllerManager,
    KubeScheduler,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Etcd,
        Component::KubeApiserver,
        Component::KubeControllerManager,
        Component::KubeScheduler,
    ];

    /// The component's name: its binary, container, static pod and manifest file name.
    pub fn name(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::KubeApiserver => "kube-apiserver",
            Component::KubeControllerManager => "kube-controller-manager",
            Component::KubeScheduler => "kube-scheduler",
        }
    }

    /// The path of the component's static pod manifest.
    pub fn manifest_path(self) -> String {
        format!("/etc/kubernetes/manifests/{}.yaml", self.name())
    }

    /// The files under `/etc/kubernetes` the component reads (paths relative to it, as in
    /// [`crate::pki::paths`]); its config hash should cover their contents.
    pub fn reads(self) -> &'static [&'static str] {
        use crate::pki::paths::*;
        match self {
            Component::Etcd => &[
                ETCD_CA_CERT,
                ETCD_SERVER_CERT,
                ETCD_SERVER_KEY,
                ETCD_PEER_CERT,
                ETCD_PEER_KEY,
            ],
            Component::KubeApiserver => &[
                CA_CERT,
                APISERVER_CERT,
                APISERVER_KEY,
                APISERVER_KUBELET_CLIENT_CERT,
                APISERVER_KUBELET_CLIENT_KEY,
                APISERVER_ETCD_CLIENT_CERT,
                APISERVER_ETCD_CLIENT_KEY,
                ETCD_CA_CERT,
                FRONT_PROXY_CA_CERT,
                FRONT_PROXY_CLIENT_CERT,
                FRONT_PROXY_CLIENT_KEY,
                SERVICE_ACCOUNT_KEY,
                SERVICE_ACCOUNT_PUB,
            ],
            Component::KubeControllerManager => &[
                CONTROLLER_MANAGER_CONF,
                CA_CERT,
                CA_KEY,
                FRONT_PROXY_CA_CERT,
                SERVICE_ACCOUNT_KEY,
            ],
            Component::KubeScheduler => &[SCHEDULER_CONF],
        }
    }
}

/// One rendered file: where it goes on the node (Windows paths with backslashes), its
/// contents and its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: String,
    pub content: String,
    pub mode: u32,
}

/// Settings that cannot be rendered into working files.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid Kubernetes version {0:?}: expected MAJOR.MINOR.PATCH such as \"1.31.2\"")]
    InvalidVersion(String),
    #[error(
        "Kubernetes {version} is not supported: fleetform renders Kubernetes 1.{}.x to 1.{}.x",
        versions::OLDEST_MINOR,
        versions::NEWEST_MINOR
    )]
    UnsupportedVersion { version: String },
    #[error(
        "invalid node name {0:?}: a node name is a lowercase DNS name (letters, digits, '-' \
         and '.', at most 253 characters)"
    )]
    InvalidNodeName(String),
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidSetting {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid node label {key:?}={value:?}: {reason}")]
    InvalidLabel {
        key: String,
        value: String,
        reason: String,
    },
    #[error("invalid taint {key:?}={value:?}: {reason}")]
    InvalidTaint {
        key: String,
        value: String,
        reason: String,
    },
    #[error(
        "invalid {component} flag name {name:?}: expected a flag name without leading dashes, \
         such as \"audit-log-path\""
    )]
    InvalidFlagName {
        component: &'static str,
        name: String,
    },
    #[error(
        "invalid feature gate name {0:?}: expected letters and digits, such as \"InPlacePodVerticalScaling\""
    )]
    InvalidFeatureGate(String),
    #[error("the cluster has no etcd members; a cluster needs at least one control-plane node")]
    NoEtcdMembers,
    #[error("the etcd member {0:?} is listed more than once")]
    DuplicateEtcdMember(String),
    #[error(
        "the etcd member {name:?} ({address}) is not one of the cluster's etcd members with that address"
    )]
    UnknownEtcdMember { name: String, address: IpAddr },
    #[error(
        "the Windows node {0:?} cannot be a control-plane node: the control plane runs on Linux"
    )]
    WindowsControlPlane(String),
    #[error(
        "the kubelet configuration field {0:?} cannot be set in extra configuration: fleetform writes it"
    )]
    ReservedKubeletField(String),
    #[error("the rendered kubelet configuration is not valid YAML: {0}")]
    KubeletConfig(String),
    #[error("rendering {template} failed: {message}")]
    Template {
        template: &'static str,
        message: String,
    },
}

/// Checks of the cluster settings every node's files depend on.
fn check_cluster(cluster: &ClusterSettings) -> Result<(), RenderError> {
    if cluster.name.is_empty() {
        return Err(RenderError::InvalidSetting {
            what: "cluster name",
            value: String::new(),
            reason: "the cluster name is empty".into(),
        });
    }
    validate::dns_domain(&cluster.dns_domain)?;
    validate::cidrs("service CIDR", &cluster.service_cidr)?;
    validate::image_repository(&cluster.image_repository)?;
    for name in cluster.feature_gates.keys() {
        validate::feature_gate(name)?;
    }
    Ok(())
}

/// `A=true,B=false`, or `None` without gates.
fn feature_gates_flag(gates: &BTreeMap<String, bool>) -> Option<String> {
    (!gates.is_empty()).then(|| {
        gates
            .iter()
            .map(|(name, enabled)| format!("{name}={enabled}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// The pause image: the pod sandbox.
fn pause_image(cluster: &ClusterSettings, release: &Release) -> String {
    format!(
        "{}/pause:{}",
        cluster.image_repository, release.pause_image_tag
    )
}

/// Every template, parsed once.
static TEMPLATES: LazyLock<Tera> = LazyLock::new(|| {
    let mut tera = Tera::new();
    // Autoescaping would HTML-escape; every value goes through a filter for its language.
    tera.autoescape_on(Vec::<&str>::new());
    tera.register_filter("q", quote_filter);
    tera.register_filter("sh", |value: &str, _: Kwargs, _: &State| {
        Value::safe_string(&shell_quote(value))
    });
    tera.register_filter("ps", |value: &str, _: Kwargs, _: &State| {
        Value::safe_string(&powershell_quote(value))
    });
    tera.register_filter("word", word_filter);
    tera.add_raw_templates(TEMPLATE_SOURCES.iter().copied())
        .expect("the built-in templates parse");
    tera
});

macro_rules! template {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $name)),
        )
    };
}

/// The templates' names and sources, compiled into the binary.
const TEMPLATE_SOURCES: &[(&str, &str)] = &[
    template!("manifests/etcd.yaml"),
    template!("manifests/kube-apiserver.yaml"),
    template!("manifests/kube-controller-manager.yaml"),
    template!("manifests/kube-scheduler.yaml"),
    template!("manifests/kube-vip.yaml"),
    template!("kubelet/config.yaml"),
    template!("kubelet/kubeadm-flags.env"),
    template!("kubelet/kubelet.service"),
    template!("kubelet/10-kubeadm.conf"),
    template!("kubelet/kubelet-service.ps1"),
    template!("containerd/config.toml"),
    template!("containerd/hosts.toml"),
    template!("install/runtime-linux.sh"),
    template!("install/runtime-windows.ps1"),
    template!("addons/bootstrap-rbac.yaml"),
    template!("addons/cluster-configuration.yaml"),
    template!("addons/cluster-info.yaml"),
    template!("addons/cluster-info-kubeconfig.yaml"),
    template!("addons/Corefile"),
    template!("addons/coredns.yaml"),
    template!("addons/kube-proxy.yaml"),
    template!("addons/kube-proxy-config.conf"),
    template!("addons/kube-proxy-kubeconfig.conf"),
    template!("addons/kubeadm-config.yaml"),
];

/// Renders one template with a serialisable context.
fn render(template: &'static str, context: &impl serde::Serialize) -> Result<String, RenderError> {
    let failed = |error: tera::Error| RenderError::Template {
        template,
        message: error_chain(&error),
    };
    let context = Context::from_serialize(context).map_err(failed)?;
    TEMPLATES.render(template, &context).map_err(failed)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `q`: a YAML or TOML scalar. Strings become double-quoted strings (escapes valid in both
/// YAML and TOML basic strings), numbers and booleans stay as they are.
fn quote_filter(value: &Value, _: Kwargs, _: &State) -> tera::TeraResult<Value> {
    if let Some(text) = value.as_str() {
        Ok(Value::safe_string(&quote(text)))
    } else if value.is_bool() || value.as_i128().is_some() {
        Ok(Value::safe_string(&value.to_string()))
    } else {
        Err(tera::Error::message(format!(
            "the q filter quotes strings, integers and booleans, not a {}",
            value.name()
        )))
    }
}

/// A double-quoted scalar for YAML and TOML alike: JSON's escapes, plus escapes for the
/// characters YAML does not allow unescaped (DEL, C1 controls, U+FFFE/U+FFFF) or treats as
/// line breaks (U+0085, U+2028, U+2029).
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{fffe}'
            | '\u{ffff}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML document of `value`, written with [`quote`] for every string. Serialisers that
/// write `on` or `yes` unquoted are wrong for the kubelet, whose YAML 1.1 reader takes them
/// for booleans.
fn yaml_document(value: &serde_json::Value) -> String {
    let mut out = String::new();
    match value {
        serde_json::Value::Object(fields) if !fields.is_empty() => {
            yaml_mapping(fields, 0, &mut out)
        }
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn yaml_mapping(
    fields: &serde_json::Map<String, serde_json::Value>,
    indent: usize,
    out: &mut String,
) {
    for (key, value) in fields {
        out.push_str(&" ".repeat(indent));
        out.push_str(&yaml_key(key));
        out.push(':');
        yaml_value(value, indent, out);
    }
}

/// A value after "key:" or "-", with nested collections indented under it.
fn yaml_value(value: &serde_json::Value, indent: usize, out: &mut String) {
    match value {
        serde_json::Value::Object(fields) if !fields.is_empty() => {
            out.push('\n');
            yaml_mapping(fields, indent + 2, out);
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                out.push_str(&" ".repeat(indent + 2));
                out.push('-');
                yaml_value(item, indent + 2, out);
            }
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn yaml_scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => quote(text),
        serde_json::Value::Object(_) => "{}".into(),
        serde_json::Value::Array(_) => "[]".into(),
        // null, booleans and numbers read back as themselves.
        other => other.to_string(),
    }
}

/// Field names such as `clusterDNS` or `memory.available` plain, anything else quoted.
fn yaml_key(key: &str) -> String {
    const SPECIAL: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let plain = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !SPECIAL.contains(&key.to_ascii_lowercase().as_str());
    if plain { key.to_owned() } else { quote(key) }
}

/// A POSIX shell word that stands for exactly `text`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A PowerShell single-quoted string that stands for exactly `text`: every character
/// PowerShell takes for a single quote (including the typographic ones) is doubled, as
/// PowerShell's own `EscapeSingleQuotedStringContent` does.
fn powershell_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// `word`: lets through only what needs no quoting in a systemd environment file or a shell
/// word list (flags built from validated settings); anything else is a bug upstream.
fn word_filter(value: &str, _: Kwargs, _: &State) -> tera::TeraResult<Value> {
    if !value.is_empty() && value.chars().all(validate::is_plain_word_char) {
        Ok(Value::safe_string(value))
    } else {
        Err(tera::Error::message(format!(
            "{value:?} cannot be written unquoted"
        )))
    }
}

/// `https://HOST:PORT` with an IPv6 address in brackets.
fn url(scheme: &str, address: IpAddr, port: u16) -> String {
    format!("{scheme}://{}", host_port(address, port))
}

/// `HOST:PORT` with an IPv6 address in brackets.
fn host_port(address: IpAddr, port: u16) -> String {
    match address {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}
