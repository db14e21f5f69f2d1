//! The kubelet's configuration, flags and service, as kubeadm and the kubelet packages lay
//! them out on Linux, and as kubeadm and sig-windows-tools lay them out on Windows.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::versions::{self, Release};
use super::{
    ClusterSettings, FILE_MODE, NodeSettings, Os, RenderError, RenderedFile, SCRIPT_MODE,
    WINDOWS_KUBELET_SERVICE_SCRIPT, render, validate,
};

const LINUX_RUNTIME_ENDPOINT: &str = "unix:///run/containerd/containerd.sock";
const WINDOWS_RUNTIME_ENDPOINT: &str = "npipe:////./pipe/containerd-containerd";
const WINDOWS_KUBELET_EXE: &str = r"C:\k\kubelet.exe";
/// The first Kubernetes minor whose kubelet no longer has `--pod-infra-container-image`
/// (and refuses to start with it); containerd's sandbox_image names the pause image anyway.
const NO_POD_INFRA_FLAG_MINOR: u32 = 35;
/// KubeletConfiguration fields extra configuration may not replace: they say what the
/// document is.
const RESERVED_FIELDS: &[&str] = &["apiVersion", "kind"];

/// The kubelet's files on one node.
///
/// Linux: `/var/lib/kubelet/config.yaml`, `/var/lib/kubelet/kubeadm-flags.env`,
/// `/etc/systemd/system/kubelet.service` and
/// `/etc/systemd/system/kubelet.service.d/10-kubeadm.conf`.
///
/// Windows: `C:\var\lib\kubelet\config.yaml` and [`WINDOWS_KUBELET_SERVICE_SCRIPT`], which
/// registers `kubelet.exe --windows-service` with this node's flags (the Windows service
/// holds the flags that kubeadm-flags.env holds on Linux) and restarts it.
///
/// The kubeconfig (`kubelet.conf`) and CA the kubelet reads come from [`crate::pki`].
pub fn kubelet_files(
    cluster: &ClusterSettings,
    node: &NodeSettings,
) -> Result<Vec<RenderedFile>, RenderError> {
    let (_, release) = versions::supported(&cluster.kubernetes_version)?;
    super::check_cluster(cluster)?;
    check_node(node)?;
    let labels = node_labels(node);

    match node.os {
        Os::Linux => {
            let config = config_yaml(
                cluster,
                node,
                r"/etc/kubernetes/pki/ca.crt",
                r"/etc/kubernetes/manifests",
            )?;
            let mut flags = vec![
                format!("--container-runtime-endpoint={LINUX_RUNTIME_ENDPOINT}"),
                format!("--hostname-override={}", node.name),
                format!("--node-ip={}", node.address),
            ];
            flags.extend(registration_flags(cluster, node, &labels, release));
            let flags_env = render("kubelet/kubeadm-flags.env", &Flags { flags })?;
            Ok(vec![
                file("/var/lib/kubelet/config.yaml", config, FILE_MODE),
                file("/var/lib/kubelet/kubeadm-flags.env", flags_env, FILE_MODE),
                file(
                    "/etc/systemd/system/kubelet.service",
                    render("kubelet/kubelet.service", &NoContext {})?,
                    FILE_MODE,
                ),
                file(
                    "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
                    render("kubelet/10-kubeadm.conf", &NoContext {})?,
                    FILE_MODE,
                ),
            ])
        }
        Os::Windows => {
            let config = config_yaml(
                cluster,
                node,
                r"C:\etc\kubernetes\pki\ca.crt",
                r"C:\etc\kubernetes\manifests",
            )?;
            let mut arguments = vec![
                "--windows-service".to_owned(),
                r"--config=C:\var\lib\kubelet\config.yaml".to_owned(),
                r"--kubeconfig=C:\etc\kubernetes\kubelet.conf".to_owned(),
                r"--cert-dir=C:\var\lib\kubelet\pki".to_owned(),
                format!("--container-runtime-endpoint={WINDOWS_RUNTIME_ENDPOINT}"),
                format!("--hostname-override={}", node.name),
                format!("--node-ip={}", node.address),
            ];
            arguments.extend(registration_flags(cluster, node, &labels, release));
            let binary_path_name = std::iter::once(format!("\"{WINDOWS_KUBELET_EXE}\""))
                .chain(arguments.iter().map(|argument| windows_argument(argument)))
                .collect::<Vec<_>>()
                .join(" ");
            let script = render(
                "kubelet/kubelet-service.ps1",
                &ServiceScript {
                    binary_path_name,
                    directories: &[
                        r"C:\var\lib\kubelet\pki",
                        r"C:\etc\kubernetes\pki",
                        r"C:\etc\kubernetes\manifests",
                        r"C:\var\log\kubelet",
                    ],
                },
            )?;
            Ok(vec![
                file(r"C:\var\lib\kubelet\config.yaml", config, FILE_MODE),
                file(WINDOWS_KUBELET_SERVICE_SCRIPT, script, SCRIPT_MODE),
            ])
        }
    }
}

fn check_node(node: &NodeSettings) -> Result<(), RenderError> {
    validate::node_name(&node.name)?;
    if node.os == Os::Windows && node.control_plane {
        return Err(RenderError::WindowsControlPlane(node.name.clone()));
    }
    for (key, value) in &node.labels {
        validate::label(key, value)?;
    }
    for taint in &node.taints {
        validate::taint(taint)?;
    }
    if let Some(field) = RESERVED_FIELDS
        .iter()
        .find(|field| node.kubelet_extra_config.contains_key(**field))
    {
        return Err(RenderError::ReservedKubeletField((*field).to_owned()));
    }
    Ok(())
}

/// The node's labels; Windows nodes also say so (kubernetes.io/os=windows), as
/// sig-windows-tools' nodes do, unless the labels already name an OS.
fn node_labels(node: &NodeSettings) -> BTreeMap<String, String> {
    let mut labels = node.labels.clone();
    if node.os == Os::Windows {
        labels
            .entry("kubernetes.io/os".into())
            .or_insert_with(|| "windows".into());
    }
    labels
}

/// What the kubelet registers the node with, in the order of the shared contract.
fn registration_flags(
    cluster: &ClusterSettings,
    node: &NodeSettings,
    labels: &BTreeMap<String, String>,
    release: &Release,
) -> Vec<String> {
    let mut flags = Vec::new();
    if !labels.is_empty() {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        flags.push(format!("--node-labels={}", labels.join(",")));
    }
    if !node.taints.is_empty() {
        let taints: Vec<String> = node
            .taints
            .iter()
            .map(|taint| match &taint.value {
                Some(value) => format!("{}={value}:{}", taint.key, taint.effect),
                None => format!("{}:{}", taint.key, taint.effect),
            })
            .collect();
        flags.push(format!("--register-with-taints={}", taints.join(",")));
    }
    if release.minor < NO_POD_INFRA_FLAG_MINOR {
        flags.push(format!(
            "--pod-infra-container-image={}",
            super::pause_image(cluster, release)
        ));
    }
    flags
}

#[derive(Serialize)]
struct NoContext {}

#[derive(Serialize)]
struct Flags {
    flags: Vec<String>,
}

#[derive(Serialize)]
struct ServiceScript<'a> {
    binary_path_name: String,
    directories: &'a [&'a str],
}

#[derive(Serialize)]
struct KubeletConfig<'a> {
    windows: bool,
    client_ca_file: &'a str,
    cluster_dns: IpAddr,
    cluster_domain: &'a str,
    static_pod_path: &'a str,
    max_pods: Option<u32>,
    feature_gates: Vec<FeatureGate<'a>>,
}

#[derive(Serialize)]
struct FeatureGate<'a> {
    name: &'a str,
    enabled: bool,
}

/// config.yaml: the template, with the node's extra configuration merged over it (RFC 7386
/// JSON merge patch), serialised again. Field order stays the template's, extra fields come
/// last.
fn config_yaml(
    cluster: &ClusterSettings,
    node: &NodeSettings,
    client_ca_file: &str,
    static_pod_path: &str,
) -> Result<String, RenderError> {
    let rendered = render(
        "kubelet/config.yaml",
        &KubeletConfig {
            windows: node.os == Os::Windows,
            client_ca_file,
            cluster_dns: cluster.cluster_dns,
            cluster_domain: &cluster.dns_domain,
            static_pod_path,
            max_pods: node.max_pods,
            feature_gates: cluster
                .feature_gates
                .iter()
                .map(|(name, enabled)| FeatureGate {
                    name,
                    enabled: *enabled,
                })
                .collect(),
        },
    )?;
    let mut document: serde_json::Value = serde_yaml_ng::from_str(&rendered)
        .map_err(|error| RenderError::KubeletConfig(error.to_string()))?;
    let serde_json::Value::Object(fields) = &mut document else {
        return Err(RenderError::KubeletConfig(
            "the document is not a mapping".into(),
        ));
    };
    for (name, patch) in &node.kubelet_extra_config {
        if patch.is_null() {
            fields.shift_remove(name);
        } else {
            merge_patch(
                fields
                    .entry(name.clone())
                    .or_insert(serde_json::Value::Null),
                patch,
            );
        }
    }
    Ok(super::yaml_document(&document))
}

/// RFC 7386: objects merge key by key (null removes a key), anything else replaces.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let serde_json::Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    let serde_json::Value::Object(fields) = target else {
        unreachable!("made an object above");
    };
    for (name, value) in patch {
        if value.is_null() {
            fields.shift_remove(name);
        } else {
            merge_patch(
                fields
                    .entry(name.clone())
                    .or_insert(serde_json::Value::Null),
                value,
            );
        }
    }
}

/// One argument of a Windows command line, quoted so that CommandLineToArgvW (and Go's
/// os.Args, which follows it) reads it back exactly.
pub(super) fn windows_argument(argument: &str) -> String {
    if !argument.is_empty() && !argument.contains([' ', '\t', '\n', '\u{b}', '"']) {
        return argument.to_owned();
    }
    let mut out = String::from('"');
    let mut backslashes = 0;
    for c in argument.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                // Backslashes before a quote are escapes: double them, then escape the quote.
                out.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
                continue;
            }
            _ => {}
        }
        if c != '\\' {
            out.extend(std::iter::repeat_n('\\', backslashes));
            backslashes = 0;
            out.push(c);
        }
    }
    // Backslashes before the closing quote would escape it: double them.
    out.extend(std::iter::repeat_n('\\', backslashes * 2));
    out.push('"');
    out
}

fn file(path: &str, content: String, mode: u32) -> RenderedFile {
    RenderedFile {
        path: path.to_owned(),
        content,
        mode,
    }
}
