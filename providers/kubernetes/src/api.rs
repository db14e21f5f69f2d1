//! The cluster's API, through the kube crate with the kubeconfigs the provider issued:
//! waiting for /readyz and for nodes, the RBAC bindings `kubeadm init` creates, and cordon
//! and drain for upgrades.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use fleetform_provider_host::fleet::HostError;
use fleetform_provider_host::ssh::{Forward, Target};
use fleetform_sdk::ProviderError;

use crate::pki::{self, Endpoint};
use crate::remote::ClusterHost;

/// How often waits poll.
const POLL: Duration = Duration::from_millis(500);

/// How this run reaches a cluster's API servers: directly, or, when its control-plane
/// hosts sit behind a jump host (a clinic behind its site's gateway), through SSH port
/// forwards from the first control-plane host, like `ssh -L`. TLS is verified against the
/// cluster CA and the API server's own name either way.
pub struct Reach {
    via: Option<Target>,
    forwards: Mutex<HashMap<(String, u16), Arc<Forward>>>,
}

impl Reach {
    /// Through `host` when it is reached through a jump host, directly otherwise.
    pub fn for_host(host: &ClusterHost) -> Reach {
        Reach {
            via: host.target.bastion.is_some().then(|| host.target.clone()),
            forwards: Mutex::default(),
        }
    }

    /// Where to connect for the API server at `host:port`.
    pub async fn socket(&self, host: &str, port: u16) -> Result<SocketAddr, ProviderError> {
        let Some(via) = &self.via else {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            return tokio::net::lookup_host((bare, port))
                .await
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or_else(|| ProviderError::permanent(format!("cannot resolve {host}")));
        };
        let key = (host.to_owned(), port);
        if let Some(forward) = self.forwards.lock().expect("forwards lock").get(&key) {
            return Ok(forward.local_addr());
        }
        let (target, remote) = (via.clone(), host.to_owned());
        let forward = tokio::task::spawn_blocking(move || Forward::open(target, remote, port))
            .await
            .map_err(|e| ProviderError::permanent(format!("port forward failed: {e}")))?
            .map_err(|e| ProviderError::from(HostError::from(e)))?;
        // Two callers may have opened a forward for the same server at once: the first one
        // kept is used by both, so no client is left pointing at a closed one.
        let mut forwards = self.forwards.lock().expect("forwards lock");
        let kept = forwards.entry(key).or_insert_with(|| Arc::new(forward));
        Ok(kept.local_addr())
    }

    /// A client with `kubeconfig`'s credentials for the API server at `server` (the one
    /// the kubeconfig names when `None`).
    pub async fn client(
        &self,
        kubeconfig: &str,
        server: Option<&Endpoint>,
    ) -> Result<Client, ProviderError> {
        let parsed = Kubeconfig::from_yaml(kubeconfig)
            .map_err(|e| ProviderError::permanent(format!("invalid kubeconfig: {e}")))?;
        let mut config = Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
            .await
            .map_err(|e| ProviderError::permanent(format!("invalid kubeconfig: {e}")))?;
        let endpoint = match server {
            Some(endpoint) => endpoint.clone(),
            None => Endpoint {
                host: config.cluster_url.host().unwrap_or_default().to_owned(),
                port: config.cluster_url.port_u16().unwrap_or(443),
            },
        };
        let url = if self.via.is_some() {
            let local = self.socket(&endpoint.host, endpoint.port).await?;
            config.tls_server_name = Some(
                endpoint
                    .host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            );
            format!("https://{local}")
        } else {
            endpoint.url()
        };
        config.cluster_url = url
            .parse()
            .map_err(|e| ProviderError::permanent(format!("invalid server URL {url}: {e}")))?;
        // The waits here poll and drain retries refused evictions itself; kube's own retry
        // of 429 answers would hold a refused eviction for minutes.
        config.default_retry = false;
        config.connect_timeout = Some(Duration::from_secs(5));
        config.read_timeout = Some(Duration::from_secs(30));
        Client::try_from(config)
            .map_err(|e| ProviderError::permanent(format!("cannot build a Kubernetes client: {e}")))
    }
}

/// Waits until the API server answers /readyz with "ok", or fails with the last answer.
pub async fn wait_ready(
    client: &Client,
    what: &str,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let started = Instant::now();
    loop {
        let last = match readyz(client).await {
            Ok(()) => return Ok(()),
            Err(answer) => answer,
        };
        if started.elapsed() > timeout {
            return Err(ProviderError::transient(format!(
                "{what} did not become ready within {}s: {last}",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A client for the first of `servers` whose API server answers /readyz, trying them in
/// order until one does or `timeout` passes: fleetform's own calls go on when a member
/// (or the virtual IP, before kube-vip has elected a leader) does not answer.
pub async fn first_ready(
    reach: &Reach,
    kubeconfig: &str,
    servers: &[Endpoint],
    timeout: Duration,
) -> Result<Client, ProviderError> {
    let started = Instant::now();
    loop {
        let mut answers = Vec::new();
        for server in servers {
            let client = reach.client(kubeconfig, Some(server)).await?;
            match readyz(&client).await {
                Ok(()) => return Ok(client),
                Err(answer) => answers.push(format!("{}: {answer}", server.url())),
            }
        }
        if started.elapsed() > timeout {
            return Err(ProviderError::transient(format!(
                "no API server of the cluster became ready within {}s: {}",
                timeout.as_secs(),
                answers.join("; ")
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Asks /readyz once: `Ok` for "ok", otherwise what came back.
pub async fn readyz(client: &Client) -> Result<(), String> {
    let request = http::Request::get("/readyz")
        .body(Vec::new())
        .expect("a static request is valid");
    match client.request_text(request).await {
        Ok(body) if body.trim() == "ok" => Ok(()),
        Ok(body) => Err(body.trim().to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// Waits until every node in `names` is registered and Ready.
pub async fn wait_nodes(
    client: &Client,
    names: &[String],
    timeout: Duration,
) -> Result<(), ProviderError> {
    let started = Instant::now();
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let mut missing: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let mut last_error = None;
        match nodes.list(&ListParams::default()).await {
            Ok(list) => {
                for node in &list.items {
                    if is_ready(node) {
                        missing.remove(node.metadata.name.as_deref().unwrap_or_default());
                    }
                }
            }
            Err(e) => last_error = Some(e.to_string()),
        }
        if missing.is_empty() {
            return Ok(());
        }
        if started.elapsed() > timeout {
            let missing: Vec<&str> = missing.into_iter().collect();
            return Err(ProviderError::transient(format!(
                "nodes not registered and Ready within {}s: {}{}",
                timeout.as_secs(),
                missing.join(", "),
                last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The names of the cluster's nodes whose Ready condition is True.
pub async fn ready_nodes(client: &Client) -> Result<BTreeSet<String>, kube::Error> {
    let list = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    Ok(list
        .items
        .iter()
        .filter(|n| is_ready(n))
        .filter_map(|n| n.metadata.name.clone())
        .collect())
}

/// Whether the Node's Ready condition is True.
pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// The bindings `kubeadm init` creates with super-admin.conf: admin.conf's group gets
/// cluster-admin, and the API server's kubelet client gets kubelet API access. Existing
/// bindings are left as they are.
pub async fn bootstrap_rbac(super_admin: &Client) -> Result<(), ProviderError> {
    let bindings: Api<ClusterRoleBinding> = Api::all(super_admin.clone());
    for (name, role, kind, subject) in [
        (
            "kubeadm:cluster-admins",
            "cluster-admin",
            "Group",
            pki::CLUSTER_ADMINS_GROUP,
        ),
        (
            "kubeadm:apiserver-kubelet-client",
            "system:kubelet-api-admin",
            "User",
            pki::APISERVER_KUBELET_CLIENT_USER,
        ),
    ] {
        let binding = ClusterRoleBinding {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: role.into(),
            },
            subjects: Some(vec![Subject {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: kind.into(),
                name: subject.into(),
                namespace: None,
            }]),
        };
        match bindings.create(&PostParams::default(), &binding).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => {
                return Err(ProviderError::transient(format!(
                    "cannot create ClusterRoleBinding {name}: {e}"
                )));
            }
        }
    }
    Ok(())
}

/// Marks a node unschedulable (or schedulable again).
pub async fn cordon(client: &Client, node: &str, unschedulable: bool) -> Result<(), ProviderError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = serde_json::json!({ "spec": { "unschedulable": unschedulable } });
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| ProviderError::transient(format!("cannot cordon node {node}: {e}")))
}

/// Sets a label on a node (kubelets may not give themselves `node-role.kubernetes.io/*`
/// labels; kubeadm sets the control-plane one through the API too).
pub async fn label_node(
    client: &Client,
    node: &str,
    key: &str,
    value: &str,
) -> Result<(), ProviderError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = serde_json::json!({ "metadata": { "labels": { key: value } } });
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| ProviderError::transient(format!("cannot label node {node}: {e}")))
}

/// Deletes a Node object (gone already is fine).
pub async fn delete_node(client: &Client, node: &str) -> Result<(), ProviderError> {
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes.delete(node, &Default::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(ProviderError::transient(format!(
            "cannot delete node {node}: {e}"
        ))),
    }
}

/// Evicts every pod on `node` through the Eviction API, so PodDisruptionBudgets are
/// respected: an eviction the budget refuses (429) is retried until `timeout`. Mirror
/// pods and DaemonSet pods stay, as `kubectl drain --ignore-daemonsets` leaves them.
pub async fn drain(client: &Client, node: &str, timeout: Duration) -> Result<usize, ProviderError> {
    let started = Instant::now();
    let pods: Api<Pod> = Api::all(client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let mut evicted = BTreeSet::new();
    loop {
        let list = pods
            .list(&on_node)
            .await
            .map_err(|e| ProviderError::transient(format!("cannot list pods on {node}: {e}")))?;
        let movable: Vec<&Pod> = list.items.iter().filter(|p| movable(p)).collect();
        if movable.is_empty() {
            return Ok(evicted.len());
        }
        let mut refused = Vec::new();
        for pod in movable {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
            match api.evict(&name, &EvictParams::default()).await {
                Ok(_) => {
                    evicted.insert(format!("{namespace}/{name}"));
                }
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(kube::Error::Api(status)) if status.code == 429 => {
                    refused.push(format!("{namespace}/{name} ({})", status.message));
                }
                Err(e) => {
                    return Err(ProviderError::transient(format!(
                        "cannot evict {namespace}/{name} from {node}: {e}"
                    )));
                }
            }
        }
        if started.elapsed() > timeout {
            return Err(ProviderError::transient(format!(
                "draining {node} did not finish within {}s; disruption budgets still refuse: {}",
                timeout.as_secs(),
                refused.join(", ")
            )));
        }
        tokio::time::sleep(if refused.is_empty() { POLL } else { POLL * 4 }).await;
    }
}

fn movable(pod: &Pod) -> bool {
    let meta = &pod.metadata;
    let mirror = meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    let daemon = meta
        .owner_references
        .as_ref()
        .is_some_and(|owners| owners.iter().any(|o| o.kind == "DaemonSet"));
    !mirror && !daemon
}
