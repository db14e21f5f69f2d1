//! The `addons` provider: bundles of Kubernetes objects (monitoring, logging, load
//! balancing, certificate management...) applied to a cluster through its API with
//! server-side apply, tracked by an inventory so that objects dropped from a bundle are
//! pruned and fields changed by hand show as drift.
//!
//! - [`apply`]: the in-cluster apply library (a bundle in, an inventory out), which the
//!   kubernetes provider's essential add-ons use too.
//! - [`sources`]: manifests pinned by SHA-256, fetched at `init` into a content-addressed
//!   cache that plans and applies read.
//! - [`addon`]: the `addon` resource, including MetalLB address pools and a cert-manager
//!   cluster issuer; [`directory`] is what it learns of fleetform's clusters.

pub mod addon;
pub mod apply;
pub mod config;
pub mod directory;
pub mod resources;
pub mod sources;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, ConfigureRequest, Diagnostics, GateRequest, GateStatus,
    InitRequest, InitResponse, PlanRequest, PlanResponse, Provider, ProviderError, ProviderSchema,
    ReadRequest, ValidateRequest, Value,
};

use addon::Settings;
use addon::pools::{self, KnownPool};
use directory::{ClusterDirectory, NoClusters};
use sources::Cache;

/// The provider's name, as written in `provider "addons" {}`.
pub const NAME: &str = "addons";

/// Where the source cache lives, relative to the working directory.
pub const CACHE_DIR: &str = ".fleetform/sources";

/// The built-in `addons` provider.
pub struct AddonsProvider {
    cache: Cache,
    clusters: Arc<dyn ClusterDirectory>,
    settings: RwLock<Settings>,
    /// Every address pool the run has seen, for the fleet-wide overlap check.
    pools: Mutex<Vec<KnownPool>>,
    /// Sources `init` has dealt with: one fetch (and one message) per source, however
    /// many addons share it.
    initialized: tokio::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl AddonsProvider {
    /// A provider caching sources in `cache_dir` and learning of clusters from
    /// `clusters` (the kubernetes provider).
    pub fn new(
        cache_dir: impl Into<PathBuf>,
        clusters: Arc<dyn ClusterDirectory>,
    ) -> AddonsProvider {
        AddonsProvider {
            cache: Cache::new(cache_dir),
            clusters,
            settings: RwLock::new(Settings::default()),
            pools: Mutex::default(),
            initialized: tokio::sync::Mutex::default(),
        }
    }

    /// The source cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    fn settings(&self) -> Settings {
        self.settings.read().expect("settings lock").clone()
    }

    /// Checks an addon's address pools and remembers them for the next addons' checks.
    fn check_pools(&self, config: &Value) -> Diagnostics {
        let pools_value = config.get("address_pools");
        let Some(pools) = pools_value
            .as_object()
            .filter(|_| pools_value.is_wholly_known())
        else {
            return Diagnostics::new();
        };
        let pools: std::collections::BTreeMap<String, Vec<String>> = pools
            .iter()
            .map(|(name, ranges)| (name.clone(), ranges.strings()))
            .collect();
        let cluster = config.get("cluster").as_str().map(str::to_owned);
        let addon = config.get("name").as_str().unwrap_or_default().to_owned();
        let facts = cluster.as_deref().and_then(|id| self.clusters.cluster(id));
        let mut known = self.pools.lock().expect("pools lock");
        let others: Vec<KnownPool> = match &cluster {
            Some(id) => known
                .iter()
                .filter(|p| !(p.cluster == *id && p.addon == addon))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let (ranges, diags) = pools::check(&pools, facts.as_ref(), &others);
        if let Some(id) = cluster {
            known.retain(|p| !(p.cluster == id && p.addon == addon));
            known.extend(ranges.into_iter().map(|(pool, range)| KnownPool {
                cluster: id.clone(),
                addon: addon.clone(),
                pool,
                range,
            }));
        }
        diags
    }

    fn context<'a>(&'a self, settings: &'a Settings) -> addon::Context<'a> {
        addon::Context {
            settings,
            cache: &self.cache,
            clusters: self.clusters.as_ref(),
        }
    }
}

impl Default for AddonsProvider {
    fn default() -> Self {
        AddonsProvider::new(CACHE_DIR, Arc::new(NoClusters))
    }
}

#[async_trait::async_trait]
impl Provider for AddonsProvider {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: config::schema(),
            resources: [("addon".to_owned(), resources::addon::schema())]
                .into_iter()
                .collect(),
            data_sources: Default::default(),
        }
    }

    fn validate_resource(&self, request: &ValidateRequest) -> Diagnostics {
        if request.type_name != "addon" {
            return Diagnostics::new();
        }
        let mut diags = addon::spec::validate(&request.config);
        diags.extend(self.check_pools(&request.config));
        diags
    }

    fn observe(&self, type_name: &str, state: &Value) {
        if type_name == "addon" {
            // Recorded pools count in the fleet-wide check even when this run leaves
            // their addon out (-target).
            let _ = self.check_pools(state);
        }
    }

    async fn configure(&self, request: ConfigureRequest) -> Result<(), ProviderError> {
        let config = &request.config;
        let mut settings = Settings {
            kubeconfig: config.get("kubeconfig").as_str().map(str::to_owned),
            kubeconfig_path: config.get("kubeconfig_path").as_str().map(PathBuf::from),
            source_mirror: config.get("source_mirror").as_str().map(str::to_owned),
            ..Settings::default()
        };
        if let Some(manager) = config.get("field_manager").as_str() {
            if manager.is_empty() || manager.len() > 128 {
                return Err(ProviderError::permanent(
                    "field_manager must be 1 to 128 characters",
                ));
            }
            settings.field_manager = manager.to_owned();
        }
        if config.get("drift_managers").as_list().is_some() {
            settings.drift_managers = config.get("drift_managers").strings();
        }
        *self.settings.write().expect("settings lock") = settings;
        Ok(())
    }

    async fn init_resource(&self, request: InitRequest) -> InitResponse {
        if request.type_name != "addon" {
            return InitResponse::default();
        }
        let settings = self.settings();
        let mut done = self.initialized.lock().await;
        let source = request.config.get("source").to_json().to_string();
        if done.contains(&source) {
            return InitResponse::default();
        }
        let (messages, diagnostics) = addon::init(&self.context(&settings), &request.config).await;
        if !diagnostics.has_errors() {
            done.insert(source);
        }
        InitResponse {
            messages,
            diagnostics,
        }
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, ProviderError> {
        match request.type_name.as_str() {
            "addon" => {
                let settings = self.settings();
                addon::plan(&self.context(&settings), &request).await
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        match request.type_name.as_str() {
            "addon" => {
                let settings = self.settings();
                addon::apply(&self.context(&settings), request).await
            }
            other => ApplyResponse {
                new_state: request.prior,
                error: Some(unknown_type(other)),
            },
        }
    }

    fn health_gates(&self, type_name: &str) -> &'static [&'static str] {
        match type_name {
            "addon" => addon::gates::GATES,
            _ => &[],
        }
    }

    async fn check_gates(&self, request: GateRequest) -> Result<Vec<GateStatus>, ProviderError> {
        match request.type_name.as_str() {
            "addon" => {
                let settings = self.settings();
                addon::gates::check(&self.context(&settings), &request.state, &request.gates).await
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        match request.type_name.as_str() {
            "addon" => {
                let settings = self.settings();
                addon::read(&self.context(&settings), request.current).await
            }
            other => Err(unknown_type(other)),
        }
    }
}

#[cfg(test)]
mod tests;

/// An error with its causes, for messages (transport errors hide the useful part there).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn unknown_type(type_name: &str) -> ProviderError {
    ProviderError::permanent(format!(
        "the {NAME} provider has no resource type {type_name:?}"
    ))
}
