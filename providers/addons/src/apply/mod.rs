//! The in-cluster apply library: a [`Bundle`] of Kubernetes objects in, an inventory of
//! [`Record`]s out. The `addon` resource and the cluster's essential add-ons put objects
//! into clusters with it (and it is the API meant for the Arc agents and direct-mode GitOps
//! objects); it knows nothing of resources, state or the engine.
//!
//! - Server-side apply with one field manager; Namespaces and CRDs first (waiting until
//!   each CRD is Established), then every other kind in dependency order, admission
//!   webhooks last; deletes in reverse.
//! - Each applied object is recorded with its uid and the part of it the field manager
//!   owns (its *projection*, see [`fields`]): comparing projections shows exactly the
//!   fields fleetform manages, so defaults the server fills in never look like changes.
//! - [`preview`] asks the server what an apply would do (`dryRun=All`); [`observe`]
//!   reads what the cluster holds now; objects that left the bundle are pruned.
//! - Conflicts: a field fleetform applies that a *drift manager* (by default any
//!   `kubectl…` manager: edits by hand) changed is taken back; a field another manager
//!   owns (a controller, Flux, Arc's agents) is left to it and reported, unless
//!   `force_conflicts` takes it.
//! - Waits: Deployments available, DaemonSets scheduled, StatefulSets ready, Jobs
//!   complete ([`ready`]), bounded by a timeout whose error names what is not ready.
//!
//! ```no_run
//! # async fn example(kubeconfig: String) -> Result<(), fleetform_provider_addons::apply::ApplyError> {
//! use fleetform_provider_addons::apply::{self, Bundle, Cluster, Options, Target};
//!
//! let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: red}\n";
//! let bundle = Bundle::from_yaml(&[("settings.yaml".into(), yaml.into())], "default")?;
//! let cluster = Cluster::connect(&Target { kubeconfig, servers: Vec::new() }).await?;
//! let outcome = apply::apply(&cluster, &bundle, &[], &Options::default()).await;
//! assert!(outcome.error.is_none());
//! // Later: the same bundle without the ConfigMap prunes it.
//! let outcome = apply::apply(&cluster, &Bundle::default(), &outcome.records, &Options::default()).await;
//! assert!(outcome.records.is_empty());
//! # Ok(())
//! # }
//! ```

pub mod bundle;
pub mod client;
pub mod fields;
pub mod ready;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

pub use bundle::{Bundle, BundleError, Object, ObjectId};
use client::ApplyCall;
pub use client::{Cluster, Resource, Target};
use ready::Readiness;

/// How long waits sleep between looks.
const POLL: Duration = Duration::from_millis(500);

/// How an apply behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server-side apply field manager.
    pub field_manager: String,
    /// Take fields other managers own.
    pub force_conflicts: bool,
    /// Managers (name prefixes) whose changes to fields fleetform applies are drift that
    /// the next apply undoes.
    pub drift_managers: Vec<String>,
    /// Delete recorded objects that left the bundle (otherwise they are forgotten).
    pub prune: bool,
    /// Wait for workloads to become ready after applying.
    pub wait: bool,
    /// Longest wait for readiness, CRDs and deletions.
    pub timeout: Duration,
    /// Requests at once.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            field_manager: "fleetform".into(),
            force_conflicts: false,
            drift_managers: vec!["kubectl".into()],
            prune: true,
            wait: true,
            timeout: Duration::from_secs(300),
            concurrency: 8,
        }
    }
}

impl Options {
    fn is_drift_manager(&self, manager: &str) -> bool {
        manager != self.field_manager
            && self
                .drift_managers
                .iter()
                .any(|prefix| manager.starts_with(prefix.as_str()))
    }
}

/// An object as the inventory records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: ObjectId,
    /// `None` when not known yet (an object a plan would create).
    pub uid: Option<String>,
    /// The fields the field manager owns, with their values (`None`: known after apply).
    pub managed: Option<Value>,
}

/// Why an apply, plan or read failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApplyError {
    #[error("no API server of the cluster answers: {0}")]
    Unreachable(String),
    #[error("invalid kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("{}", .0.message)]
    Api(Box<kube::core::Status>),
    #[error("{object}: {message}")]
    Object { object: String, message: String },
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(
        "timed out after {}s waiting for: {}",
        .timeout.as_secs(),
        .waiting.join("; ")
    )]
    NotReady {
        timeout: Duration,
        waiting: Vec<String>,
    },
}

impl ApplyError {
    fn about(self, id: &ObjectId) -> ApplyError {
        match self {
            ApplyError::Api(status) => ApplyError::Object {
                object: id.describe(),
                message: status.message.clone(),
            },
            other => other,
        }
    }
}

/// What an apply would do, from the server's dry run.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// The bundle's objects in apply order, as they would be recorded.
    pub records: Vec<Record>,
    /// Recorded objects no longer in the bundle.
    pub prune: Vec<ObjectId>,
    /// Fields of these objects other managers own (`None`: known after apply).
    pub not_owned: Option<Vec<String>>,
    pub warnings: Vec<String>,
}

/// What an apply did. On failure the records still hold everything applied, so that
/// nothing created is forgotten.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub records: Vec<Record>,
    pub not_owned: Vec<String>,
    pub warnings: Vec<String>,
    pub error: Option<ApplyError>,
}

/// What the cluster holds of recorded objects now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The recorded objects that still exist, with what their owned fields hold now.
    pub records: Vec<Record>,
    pub not_owned: Vec<String>,
}

/// An object's resource type, or `None` when its kind comes from a CRD of the bundle that
/// is not established yet.
type Resolved = Vec<Option<Resource>>;

/// Looks up every object's resource type and settles namespaces by the kinds' scopes.
async fn resolve(
    cluster: &Cluster,
    bundle: &mut Bundle,
    fresh: bool,
) -> Result<Resolved, ApplyError> {
    let pending = bundle.crd_scopes();
    let mut resolved = Vec::new();
    let mut scopes = BTreeMap::new();
    for object in &bundle.objects {
        let id = &object.id;
        let resource = cluster
            .resource(&id.group, &id.version, &id.kind, fresh)
            .await?;
        let resource = match resource {
            Some(r) => Some(r),
            // Discovery is cached: look again once before giving up on the kind.
            None if !fresh => {
                cluster
                    .resource(&id.group, &id.version, &id.kind, true)
                    .await?
            }
            None => None,
        };
        let kind = format!("{}/{}", id.group, id.kind);
        match &resource {
            Some(r) => {
                scopes.insert(kind, r.namespaced);
            }
            None if pending.contains_key(&kind) => {}
            None => {
                return Err(ApplyError::Object {
                    object: id.describe(),
                    message: format!(
                        "the cluster serves no {} in {} and no CRD of this bundle defines it",
                        id.kind,
                        id.api_version()
                    ),
                });
            }
        }
        resolved.push(resource);
    }
    bundle.settle_scopes(&scopes);
    bundle.check_unique()?;
    Ok(resolved)
}

/// Resolves the bundle's kinds again until every one is served (or the apply's time is
/// up): a real API server adds an Established CRD's kinds to discovery a moment later.
async fn resolve_once_served(
    cluster: &Cluster,
    bundle: &mut Bundle,
    started: Instant,
    timeout: Duration,
) -> Result<Resolved, ApplyError> {
    loop {
        let resolved = resolve(cluster, bundle, true).await?;
        if resolved.iter().all(Option::is_some) || started.elapsed() >= timeout {
            return Ok(resolved);
        }
        tracing::debug!("waiting for discovery to serve the kinds of newly established CRDs");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A server-side apply that resolves conflicts as [`Options`] says: drift is taken back,
/// other managers' fields are left out (or taken with `force_conflicts`).
struct Applied {
    object: Value,
    left: Vec<String>,
}

async fn server_side_apply(
    cluster: &Cluster,
    resource: &Resource,
    object: &Object,
    options: &Options,
    dry_run: bool,
) -> Result<Applied, ApplyError> {
    let id = &object.id;
    let mut body = object.body.clone();
    let mut force = options.force_conflicts;
    let mut left = Vec::new();
    // Each round settles the conflicts the server named; a third round cannot be needed
    // unless the object changes meanwhile.
    for _ in 0..3 {
        let call = ApplyCall {
            field_manager: &options.field_manager,
            force,
            dry_run,
        };
        let answer = cluster
            .apply(resource, &id.namespace, &id.name, &body, call)
            .await;
        let status = match answer {
            Ok(object) => return Ok(Applied { object, left }),
            Err(ApplyError::Api(status)) if status.code == 409 => status,
            Err(e) => return Err(e.about(id)),
        };
        let conflicts = client::conflicts(&status);
        if conflicts.is_empty() {
            return Err(ApplyError::Api(status).about(id));
        }
        for (manager, path) in conflicts {
            if options.is_drift_manager(&manager) {
                tracing::debug!(object = %id.describe(), %path, %manager, "changed by hand: taking it back");
                force = true;
                continue;
            }
            let removed = fields::parse_path(&path).is_some_and(|p| fields::remove(&mut body, &p));
            if !removed {
                return Err(ApplyError::Api(status).about(id));
            }
            left.push(format!(
                "{} {path} is managed by {manager:?}: left as it is (force_conflicts = true takes it)",
                id.describe()
            ));
        }
    }
    Err(ApplyError::Object {
        object: id.describe(),
        message: "the object kept changing while it was applied".into(),
    })
}

fn record(id: &ObjectId, object: &Value, options: &Options, known_uid: bool) -> Record {
    let owned = fields::applied_by(object, &options.field_manager);
    Record {
        id: id.clone(),
        uid: known_uid
            .then(|| object["metadata"]["uid"].as_str().map(str::to_owned))
            .flatten(),
        managed: Some(fields::project(object, &owned)),
    }
}

/// Fields of `object` that managers other than fleetform own, as `Kind ns/name .path
/// (manager)` (status writers left out).
fn not_owned(id: &ObjectId, object: &Value, options: &Options) -> Vec<String> {
    let ours = fields::applied_by(object, &options.field_manager);
    let mut out = Vec::new();
    for manager in fields::managers(object) {
        let own = manager.name == options.field_manager && manager.operation == "Apply";
        if own || manager.subresource.as_deref() == Some("status") {
            continue;
        }
        for leaf in manager.fields.leaves() {
            if !ours.contains(&leaf) {
                out.push(format!(
                    "{} {} ({})",
                    id.describe(),
                    fields::path_string(&leaf),
                    manager.name
                ));
            }
        }
    }
    out
}

/// What applying `bundle` over `prior` would do, asked of the server with dry runs.
/// Objects that cannot be dry-run yet (their namespace or CRD comes with this apply) are
/// known after apply.
pub async fn preview(
    cluster: &Cluster,
    bundle: &Bundle,
    prior: &[Record],
    options: &Options,
) -> Result<Preview, ApplyError> {
    let mut bundle = bundle.clone();
    bundle.sort();
    let resolved = resolve(cluster, &mut bundle, false).await?;
    let recorded: BTreeSet<String> = prior.iter().map(|r| r.id.key()).collect();
    let runs = (0..bundle.objects.len()).map(|i| dry_run(cluster, &bundle, &resolved, i, options));
    let answers: Vec<Result<(&Object, Option<Applied>), ApplyError>> = futures::stream::iter(runs)
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    let mut preview = Preview {
        not_owned: Some(Vec::new()),
        ..Preview::default()
    };
    for answer in answers {
        let (object, applied) = answer?;
        let Some(applied) = applied else {
            preview.records.push(Record {
                id: object.id.clone(),
                uid: None,
                managed: None,
            });
            preview.not_owned = None;
            continue;
        };
        let known = recorded.contains(&object.id.key());
        preview
            .records
            .push(record(&object.id, &applied.object, options, known));
        if let Some(list) = &mut preview.not_owned {
            list.extend(not_owned(&object.id, &applied.object, options));
        }
        preview.warnings.extend(applied.left);
    }
    let keys: BTreeSet<String> = bundle.objects.iter().map(|o| o.id.key()).collect();
    preview.prune = prior
        .iter()
        .filter(|r| !keys.contains(&r.id.key()))
        .map(|r| r.id.clone())
        .collect();
    Ok(preview)
}

/// The server's dry run of object `i`; `None` when it cannot be dry-run yet (its kind or
/// namespace comes with this apply).
async fn dry_run<'b>(
    cluster: &Cluster,
    bundle: &'b Bundle,
    resolved: &Resolved,
    i: usize,
    options: &Options,
) -> Result<(&'b Object, Option<Applied>), ApplyError> {
    let object = &bundle.objects[i];
    let Some(resource) = &resolved[i] else {
        return Ok((object, None));
    };
    match server_side_apply(cluster, resource, object, options, true).await {
        Ok(applied) => Ok((object, Some(applied))),
        Err(ApplyError::Object { .. } | ApplyError::Api(_))
            if namespace_missing(cluster, object, bundle).await =>
        {
            Ok((object, None))
        }
        Err(e) => Err(e),
    }
}

/// Whether a failed dry run was for want of a namespace this bundle creates.
async fn namespace_missing(cluster: &Cluster, object: &Object, bundle: &Bundle) -> bool {
    let ns = &object.id.namespace;
    if ns.is_empty() || bundle.get(&format!("/Namespace//{ns}")).is_none() {
        return false;
    }
    let Ok(Some(namespaces)) = cluster.resource("", "v1", "Namespace", false).await else {
        return false;
    };
    matches!(cluster.get(&namespaces, "", ns).await, Ok(None))
}

/// Applies `bundle` over what `prior` records: foundations (Namespaces, CRDs) first, then
/// the rest rank by rank, then prunes what left the bundle and waits for readiness.
pub async fn apply(
    cluster: &Cluster,
    bundle: &Bundle,
    prior: &[Record],
    options: &Options,
) -> Outcome {
    let mut records: BTreeMap<String, Record> =
        prior.iter().map(|r| (r.id.key(), r.clone())).collect();
    let mut outcome = Outcome::default();
    let mut live: BTreeMap<String, (ObjectId, Value)> = BTreeMap::new();
    let result = apply_all(
        cluster,
        bundle,
        options,
        &mut records,
        &mut live,
        &mut outcome,
    )
    .await;
    let mut bundle = bundle.clone();
    bundle.sort();
    // Records in the bundle's order, then any left over (a failed prune).
    let mut ordered = Vec::new();
    for object in &bundle.objects {
        if let Some(r) = records.remove(&object.id.key()) {
            ordered.push(r);
        }
    }
    ordered.extend(records.into_values());
    outcome.records = ordered;
    for (id, object) in live.values() {
        outcome.not_owned.extend(not_owned(id, object, options));
    }
    outcome.error = result.err();
    outcome
}

async fn apply_all(
    cluster: &Cluster,
    bundle: &Bundle,
    options: &Options,
    records: &mut BTreeMap<String, Record>,
    live: &mut BTreeMap<String, (ObjectId, Value)>,
    outcome: &mut Outcome,
) -> Result<(), ApplyError> {
    let started = Instant::now();
    let mut bundle = bundle.clone();
    bundle.sort();
    let mut resolved = resolve(cluster, &mut bundle, false).await?;
    let foundations: Vec<usize> = (0..bundle.objects.len())
        .filter(|&i| bundle::is_foundation(&bundle.objects[i].id))
        .collect();
    apply_group(
        cluster,
        &bundle,
        &resolved,
        &foundations,
        options,
        records,
        live,
        outcome,
    )
    .await?;
    let crds: Vec<&Object> = bundle
        .objects
        .iter()
        .filter(|o| o.id.kind == "CustomResourceDefinition" && o.id.group == "apiextensions.k8s.io")
        .collect();
    if !crds.is_empty() {
        wait_ready(cluster, &crds, started, options.timeout).await?;
        resolved = resolve_once_served(cluster, &mut bundle, started, options.timeout).await?;
    }
    let mut ranks: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, object) in bundle.objects.iter().enumerate() {
        if !bundle::is_foundation(&object.id) {
            ranks.entry(bundle::rank(&object.id)).or_default().push(i);
        }
    }
    for group in ranks.values() {
        apply_group(
            cluster, &bundle, &resolved, group, options, records, live, outcome,
        )
        .await?;
    }
    prune(cluster, &bundle, options, records, outcome).await?;
    if options.wait {
        let waiting: Vec<&Object> = bundle
            .objects
            .iter()
            .filter(|o| ready::has_readiness(&o.id) && o.id.kind != "CustomResourceDefinition")
            .collect();
        wait_ready(cluster, &waiting, started, options.timeout).await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn apply_group(
    cluster: &Cluster,
    bundle: &Bundle,
    resolved: &Resolved,
    indices: &[usize],
    options: &Options,
    records: &mut BTreeMap<String, Record>,
    live: &mut BTreeMap<String, (ObjectId, Value)>,
    outcome: &mut Outcome,
) -> Result<(), ApplyError> {
    let runs = indices
        .iter()
        .copied()
        .map(|i| apply_one(cluster, bundle, resolved, i, options));
    let answers: Vec<(&Object, Result<Applied, ApplyError>)> = futures::stream::iter(runs)
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let mut first_error = None;
    for (object, answer) in answers {
        match answer {
            Ok(applied) => {
                let key = object.id.key();
                tracing::debug!(object = %object.id.describe(), "applied");
                records.insert(
                    key.clone(),
                    record(&object.id, &applied.object, options, true),
                );
                live.insert(key, (object.id.clone(), applied.object));
                outcome.warnings.extend(applied.left);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn apply_one<'b>(
    cluster: &Cluster,
    bundle: &'b Bundle,
    resolved: &Resolved,
    i: usize,
    options: &Options,
) -> (&'b Object, Result<Applied, ApplyError>) {
    let object = &bundle.objects[i];
    let Some(resource) = &resolved[i] else {
        let message = "its kind is still not served after its CRD was established".into();
        return (
            object,
            Err(ApplyError::Object {
                object: object.id.describe(),
                message,
            }),
        );
    };
    (
        object,
        server_side_apply(cluster, resource, object, options, false).await,
    )
}

/// Deletes (or, without `prune`, forgets) recorded objects that left the bundle, in
/// reverse apply order.
async fn prune(
    cluster: &Cluster,
    bundle: &Bundle,
    options: &Options,
    records: &mut BTreeMap<String, Record>,
    outcome: &mut Outcome,
) -> Result<(), ApplyError> {
    let keys: BTreeSet<String> = bundle.objects.iter().map(|o| o.id.key()).collect();
    let mut gone: Vec<Record> = records
        .values()
        .filter(|r| !keys.contains(&r.id.key()))
        .cloned()
        .collect();
    if !options.prune {
        for record in gone {
            outcome.warnings.push(format!(
                "{} left the bundle and stays in the cluster (prune = false); it is no longer tracked",
                record.id.describe()
            ));
            records.remove(&record.id.key());
        }
        return Ok(());
    }
    gone.sort_by_key(|r| std::cmp::Reverse(bundle::rank(&r.id)));
    for record in gone {
        delete_record(cluster, &record, outcome).await?;
        records.remove(&record.id.key());
    }
    Ok(())
}

async fn delete_record(
    cluster: &Cluster,
    record: &Record,
    outcome: &mut Outcome,
) -> Result<(), ApplyError> {
    let id = &record.id;
    let Some(resource) = cluster
        .resource(&id.group, &id.version, &id.kind, false)
        .await?
    else {
        // Its type is gone (its CRD was deleted), and the object with it.
        return Ok(());
    };
    match cluster
        .delete(&resource, &id.namespace, &id.name, record.uid.as_deref())
        .await
    {
        Ok(_) => {
            tracing::debug!(object = %id.describe(), "deleted");
            Ok(())
        }
        Err(ApplyError::Api(status)) if status.code == 409 => {
            outcome.warnings.push(format!(
                "{} was replaced by another object of the same name since fleetform applied it; left in place",
                id.describe()
            ));
            Ok(())
        }
        Err(e) => Err(e.about(id)),
    }
}

/// Waits until every object in `objects` is ready, or fails naming those that are not
/// once `timeout` has passed since `started` (the apply's start).
async fn wait_ready(
    cluster: &Cluster,
    objects: &[&Object],
    started: Instant,
    timeout: Duration,
) -> Result<(), ApplyError> {
    let mut pending: Vec<&Object> = objects.to_vec();
    loop {
        let ids: Vec<&ObjectId> = pending.iter().map(|o| &o.id).collect();
        let mut waiting = Vec::new();
        let mut still = Vec::new();
        for (index, readiness) in look(cluster, &ids).await? {
            let id = ids[index];
            match readiness {
                Readiness::Failed(why) => {
                    return Err(ApplyError::Object {
                        object: id.describe(),
                        message: format!("failed: {why}"),
                    });
                }
                Readiness::Waiting(why) => waiting.push(format!("{} ({why})", id.describe())),
                Readiness::Ready => continue,
            }
            still.push(pending[index]);
        }
        if still.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(ApplyError::NotReady { timeout, waiting });
        }
        tracing::debug!(waiting = ?waiting, "waiting for readiness");
        tokio::time::sleep(POLL).await;
        pending = still;
    }
}

/// One look at the objects `ids` in the cluster: those not ready, as `describe()` and why
/// (an object that failed, a Job say, says so).
pub async fn not_ready(cluster: &Cluster, ids: &[ObjectId]) -> Result<Vec<String>, ApplyError> {
    let refs: Vec<&ObjectId> = ids.iter().collect();
    Ok(look(cluster, &refs)
        .await?
        .into_iter()
        .map(|(index, readiness)| {
            let why = match readiness {
                Readiness::Failed(why) => format!("failed: {why}"),
                Readiness::Waiting(why) => why,
                Readiness::Ready => String::new(),
            };
            format!("{} ({why})", ids[index].describe())
        })
        .collect())
}

/// Reads each of `ids` once; returns the index and readiness of each that is not ready.
async fn look(cluster: &Cluster, ids: &[&ObjectId]) -> Result<Vec<(usize, Readiness)>, ApplyError> {
    let mut found = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        let Some(resource) = cluster
            .resource(&id.group, &id.version, &id.kind, false)
            .await?
        else {
            found.push((index, Readiness::Waiting("its kind is not served".into())));
            continue;
        };
        let readiness = match cluster.get(&resource, &id.namespace, &id.name).await? {
            Some(object) => ready::check(id, &object),
            None => Readiness::Waiting("it does not exist".into()),
        };
        if readiness != Readiness::Ready {
            found.push((index, readiness));
        }
    }
    Ok(found)
}

/// Reads what the cluster holds of `recorded` objects: their owned fields now (with fields
/// a drift manager took from fleetform counted as fleetform's, so that an edit by hand
/// shows as a change of value), their uids, and who else owns what. Objects that no
/// longer exist are left out. `bundle` is what fleetform applies, when known.
pub async fn observe(
    cluster: &Cluster,
    recorded: &[Record],
    bundle: Option<&Bundle>,
    options: &Options,
) -> Result<Observed, ApplyError> {
    // One list per type and namespace.
    let mut groups: BTreeMap<(String, String, String, String), Vec<&Record>> = BTreeMap::new();
    for record in recorded {
        let id = &record.id;
        groups
            .entry((
                id.group.clone(),
                id.version.clone(),
                id.kind.clone(),
                id.namespace.clone(),
            ))
            .or_default()
            .push(record);
    }
    let mut found: BTreeMap<String, Value> = BTreeMap::new();
    for ((group, version, kind, namespace), members) in &groups {
        let Some(resource) = cluster.resource(group, version, kind, false).await? else {
            continue;
        };
        let objects = if members.len() == 1 {
            let id = &members[0].id;
            cluster
                .get(&resource, &id.namespace, &id.name)
                .await?
                .into_iter()
                .collect()
        } else {
            cluster.list(&resource, namespace).await?
        };
        for object in objects {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            if let Some(record) = members.iter().find(|r| r.id.name == name) {
                found.insert(record.id.key(), object);
            }
        }
    }
    let mut observed = Observed::default();
    for record in recorded {
        let Some(object) = found.get(&record.id.key()) else {
            continue;
        };
        let mut owned = fields::applied_by(object, &options.field_manager);
        if let Some(desired) = bundle.and_then(|b| b.get(&record.id.key())) {
            for manager in fields::managers(object) {
                if !options.is_drift_manager(&manager.name) {
                    continue;
                }
                for leaf in manager.fields.leaves() {
                    if fields::get(&desired.body, &leaf).is_some() {
                        owned = owned.union(&single(&leaf));
                    }
                }
            }
        }
        observed.records.push(Record {
            id: record.id.clone(),
            uid: object["metadata"]["uid"].as_str().map(str::to_owned),
            managed: Some(fields::project(object, &owned)),
        });
        observed
            .not_owned
            .extend(not_owned(&record.id, object, options));
    }
    Ok(observed)
}

fn single(path: &[fields::Step]) -> fields::FieldSet {
    let mut set = fields::FieldSet {
        member: true,
        children: Vec::new(),
    };
    for step in path.iter().rev() {
        set = fields::FieldSet {
            member: false,
            children: vec![(step.clone(), set)],
        };
    }
    set
}

/// Deletes every recorded object in reverse apply order and waits until they are gone.
/// On failure, returns the records of objects that may still exist.
pub async fn destroy(
    cluster: &Cluster,
    recorded: &[Record],
    options: &Options,
) -> Result<(), (Vec<Record>, ApplyError)> {
    let mut order: Vec<&Record> = recorded.iter().collect();
    order.sort_by_key(|r| std::cmp::Reverse(bundle::rank(&r.id)));
    let mut outcome = Outcome::default();
    let mut deleted = Vec::new();
    for record in &order {
        if let Err(e) = delete_record(cluster, record, &mut outcome).await {
            let remaining = order
                .iter()
                .filter(|r| !deleted.contains(&r.id.key()))
                .map(|r| (*r).clone())
                .collect();
            return Err((remaining, e));
        }
        deleted.push(record.id.key());
    }
    let started = Instant::now();
    loop {
        let mut present = Vec::new();
        for record in &order {
            let id = &record.id;
            let Ok(Some(resource)) = cluster
                .resource(&id.group, &id.version, &id.kind, false)
                .await
            else {
                continue;
            };
            match cluster.get(&resource, &id.namespace, &id.name).await {
                Ok(Some(object))
                    if record.uid.is_none()
                        || object["metadata"]["uid"].as_str() == record.uid.as_deref() =>
                {
                    present.push((*record).clone());
                }
                Ok(_) => {}
                Err(e) => return Err((order.iter().map(|r| (*r).clone()).collect(), e)),
            }
        }
        if present.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= options.timeout {
            let waiting = present
                .iter()
                .map(|r| format!("{} (being deleted)", r.id.describe()))
                .collect();
            return Err((
                present,
                ApplyError::NotReady {
                    timeout: options.timeout,
                    waiting,
                },
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}
