//! The only code in this crate that talks to a cluster: a kube client per API server of
//! the cluster (the kubeconfig's, then the control-plane members), with failover when one
//! stops answering, discovery of resource types (cached, re-read when a kind is missing,
//! e.g. right after its CRD was established), and the few verbs an apply needs, on raw
//! JSON objects.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{DeleteParams, GetParams, ListParams, Patch, PatchParams, Preconditions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Status;
use kube::{Client, Config};
use serde_json::Value;

use super::ApplyError;
use crate::error_chain;

/// How fleetform reaches a cluster's API.
#[derive(Clone, Default)]
pub struct Target {
    /// Kubeconfig (YAML); its current context's server is tried first.
    pub kubeconfig: String,
    /// Other URLs of the same cluster's API servers (each control-plane member), tried in
    /// order when the ones before do not answer. Their certificates must name them, as
    /// fleetform's API server certificates name every member.
    pub servers: Vec<String>,
    /// Builds the clients instead, for a cluster behind a jump host.
    pub connector: Option<std::sync::Arc<dyn crate::directory::ApiConnector>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("kubeconfig", &"(sensitive)")
            .field("servers", &self.servers)
            .field("connector", &self.connector.is_some())
            .finish()
    }
}

/// A resource type as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl Resource {
    /// The collection's path, in `namespace` for namespaced types.
    fn path(&self, namespace: &str) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if self.namespaced && !namespace.is_empty() {
            format!("{base}/namespaces/{namespace}/{}", self.plural)
        } else {
            format!("{base}/{}", self.plural)
        }
    }
}

/// Tries after a transient answer (about 15 s in all with the backoff).
const RETRIES: usize = 5;

/// How long one request may take before the next API server is tried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection to one cluster.
pub struct Cluster {
    servers: Vec<(String, Client)>,
    current: AtomicUsize,
    discovery: Mutex<HashMap<String, Option<Arc<Vec<Resource>>>>>,
}

impl Cluster {
    /// Clients for the target's API servers. Nothing is sent yet: the first request finds
    /// a server that answers.
    pub async fn connect(target: &Target) -> Result<Cluster, ApplyError> {
        if let Some(connector) = &target.connector {
            let servers = connector
                .clients(&target.kubeconfig)
                .await
                .map_err(ApplyError::Unreachable)?;
            return Ok(Cluster::from_clients(servers));
        }
        let parsed = Kubeconfig::from_yaml(&target.kubeconfig)
            .map_err(|e| ApplyError::Kubeconfig(e.to_string()))?;
        let config = Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
            .await
            .map_err(|e| ApplyError::Kubeconfig(e.to_string()))?;
        let mut urls = vec![config.cluster_url.to_string()];
        for server in &target.servers {
            let server = server.trim_end_matches('/').to_owned();
            if !urls.iter().any(|u| u.trim_end_matches('/') == server) {
                urls.push(server);
            }
        }
        let mut servers = Vec::new();
        for url in urls {
            let mut config = config.clone();
            config.cluster_url = url
                .parse()
                .map_err(|e| ApplyError::Kubeconfig(format!("invalid server URL {url}: {e}")))?;
            // Waits poll on their own; a refused request is not retried for minutes.
            config.default_retry = false;
            config.connect_timeout = Some(CONNECT_TIMEOUT);
            config.read_timeout = Some(REQUEST_TIMEOUT);
            let client = Client::try_from(config)
                .map_err(|e| ApplyError::Kubeconfig(format!("cannot build a client: {e}")))?;
            servers.push((url.trim_end_matches('/').to_owned(), client));
        }
        Ok(Cluster {
            servers,
            current: AtomicUsize::new(0),
            discovery: Mutex::default(),
        })
    }

    /// A connection through clients built elsewhere (e.g. through SSH port forwards), one
    /// per API server, tried in this order.
    pub fn from_clients(servers: Vec<(String, Client)>) -> Cluster {
        Cluster {
            servers,
            current: AtomicUsize::new(0),
            discovery: Mutex::default(),
        }
    }

    /// Runs `op` against the server in use, moving on to the next one when a server does
    /// not answer at all, and trying again with backoff when the answer says the failure
    /// is transient (429, 500, 503, 504: an etcd leader change, a member starting); any
    /// other answer is final, and so is no server answering (a site that is down should
    /// fail fast, so that the rest of the fleet goes on).
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, ApplyError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut delay = Duration::from_millis(250);
        for attempt in 0.. {
            match self.call_once(&op).await {
                Err(ApplyError::Api(status))
                    if matches!(status.code, 429 | 500 | 503 | 504) && attempt < RETRIES =>
                {
                    tracing::debug!(code = status.code, message = %status.message, "transient answer; trying again");
                }
                other => return other,
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(4));
        }
        unreachable!("the loop returns")
    }

    async fn call_once<T, F, Fut>(&self, op: &F) -> Result<T, ApplyError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let count = self.servers.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for offset in 0..count {
            let index = (start + offset) % count;
            let (url, client) = &self.servers[index];
            match op(client.clone()).await {
                Err(kube::Error::Api(status)) => return Err(ApplyError::Api(status)),
                Err(e) => {
                    tracing::debug!(server = %url, error = %e, "API server did not answer; trying the next");
                    failures.push(format!("{url}: {}", error_chain(&e)));
                }
                Ok(value) => {
                    if index != start {
                        tracing::info!(server = %url, "failed over to another API server");
                        self.current.store(index, Ordering::Relaxed);
                    }
                    return Ok(value);
                }
            }
        }
        Err(ApplyError::Unreachable(failures.join("; ")))
    }

    /// The URL of the API server in use.
    pub fn server(&self) -> &str {
        &self.servers[self.current.load(Ordering::Relaxed) % self.servers.len()].0
    }

    /// The resource type serving `kind` at `group`/`version`; `None` when the cluster does
    /// not serve it. `fresh` reads discovery again (a CRD may have just been established).
    pub async fn resource(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        fresh: bool,
    ) -> Result<Option<Resource>, ApplyError> {
        let key = format!("{group}/{version}");
        let cached = if fresh {
            None
        } else {
            self.discovery.lock().expect("discovery").get(&key).cloned()
        };
        let list = match cached {
            Some(list) => list,
            None => {
                let path = if group.is_empty() {
                    format!("/api/{version}")
                } else {
                    format!("/apis/{group}/{version}")
                };
                let answer = self
                    .call(|c| {
                        let request = http::Request::get(path.clone())
                            .body(Vec::new())
                            .expect("a static request is valid");
                        async move { c.request::<Value>(request).await }
                    })
                    .await;
                let list = match answer {
                    Ok(list) => Some(Arc::new(resources_of(group, version, &list))),
                    Err(ApplyError::Api(status)) if status.code == 404 => None,
                    Err(e) => return Err(e),
                };
                self.discovery
                    .lock()
                    .expect("discovery")
                    .insert(key, list.clone());
                list
            }
        };
        Ok(list.and_then(|l| l.iter().find(|r| r.kind == kind).cloned()))
    }

    /// Server-side apply of `body` (dry run: what it would do, nothing stored).
    pub async fn apply(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
        body: &Value,
        options: ApplyCall<'_>,
    ) -> Result<Value, ApplyError> {
        let mut params = PatchParams::apply(options.field_manager);
        params.force = options.force;
        params.dry_run = options.dry_run;
        let request = kube::core::Request::new(resource.path(namespace));
        self.call(|c| {
            let made = request.patch(name, &params, &Patch::Apply(body));
            async move {
                c.request::<Value>(made.map_err(kube::Error::BuildRequest)?)
                    .await
            }
        })
        .await
    }

    /// The object, or `None` when it does not exist.
    pub async fn get(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ApplyError> {
        let request = kube::core::Request::new(resource.path(namespace));
        let answer = self
            .call(|c| {
                let made = request.get(name, &GetParams::default());
                async move {
                    c.request::<Value>(made.map_err(kube::Error::BuildRequest)?)
                        .await
                }
            })
            .await;
        match answer {
            Ok(object) => Ok(Some(object)),
            Err(ApplyError::Api(status)) if status.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every object of the type in `namespace` (everywhere for cluster-scoped types).
    pub async fn list(
        &self,
        resource: &Resource,
        namespace: &str,
    ) -> Result<Vec<Value>, ApplyError> {
        let request = kube::core::Request::new(resource.path(namespace));
        let list = self
            .call(|c| {
                let made = request.list(&ListParams::default());
                async move {
                    c.request::<Value>(made.map_err(kube::Error::BuildRequest)?)
                        .await
                }
            })
            .await?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// Deletes the object if it is still the one with `uid` (in the background, as kubectl
    /// does); whether it was there.
    pub async fn delete(
        &self,
        resource: &Resource,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Result<bool, ApplyError> {
        let mut params = DeleteParams::background();
        if let Some(uid) = uid {
            params = params.preconditions(Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            });
        }
        let request = kube::core::Request::new(resource.path(namespace));
        let answer = self
            .call(|c| {
                let made = request.delete(name, &params);
                async move {
                    c.request::<Value>(made.map_err(kube::Error::BuildRequest)?)
                        .await
                }
            })
            .await;
        match answer {
            Ok(_) => Ok(true),
            Err(ApplyError::Api(status)) if status.code == 404 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// How one server-side apply request is made.
#[derive(Debug, Clone, Copy)]
pub struct ApplyCall<'a> {
    pub field_manager: &'a str,
    pub force: bool,
    pub dry_run: bool,
}

/// The resource types of an APIResourceList (subresources left out).
fn resources_of(group: &str, version: &str, list: &Value) -> Vec<Resource> {
    list["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let plural = r["name"].as_str()?;
            if plural.contains('/') {
                return None;
            }
            Some(Resource {
                group: group.to_owned(),
                version: version.to_owned(),
                kind: r["kind"].as_str()?.to_owned(),
                plural: plural.to_owned(),
                namespaced: r["namespaced"].as_bool().unwrap_or(true),
            })
        })
        .collect()
}

/// The conflicts a 409 from server-side apply names: `(manager, path)` pairs.
pub fn conflicts(status: &Status) -> Vec<(String, String)> {
    status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .filter(|c| c.reason == "FieldManagerConflict")
        .map(|c| {
            // `conflict with "kubectl-edit" using v1`: the manager is the quoted name.
            let manager = c
                .message
                .split('"')
                .nth(1)
                .unwrap_or(c.message.as_str())
                .to_owned();
            (manager, c.field.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn discovery_lists_and_paths() {
        let list = json!({"resources": [
            {"name": "deployments", "kind": "Deployment", "namespaced": true},
            {"name": "deployments/status", "kind": "Deployment", "namespaced": true},
        ]});
        let found = resources_of("apps", "v1", &list);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].path("web"),
            "/apis/apps/v1/namespaces/web/deployments"
        );
        let ns = Resource {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
            namespaced: false,
        };
        assert_eq!(ns.path("ignored"), "/api/v1/namespaces");
    }

    #[test]
    fn conflicts_name_manager_and_field() {
        let status: Status = serde_json::from_value(json!({
            "code": 409, "reason": "Conflict", "message": "Apply failed",
            "details": {"causes": [
                {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\" using v1", "field": ".data.a"},
                {"reason": "FieldManagerConflict", "message": "conflict with \"flux\"", "field": ".data.b"},
            ]},
        }))
        .unwrap();
        assert_eq!(
            conflicts(&status),
            [
                ("kubectl-edit".to_owned(), ".data.a".to_owned()),
                ("flux".to_owned(), ".data.b".to_owned())
            ]
        );
    }
}
