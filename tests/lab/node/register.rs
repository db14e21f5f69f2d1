//! Registering the host as a Node, as kubelet does: once kubelet.conf exists and its API
//! server answers, create the Node (or update the one a previous run created) from
//! kubeadm's kubelet flags (/var/lib/kubelet/kubeadm-flags.env) and configuration
//! (/var/lib/kubelet/config.yaml) and the host's facts; then post the Ready condition's
//! heartbeat every [`HEARTBEAT`] through the status subresource.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use tokio::signal::unix::Signal;

use super::AgentOptions;

/// How often the Ready condition's heartbeat is posted (kubelet's nodeStatusUpdateFrequency).
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often kubelet.conf is looked at, and registration retried while it fails.
const POLL: Duration = Duration::from_secs(1);
/// kubelet's default when config.yaml sets no maxPods.
const DEFAULT_MAX_PODS: u32 = 110;

/// What kubeadm's KUBELET_KUBEADM_ARGS tell the kubelet about its Node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KubeletFlags {
    pub hostname_override: Option<String>,
    pub node_ip: Option<String>,
    pub node_labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
}

impl KubeletFlags {
    /// Reads kubeadm-flags.env: one line `KUBELET_KUBEADM_ARGS="--flag=value ..."`.
    /// Flags the Node does not depend on are ignored; `--flag value` is read as well as
    /// `--flag=value`.
    pub fn parse(env_file: &str) -> Result<KubeletFlags, String> {
        let mut flags = KubeletFlags::default();
        let Some(value) = env_file
            .lines()
            .find_map(|l| l.trim().strip_prefix("KUBELET_KUBEADM_ARGS="))
        else {
            return Ok(flags);
        };
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        let mut words = value.split_whitespace().peekable();
        while let Some(word) = words.next() {
            let Some(flag) = word.strip_prefix("--") else {
                return Err(format!("KUBELET_KUBEADM_ARGS: {word:?} is not a flag"));
            };
            let (name, arg) = match flag.split_once('=') {
                Some((n, v)) => (n, v.to_owned()),
                None => match words.peek() {
                    Some(next) if !next.starts_with("--") => {
                        (flag, words.next().unwrap_or_default().to_owned())
                    }
                    _ => (flag, String::new()),
                },
            };
            match name {
                "hostname-override" => flags.hostname_override = Some(arg),
                "node-ip" => flags.node_ip = Some(arg),
                "node-labels" => flags.node_labels = parse_labels(&arg)?,
                "register-with-taints" => flags.taints = parse_taints(&arg)?,
                _ => {}
            }
        }
        Ok(flags)
    }
}

fn parse_labels(arg: &str) -> Result<BTreeMap<String, String>, String> {
    arg.split(',')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| format!("--node-labels: {l:?} is not key=value"))?;
            if k.is_empty() {
                return Err(format!("--node-labels: {l:?} has no key"));
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// `key=value:Effect` or `key:Effect`, comma-separated.
fn parse_taints(arg: &str) -> Result<Vec<Taint>, String> {
    arg.split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (kv, effect) = t
                .rsplit_once(':')
                .ok_or_else(|| format!("--register-with-taints: {t:?} has no :Effect"))?;
            if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                return Err(format!(
                    "--register-with-taints: {t:?}: effect {effect:?} is not NoSchedule, \
                     PreferNoSchedule or NoExecute"
                ));
            }
            let (key, value) = match kv.split_once('=') {
                Some((k, v)) => (k, Some(v.to_owned())),
                None => (kv, None),
            };
            if key.is_empty() {
                return Err(format!("--register-with-taints: {t:?} has no key"));
            }
            Ok(Taint {
                key: key.to_owned(),
                value,
                effect: effect.to_owned(),
                time_added: None,
            })
        })
        .collect()
}

/// maxPods from a KubeletConfiguration (config.yaml).
pub fn max_pods(config_yaml: &str) -> Result<u32, String> {
    let config: serde_json::Value =
        serde_yaml_ng::from_str(config_yaml).map_err(|e| format!("config.yaml: {e}"))?;
    match config.get("maxPods") {
        None | Some(serde_json::Value::Null) => Ok(DEFAULT_MAX_PODS),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("config.yaml: maxPods {v} is not a count")),
    }
}

/// What the host itself tells about the Node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    /// The first global IPv4 address, for a Node without --node-ip.
    pub address: Option<String>,
    pub cpus: usize,
    pub memory_kib: u64,
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

impl HostFacts {
    pub fn gather() -> HostFacts {
        let memory_kib = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|l| l.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or_default();
        let os_image = fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| "Linux".into());
        HostFacts {
            hostname: read_trimmed("/proc/sys/kernel/hostname"),
            address: first_global_ipv4(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            memory_kib,
            machine_id: read_trimmed("/etc/machine-id"),
            system_uuid: read_trimmed("/sys/class/dmi/id/product_uuid"),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            kernel_version: read_trimmed("/proc/sys/kernel/osrelease"),
            os_image,
        }
    }
}

fn first_global_ipv4() -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    // `2: eth0    inet 169.254.100.11/24 brd ... scope global eth0 ...`
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let mut words = l.split_whitespace();
        words.find(|w| *w == "inet")?;
        words.next()?.split('/').next().map(str::to_owned)
    })
}

/// The architecture as Kubernetes names it (GOARCH).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The Node's name: --hostname-override, else the hostname, lowercased as kubelet does.
pub fn node_name(flags: &KubeletFlags, facts: &HostFacts) -> String {
    flags
        .hostname_override
        .as_deref()
        .filter(|h| !h.is_empty())
        .unwrap_or(&facts.hostname)
        .to_lowercase()
}

/// The Ready condition and the three pressure conditions, all healthy, as kubelet posts
/// them; `since` is when they last changed, `now` the heartbeat.
pub fn conditions(since: Timestamp, now: Timestamp) -> Vec<NodeCondition> {
    let condition = |kind: &str, status: &str, reason: &str, message: &str| NodeCondition {
        type_: kind.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: Some(Time(since)),
    };
    vec![
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
}

/// The Node kubelet would register. `kubelet_version` is the API server's version: the
/// lab's stand-in has no kubelet binary, hence no version of its own, and a kubeadm
/// cluster runs its kubelets at the control plane's version.
pub fn build_node(
    flags: &KubeletFlags,
    max_pods: u32,
    facts: &HostFacts,
    kubelet_version: &str,
    now: Timestamp,
) -> Node {
    let name = node_name(flags, facts);
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_owned(), name.clone()),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("kubernetes.io/arch".to_owned(), go_arch().to_owned()),
        ("beta.kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("beta.kubernetes.io/arch".to_owned(), go_arch().to_owned()),
    ]);
    labels.extend(flags.node_labels.clone());
    let mut addresses = Vec::new();
    if let Some(ip) = flags.node_ip.clone().or_else(|| facts.address.clone()) {
        addresses.push(NodeAddress {
            type_: "InternalIP".into(),
            address: ip,
        });
    }
    addresses.push(NodeAddress {
        type_: "Hostname".into(),
        address: name.clone(),
    });
    let resources = BTreeMap::from([
        ("cpu".to_owned(), Quantity(facts.cpus.to_string())),
        (
            "memory".to_owned(),
            Quantity(format!("{}Ki", facts.memory_kib)),
        ),
        ("pods".to_owned(), Quantity(max_pods.to_string())),
    ]);
    let taints = flags
        .taints
        .iter()
        .map(|t| Taint {
            time_added: None,
            ..t.clone()
        })
        .collect::<Vec<_>>();
    Node {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "volumes.kubernetes.io/controller-managed-attach-detach".to_owned(),
                "true".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: (!taints.is_empty()).then_some(taints),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            addresses: Some(addresses),
            allocatable: Some(resources.clone()),
            capacity: Some(resources),
            conditions: Some(conditions(now, now)),
            node_info: Some(NodeSystemInfo {
                architecture: go_arch().into(),
                boot_id: facts.boot_id.clone(),
                container_runtime_version: format!("fleetform-lab://{}", env!("CARGO_PKG_VERSION")),
                kernel_version: facts.kernel_version.clone(),
                kube_proxy_version: String::new(),
                kubelet_version: kubelet_version.to_owned(),
                machine_id: facts.machine_id.clone(),
                operating_system: "linux".into(),
                os_image: facts.os_image.clone(),
                system_uuid: facts.system_uuid.clone(),
                swap: None,
            }),
            ..NodeStatus::default()
        }),
    }
}

/// Taints a registration adds to an existing Node: ours, unless one with the same key and
/// effect is already there (kubelet leaves other taints, e.g. an admin's, alone).
pub fn merged_taints(existing: &[Taint], ours: &[Taint]) -> Vec<Taint> {
    let mut all = existing.to_vec();
    for t in ours {
        if !all.iter().any(|e| e.key == t.key && e.effect == t.effect) {
            all.push(t.clone());
        }
    }
    all
}

/// A registered Node and how to reach its API server.
struct Registered {
    api: Api<Node>,
    name: String,
    ready_since: Timestamp,
    last_heartbeat: Instant,
}

/// Registers and heartbeats until the task is aborted. `hup` re-reads flags and config.
pub async fn run(options: AgentOptions, mut hup: Signal) {
    let mut registered: Option<Registered> = None;
    let mut conf_seen: Option<Vec<u8>> = None;
    let mut last_error = String::new();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let reread = tokio::select! {
            _ = tick.tick() => false,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: re-reading the kubelet's flags and configuration");
                true
            }
        };
        let conf = match fs::read(&options.kubeconfig) {
            Ok(conf) => conf,
            Err(e) => {
                if registered.take().is_some() || conf_seen.take().is_some() {
                    tracing::info!("{}: {e}; not registering", options.kubeconfig.display());
                }
                continue;
            }
        };
        let conf_changed = conf_seen.as_ref() != Some(&conf);
        if conf_changed && conf_seen.is_some() {
            tracing::info!(
                "{} changed: registering again",
                options.kubeconfig.display()
            );
        }
        conf_seen = Some(conf);
        let heartbeat_due = registered
            .as_ref()
            .is_some_and(|r| r.last_heartbeat.elapsed() >= HEARTBEAT);
        let result = if conf_changed || reread || registered.is_none() {
            let since = registered.as_ref().map(|r| r.ready_since);
            match register(&options, since).await {
                Ok(r) => {
                    tracing::info!(node = %r.name, "registered");
                    registered = Some(r);
                    Ok(())
                }
                // Retried every tick until it succeeds, as the kubelet does: the previous
                // registration belongs to the configuration that changed (another cluster's
                // API server, perhaps), so heartbeats through it would never reach this one.
                Err(e) => {
                    registered = None;
                    Err(e)
                }
            }
        } else if heartbeat_due && let Some(r) = registered.as_mut() {
            match heartbeat(r).await {
                Err(HeartbeatError::Gone) => {
                    registered = None;
                    Err("node deleted; registering again".to_owned())
                }
                Err(HeartbeatError::Failed(e)) => Err(format!("heartbeat: {e}")),
                Ok(()) => Ok(()),
            }
        } else {
            Ok(())
        };
        match result {
            Ok(()) => last_error.clear(),
            // The API server is usually still starting: say so once, not every second.
            Err(e) if e != last_error => {
                tracing::warn!("{e}");
                last_error = e;
            }
            Err(e) => tracing::debug!("{e}"),
        }
    }
}

async fn client(kubeconfig: &Path) -> Result<kube::Client, String> {
    let shown = kubeconfig.display();
    let kc = Kubeconfig::read_from(kubeconfig).map_err(|e| format!("{shown}: {e}"))?;
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(15));
    config.write_timeout = Some(Duration::from_secs(15));
    kube::Client::try_from(config).map_err(|e| format!("{shown}: {e}"))
}

fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

async fn register(
    options: &AgentOptions,
    ready_since: Option<Timestamp>,
) -> Result<Registered, String> {
    let flags = match read_optional(&options.kubelet_dir.join("kubeadm-flags.env"))? {
        Some(text) => KubeletFlags::parse(&text)?,
        None => KubeletFlags::default(),
    };
    let max_pods = match read_optional(&options.kubelet_dir.join("config.yaml"))? {
        Some(text) => max_pods(&text)?,
        None => DEFAULT_MAX_PODS,
    };
    let client = client(&options.kubeconfig).await?;
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| format!("API server not answering: {e}"))?;
    let facts = HostFacts::gather();
    let now = Timestamp::now();
    let mut node = build_node(&flags, max_pods, &facts, &version.git_version, now);
    let name = node.metadata.name.clone().unwrap_or_default();
    let ready_since = ready_since.unwrap_or(now);
    if let Some(status) = node.status.as_mut() {
        status.conditions = Some(conditions(ready_since, now));
    }
    let api: Api<Node> = Api::all(client);
    match api.create(&PostParams::default(), &node).await {
        Ok(_) => {
            tracing::info!(node = %name, kubelet_version = %version.git_version, "created the Node")
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let existing = api
                .get(&name)
                .await
                .map_err(|e| format!("get node {name}: {e}"))?;
            let ours = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.clone())
                .unwrap_or_default();
            let theirs = existing.spec.and_then(|s| s.taints).unwrap_or_default();
            let patch = json!({
                "metadata": { "labels": node.metadata.labels },
                "spec": { "taints": merged_taints(&theirs, &ours) },
            });
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| format!("update node {name}: {e}"))?;
            tracing::info!(node = %name, "updated the existing Node");
        }
        Err(e) => return Err(format!("create node {name}: {e}")),
    }
    // Also after a create: an API server may drop status on create, as it does for most
    // kinds.
    let patch = json!({ "status": node.status });
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| format!("update node {name} status: {e}"))?;
    Ok(Registered {
        api,
        name,
        ready_since,
        last_heartbeat: Instant::now(),
    })
}

enum HeartbeatError {
    Gone,
    Failed(String),
}

async fn heartbeat(r: &mut Registered) -> Result<(), HeartbeatError> {
    let patch = json!({ "status": { "conditions": conditions(r.ready_since, Timestamp::now()) } });
    match r
        .api
        .patch_status(&r.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            r.last_heartbeat = Instant::now();
            tracing::debug!(node = %r.name, "heartbeat");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Err(HeartbeatError::Gone),
        Err(e) => Err(HeartbeatError::Failed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &str = "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock \
        --hostname-override=Lab-1 --node-ip=169.254.100.11 \
        --node-labels=site=clinic-a,node-role.kubernetes.io/control-plane= \
        --register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule,dedicated=db:NoExecute \
        --pod-infra-container-image=registry.k8s.io/pause:3.10\"\n";

    fn facts() -> HostFacts {
        HostFacts {
            hostname: "machine".into(),
            address: Some("169.254.100.99".into()),
            cpus: 4,
            memory_kib: 8_000_000,
            kernel_version: "6.1.0".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            ..HostFacts::default()
        }
    }

    #[test]
    fn kubeadm_flags_give_name_address_labels_and_taints() {
        let flags = KubeletFlags::parse(FLAGS).unwrap();
        assert_eq!(flags.hostname_override.as_deref(), Some("Lab-1"));
        assert_eq!(flags.node_ip.as_deref(), Some("169.254.100.11"));
        assert_eq!(
            flags.node_labels,
            BTreeMap::from([
                ("site".to_owned(), "clinic-a".to_owned()),
                (
                    "node-role.kubernetes.io/control-plane".to_owned(),
                    String::new()
                ),
            ])
        );
        assert_eq!(flags.taints.len(), 2);
        assert_eq!(flags.taints[0].key, "node-role.kubernetes.io/control-plane");
        assert_eq!(flags.taints[0].value, None);
        assert_eq!(flags.taints[0].effect, "NoSchedule");
        assert_eq!(flags.taints[1].value.as_deref(), Some("db"));
        assert_eq!(flags.taints[1].effect, "NoExecute");

        let spaced =
            KubeletFlags::parse("KUBELET_KUBEADM_ARGS='--node-ip 169.254.100.98 --v=2'").unwrap();
        assert_eq!(spaced.node_ip.as_deref(), Some("169.254.100.98"));
        assert_eq!(KubeletFlags::parse("").unwrap(), KubeletFlags::default());
        assert!(
            KubeletFlags::parse("KUBELET_KUBEADM_ARGS=\"--register-with-taints=a=b:Sometimes\"")
                .is_err()
        );
        assert!(KubeletFlags::parse("KUBELET_KUBEADM_ARGS=\"--node-labels=novalue\"").is_err());
    }

    #[test]
    fn max_pods_comes_from_the_kubelet_configuration() {
        let config =
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 42\n";
        assert_eq!(max_pods(config).unwrap(), 42);
        assert_eq!(max_pods("kind: KubeletConfiguration\n").unwrap(), 110);
        assert!(max_pods("maxPods: many\n").is_err());
    }

    #[test]
    fn the_node_carries_flags_facts_and_a_ready_condition() {
        let flags = KubeletFlags::parse(FLAGS).unwrap();
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let node = build_node(&flags, 42, &facts(), "v1.31.2", now);
        let json = serde_json::to_value(&node).unwrap();
        assert_eq!(json["metadata"]["name"], "lab-1");
        let labels = &json["metadata"]["labels"];
        assert_eq!(labels["kubernetes.io/hostname"], "lab-1");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], "amd64");
        assert_eq!(labels["site"], "clinic-a");
        assert_eq!(labels["node-role.kubernetes.io/control-plane"], "");
        assert_eq!(
            json["spec"]["taints"][1],
            json!({"key": "dedicated", "value": "db", "effect": "NoExecute"})
        );
        let status = &json["status"];
        assert_eq!(
            status["addresses"],
            json!([{"type": "InternalIP", "address": "169.254.100.11"}, {"type": "Hostname", "address": "lab-1"}])
        );
        let resources = json!({"cpu": "4", "memory": "8000000Ki", "pods": "42"});
        assert_eq!(status["capacity"], resources);
        assert_eq!(status["allocatable"], resources);
        assert_eq!(status["nodeInfo"]["kubeletVersion"], "v1.31.2");
        assert_eq!(status["nodeInfo"]["operatingSystem"], "linux");
        assert_eq!(status["nodeInfo"]["architecture"], "amd64");
        let ready = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert_eq!(ready["reason"], "KubeletReady");
        assert_eq!(ready["lastHeartbeatTime"], "2023-11-14T22:13:20Z");

        // Without flags: the hostname and the host's own address; no taints.
        let plain = build_node(&KubeletFlags::default(), 110, &facts(), "v1.31.2", now);
        assert_eq!(plain.metadata.name.as_deref(), Some("machine"));
        let addresses = plain.status.unwrap().addresses.unwrap();
        assert_eq!(addresses[0].address, "169.254.100.99");
        assert_eq!(plain.spec.unwrap().taints, None);
    }

    #[test]
    fn registering_again_keeps_other_taints_and_adds_missing_ones() {
        let ours = parse_taints("a:NoSchedule,b=1:NoExecute").unwrap();
        let theirs = parse_taints("admin=x:NoSchedule,a:NoSchedule").unwrap();
        let merged = merged_taints(&theirs, &ours);
        let keys: Vec<&str> = merged.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["admin", "a", "b"]);
    }
}
