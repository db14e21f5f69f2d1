//! The `kubernetes` provider: conformant Kubernetes clusters bootstrapped on fleet hosts.
//! It manages the `cluster` resource (PKI, control plane with stacked etcd, endpoint,
//! versions, kubeconfig, certificate expiry and renewal), `node_pool` (Linux or Windows
//! workers) and the `cluster_kubeconfig` data source.
//!
//! It works on hosts through the host provider's [`Fleet`]: the same connections, the same
//! file convergence. Nothing here speaks SSH or renders shell text of its own.

pub mod api;
pub mod cluster;
pub mod config;
pub mod data;
pub mod directory;
pub mod health;
pub mod issuer;
pub mod node_pool;
pub mod pki;
pub mod remote;
pub mod render;
pub mod resources;
pub mod static_pods;
pub mod tls;
pub mod version;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use fleetform_provider_host::Fleet;
use fleetform_sdk::{
    ApplyRequest, ApplyResponse, ConfigureRequest, Diagnostics, GateRequest, GateStatus,
    PlanRequest, PlanResponse, Provider, ProviderError, ProviderSchema, ReadDataRequest,
    ReadRequest, ValidateRequest, Value, parse_duration,
};

/// The provider's name, as written in `provider "kubernetes" {}`.
pub const NAME: &str = "kubernetes";

/// The provider block's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Longest wait for an API server or node to become ready.
    pub wait_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            wait_timeout: Duration::from_secs(600),
        }
    }
}

/// The built-in `kubernetes` provider.
pub struct KubernetesProvider {
    fleet: Arc<Fleet>,
    settings: RwLock<Settings>,
    /// The latest known object of every cluster, by id (recorded, planned or applied):
    /// node pools join through it.
    clusters: RwLock<HashMap<String, Value>>,
    /// The latest known object of every node pool, by id: their hosts are the clusters'
    /// nodes too (see `directory.rs`).
    pools: RwLock<HashMap<String, Value>>,
    /// How add-ons reach clusters behind a jump host, by cluster id: kept for the run so
    /// their SSH port forwards stay open between calls.
    connectors: std::sync::Mutex<HashMap<String, Arc<directory::ForwardedApi>>>,
    /// Which clusters this run's plan creates and which add-ons give pod networks, for
    /// the plan's warning about a new cluster without one.
    pod_networks: std::sync::Mutex<cluster::PodNetworks>,
}

impl KubernetesProvider {
    /// A provider working on `fleet`'s hosts (shared with the host provider).
    pub fn new(fleet: Arc<Fleet>) -> KubernetesProvider {
        KubernetesProvider {
            fleet,
            settings: RwLock::new(Settings::default()),
            clusters: RwLock::default(),
            pools: RwLock::default(),
            connectors: Default::default(),
            pod_networks: Default::default(),
        }
    }

    fn settings(&self) -> Settings {
        self.settings.read().expect("settings lock").clone()
    }

    fn remember_cluster(&self, value: &Value) {
        if let Some(id) = value.get("id").as_str() {
            self.clusters
                .write()
                .expect("clusters lock")
                .insert(id.to_owned(), value.clone());
        }
    }

    fn remember_pool(&self, value: &Value) {
        if directory::is_pool(value)
            && let Some(id) = value.get("id").as_str()
        {
            self.pools
                .write()
                .expect("pools lock")
                .insert(id.to_owned(), value.clone());
        }
    }

    /// What the plan learned of pod networks (a panic elsewhere while it was held leaves
    /// it as it was: sets of names, never half-updated).
    fn pod_networks(&self) -> std::sync::MutexGuard<'_, cluster::PodNetworks> {
        self.pod_networks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cluster_of(&self, pool: &Value) -> Option<Value> {
        let id = pool.get("cluster").as_str()?;
        self.clusters
            .read()
            .expect("clusters lock")
            .get(id)
            .cloned()
    }
}

impl Default for KubernetesProvider {
    fn default() -> Self {
        KubernetesProvider::new(Fleet::new())
    }
}

#[async_trait::async_trait]
impl Provider for KubernetesProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: config::schema(),
            resources: [
                ("cluster", resources::cluster::schema()),
                ("node_pool", resources::node_pool::schema()),
            ]
            .into_iter()
            .map(|(name, schema)| (name.to_owned(), schema))
            .collect(),
            data_sources: [("cluster_kubeconfig", data::cluster_kubeconfig::schema())]
                .into_iter()
                .map(|(name, schema)| (name.to_owned(), schema))
                .collect(),
        }
    }

    fn validate_resource(&self, request: &ValidateRequest) -> Diagnostics {
        match request.type_name.as_str() {
            "cluster" => cluster::validate(&self.fleet, &request.config),
            "node_pool" => node_pool::validate(&self.fleet, &request.config),
            _ => Diagnostics::new(),
        }
    }

    fn health(&self, type_name: &str, value: &Value) -> Option<fleetform_sdk::Health> {
        match type_name {
            "cluster" => Some(health::cluster(value)),
            "node_pool" => Some(health::node_pool(value, self.cluster_of(value).as_ref())),
            _ => None,
        }
    }

    fn observe(&self, type_name: &str, state: &Value) {
        match type_name {
            "cluster" => self.remember_cluster(state),
            "node_pool" => self.remember_pool(state),
            _ => {}
        }
    }

    async fn configure(&self, request: ConfigureRequest) -> Result<(), ProviderError> {
        let mut settings = Settings::default();
        if let Some(text) = request.config.get("wait_timeout").as_str() {
            settings.wait_timeout = parse_duration(text)
                .map_err(|e| ProviderError::permanent(format!("wait_timeout: {e}")))?;
        }
        *self.settings.write().expect("settings lock") = settings;
        Ok(())
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, ProviderError> {
        match request.type_name.as_str() {
            "cluster" => {
                let mut response = cluster::plan(&self.fleet, &request, SystemTime::now())?;
                self.remember_cluster(&response.planned);
                if request.prior.is_none()
                    && let Some(id) = response.planned.get("id").as_str()
                {
                    self.pod_networks().created(id);
                }
                if let Some(prior) = &request.prior
                    && let Some(warning) = cluster::pod_network_warning(&self.fleet, prior).await
                {
                    response.warnings.push(warning);
                }
                Ok(response)
            }
            "node_pool" => {
                let response = node_pool::plan(
                    &request,
                    self.cluster_of(&request.config).as_ref(),
                    SystemTime::now(),
                )?;
                self.remember_pool(&response.planned);
                Ok(response)
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        match request.type_name.as_str() {
            "cluster" => {
                let response = cluster::apply(&self.fleet, &self.settings(), request).await;
                if let Some(state) = &response.new_state {
                    self.remember_cluster(state);
                }
                response
            }
            "node_pool" => {
                let cluster = request
                    .planned
                    .as_ref()
                    .or(request.prior.as_ref())
                    .and_then(|pool| self.cluster_of(pool));
                let response =
                    node_pool::apply(&self.fleet, &self.settings(), request, cluster).await;
                if let Some(state) = &response.new_state {
                    self.remember_pool(state);
                }
                response
            }
            other => ApplyResponse {
                new_state: request.prior,
                error: Some(unknown_type(other)),
            },
        }
    }

    async fn read_data(&self, request: ReadDataRequest) -> Result<Value, ProviderError> {
        match request.type_name.as_str() {
            "cluster_kubeconfig" => {
                let cluster = self.cluster_of(&request.config).ok_or_else(|| {
                    ProviderError::permanent(format!(
                        "no cluster {:?} in this configuration's state",
                        request.config.get("cluster").as_str().unwrap_or_default()
                    ))
                })?;
                let mut out = request.config.as_object().cloned().unwrap_or_default();
                for (from, to) in [
                    ("admin_kubeconfig", "kubeconfig"),
                    ("endpoint", "endpoint"),
                    ("ca_certificate", "ca_certificate"),
                ] {
                    out.insert(to.into(), cluster.get(from).clone());
                }
                Ok(Value::Object(out.into()))
            }
            other => Err(unknown_type(other)),
        }
    }

    fn plan_diagnostics(&self) -> Diagnostics {
        self.pod_networks().warnings()
    }

    fn health_gates(&self, type_name: &str) -> &'static [&'static str] {
        match type_name {
            "cluster" => cluster::gates::GATES,
            _ => &[],
        }
    }

    async fn check_gates(&self, request: GateRequest) -> Result<Vec<GateStatus>, ProviderError> {
        match request.type_name.as_str() {
            "cluster" => cluster::gates::check(&self.fleet, &request.state, &request.gates).await,
            other => Err(ProviderError::permanent(format!(
                "{other} reports no health gates"
            ))),
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        match request.type_name.as_str() {
            "cluster" => cluster::read(&self.fleet, request.current).await,
            "node_pool" => {
                let cluster = self.cluster_of(&request.current);
                node_pool::refresh(&self.fleet, request.current, cluster.as_ref()).await
            }
            other => Err(unknown_type(other)),
        }
    }
}

#[cfg(test)]
mod tests;

fn unknown_type(type_name: &str) -> ProviderError {
    ProviderError::permanent(format!(
        "the {NAME} provider has no resource type {type_name:?}"
    ))
}
