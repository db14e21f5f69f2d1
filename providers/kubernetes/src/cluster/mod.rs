//! Planning and applying the `cluster` resource: PKI, control plane with stacked etcd,
//! renewal and upgrades, converged on the control-plane hosts through the host provider's
//! connections and checked through the cluster's API.
//!
//! Every change runs the same convergence: work out each member's files (PKI, kubelet,
//! containerd, static pod manifests), upload those that differ, restart only what reads
//! them. A new cluster converges all members at once (etcd needs its quorum to start); an
//! existing one member by member, each serving again before the next is touched.

pub mod essential;
pub mod gates;
mod served;
pub mod spec;

use fleetform_sdk::Object;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use fleetform_provider_host::Shell;
use fleetform_provider_host::fleet::{Fleet, Rerun};
use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Diagnostic, Diagnostics, PlanRequest, PlanResponse, ProviderError,
    Value,
};

use crate::pki::{self, Bundle, Endpoint, PkiSpec};
use crate::remote::{ClusterHost, DesiredFile};
use crate::render;
use crate::version::{self, Version};
use crate::{Settings, api};
pub use essential::{PodNetworks, pod_network_warning};
pub use spec::ClusterSpec;

/// Longest a kubelet takes to notice a changed static pod manifest (its file check period,
/// 20 s by default), with margin.
const KUBELET_NOTICE: Duration = Duration::from_secs(40);

/// Attributes the provider computes.
const COMPUTED: [&str; 12] = [
    "essential_addons",
    "endpoint",
    "ca_certificate",
    "admin_kubeconfig",
    "certificate_expiry",
    "etcd_members",
    "node_names",
    "rollout",
    "pki",
    "drifted_files",
    "served_versions",
    "ready_nodes",
];

/// Checks a configuration: the spec's own rules, and that every control-plane host the
/// run knows is a Linux host.
pub fn validate(fleet: &Fleet, config: &Value) -> Diagnostics {
    let mut diags = spec::validate(config);
    for host in config
        .get("control_plane_hosts")
        .as_list()
        .unwrap_or_default()
    {
        let Some(id) = host.as_str() else { continue };
        if let Ok((_, Shell::PowerShell)) = fleet.host(id) {
            diags.push(
                Diagnostic::error(
                    "Windows host in the control plane",
                    format!(
                        "{id:?} is a Windows host: Kubernetes runs its control plane (etcd, \
                         kube-apiserver, controller-manager, scheduler) on Linux only."
                    ),
                )
                .attribute("control_plane_hosts")
                .help("put Windows hosts in a node_pool with os = \"windows\""),
            );
        }
    }
    diags
}

fn object(value: &Value) -> BTreeMap<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// The planned object: defaults filled in, computed attributes carried over or unknown,
/// certificates due for renewal and version changes shown.
pub fn plan(
    fleet: &Fleet,
    request: &PlanRequest,
    now: SystemTime,
) -> Result<PlanResponse, ProviderError> {
    let mut planned = object(&request.proposed);
    let config = &request.config;
    if let Some(name) = config.get("name").as_str() {
        planned.insert("id".into(), Value::from(name));
    } else {
        planned.insert("id".into(), Value::Unknown);
    }
    // Optional attributes left out of the configuration get kubeadm's defaults (the
    // engine proposes them as unknown).
    let mut defaults = |name: &str, value: Value| {
        if config.get(name).is_null() {
            planned.insert(name.into(), value);
        }
    };
    defaults("endpoint_port", Value::from(i64::from(spec::DEFAULT_PORT)));
    defaults("pod_cidr", Value::from(spec::DEFAULT_POD_CIDR));
    defaults("service_cidr", Value::from(pki::DEFAULT_SERVICE_CIDR));
    defaults("dns_domain", Value::from(pki::DEFAULT_DNS_DOMAIN));
    defaults("install_runtime", Value::Bool(true));
    defaults("control_plane_schedulable", Value::Bool(false));
    if config.get("endpoint_address").is_null() {
        let first = config
            .get("control_plane_hosts")
            .as_list()
            .and_then(|hosts| hosts.first())
            .and_then(Value::as_str)
            .and_then(|id| fleet.host(id).ok());
        let recorded = request.prior.as_ref().map(|p| p.get("endpoint_address"));
        let address = match (first, recorded) {
            (Some((target, _)), _) => Value::from(target.address),
            (None, Some(recorded)) if !recorded.is_null() => recorded.clone(),
            (None, _) => Value::Unknown,
        };
        planned.insert("endpoint_address".into(), address);
    }
    let written = config.get("certificates");
    if !written.is_unknown() {
        let mut block = object(planned.get("certificates").unwrap_or(&Value::Null));
        for (name, default) in [
            ("key_algorithm", "ecdsa-p256"),
            ("ca_validity", spec::DEFAULT_CA_VALIDITY),
            ("leaf_validity", spec::DEFAULT_LEAF_VALIDITY),
            ("renew_before", spec::DEFAULT_RENEW_BEFORE),
        ] {
            if written.get(name).is_null() {
                block.insert(name.into(), Value::from(default));
            }
        }
        planned.insert("certificates".into(), Value::Object(block.into()));
    }
    if let Some(block) = config.get("kube_vip").as_object() {
        let mut block = block.clone();
        for (name, default) in [
            ("interface", "eth0"),
            ("image", render::DEFAULT_KUBE_VIP_IMAGE),
        ] {
            if block.get(name).is_none_or(Value::is_null) {
                block.insert(name.into(), Value::from(default));
            }
        }
        planned.insert("kube_vip".into(), Value::Object(block.into()));
    }
    let endpoint = match (
        planned.get("endpoint_address").and_then(Value::as_str),
        planned.get("endpoint_port").and_then(Value::as_i64),
    ) {
        (Some(host), Some(port)) => Value::from(
            Endpoint {
                host: host.to_owned(),
                port: u16::try_from(port).unwrap_or(spec::DEFAULT_PORT),
            }
            .url(),
        ),
        _ => Value::Unknown,
    };

    let Some(prior) = &request.prior else {
        for name in COMPUTED {
            planned.insert(name.into(), Value::Unknown);
        }
        planned.insert("endpoint".into(), endpoint);
        return Ok(PlanResponse::new(Value::Object(planned.into())));
    };

    let mut response_warnings = Vec::new();
    for name in COMPUTED {
        planned.insert(name.into(), prior.get(name).clone());
    }
    planned.insert("endpoint".into(), endpoint);
    // Apply rewrites whatever refresh found changed on the hosts.
    planned.insert("drifted_files".into(), Value::List(Vec::new()));
    let planned_value = Value::Object(planned.clone().into());
    let (Ok(old), Ok(new)) = (ClusterSpec::read(prior), ClusterSpec::read(&planned_value)) else {
        // Unknown values (or errors validation reports) leave nothing more to work out.
        return Ok(PlanResponse::new(planned_value));
    };
    if old.control_plane_hosts != new.control_plane_hosts {
        return Err(ProviderError::permanent(format!(
            "the control-plane hosts changed from [{}] to [{}]: fleetform does not add or remove \
             etcd members of an existing cluster yet; keep the list as it was, or create a new \
             cluster",
            old.control_plane_hosts.join(", "),
            new.control_plane_hosts.join(", ")
        )));
    }
    let node_names = prior.get("node_names").strings();
    if old.version == new.version {
        response_warnings.extend(served::warnings(prior, old.version));
    } else {
        planned.insert("served_versions".into(), Value::Unknown);
        version::check_control_plane_change(old.version, new.version)
            .map_err(|e| ProviderError::permanent(e.to_string()))?;
        let steps: Vec<Value> = node_names
            .iter()
            .enumerate()
            .map(|(i, node)| {
                Value::from(format!(
                    "{}. control-plane member {node}: {} -> {}, then wait until it serves",
                    i + 1,
                    old.version,
                    new.version
                ))
            })
            .collect();
        planned.insert("rollout".into(), Value::List(steps));
    }

    let mut renewing = due_for_renewal(prior, new.certificates.renew_before, now);
    renewing.leaves.extend(reissued_by_change(
        (&old, prior.get("endpoint_address").as_str()),
        (
            &new,
            planned.get("endpoint_address").and_then(Value::as_str),
        ),
        node_names.first().map(String::as_str),
    ));
    for (name, not_after) in &renewing.cas {
        response_warnings.push(format!(
            "the {name} certificate expires {not_after}, within renew_before; CAs are not \
             renewed automatically, rotating a CA is an explicit action"
        ));
    }
    if !renewing.leaves.is_empty() {
        let mut expiry = object(prior.get("certificate_expiry"));
        for name in &renewing.leaves {
            expiry.insert(name.clone(), Value::Unknown);
        }
        planned.insert("certificate_expiry".into(), Value::Object(expiry.into()));
        planned.insert("pki".into(), Value::Unknown);
        if renewing.leaves.contains("admin.conf") {
            planned.insert("admin_kubeconfig".into(), Value::Unknown);
        }
    }
    // The essential add-ons as this configuration renders them; a change (a new version,
    // endpoint or fleetform release) is applied with the cluster.
    if let (Some(ca), Some(host), Some(port)) = (
        prior.get("ca_certificate").as_str(),
        planned.get("endpoint_address").and_then(Value::as_str),
        planned.get("endpoint_port").and_then(Value::as_i64),
    ) {
        let endpoint = Endpoint {
            host: host.to_owned(),
            port: u16::try_from(port).unwrap_or(spec::DEFAULT_PORT),
        };
        if let Ok(bundle) = essential::bundle(&new, &endpoint, ca) {
            planned.insert("essential_addons".into(), essential::digests(&bundle));
        }
    }
    let mut response = PlanResponse::new(Value::Object(planned.into()));
    response.warnings = response_warnings;
    Ok(response)
}

/// Certificates whose contents depend on what changed between `old` and `new`: the API
/// server's certificate carries the endpoint and extra names, and the kubeconfigs that
/// use the endpoint name it as their server.
/// `first_node` is the node that holds super-admin.conf.
fn reissued_by_change(
    old: (&ClusterSpec, Option<&str>),
    new: (&ClusterSpec, Option<&str>),
    first_node: Option<&str>,
) -> BTreeSet<String> {
    let ((old, old_endpoint), (new, new_endpoint)) = (old, new);
    let mut names = BTreeSet::new();
    let endpoint_moved = old_endpoint != new_endpoint || old.endpoint_port != new.endpoint_port;
    if endpoint_moved || old.extra_sans != new.extra_sans {
        names.insert("apiserver".to_owned());
    }
    if endpoint_moved {
        names.insert("admin.conf".to_owned());
        if let Some(first) = first_node {
            names.insert(format!("{first}/super-admin.conf"));
        }
    }
    names
}

/// Certificates that expire within `renew_before` of `now`, by their expiry name.
struct Renewal {
    leaves: BTreeSet<String>,
    cas: Vec<(String, String)>,
}

fn due_for_renewal(prior: &Value, renew_before: Duration, now: SystemTime) -> Renewal {
    let horizon = pki::rfc3339(now + renew_before);
    let mut out = Renewal {
        leaves: BTreeSet::new(),
        cas: Vec::new(),
    };
    for (name, not_after) in object(prior.get("certificate_expiry")) {
        let Some(not_after) = not_after.as_str() else {
            continue;
        };
        // RFC 3339 in UTC with whole seconds compares as text.
        if not_after > horizon.as_str() {
            continue;
        }
        let base = name.rsplit('/').next().unwrap_or(&name);
        if pki::is_ca(base) {
            out.cas.push((name.clone(), not_after.to_owned()));
        } else {
            out.leaves.insert(name);
        }
    }
    out
}

/// One control-plane member as this run resolved it.
#[derive(Debug, Clone)]
struct Member {
    host: ClusterHost,
    name: String,
    address: IpAddr,
}

/// Applies a planned change to a cluster.
pub async fn apply(fleet: &Fleet, settings: &Settings, request: ApplyRequest) -> ApplyResponse {
    let prior = request.prior.clone();
    let Some(planned) = request.planned.clone() else {
        return match reset(fleet, prior.as_ref()).await {
            Ok(()) => ApplyResponse {
                new_state: None,
                error: None,
            },
            Err(e) => ApplyResponse {
                new_state: prior,
                error: Some(e),
            },
        };
    };
    // What to record if the apply stops part way: once certificates have reached a host,
    // the cluster exists and its PKI must not be forgotten.
    let mut recorded = prior.clone();
    let progress = Progress {
        checkpoint: &request.checkpoint,
        resumed: request.resume.as_ref(),
    };
    match converge(
        fleet,
        settings,
        prior.as_ref(),
        &planned,
        &progress,
        &mut recorded,
    )
    .await
    {
        Ok(mut value) => {
            let observed = served::observe(fleet, &value).await;
            if let Value::Object(attrs) = &mut value {
                attrs.insert("served_versions".into(), observed.served);
                attrs.insert("ready_nodes".into(), observed.ready);
            }
            ApplyResponse {
                new_state: Some(value),
                error: None,
            }
        }
        Err(e) => ApplyResponse {
            new_state: recorded,
            error: Some(e),
        },
    }
}

/// How a bootstrap survives being killed: the PKI it issues is saved before any host
/// receives it, and a bootstrap that continues an interrupted one issues from that PKI, so
/// a cluster never gets a second CA.
struct Progress<'a> {
    checkpoint: &'a fleetform_sdk::Checkpoint,
    /// What the interrupted attempt saved.
    resumed: Option<&'a Value>,
}

async fn converge(
    fleet: &Fleet,
    settings: &Settings,
    prior: Option<&Value>,
    planned: &Value,
    progress: &Progress<'_>,
    recorded: &mut Option<Value>,
) -> Result<Value, ProviderError> {
    let spec = ClusterSpec::read(planned).map_err(|diags| match diags.iter().next() {
        Some(d) => ProviderError::permanent(d.detail.clone()),
        None => {
            let unknown: Vec<String> = object(planned)
                .into_iter()
                .filter(|(name, v)| !v.is_wholly_known() && !COMPUTED.contains(&name.as_str()))
                .map(|(name, _)| name)
                .collect();
            ProviderError::permanent(format!(
                "the cluster's configuration is not wholly known at apply: {unknown:?}"
            ))
        }
    })?;
    let mut members = Vec::new();
    for id in &spec.control_plane_hosts {
        let host = ClusterHost::find(fleet, id)?;
        if host.shell == Shell::PowerShell {
            return Err(ProviderError::permanent(format!(
                "{id} is a Windows host; the control plane runs on Linux only"
            )));
        }
        let address = host.address().await?;
        let name = host.node_name(fleet).await?;
        members.push(Member {
            host,
            name,
            address,
        });
    }
    let endpoint = Endpoint {
        host: spec
            .endpoint_address
            .clone()
            .unwrap_or_else(|| members[0].address.to_string()),
        port: spec.endpoint_port,
    };
    let now = SystemTime::now();
    let old_bundle = prior
        .or(progress.resumed)
        .and_then(|p| decode_bundle(p.get("pki")));
    let pki_spec = PkiSpec {
        cluster_name: spec.name.clone(),
        endpoint: endpoint.clone(),
        control_plane: members
            .iter()
            .map(|m| pki::Member {
                name: m.name.clone(),
                address: m.address,
            })
            .collect(),
        service_cidr: spec.service_cidr.to_string(),
        dns_domain: spec.dns_domain.clone(),
        extra_sans: spec.extra_sans.clone(),
        key_algorithm: spec.certificates.key_algorithm,
        ca_validity: spec.certificates.ca_validity,
        leaf_validity: spec.certificates.leaf_validity,
        now,
        existing: old_bundle
            .as_ref()
            .map(Bundle::existing)
            .unwrap_or_default(),
    };
    // What this apply reissues: certificates due within renew_before, those whose names or
    // server changed, and the files of members the recorded PKI does not have yet.
    let mut names = prior
        .map(|p| due_for_renewal(p, spec.certificates.renew_before, now).leaves)
        .unwrap_or_default();
    if let Some(old) = prior.and_then(|p| ClusterSpec::read(p).ok()) {
        let old_endpoint = prior
            .and_then(|p| p.get("endpoint_address").as_str())
            .map(str::to_owned);
        names.extend(reissued_by_change(
            (&old, old_endpoint.as_deref()),
            (&spec, Some(&endpoint.host)),
            Some(&members[0].name),
        ));
    }
    let complete = old_bundle
        .as_ref()
        .is_some_and(|old| members.iter().all(|m| old.nodes.contains_key(&m.name)));
    let bundle = match old_bundle {
        Some(old) if complete && names.is_empty() => old,
        old => {
            let fresh = tokio::task::spawn_blocking(move || pki::issue(&pki_spec))
                .await
                .map_err(|e| ProviderError::permanent(format!("issuing certificates failed: {e}")))?
                .map_err(|e| {
                    ProviderError::permanent(format!(
                        "cannot issue the cluster's certificates: {e}"
                    ))
                })?;
            match old {
                None => fresh,
                Some(old) => {
                    let mut renewed = old.renewed(&fresh, &names);
                    for (node, files) in &fresh.nodes {
                        renewed
                            .nodes
                            .entry(node.clone())
                            .or_insert_with(|| files.clone());
                    }
                    for (name, not_after) in &fresh.expiry {
                        renewed.expiry.entry(name.clone()).or_insert(*not_after);
                    }
                    renewed
                }
            }
        }
    };
    let mut state = object(&state_value(planned, &spec, &members, &endpoint, &bundle));
    // What the cluster had of its essential add-ons until they are applied below.
    let before = prior.map_or_else(
        || Value::Object(Object::new()),
        |p| p.get("essential_addons").clone(),
    );
    state.insert("essential_addons".into(), before);
    let state = Value::Object(state.into());
    *recorded = Some(state.clone());
    let first_boot = prior.is_none();
    if first_boot {
        // A host that already serves another cluster is not bootstrapped over.
        let ca = fleetform_provider_host::files::hex_sha256(bundle.ca_certificate().as_bytes());
        let path = format!("{}/{}", pki::KUBERNETES_DIR, pki::paths::CA_CERT);
        for member in &members {
            if let Some(found) = member.host.file_sha256(fleet, &path).await?
                && found != ca
            {
                return Err(ProviderError::permanent(format!(
                    "{} already holds a cluster CA ({path}) that is not this cluster's: fleetform \
                     does not bootstrap a cluster over another one. If that cluster is gone, reset \
                     the host (kubeadm reset, or remove {}) and apply again",
                    member.host.id,
                    pki::KUBERNETES_DIR
                )));
            }
        }
        // Saved before any host receives it: a run killed from here on continues with it.
        progress.checkpoint.save(&state)?;
    }

    let etcd_members: Vec<render::Member> = members
        .iter()
        .map(|m| render::Member {
            name: m.name.clone(),
            address: m.address,
        })
        .collect();
    let settings_for_render = render_settings(&spec, &etcd_members, &endpoint);
    let old_version = prior
        .and_then(|p| p.get("kubernetes_version").as_str())
        .and_then(|v| v.parse::<Version>().ok());
    let super_admin = bundle
        .nodes
        .get(&members[0].name)
        .and_then(|files| files.get(pki::paths::SUPER_ADMIN_CONF))
        .map(|f| f.contents.clone())
        .ok_or_else(|| ProviderError::permanent("the PKI has no super-admin.conf"))?;
    let reach = api::Reach::for_host(&members[0].host);
    // Where fleetform's own calls go: the endpoint, then each member, whichever answers.
    let member_servers: Vec<Endpoint> = members
        .iter()
        .map(|m| Endpoint {
            host: m.address.to_string(),
            port: spec.endpoint_port,
        })
        .collect();
    let all_servers: Vec<Endpoint> = std::iter::once(endpoint.clone())
        .chain(member_servers.iter().cloned())
        .collect();
    if first_boot {
        let jobs = members.iter().map(|member| {
            converge_member(
                fleet,
                &spec,
                &settings_for_render,
                &bundle,
                member,
                spec.install_runtime,
                Restart::Always,
            )
        });
        for result in futures::future::join_all(jobs).await {
            result?;
        }
        // The members themselves: a virtual IP answers only once kube-vip, which needs
        // the bindings made here, has elected a leader.
        tracing::info!(endpoint = %endpoint.url(), "waiting for the API server");
        let watched: Vec<_> = members
            .iter()
            .map(|m| (m.host.clone(), m.name.clone()))
            .collect();
        let client = crate::static_pods::ready_or_crash_loop(
            fleet,
            &watched,
            &format!("the API server at {}", endpoint.url()),
            api::first_ready(&reach, &super_admin, &member_servers, settings.wait_timeout),
        )
        .await?;
        api::bootstrap_rbac(&client).await?;
    } else {
        let install = spec.install_runtime && old_version != Some(spec.version);
        for member in &members {
            let before = served_certificate(&reach, member.address, spec.endpoint_port).await;
            let changed = converge_member(
                fleet,
                &spec,
                &settings_for_render,
                &bundle,
                member,
                install,
                Restart::WhenChanged,
            )
            .await?;
            if changed.restarted_apiserver {
                wait_member_restarted(
                    &reach,
                    member,
                    &spec,
                    &bundle,
                    &super_admin,
                    Before {
                        served_certificate: before,
                        version_changes: old_version != Some(spec.version),
                    },
                    settings,
                )
                .await?;
            }
        }
        let client =
            api::first_ready(&reach, &super_admin, &all_servers, settings.wait_timeout).await?;
        api::bootstrap_rbac(&client).await?;
    }
    let admin = api::first_ready(
        &reach,
        bundle.admin_kubeconfig(),
        &all_servers,
        settings.wait_timeout,
    )
    .await?;
    let node_names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    tracing::info!(nodes = ?node_names, "waiting for the control-plane nodes");
    api::wait_nodes(&admin, &node_names, settings.wait_timeout).await?;
    for node in &node_names {
        api::label_node(&admin, node, "node-role.kubernetes.io/control-plane", "").await?;
    }
    let addons = essential::bundle(&spec, &endpoint, bundle.ca_certificate())?;
    let mut servers = vec![(endpoint.url(), admin)];
    for at in &member_servers {
        servers.push((
            at.url(),
            reach.client(bundle.admin_kubeconfig(), Some(at)).await?,
        ));
    }
    let applied_before = state.get("essential_addons").clone();
    tracing::info!("applying the essential add-ons");
    essential::apply(servers, &addons, &applied_before).await?;
    let mut state = object(&state);
    state.insert("essential_addons".into(), essential::digests(&addons));
    let state = Value::Object(state.into());
    *recorded = Some(state.clone());
    if spec.kube_vip.is_some() {
        // The admin kubeconfig names the virtual IP: the cluster is ready for its users
        // once that answers.
        let through_vip = reach.client(bundle.admin_kubeconfig(), None).await?;
        api::wait_ready(
            &through_vip,
            &format!("the virtual IP {}", endpoint.url()),
            settings.wait_timeout,
        )
        .await?;
    }
    Ok(state)
}

/// What converging one member changed.
struct MemberChange {
    restarted_apiserver: bool,
}

/// Everything one control-plane member should have on disk, and which of it the
/// containerd and kubelet services read.
struct MemberFiles {
    files: Vec<DesiredFile>,
    containerd: BTreeSet<String>,
    kubelet: BTreeSet<String>,
}

fn member_files(
    spec: &ClusterSpec,
    cluster: &render::ClusterSettings,
    bundle: &Bundle,
    member: &render::Member,
) -> Result<MemberFiles, ProviderError> {
    let own = bundle.node_files(&member.name).ok_or_else(|| {
        ProviderError::permanent(format!("the PKI has no files for node {}", member.name))
    })?;
    let mut files: Vec<DesiredFile> = own
        .iter()
        .map(|(path, file)| DesiredFile {
            path: format!("{}/{path}", pki::KUBERNETES_DIR),
            content: file.contents.clone(),
            mode: file.mode,
        })
        .collect();
    let hashes = config_hashes(&own);
    let node = render::NodeSettings {
        name: member.name.clone(),
        address: member.address,
        os: render::Os::Linux,
        control_plane: true,
        labels: BTreeMap::new(),
        taints: if spec.control_plane_schedulable {
            Vec::new()
        } else {
            vec![render::Taint {
                key: "node-role.kubernetes.io/control-plane".into(),
                value: None,
                effect: render::TaintEffect::NoSchedule,
            }]
        },
        max_pods: None,
        kubelet_extra_config: BTreeMap::new(),
    };
    let containerd = render::containerd_files(cluster, render::Os::Linux).map_err(render_error)?;
    let kubelet = render::kubelet_files(cluster, &node).map_err(render_error)?;
    let manifests =
        render::control_plane_manifests(cluster, member, render::EtcdState::New, &hashes)
            .map_err(render_error)?;
    let as_desired = |f: render::RenderedFile| DesiredFile {
        path: f.path,
        content: f.content,
        mode: f.mode,
    };
    let containerd_paths = containerd.iter().map(|f| f.path.clone()).collect();
    let mut kubelet_paths: BTreeSet<String> = kubelet.iter().map(|f| f.path.clone()).collect();
    kubelet_paths.insert(format!(
        "{}/{}",
        pki::KUBERNETES_DIR,
        pki::paths::KUBELET_CONF
    ));
    files.extend(containerd.into_iter().map(as_desired));
    files.extend(kubelet.into_iter().map(as_desired));
    files.extend(manifests.into_iter().map(as_desired));
    if let Some(vip) = &spec.kube_vip {
        files.push(as_desired(
            render::kube_vip_manifest(cluster, vip).map_err(render_error)?,
        ));
    }
    Ok(MemberFiles {
        files,
        containerd: containerd_paths,
        kubelet: kubelet_paths,
    })
}

/// When a member's services (containerd, the kubelet) are restarted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// When their files changed: a day-2 change.
    WhenChanged,
    /// Whatever changed: a bootstrap, which may continue one killed after it wrote the
    /// files and before it restarted the services, so unchanged files prove nothing.
    Always,
}

async fn converge_member(
    fleet: &Fleet,
    spec: &ClusterSpec,
    cluster: &render::ClusterSettings,
    bundle: &Bundle,
    member: &Member,
    install_runtime: bool,
    restart: Restart,
) -> Result<MemberChange, ProviderError> {
    let rendered_member = render::Member {
        name: member.name.clone(),
        address: member.address,
    };
    let wanted = member_files(spec, cluster, bundle, &rendered_member)?;
    if install_runtime {
        let script = render::runtime_install(cluster, render::Os::Linux).map_err(render_error)?;
        member.host.run_script(fleet, script.content).await?;
    }
    let changed = member.host.converge(fleet, wanted.files).await?;
    tracing::info!(node = %member.name, changed = changed.len(), "converged control-plane files");
    let touched = |paths: &BTreeSet<String>| {
        (restart == Restart::Always && !paths.is_empty())
            || changed.iter().any(|c| paths.contains(c))
    };
    if touched(&wanted.containerd) {
        member
            .host
            .run(fleet, &["systemctl", "restart", "containerd"], Rerun::Never)
            .await?;
    }
    if touched(&wanted.kubelet) {
        for argv in [
            &["systemctl", "daemon-reload"][..],
            &["systemctl", "enable", "kubelet"],
            &["systemctl", "restart", "kubelet"],
        ] {
            member.host.run(fleet, argv, Rerun::Never).await?;
        }
    }
    let apiserver_manifest = format!("{}/manifests/kube-apiserver.yaml", pki::KUBERNETES_DIR);
    Ok(MemberChange {
        restarted_apiserver: changed.contains(&apiserver_manifest),
    })
}

fn render_error(e: render::RenderError) -> ProviderError {
    ProviderError::permanent(format!("cannot render the node's configuration: {e}"))
}

/// The hash each static pod carries of what it reads, so that the kubelet restarts it when
/// a certificate or kubeconfig it uses changes (kubelet restarts a static pod when its
/// manifest changes, not when a file it mounts does).
fn config_hashes(files: &BTreeMap<&str, &pki::File>) -> render::ConfigHashes {
    let hash = |component: render::Component| {
        let mut text = String::new();
        for path in component.reads() {
            if let Some(file) = files.get(path) {
                text.push_str(path);
                text.push('\0');
                text.push_str(&file.contents);
            }
        }
        fleetform_provider_host::files::hex_sha256(text.as_bytes())[..16].to_owned()
    };
    render::ConfigHashes {
        etcd: hash(render::Component::Etcd),
        kube_apiserver: hash(render::Component::KubeApiserver),
        kube_controller_manager: hash(render::Component::KubeControllerManager),
        kube_scheduler: hash(render::Component::KubeScheduler),
    }
}

/// The certificate a member's API server serves now (PEM), or `None` when it does not
/// answer.
async fn served_certificate(reach: &api::Reach, address: IpAddr, port: u16) -> Option<String> {
    let socket = reach.socket(&address.to_string(), port).await.ok()?;
    tokio::task::spawn_blocking(move || crate::tls::peer_certificate(socket))
        .await
        .ok()
        .flatten()
}

/// What a member's API server showed before its manifest changed.
struct Before {
    served_certificate: Option<String>,
    version_changes: bool,
}

/// Waits until a member's API server has restarted onto its new manifest: serving the
/// certificate and version this apply wrote, and ready.
async fn wait_member_restarted(
    reach: &api::Reach,
    member: &Member,
    spec: &ClusterSpec,
    bundle: &Bundle,
    super_admin: &str,
    before: Before,
    settings: &Settings,
) -> Result<(), ProviderError> {
    let Before {
        served_certificate: served_before,
        version_changes,
    } = before;
    let wanted_cert = &bundle.common[pki::paths::APISERVER_CERT].contents;
    let endpoint = Endpoint {
        host: member.address.to_string(),
        port: spec.endpoint_port,
    };
    let client = reach.client(super_admin, Some(&endpoint)).await?;
    let started = std::time::Instant::now();
    let cert_changes = served_before
        .as_deref()
        .is_some_and(|before| before.trim() != wanted_cert.trim());
    if !cert_changes && !version_changes {
        // Nothing the API server shows changes (new flags only): watch for the restart
        // itself, for as long as a kubelet may take to notice a manifest (it checks every
        // 20 s), so that the next member is not touched while this one still has to go.
        let began = std::time::Instant::now();
        while began.elapsed() < KUBELET_NOTICE && api::readyz(&client).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    loop {
        let serving = served_certificate(reach, member.address, spec.endpoint_port).await;
        let cert_ok = !cert_changes
            || serving
                .as_deref()
                .is_some_and(|c| c.trim() == wanted_cert.trim());
        let version_ok = match client.apiserver_version().await {
            Ok(info) => info.git_version.trim_start_matches('v') == spec.version.to_string(),
            Err(_) => false,
        };
        if cert_ok && version_ok {
            break;
        }
        if started.elapsed() > settings.wait_timeout {
            return Err(ProviderError::transient(format!(
                "the API server on {} did not restart onto its new configuration within {}s",
                member.name,
                settings.wait_timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    api::wait_ready(
        &client,
        &format!("the API server on {}", member.name),
        settings.wait_timeout,
    )
    .await
}

/// What rendering needs of a cluster; `members` are its etcd members (none when rendering
/// a worker's files).
pub fn render_settings(
    spec: &ClusterSpec,
    members: &[render::Member],
    endpoint: &Endpoint,
) -> render::ClusterSettings {
    let dns = spec.cluster_dns();
    render::ClusterSettings {
        name: spec.name.clone(),
        kubernetes_version: spec.version.to_string(),
        endpoint: endpoint.host.clone(),
        endpoint_port: endpoint.port,
        pod_cidr: spec.pod_cidr.to_string(),
        service_cidr: spec.service_cidr.to_string(),
        dns_domain: spec.dns_domain.clone(),
        cluster_dns: dns,
        registry_mirrors: spec.registry_mirrors.clone(),
        apiserver_extra_args: spec.apiserver_extra_args.clone(),
        controller_manager_extra_args: spec.controller_manager_extra_args.clone(),
        scheduler_extra_args: spec.scheduler_extra_args.clone(),
        feature_gates: spec.feature_gates.clone(),
        oidc: spec.oidc.as_ref().map(|o| render::Oidc {
            issuer_url: o.issuer_url.clone(),
            client_id: o.client_id.clone(),
            username_claim: o.username_claim.clone(),
            groups_claim: o.groups_claim.clone(),
            username_prefix: o.username_prefix.clone(),
            groups_prefix: o.groups_prefix.clone(),
        }),
        image_repository: render::DEFAULT_IMAGE_REPOSITORY.to_owned(),
        etcd_members: members.to_vec(),
    }
}

/// The object recorded in state.
fn state_value(
    planned: &Value,
    spec: &ClusterSpec,
    members: &[Member],
    endpoint: &Endpoint,
    bundle: &Bundle,
) -> Value {
    let mut state = object(planned);
    let names: Vec<Value> = members
        .iter()
        .map(|m| Value::from(m.name.clone()))
        .collect();
    state.insert("id".into(), Value::from(spec.name.clone()));
    state.insert(
        "endpoint_address".into(),
        Value::from(endpoint.host.clone()),
    );
    state.insert("endpoint".into(), Value::from(endpoint.url()));
    state.insert(
        "ca_certificate".into(),
        Value::from(bundle.ca_certificate()),
    );
    state.insert(
        "admin_kubeconfig".into(),
        Value::from(bundle.admin_kubeconfig()).into_sensitive(),
    );
    state.insert(
        "certificate_expiry".into(),
        Value::Object(
            bundle
                .expiry
                .iter()
                .map(|(name, t)| (name.clone(), Value::from(pki::rfc3339(*t))))
                .collect(),
        ),
    );
    state.insert("etcd_members".into(), Value::List(names.clone()));
    state.insert("node_names".into(), Value::List(names));
    if state.get("rollout").is_none_or(|v| v.is_unknown()) {
        state.insert("rollout".into(), Value::List(Vec::new()));
    }
    state.insert("pki".into(), encode_bundle(bundle));
    state.insert("drifted_files".into(), Value::List(Vec::new()));
    if state.get("served_versions").is_none_or(|v| v.is_unknown()) {
        // Found out once the members serve (apply's end, or refresh).
        state.insert("served_versions".into(), Value::Object(Object::new()));
    }
    if state.get("ready_nodes").is_none_or(|v| v.is_unknown()) {
        state.insert("ready_nodes".into(), Value::List(Vec::new()));
    }
    Value::Object(state.into())
}

fn encode_bundle(bundle: &Bundle) -> Value {
    let text = serde_json::to_string(bundle).expect("a bundle serialises");
    Value::from(text).into_sensitive()
}

/// The bundle recorded in state.
pub fn decode_bundle(value: &Value) -> Option<Bundle> {
    serde_json::from_str(value.as_str()?).ok()
}

/// Refreshes a cluster from its hosts: every file fleetform wrote (certificates,
/// kubeconfigs, manifests, kubelet and containerd configuration) is compared with what is
/// on each control-plane host, and those that differ are listed in `drifted_files`.
pub async fn read(fleet: &Fleet, current: Value) -> Result<Option<Value>, ProviderError> {
    let (Ok(spec), Some(bundle)) = (
        ClusterSpec::read(&current),
        decode_bundle(current.get("pki")),
    ) else {
        return Ok(Some(current));
    };
    let names = current.get("node_names").strings();
    let mut members = Vec::new();
    for (id, name) in spec.control_plane_hosts.iter().zip(&names) {
        let host = ClusterHost::find(fleet, id)?;
        let address = host.address().await?;
        members.push((
            host,
            render::Member {
                name: name.clone(),
                address,
            },
        ));
    }
    let endpoint = Endpoint {
        host: current
            .get("endpoint_address")
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        port: spec.endpoint_port,
    };
    let etcd: Vec<render::Member> = members.iter().map(|(_, m)| m.clone()).collect();
    let cluster = render_settings(&spec, &etcd, &endpoint);
    let mut drifted = Vec::new();
    for (host, member) in &members {
        let wanted = member_files(&spec, &cluster, &bundle, member)?;
        for path in host.differing(fleet, wanted.files).await? {
            drifted.push(Value::from(format!("{}:{path}", member.name)));
        }
    }
    let observed = served::observe(fleet, &current).await;
    let mut state = object(&current);
    state.insert("drifted_files".into(), Value::List(drifted));
    state.insert("served_versions".into(), observed.served);
    state.insert("ready_nodes".into(), observed.ready);
    Ok(Some(Value::Object(state.into())))
}

/// `kubeadm reset` on every control-plane host: static pods stopped, the kubelet stopped,
/// the PKI, kubeconfigs and etcd data removed.
async fn reset(fleet: &Fleet, prior: Option<&Value>) -> Result<(), ProviderError> {
    let Some(prior) = prior else { return Ok(()) };
    let mut hosts = Vec::new();
    for id in prior.get("control_plane_hosts").strings() {
        hosts.push(ClusterHost::find(fleet, &id)?);
    }
    // The cluster is going away: every member at once.
    let resets = hosts
        .iter()
        .map(|host| host.run_script(fleet, RESET_SCRIPT.to_owned()));
    for result in futures::future::join_all(resets).await {
        result?;
    }
    Ok(())
}

/// Fixed text: nothing from configuration goes into it.
const RESET_SCRIPT: &str = r#"
rm -f /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/manifests/kube-apiserver.yaml \
      /etc/kubernetes/manifests/kube-controller-manager.yaml /etc/kubernetes/manifests/kube-scheduler.yaml \
      /etc/kubernetes/manifests/kube-vip.yaml
# Give the kubelet time to stop the static pods before their files go.
sleep 3
systemctl stop kubelet || true
rm -rf /etc/kubernetes/pki /var/lib/etcd/member
rm -f /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf \
      /etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf \
      /var/lib/kubelet/config.yaml /var/lib/kubelet/kubeadm-flags.env
"#;

#[cfg(test)]
mod tests;
