//! Planning, applying and reading the `addon` resource: its configuration becomes a
//! [`Bundle`] (manifests, a source from the cache, rendered address pools and cluster
//! issuer), which the apply library previews with server dry runs at plan time, applies
//! with inventory and prune, and observes at refresh. State keeps the inventory and, per
//! object, the fields fleetform owns, so plans show object-level differences.

pub mod gates;
pub mod issuer;
pub mod pools;
pub mod spec;

use fleetform_sdk::Object;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Diagnostic, Diagnostics, PlanRequest, PlanResponse, ProviderError,
    Value,
};

use crate::apply::{self, ApplyError, Bundle, Cluster, ObjectId, Options, Record, Target};
use crate::directory::ClusterDirectory;
use crate::sources::{self, Cache, Source};
use issuer::IssuerCa;
pub use spec::AddonSpec;

/// The provider block's settings.
#[derive(Clone)]
pub struct Settings {
    pub kubeconfig: Option<String>,
    pub kubeconfig_path: Option<PathBuf>,
    pub field_manager: String,
    pub drift_managers: Vec<String>,
    pub source_mirror: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            kubeconfig: None,
            kubeconfig_path: None,
            field_manager: "fleetform".into(),
            drift_managers: vec!["kubectl".into()],
            source_mirror: None,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "kubeconfig",
                &self.kubeconfig.as_ref().map(|_| "(sensitive)"),
            )
            .field("kubeconfig_path", &self.kubeconfig_path)
            .field("field_manager", &self.field_manager)
            .finish_non_exhaustive()
    }
}

/// What an operation on an addon works with.
pub struct Context<'a> {
    pub settings: &'a Settings,
    pub cache: &'a Cache,
    pub clusters: &'a dyn ClusterDirectory,
}

/// The label of a pod network's DaemonSets (see `pod_network`).
pub const POD_NETWORK_LABEL: &str = "fleetform.io/pod-network";

/// Attributes the provider computes.
const COMPUTED: [&str; 5] = [
    "objects",
    "inventory",
    "not_owned",
    "certificate_expiry",
    "issuer_ca",
];

impl Context<'_> {
    fn options(&self, spec: &AddonSpec) -> Options {
        Options {
            field_manager: self.settings.field_manager.clone(),
            force_conflicts: spec.force_conflicts,
            drift_managers: self.settings.drift_managers.clone(),
            prune: spec.prune,
            wait: spec.wait,
            timeout: spec.timeout,
            ..Options::default()
        }
    }

    /// How to reach the addon's cluster; `None` while that is known only after apply.
    fn target(&self, spec: &AddonSpec) -> Result<Option<Target>, ProviderError> {
        let mut target = if let Some(id) = &spec.cluster {
            let facts = self.clusters.cluster(id).ok_or_else(|| {
                ProviderError::permanent(format!(
                    "no cluster {id:?} in this configuration or its state"
                ))
            })?;
            let Some(kubeconfig) = facts.kubeconfig else {
                return Ok(None);
            };
            Target {
                kubeconfig,
                servers: facts.servers,
                connector: facts.connector,
            }
        } else if let Some(kubeconfig) = &spec.kubeconfig {
            Target {
                kubeconfig: kubeconfig.clone(),
                servers: Vec::new(),
                connector: None,
            }
        } else if let Some(kubeconfig) = &self.settings.kubeconfig {
            Target {
                kubeconfig: kubeconfig.clone(),
                servers: Vec::new(),
                connector: None,
            }
        } else if let Some(path) = &self.settings.kubeconfig_path {
            let kubeconfig = std::fs::read_to_string(path).map_err(|e| {
                ProviderError::permanent(format!("cannot read kubeconfig {}: {e}", path.display()))
            })?;
            Target {
                kubeconfig,
                servers: Vec::new(),
                connector: None,
            }
        } else {
            return Err(ProviderError::permanent(
                "the addon names no cluster: set `cluster` (a fleetform cluster's id) or `kubeconfig`, \
                 or a kubeconfig in the provider block",
            ));
        };
        target.servers.extend(spec.api_servers.iter().cloned());
        Ok(Some(target))
    }

    /// The addon's bundle; the cluster issuer's Secret only when its CA is known.
    fn bundle(
        &self,
        spec: &AddonSpec,
        issuer_ca: Option<&IssuerCa>,
        warnings: &mut Vec<String>,
    ) -> Result<Bundle, ProviderError> {
        let mut texts: Vec<(String, String)> = spec
            .manifests
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("manifests[{i}]"), text.clone()))
            .collect();
        if let Some(source) = &spec.source {
            texts.extend(
                sources::load(source, self.cache)
                    .map_err(|e| ProviderError::permanent(e.to_string()))?,
            );
        }
        texts.extend(pools::render(&spec.address_pools, &spec.namespace));
        if let Some(issuer) = &spec.issuer {
            // Before its CA is issued (at apply) only the ClusterIssuer can be previewed.
            texts.extend(issuer::render(issuer, issuer_ca, &spec.namespace));
        }
        let mut bundle = Bundle::from_yaml(&texts, &spec.namespace)
            .map_err(|e| ProviderError::permanent(e.to_string()))?;
        for pattern in bundle.exclude(&spec.exclude) {
            warnings.push(format!(
                "exclude {pattern:?} matches no object of the bundle"
            ));
        }
        if spec.pod_network {
            // How the cluster's plans tell that a pod network runs.
            for object in &mut bundle.objects {
                if object.id.group == "apps" && object.id.kind == "DaemonSet" {
                    object.body["metadata"]["labels"][POD_NETWORK_LABEL] = "true".into();
                }
            }
        }
        Ok(bundle)
    }
}

fn object(value: &Value) -> BTreeMap<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn provider_error(e: ApplyError) -> ProviderError {
    match e {
        ApplyError::Unreachable(_) => ProviderError::unreachable(e.to_string()),
        ApplyError::NotReady { .. } => ProviderError::transient(e.to_string()),
        ApplyError::Api(ref status) if status.code == 429 || status.code >= 500 => {
            ProviderError::transient(e.to_string())
        }
        other => ProviderError::permanent(other.to_string()),
    }
}

fn spec_of(value: &Value) -> Result<Option<AddonSpec>, ProviderError> {
    spec::read(value).map_err(|diags| {
        let first = diags.iter().next();
        ProviderError::permanent(first.map_or_else(
            || "invalid addon configuration".to_owned(),
            |d| format!("{}: {}", d.summary, d.detail),
        ))
    })
}

/// The planned object: defaults filled in, then the server's dry run of the bundle.
pub async fn plan(ctx: &Context<'_>, request: &PlanRequest) -> Result<PlanResponse, ProviderError> {
    let config = &request.config;
    // A known kubeconfig is an existing cluster's, which its own plan checks live.
    let cluster = config.get("cluster");
    if config.get("pod_network").as_bool() == Some(true)
        && !(cluster.is_null() && config.get("kubeconfig").as_str().is_some())
    {
        ctx.clusters.pod_network_planned(cluster.as_str());
    }
    let mut planned = object(&request.proposed);
    planned.insert(
        "id".into(),
        config
            .get("name")
            .as_str()
            .map_or(Value::Unknown, Value::from),
    );
    let mut defaults = |name: &str, value: Value| {
        if config.get(name).is_null() {
            planned.insert(name.into(), value);
        }
    };
    defaults("namespace", Value::from(spec::DEFAULT_NAMESPACE));
    defaults("prune", Value::Bool(true));
    defaults("wait", Value::Bool(true));
    defaults("timeout", Value::from(spec::DEFAULT_TIMEOUT));
    if let Some(block) = config.get("cluster_issuer").as_object() {
        let mut block = block.clone();
        for (name, default) in [
            ("validity", spec::DEFAULT_ISSUER_VALIDITY),
            ("renew_before", spec::DEFAULT_ISSUER_RENEW_BEFORE),
        ] {
            if block.get(name).is_none_or(Value::is_null) {
                block.insert(name.into(), Value::from(default));
            }
        }
        planned.insert("cluster_issuer".into(), Value::Object(block.into()));
    }
    for name in COMPUTED {
        planned.insert(name.into(), Value::Unknown);
    }
    let Some(spec) = spec_of(&Value::Object(planned.clone().into()))? else {
        return Ok(PlanResponse::new(Value::Object(planned.into())));
    };
    let mut warnings = Vec::new();
    // The issuer's CA: kept while it is not due, issued again at apply otherwise.
    let prior_ca = request
        .prior
        .as_ref()
        .and_then(|p| IssuerCa::from_state(p.get("issuer_ca")));
    let kept_ca = match (&spec.issuer, prior_ca) {
        (Some(issuer), Some(ca)) if !ca.due(issuer.renew_before, SystemTime::now()) => {
            planned.insert("issuer_ca".into(), ca.to_state());
            planned.insert(
                "certificate_expiry".into(),
                Value::object([(issuer.name.clone(), Value::from(ca.not_after.clone()))]),
            );
            Some(ca)
        }
        (Some(issuer), _) => {
            planned.insert(
                "certificate_expiry".into(),
                Value::object([(issuer.name.clone(), Value::Unknown)]),
            );
            None
        }
        (None, _) => {
            planned.insert("issuer_ca".into(), Value::Null);
            planned.insert("certificate_expiry".into(), Value::Object(Object::new()));
            None
        }
    };
    let bundle = ctx.bundle(&spec, kept_ca.as_ref(), &mut warnings)?;
    let Some(target) = ctx.target(&spec)? else {
        let mut response = PlanResponse::new(Value::Object(planned.into()));
        response.warnings = warnings;
        return Ok(response);
    };
    let prior = request.prior.as_ref().map(records_of).unwrap_or_default();
    let cluster = Cluster::connect(&target).await.map_err(provider_error)?;
    let preview = apply::preview(&cluster, &bundle, &prior, &ctx.options(&spec))
        .await
        .map_err(provider_error)?;
    let mut records = preview.records;
    if let (Some(issuer), None) = (&spec.issuer, &kept_ca) {
        records.push(Record {
            id: issuer_secret(issuer, &spec.namespace),
            uid: None,
            managed: None,
        });
    }
    set_records(&mut planned, &records);
    planned.insert(
        "not_owned".into(),
        preview.not_owned.map_or(Value::Unknown, strings),
    );
    warnings.extend(preview.warnings);
    let mut response = PlanResponse::new(Value::Object(planned.into()));
    response.warnings = warnings;
    Ok(response)
}

fn issuer_secret(issuer: &spec::IssuerSpec, namespace: &str) -> ObjectId {
    ObjectId {
        group: String::new(),
        version: "v1".into(),
        kind: "Secret".into(),
        namespace: namespace.to_owned(),
        name: issuer.name.clone(),
    }
}

fn strings(items: Vec<String>) -> Value {
    let mut items = items;
    items.sort();
    items.dedup();
    Value::List(items.into_iter().map(Value::from).collect())
}

/// The inventory recorded in an addon's state.
pub fn records_of(state: &Value) -> Vec<Record> {
    let objects = state.get("objects");
    state
        .get("inventory")
        .as_list()
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            let field = |name: &str| entry.get(name).as_str().map(str::to_owned);
            let id = ObjectId {
                group: field("group")?,
                version: field("version")?,
                kind: field("kind")?,
                namespace: field("namespace")?,
                name: field("name")?,
            };
            let managed = objects
                .get(&id.key())
                .as_str()
                .and_then(|json| serde_json::from_str(json).ok());
            Some(Record {
                uid: field("uid").filter(|u| !u.is_empty()),
                managed,
                id,
            })
        })
        .collect()
}

/// Writes `inventory` and `objects` from records (unknown parts stay unknown).
fn set_records(state: &mut BTreeMap<String, Value>, records: &[Record]) {
    let mut objects = BTreeMap::new();
    let mut inventory = Vec::new();
    for record in records {
        let id = &record.id;
        let managed = match &record.managed {
            Some(json) => {
                let text = Value::from(json.to_string());
                if id.is_secret() {
                    text.into_sensitive()
                } else {
                    text
                }
            }
            None => Value::Unknown,
        };
        objects.insert(id.key(), managed);
        inventory.push(Value::object([
            ("group", Value::from(id.group.clone())),
            ("version", Value::from(id.version.clone())),
            ("kind", Value::from(id.kind.clone())),
            ("namespace", Value::from(id.namespace.clone())),
            ("name", Value::from(id.name.clone())),
            (
                "uid",
                record.uid.clone().map_or(Value::Unknown, Value::from),
            ),
        ]));
    }
    state.insert("objects".into(), Value::Object(objects.into()));
    state.insert("inventory".into(), Value::List(inventory));
}

/// Applies a planned change (or deletes, when `planned` is none).
pub async fn apply(ctx: &Context<'_>, request: ApplyRequest) -> ApplyResponse {
    let prior = request.prior.clone();
    let result = match &request.planned {
        None => destroy(ctx, prior.as_ref()).await,
        Some(planned) => converge(ctx, prior.as_ref(), planned).await,
    };
    match result {
        Ok(state) => ApplyResponse {
            new_state: state,
            error: None,
        },
        Err((state, e)) => ApplyResponse {
            new_state: state.or(prior),
            error: Some(e),
        },
    }
}

type Applied = Result<Option<Value>, (Option<Value>, ProviderError)>;

async fn converge(ctx: &Context<'_>, prior: Option<&Value>, planned: &Value) -> Applied {
    let fail = |e: ProviderError| (None, e);
    let spec = spec_of(planned).map_err(fail)?.ok_or_else(|| {
        fail(ProviderError::permanent(
            "the addon's configuration is not wholly known at apply",
        ))
    })?;
    let target = ctx.target(&spec).map_err(fail)?.ok_or_else(|| {
        fail(ProviderError::permanent(
            "the addon's cluster has no kubeconfig yet at apply",
        ))
    })?;
    let mut state = object(planned);
    let ca = match &spec.issuer {
        Some(issuer) => {
            let ca = match IssuerCa::from_state(planned.get("issuer_ca")) {
                Some(ca) => ca,
                None => issue(ctx, &spec, issuer).map_err(fail)?,
            };
            state.insert("issuer_ca".into(), ca.to_state());
            state.insert(
                "certificate_expiry".into(),
                Value::object([(issuer.name.clone(), Value::from(ca.not_after.clone()))]),
            );
            Some(ca)
        }
        None => None,
    };
    let mut warnings = Vec::new();
    let bundle = ctx
        .bundle(&spec, ca.as_ref(), &mut warnings)
        .map_err(fail)?;
    let prior_records = prior.map(records_of).unwrap_or_default();
    let cluster = Cluster::connect(&target)
        .await
        .map_err(|e| fail(provider_error(e)))?;
    let outcome = apply::apply(&cluster, &bundle, &prior_records, &ctx.options(&spec)).await;
    for warning in warnings.iter().chain(&outcome.warnings) {
        tracing::warn!(addon = %spec.name, "{warning}");
    }
    set_records(&mut state, &outcome.records);
    state.insert("not_owned".into(), strings(outcome.not_owned));
    let state = Value::Object(state.into());
    match outcome.error {
        None => Ok(Some(state)),
        Some(e) => Err((Some(state), provider_error(e))),
    }
}

fn issue(
    ctx: &Context<'_>,
    spec: &AddonSpec,
    issuer: &spec::IssuerSpec,
) -> Result<IssuerCa, ProviderError> {
    let cluster = spec.cluster.as_deref().unwrap_or_default();
    let issued = ctx
        .clusters
        .issue_ca(cluster, &issuer.name, issuer.validity)
        .map_err(|e| {
            ProviderError::permanent(format!("cannot issue the cluster issuer's CA: {e}"))
        })?;
    Ok(IssuerCa {
        certificate_chain: issued.certificate_chain,
        private_key: issued.private_key,
        not_after: issuer::rfc3339(issued.not_after),
    })
}

async fn destroy(ctx: &Context<'_>, prior: Option<&Value>) -> Applied {
    let Some(prior) = prior else { return Ok(None) };
    let records = records_of(prior);
    if records.is_empty() {
        return Ok(None);
    }
    let keep = |e: ProviderError| (Some(prior.clone()), e);
    let spec = spec_of(prior)
        .map_err(keep)?
        .ok_or_else(|| keep(ProviderError::permanent("the recorded addon is incomplete")))?;
    let target = ctx.target(&spec).map_err(keep)?.ok_or_else(|| {
        keep(ProviderError::permanent(
            "the addon's cluster has no kubeconfig",
        ))
    })?;
    let cluster = Cluster::connect(&target)
        .await
        .map_err(|e| keep(provider_error(e)))?;
    match apply::destroy(&cluster, &records, &ctx.options(&spec)).await {
        Ok(()) => Ok(None),
        Err((remaining, e)) => {
            let mut state = object(prior);
            set_records(&mut state, &remaining);
            Err((Some(Value::Object(state.into())), provider_error(e)))
        }
    }
}

/// Refreshes an addon: what its objects hold now (fields changed by hand show as
/// differences), which still exist, and who else owns what.
pub async fn read(ctx: &Context<'_>, current: Value) -> Result<Option<Value>, ProviderError> {
    let Ok(Some(spec)) = spec::read(&current) else {
        return Ok(Some(current));
    };
    let Some(target) = ctx.target(&spec)? else {
        return Ok(Some(current));
    };
    let ca = IssuerCa::from_state(current.get("issuer_ca"));
    // The bundle tells which fields edited by hand are fleetform's; without it (a source
    // no longer cached) edits show as fields fleetform stopped owning.
    let bundle = ctx.bundle(&spec, ca.as_ref(), &mut Vec::new()).ok();
    let cluster = Cluster::connect(&target).await.map_err(provider_error)?;
    let observed = apply::observe(
        &cluster,
        &records_of(&current),
        bundle.as_ref(),
        &ctx.options(&spec),
    )
    .await
    .map_err(provider_error)?;
    let mut state = object(&current);
    set_records(&mut state, &observed.records);
    state.insert("not_owned".into(), strings(observed.not_owned));
    Ok(Some(Value::Object(state.into())))
}

/// Fetches the addon's URL source into the cache (`fleetform init`).
pub async fn init(ctx: &Context<'_>, config: &Value) -> (Vec<String>, Diagnostics) {
    let mut diags = Diagnostics::new();
    // Only the source matters here: the cluster it goes to may be known only after apply.
    let source = config.get("source");
    if !source.is_wholly_known() || source.is_null() {
        return (Vec::new(), diags);
    }
    let Some(Source::Url { url, sha256 }) = spec::read_source(source, &mut diags) else {
        return (Vec::new(), diags);
    };
    let source = Source::Url {
        url: url.clone(),
        sha256: sha256.clone(),
    };
    let mut messages = Vec::new();
    match sources::fetch(&source, ctx.cache, ctx.settings.source_mirror.as_deref()).await {
        Ok(sources::Fetched::AlreadyCached) => {
            messages.push(format!("- {url}: in the cache (sha256 {sha256})"));
        }
        Ok(sources::Fetched::Downloaded { from, bytes }) => {
            messages.push(format!(
                "- {url}: fetched {bytes} bytes from {from}, sha256 verified"
            ));
        }
        Err(e) => diags.push(
            Diagnostic::error("Add-on source not fetched", e.to_string()).attribute("source"),
        ),
    }
    (messages, diags)
}
