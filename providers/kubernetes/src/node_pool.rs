//! Planning and applying `node_pool`: worker hosts join their cluster with kubelet
//! credentials issued from the cluster CA, and upgrade one node at a time (cordon, drain
//! through the Eviction API, kubelet, Ready again, uncordon).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use fleetform_provider_host::Shell;
use fleetform_provider_host::fleet::{Fleet, Rerun};
use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Diagnostic, Diagnostics, PlanRequest, PlanResponse, ProviderError,
    Value,
};

use crate::cluster::{self, ClusterSpec};
use crate::pki::{self, Endpoint, KubeletSpec};
use crate::remote::{ClusterHost, DesiredFile};
use crate::render;
use crate::version::{self, Version};
use crate::{Settings, api};

/// The label every node of a pool carries, with the pool's name.
pub const POOL_LABEL: &str = "fleetform.io/node-pool";

/// A pool as configured.
#[derive(Debug, Clone, PartialEq)]
struct PoolSpec {
    cluster: String,
    name: String,
    os: render::Os,
    hosts: Vec<String>,
    labels: BTreeMap<String, String>,
    taints: Vec<render::Taint>,
    max_pods: u32,
    version: Option<Version>,
}

fn object(value: &Value) -> BTreeMap<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn read(config: &Value, diags: &mut Diagnostics) -> Option<PoolSpec> {
    let inputs = [
        "cluster",
        "name",
        "os",
        "hosts",
        "labels",
        "taint",
        "max_pods",
        "kubernetes_version",
    ];
    if !inputs.iter().all(|name| config.get(name).is_wholly_known()) {
        return None;
    }
    let os = match config.get("os").as_str().unwrap_or("linux") {
        "linux" => render::Os::Linux,
        "windows" => render::Os::Windows,
        other => {
            diags.push(
                Diagnostic::error(
                    "Invalid node pool OS",
                    format!("{other:?}: a node pool's os is \"linux\" or \"windows\"."),
                )
                .attribute("os"),
            );
            return None;
        }
    };
    let mut taints = Vec::new();
    for taint in config.get("taint").as_list().unwrap_or_default() {
        let effect = match taint.get("effect").as_str().unwrap_or_default() {
            "NoSchedule" => render::TaintEffect::NoSchedule,
            "PreferNoSchedule" => render::TaintEffect::PreferNoSchedule,
            "NoExecute" => render::TaintEffect::NoExecute,
            other => {
                diags.push(
                    Diagnostic::error(
                        "Invalid taint effect",
                        format!(
                            "{other:?}: use \"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\"."
                        ),
                    )
                    .attribute("taint.effect"),
                );
                return None;
            }
        };
        taints.push(render::Taint {
            key: taint.get("key").as_str().unwrap_or_default().to_owned(),
            value: taint.get("value").as_str().map(str::to_owned),
            effect,
        });
    }
    let version = match config.get("kubernetes_version").as_str() {
        None => None,
        Some(text) => match text.parse::<Version>() {
            Ok(v) => Some(v),
            Err(e) => {
                diags.push(
                    Diagnostic::error("Invalid Kubernetes version", format!("{e}."))
                        .attribute("kubernetes_version"),
                );
                return None;
            }
        },
    };
    let max_pods = match config.get("max_pods").as_i64() {
        None => 110,
        Some(n) => match u32::try_from(n) {
            Ok(n) if n > 0 => n,
            _ => {
                diags.push(
                    Diagnostic::error("Invalid max_pods", format!("{n} is not a pod count."))
                        .attribute("max_pods"),
                );
                return None;
            }
        },
    };
    Some(PoolSpec {
        cluster: config
            .get("cluster")
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        name: config.get("name").as_str().unwrap_or_default().to_owned(),
        os,
        hosts: config.get("hosts").strings(),
        labels: object(config.get("labels"))
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect(),
        taints,
        max_pods,
        version,
    })
}

/// Why a pool of Windows hosts cannot be applied yet: said at plan time, not at apply.
const WINDOWS_JOIN_UNSUPPORTED: &str = "joining Windows hosts is not supported yet: fleetform \
    renders their kubelet and containerd configuration but cannot install files on Windows \
    hosts; declare the Windows pool with no hosts until then";

/// Checks a pool's configuration: its own fields, that its hosts run its OS, and that it
/// asks for nothing apply would refuse.
pub fn validate(fleet: &Fleet, config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    // Before anything else is known: a list of hosts not known yet still has its length.
    let has_hosts = config.get("hosts").as_list().is_some_and(|l| !l.is_empty());
    if config.get("os").as_str() == Some("windows") && has_hosts {
        diags.push(
            Diagnostic::error(
                "Windows node pools cannot join hosts yet",
                WINDOWS_JOIN_UNSUPPORTED,
            )
            .attribute("hosts"),
        );
    }
    let Some(spec) = read(config, &mut diags) else {
        return diags;
    };
    for id in &spec.hosts {
        let Ok((_, shell)) = fleet.host(id) else {
            continue;
        };
        let windows = shell == Shell::PowerShell;
        if windows != (spec.os == render::Os::Windows) {
            diags.push(
                Diagnostic::error(
                    "Host OS does not match the pool",
                    format!(
                        "{id:?} is a {} host but the pool's os is {:?}: a pool's hosts all run \
                         its OS.",
                        if windows { "Windows" } else { "Linux" },
                        if spec.os == render::Os::Windows {
                            "windows"
                        } else {
                            "linux"
                        }
                    ),
                )
                .attribute("hosts"),
            );
        }
    }
    diags
}

/// The planned pool: defaults, version skew against its cluster, the rollout of a
/// version change.
pub fn plan(
    request: &PlanRequest,
    cluster_state: Option<&Value>,
    now: SystemTime,
) -> Result<PlanResponse, ProviderError> {
    let mut planned = object(&request.proposed);
    let config = &request.config;
    let id = match (config.get("cluster").as_str(), config.get("name").as_str()) {
        (Some(cluster), Some(name)) => Value::from(format!("{cluster}/{name}")),
        _ => Value::Unknown,
    };
    planned.insert("id".into(), id);
    if config.get("os").is_null() {
        planned.insert("os".into(), Value::from("linux"));
    }
    if config.get("max_pods").is_null() {
        planned.insert("max_pods".into(), Value::from(110_i64));
    }
    let cluster_version = cluster_state
        .map(|c| c.get("kubernetes_version"))
        .filter(|v| !v.is_null());
    if config.get("kubernetes_version").is_null() {
        planned.insert(
            "kubernetes_version".into(),
            cluster_version.cloned().unwrap_or(Value::Unknown),
        );
    }
    let kubelet = planned
        .get("kubernetes_version")
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<Version>().ok());
    let control_plane = cluster_version
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<Version>().ok());
    if let (Some(kubelet), Some(control_plane)) = (kubelet, control_plane) {
        version::check_kubelet(kubelet, control_plane)
            .map_err(|e| ProviderError::permanent(e.to_string()))?;
    }
    let Some(prior) = &request.prior else {
        planned.insert("node_names".into(), Value::Unknown);
        planned.insert("ready_nodes".into(), Value::Unknown);
        planned.insert("certificate_expiry".into(), Value::Unknown);
        planned.insert("rollout".into(), Value::List(Vec::new()));
        return Ok(PlanResponse::new(Value::Object(planned.into())));
    };
    let same_hosts = prior.get("hosts") == config.get("hosts");
    planned.insert(
        "node_names".into(),
        if same_hosts {
            prior.get("node_names").clone()
        } else {
            Value::Unknown
        },
    );
    planned.insert(
        "ready_nodes".into(),
        if same_hosts {
            prior.get("ready_nodes").clone()
        } else {
            Value::Unknown
        },
    );
    planned.insert("rollout".into(), prior.get("rollout").clone());
    let mut expiry = prior
        .get("certificate_expiry")
        .as_object()
        .cloned()
        .unwrap_or_default();
    if !same_hosts {
        planned.insert("certificate_expiry".into(), Value::Unknown);
    } else {
        // Due kubelet certificates are renewed by the apply this plan leads to.
        let renew_before = cluster_state
            .and_then(|c| ClusterSpec::read(c).ok())
            .map(|spec| spec.certificates.renew_before);
        if let Some(renew_before) = renew_before {
            let horizon = pki::rfc3339(now + renew_before);
            for value in expiry.values_mut() {
                if value.as_str().is_some_and(|t| t <= horizon.as_str()) {
                    *value = Value::Unknown;
                }
            }
        }
        planned.insert("certificate_expiry".into(), Value::Object(expiry.into()));
    }
    let before = prior
        .get("kubernetes_version")
        .as_str()
        .and_then(|v| v.parse::<Version>().ok());
    if let (Some(before), Some(after)) = (before, kubelet)
        && before != after
    {
        let names = prior.get("node_names").strings();
        let steps = names
            .iter()
            .enumerate()
            .map(|(i, node)| {
                Value::from(format!(
                    "{}. node {node}: cordon, drain (respecting PodDisruptionBudgets), kubelet \
                     {before} -> {after}, wait until Ready, uncordon",
                    i + 1
                ))
            })
            .collect();
        planned.insert("rollout".into(), Value::List(steps));
    }
    Ok(PlanResponse::new(Value::Object(planned.into())))
}

/// A worker as this run resolved it.
struct Worker {
    host: ClusterHost,
    name: String,
    address: IpAddr,
}

/// Applies a planned change to a pool.
pub async fn apply(
    fleet: &Fleet,
    settings: &Settings,
    request: ApplyRequest,
    cluster_state: Option<Value>,
) -> ApplyResponse {
    let prior = request.prior.clone();
    let result = match &request.planned {
        None => remove(fleet, settings, prior.as_ref(), cluster_state.as_ref())
            .await
            .map(|()| None),
        Some(planned) => converge(
            fleet,
            settings,
            prior.as_ref(),
            planned,
            cluster_state.as_ref(),
        )
        .await
        .map(Some),
    };
    match result {
        Ok(new_state) => ApplyResponse {
            new_state,
            error: None,
        },
        Err(e) => ApplyResponse {
            new_state: prior.or_else(|| request.planned.clone().map(unknowns_to_null)),
            error: Some(e),
        },
    }
}

/// A failed create is recorded with what is known, so that nodes that did join are not
/// forgotten.
fn unknowns_to_null(value: Value) -> Value {
    let mut map = object(&value);
    for v in map.values_mut() {
        if v.is_unknown() {
            *v = Value::Null;
        }
    }
    Value::Object(map.into())
}

struct ClusterContext {
    spec: ClusterSpec,
    reach: api::Reach,
    endpoint: Endpoint,
    ca: pki::CaPem,
    admin_kubeconfig: String,
    render: render::ClusterSettings,
}

fn cluster_context(
    fleet: &Fleet,
    cluster_state: Option<&Value>,
) -> Result<ClusterContext, ProviderError> {
    let state = cluster_state.ok_or_else(|| {
        ProviderError::permanent(
            "the pool's cluster is not known to this run: set `cluster` to a cluster resource's id",
        )
    })?;
    let spec = ClusterSpec::read(state)
        .map_err(|_| ProviderError::permanent("the pool's cluster has no usable state"))?;
    let bundle = cluster::decode_bundle(state.get("pki"))
        .ok_or_else(|| ProviderError::permanent("the pool's cluster has no PKI in state"))?;
    let ca = bundle
        .existing()
        .ca
        .ok_or_else(|| ProviderError::permanent("the pool's cluster has no CA"))?;
    let endpoint = Endpoint {
        host: state
            .get("endpoint_address")
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        port: spec.endpoint_port,
    };
    let render = cluster::render_settings(&spec, &[], &endpoint);
    let first = spec
        .control_plane_hosts
        .first()
        .ok_or_else(|| ProviderError::permanent("the pool's cluster has no control-plane hosts"))?;
    let reach = api::Reach::for_host(&ClusterHost::find(fleet, first)?);
    Ok(ClusterContext {
        spec,
        reach,
        endpoint,
        ca,
        admin_kubeconfig: bundle.admin_kubeconfig().to_owned(),
        render,
    })
}

async fn converge(
    fleet: &Fleet,
    settings: &Settings,
    prior: Option<&Value>,
    planned: &Value,
    cluster_state: Option<&Value>,
) -> Result<Value, ProviderError> {
    let mut diags = Diagnostics::new();
    let pool = read(planned, &mut diags).ok_or_else(|| {
        ProviderError::permanent(
            diags
                .iter()
                .next()
                .map(|d| d.detail.clone())
                .unwrap_or_else(|| "invalid node pool".into()),
        )
    })?;
    if pool.os == render::Os::Windows && !pool.hosts.is_empty() {
        return Err(ProviderError::permanent(WINDOWS_JOIN_UNSUPPORTED));
    }
    let context = cluster_context(fleet, cluster_state)?;
    let version = pool.version.unwrap_or(context.spec.version);
    let mut render_settings = context.render.clone();
    render_settings.kubernetes_version = version.to_string();
    let admin = context
        .reach
        .client(&context.admin_kubeconfig, None)
        .await?;

    let prior_version = prior
        .and_then(|p| p.get("kubernetes_version").as_str())
        .and_then(|v| v.parse::<Version>().ok());
    let prior_hosts = prior.map(|p| p.get("hosts").strings()).unwrap_or_default();

    // Hosts that left the pool are drained and reset before anything else.
    let gone: Vec<String> = prior_hosts
        .iter()
        .filter(|h| !pool.hosts.contains(h))
        .cloned()
        .collect();
    for id in &gone {
        leave(fleet, settings, &admin, id).await?;
    }

    let mut workers = Vec::new();
    for id in &pool.hosts {
        let host = ClusterHost::find(fleet, id)?;
        let address = host.address().await?;
        let name = host.node_name(fleet).await?;
        workers.push(Worker {
            host,
            name,
            address,
        });
    }
    let mut expiry = BTreeMap::new();
    for worker in &workers {
        let joined_before = prior_hosts.contains(&worker.host.id);
        let upgrading = joined_before && prior_version.is_some_and(|v| v != version);
        if upgrading {
            api::cordon(&admin, &worker.name, true).await?;
            api::drain(&admin, &worker.name, settings.wait_timeout).await?;
        }
        let install = context.spec.install_runtime && (!joined_before || upgrading);
        let not_after = join(fleet, &context, &render_settings, &pool, worker, install).await?;
        expiry.insert(
            format!("{}/kubelet.conf", worker.name),
            Value::from(pki::rfc3339(not_after)),
        );
        if upgrading {
            api::wait_nodes(
                &admin,
                std::slice::from_ref(&worker.name),
                settings.wait_timeout,
            )
            .await?;
            api::cordon(&admin, &worker.name, false).await?;
        }
    }
    let names: Vec<String> = workers.iter().map(|w| w.name.clone()).collect();
    api::wait_nodes(&admin, &names, settings.wait_timeout).await?;

    let mut state = object(planned);
    state.insert("certificate_expiry".into(), Value::Object(expiry.into()));
    state.insert(
        "kubernetes_version".into(),
        Value::from(version.to_string()),
    );
    // wait_nodes saw every one of them Ready.
    let names: Vec<Value> = names.into_iter().map(Value::from).collect();
    state.insert("ready_nodes".into(), Value::List(names.clone()));
    state.insert("node_names".into(), Value::List(names));
    Ok(Value::Object(state.into()))
}

/// How long refresh waits for the cluster's API to list the pool's nodes.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Refreshes a pool: which of its nodes are Ready, asked of its cluster's API. A cluster
/// that does not answer makes the pool unreachable (plans warn and go on).
pub async fn refresh(
    fleet: &Fleet,
    current: Value,
    cluster_state: Option<&Value>,
) -> Result<Option<Value>, ProviderError> {
    let names = current.get("node_names").strings();
    let Ok(context) = cluster_context(fleet, cluster_state) else {
        // Not known to this run (its cluster is gone from state): nothing to ask.
        return Ok(Some(current));
    };
    let asked = tokio::time::timeout(READY_TIMEOUT, async {
        let client = context
            .reach
            .client(&context.admin_kubeconfig, None)
            .await?;
        api::ready_nodes(&client).await.map_err(|e| {
            ProviderError::unreachable(format!("cannot list the cluster's nodes: {e}"))
        })
    })
    .await
    .unwrap_or_else(|_| {
        Err(ProviderError::unreachable(format!(
            "the cluster's API server did not list its nodes within {}s",
            READY_TIMEOUT.as_secs()
        )))
    });
    // Whatever kept the answer away, the pool itself is as recorded: unreachable.
    let ready = asked.map_err(|e| ProviderError::unreachable(e.message))?;
    let mut state = object(&current);
    state.insert(
        "ready_nodes".into(),
        Value::List(
            names
                .into_iter()
                .filter(|n| ready.contains(n))
                .map(Value::from)
                .collect(),
        ),
    );
    Ok(Some(Value::Object(state.into())))
}

/// Writes a worker's credentials and configuration and (re)starts its kubelet when they
/// changed.
async fn join(
    fleet: &Fleet,
    context: &ClusterContext,
    cluster: &render::ClusterSettings,
    pool: &PoolSpec,
    worker: &Worker,
    install_runtime: bool,
) -> Result<SystemTime, ProviderError> {
    let kubelet_spec = KubeletSpec {
        cluster_name: context.spec.name.clone(),
        endpoint: context.endpoint.clone(),
        node_name: worker.name.clone(),
        ca: context.ca.clone(),
        key_algorithm: context.spec.certificates.key_algorithm,
        validity: context.spec.certificates.leaf_validity,
        now: SystemTime::now(),
    };
    // The kubelet keeps its credentials until they are due: a new key on every apply
    // would restart it every time.
    let kubelet_conf = format!("{}/{}", pki::KUBERNETES_DIR, pki::paths::KUBELET_CONF);
    let mut labels = pool.labels.clone();
    labels.insert(POOL_LABEL.into(), pool.name.clone());
    let node = render::NodeSettings {
        name: worker.name.clone(),
        address: worker.address,
        os: pool.os,
        control_plane: false,
        labels,
        taints: pool.taints.clone(),
        max_pods: Some(pool.max_pods),
        kubelet_extra_config: BTreeMap::new(),
    };
    let mut files = Vec::new();
    let existing = worker
        .host
        .run(
            fleet,
            &[
                "sh",
                "-c",
                "cat /etc/kubernetes/kubelet.conf 2>/dev/null || true",
            ],
            Rerun::Safe,
        )
        .await?;
    let current = pki::kubeconfig_not_after(&existing).ok();
    let keep = current
        .is_some_and(|t| t > SystemTime::now() + context.spec.certificates.renew_before)
        && existing.contains(&context.endpoint.url());
    let mut not_after = current.unwrap_or(SystemTime::UNIX_EPOCH);
    if !keep {
        let issued = pki::issue_kubelet(&kubelet_spec).map_err(|e| {
            ProviderError::permanent(format!("cannot issue kubelet credentials: {e}"))
        })?;
        if let Some(t) = issued
            .get(pki::paths::KUBELET_CONF)
            .and_then(|f| f.not_after)
        {
            not_after = t;
        }
        for (path, file) in issued {
            files.push(DesiredFile {
                path: format!("{}/{path}", pki::KUBERNETES_DIR),
                content: file.contents,
                mode: file.mode,
            });
        }
    } else {
        files.push(DesiredFile {
            path: format!("{}/{}", pki::KUBERNETES_DIR, pki::paths::CA_CERT),
            content: context.ca.cert_pem.clone(),
            mode: pki::PUBLIC_MODE,
        });
    }
    let containerd = render::containerd_files(cluster, pool.os).map_err(render_error)?;
    let kubelet = render::kubelet_files(cluster, &node).map_err(render_error)?;
    let restart_paths: Vec<String> = containerd
        .iter()
        .chain(&kubelet)
        .map(|f| f.path.clone())
        .chain([kubelet_conf])
        .collect();
    let containerd_paths: Vec<String> = containerd.iter().map(|f| f.path.clone()).collect();
    for f in containerd.into_iter().chain(kubelet) {
        files.push(DesiredFile {
            path: f.path,
            content: f.content,
            mode: f.mode,
        });
    }
    if install_runtime {
        let script = render::runtime_install(cluster, pool.os).map_err(render_error)?;
        worker.host.run_script(fleet, script.content).await?;
    }
    let changed = worker.host.converge(fleet, files).await?;
    if changed.iter().any(|c| containerd_paths.contains(c)) {
        worker
            .host
            .run(fleet, &["systemctl", "restart", "containerd"], Rerun::Never)
            .await?;
    }
    if changed.iter().any(|c| restart_paths.contains(c)) || install_runtime {
        for argv in [
            &["systemctl", "daemon-reload"][..],
            &["systemctl", "enable", "kubelet"],
            &["systemctl", "restart", "kubelet"],
        ] {
            worker.host.run(fleet, argv, Rerun::Never).await?;
        }
    }
    Ok(not_after)
}

fn render_error(e: render::RenderError) -> ProviderError {
    ProviderError::permanent(format!("cannot render the node's configuration: {e}"))
}

/// Takes a host out of its cluster: cordon, drain, delete the Node, stop the kubelet and
/// remove its credentials.
async fn leave(
    fleet: &Fleet,
    settings: &Settings,
    admin: &kube::Client,
    id: &str,
) -> Result<(), ProviderError> {
    let host = ClusterHost::find(fleet, id)?;
    let name = host.node_name(fleet).await?;
    api::cordon(admin, &name, true).await?;
    api::drain(admin, &name, settings.wait_timeout).await?;
    api::delete_node(admin, &name).await?;
    host.run_script(fleet, LEAVE_SCRIPT.to_owned()).await?;
    Ok(())
}

/// Fixed text: nothing from configuration goes into it.
const LEAVE_SCRIPT: &str = r#"
systemctl stop kubelet || true
rm -f /etc/kubernetes/kubelet.conf /var/lib/kubelet/config.yaml /var/lib/kubelet/kubeadm-flags.env
"#;

async fn remove(
    fleet: &Fleet,
    settings: &Settings,
    prior: Option<&Value>,
    cluster_state: Option<&Value>,
) -> Result<(), ProviderError> {
    let Some(prior) = prior else { return Ok(()) };
    let hosts = prior.get("hosts").strings();
    if hosts.is_empty() {
        return Ok(());
    }
    let context = cluster_context(fleet, cluster_state)?;
    let admin = context
        .reach
        .client(&context.admin_kubeconfig, None)
        .await?;
    for id in &hosts {
        leave(fleet, settings, &admin, id).await?;
    }
    Ok(())
}
