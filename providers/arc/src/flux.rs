//! `gitops_configuration`: a Flux Git source and its kustomizations, through Arc
//! (fluxConfigurations 2025-04-01, PUT as create-or-update and DELETE, both long-running)
//! or directly in the cluster (GitRepository and Kustomization objects applied
//! server-side, the ones no longer declared pruned; an unreachable cluster defers them).

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use fleetform_sdk::{
    ApplyRequest, ApplyResponse, CancellationToken, Diagnostic, Diagnostics, PlanRequest,
    PlanResponse, ProviderError, Value,
};
use serde_json::{Value as Json, json};

use crate::deferral;
use crate::failure::{Failure, respond};
use crate::in_cluster::{InClusterError, ObjectRef};
use crate::session::Session;
use crate::values::{attributes, json_string, same, string};

/// The api-version of Microsoft.KubernetesConfiguration/fluxConfigurations.
pub const API_VERSION: &str = "2025-04-01";
/// Where the Flux objects go unless `namespace` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "flux-system";
/// Flux's source API.
pub const SOURCE_API: &str = "source.toolkit.fluxcd.io/v1";
/// Flux's kustomize API.
pub const KUSTOMIZE_API: &str = "kustomize.toolkit.fluxcd.io/v1";

/// True when the configuration is applied directly (it names a kubeconfig, no cluster).
pub fn is_direct(config: &Value) -> bool {
    config.get("cluster_id").is_null() && !config.get("kubeconfig").is_null()
}

/// Checks what the schema cannot: one mode, one kind of Git reference, and dependencies
/// that name kustomizations of this configuration.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let (arc, direct) = (
        !config.get("cluster_id").is_null(),
        !config.get("kubeconfig").is_null(),
    );
    if arc == direct {
        diags.push(
            Diagnostic::error(
                "One mode per Flux configuration",
                "Set cluster_id to configure Flux through Azure Arc, or kubeconfig to apply the Flux objects directly into a cluster (a site without Arc), not both or neither.",
            )
            .attribute(if arc { "kubeconfig" } else { "cluster_id" }),
        );
    }
    let repo = config.get("git_repository");
    let refs: Vec<&str> = ["branch", "tag", "semver"]
        .into_iter()
        .filter(|r| !repo.get(r).is_null())
        .collect();
    if refs.len() > 1 {
        diags.push(
            Diagnostic::error(
                "Ambiguous Git reference",
                format!(
                    "Set one of branch, tag or semver, not {}.",
                    refs.join(" and ")
                ),
            )
            .attribute(format!("git_repository.{}", refs[1])),
        );
    }
    if !repo.get("commit").is_null() && repo.get("branch").is_null() {
        diags.push(
            Diagnostic::error(
                "A commit needs its branch",
                "Flux checks a commit out of a branch: set branch too.",
            )
            .attribute("git_repository.commit"),
        );
    }
    if let Some(kustomizations) = config.get("kustomization").as_object() {
        for (name, k) in kustomizations {
            for dependency in k.get("depends_on").strings() {
                if !kustomizations.contains_key(&dependency) {
                    diags.push(
                        Diagnostic::error(
                            "Unknown kustomization dependency",
                            format!("kustomization {name:?} depends on {dependency:?}, which this configuration does not declare."),
                        )
                        .attribute(format!("kustomization.{name}.depends_on")),
                    );
                }
            }
        }
    }
    diags
}

/// Plans a create or update: defaults, and what ARM or the cluster will report.
pub fn plan(request: &PlanRequest) -> PlanResponse {
    let mut planned = attributes(&request.proposed);
    let direct = is_direct(&request.config);
    for (name, default) in [("namespace", DEFAULT_NAMESPACE), ("scope", "cluster")] {
        if request.config.get(name).is_null() && planned.get(name).is_none_or(Value::is_unknown) {
            planned.insert(name.into(), default.into());
        }
    }
    if let Some(Value::Object(repo)) = planned.get_mut("git_repository") {
        for name in ["sync_interval_in_seconds", "timeout_in_seconds"] {
            if repo.get(name).is_none_or(|v| v.is_unknown() || v.is_null()) {
                repo.insert(name.into(), Value::from(600));
            }
        }
    }
    if let Some(Value::Object(kustomizations)) = planned.get_mut("kustomization") {
        for k in kustomizations.values_mut() {
            let Value::Object(k) = k else { continue };
            for (name, default) in [
                ("path", Value::from("")),
                ("sync_interval_in_seconds", Value::from(600)),
                ("timeout_in_seconds", Value::from(600)),
                ("prune", Value::from(false)),
                ("force", Value::from(false)),
                ("wait", Value::from(true)),
            ] {
                if k.get(name).is_none_or(|v| v.is_unknown() || v.is_null()) {
                    k.insert(name.into(), default);
                }
            }
            if k.get("retry_interval_in_seconds")
                .is_none_or(Value::is_unknown)
            {
                let sync = k
                    .get("sync_interval_in_seconds")
                    .cloned()
                    .unwrap_or(Value::Null);
                k.insert("retry_interval_in_seconds".into(), sync);
            }
        }
    }
    let mut response = PlanResponse::new(Value::Null);
    let computed = [
        "compliance_state",
        "provisioning_state",
        "source_synced_commit_id",
        "repository_public_key",
    ];
    let proposed = Value::Object(planned.clone().into());
    let content_changes = request.prior.as_ref().is_none_or(|p| {
        !same(
            p,
            &proposed,
            &["git_repository", "kustomization", "suspend"],
        )
    });
    if request.prior.is_none() {
        planned.insert("id".into(), Value::Unknown);
    }
    if content_changes {
        for name in computed {
            planned.insert(name.into(), Value::Unknown);
        }
    }
    if direct {
        for name in [
            "provisioning_state",
            "source_synced_commit_id",
            "repository_public_key",
        ] {
            if request.prior.is_none() || content_changes {
                planned.insert(name.into(), Value::Null);
            }
        }
        if let Some(warning) = deferral::plan(&mut planned, request.prior.as_ref(), content_changes)
        {
            response.warnings.push(warning);
        }
        if content_changes || request.prior.as_ref().is_some_and(deferral::is_deferred) {
            planned.insert("applied_objects".into(), Value::Unknown);
        }
    } else {
        for name in [
            deferral::STATE,
            deferral::SINCE,
            deferral::REASON,
            "applied_objects",
        ] {
            planned.insert(name.into(), Value::Null);
        }
        if request.prior.is_some() && request.config.get("cluster_id").is_unknown() {
            response.warnings.push(
                "its cluster is being re-connected, which deletes this Flux configuration in Azure; it is re-created on the new connection".into(),
            );
        }
    }
    response.planned = Value::Object(planned.into());
    response
}

fn seconds(value: &Value, name: &str) -> Option<i64> {
    value.get(name).as_i64()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn repository_ref(repo: &Value) -> Json {
    let mut r = json!({});
    for name in ["branch", "tag", "semver", "commit"] {
        if let Some(v) = repo.get(name).as_str() {
            r[name] = json!(v);
        }
    }
    r
}

fn kustomizations(planned: &Value) -> BTreeMap<String, Value> {
    attributes(planned.get("kustomization"))
}

/// The ARM body (FluxConfiguration) of a PUT.
pub fn arm_body(planned: &Value) -> Json {
    let repo = planned.get("git_repository");
    let mut git = json!({
        "url": repo.get("url").as_str().unwrap_or_default(),
        "repositoryRef": repository_ref(repo),
    });
    for (name, field) in [
        ("sync_interval_in_seconds", "syncIntervalInSeconds"),
        ("timeout_in_seconds", "timeoutInSeconds"),
    ] {
        if let Some(v) = seconds(repo, name) {
            git[field] = json!(v);
        }
    }
    if let Some(user) = repo.get("https_user").as_str() {
        git["httpsUser"] = json!(user);
    }
    if let Some(ca) = repo.get("https_ca_cert").as_str() {
        git["httpsCACert"] = json!(b64(ca));
    }
    if let Some(hosts) = repo.get("ssh_known_hosts").as_str() {
        git["sshKnownHosts"] = json!(b64(hosts));
    }
    let mut ks = serde_json::Map::new();
    for (name, k) in kustomizations(planned) {
        let mut body = json!({
            "path": k.get("path").as_str().unwrap_or_default(),
            "prune": k.get("prune").as_bool().unwrap_or(false),
            "force": k.get("force").as_bool().unwrap_or(false),
            "wait": k.get("wait").as_bool().unwrap_or(true),
            "dependsOn": k.get("depends_on").strings(),
        });
        for (attr, field) in [
            ("sync_interval_in_seconds", "syncIntervalInSeconds"),
            ("timeout_in_seconds", "timeoutInSeconds"),
            ("retry_interval_in_seconds", "retryIntervalInSeconds"),
        ] {
            if let Some(v) = seconds(&k, attr) {
                body[field] = json!(v);
            }
        }
        ks.insert(name, body);
    }
    let mut properties = json!({
        "scope": planned.get("scope").as_str().unwrap_or("cluster"),
        "namespace": planned.get("namespace").as_str().unwrap_or(DEFAULT_NAMESPACE),
        "sourceKind": "GitRepository",
        "suspend": planned.get("suspend").as_bool().unwrap_or(false),
        "gitRepository": git,
        "kustomizations": Json::Object(ks),
    });
    let mut protected = serde_json::Map::new();
    if let Some(key) = repo.get("https_key").as_str() {
        protected.insert("httpsKey".into(), json!(b64(key)));
    }
    if let Some(key) = repo.get("ssh_private_key").as_str() {
        protected.insert("sshPrivateKey".into(), json!(b64(key)));
    }
    if !protected.is_empty() {
        properties["configurationProtectedSettings"] = Json::Object(protected);
    }
    json!({"properties": properties})
}

/// `base` with what ARM reports: the id and the reconciliation's state. The arguments
/// stay as configured: ARM echoes them (intervals, defaults) in its own shapes.
fn with_resource(base: &Value, resource: &Json) -> Value {
    let mut out = attributes(base);
    let props = &resource["properties"];
    out.insert("id".into(), json_string(&resource["id"]));
    for (name, field) in [
        ("compliance_state", "complianceState"),
        ("provisioning_state", "provisioningState"),
        ("source_synced_commit_id", "sourceSyncedCommitId"),
        ("repository_public_key", "repositoryPublicKey"),
    ] {
        out.insert(name.into(), json_string(&props[field]));
    }
    // Unset and false both mean "reconciling"; a suspension made in Azure is drift.
    if let Some(suspend) = props["suspend"].as_bool()
        && (suspend || !base.get("suspend").is_null())
    {
        out.insert("suspend".into(), Value::from(suspend));
    }
    if let Some(url) = props["gitRepository"]["url"].as_str()
        && let Some(Value::Object(repo)) = out.get_mut("git_repository")
    {
        repo.insert("url".into(), Value::from(url));
    }
    for name in [
        deferral::STATE,
        deferral::SINCE,
        deferral::REASON,
        "applied_objects",
    ] {
        out.insert(name.into(), Value::Null);
    }
    Value::Object(out.into())
}

/// The objects of direct mode: the namespace, the credentials Secret (when there are
/// any), the GitRepository and one Kustomization per `kustomization` block (named
/// `CONFIG-KUSTOMIZATION`, as Arc's Flux extension names them).
pub fn direct_objects(planned: &Value) -> Vec<Json> {
    let name = planned.get("name").as_str().unwrap_or_default();
    let namespace = planned
        .get("namespace")
        .as_str()
        .unwrap_or(DEFAULT_NAMESPACE);
    let labels = json!({
        "app.kubernetes.io/managed-by": "fleetform",
        "fleetform.io/gitops-configuration": name,
    });
    let suspend = planned.get("suspend").as_bool().unwrap_or(false);
    let repo = planned.get("git_repository");
    let mut objects = vec![json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace},
    })];
    let mut secret = serde_json::Map::new();
    for (attr, key) in [
        ("https_user", "username"),
        ("https_key", "password"),
        ("ssh_private_key", "identity"),
        ("ssh_known_hosts", "known_hosts"),
        ("https_ca_cert", "ca.crt"),
    ] {
        if let Some(v) = repo.get(attr).as_str() {
            secret.insert(key.into(), json!(b64(v)));
        }
    }
    let interval = |v: Option<i64>| format!("{}s", v.unwrap_or(600));
    let mut source = json!({
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "url": repo.get("url").as_str().unwrap_or_default(),
            "interval": interval(seconds(repo, "sync_interval_in_seconds")),
            "timeout": interval(seconds(repo, "timeout_in_seconds")),
            "ref": repository_ref(repo),
            "suspend": suspend,
        },
    });
    if !secret.is_empty() {
        let secret_name = format!("{name}-auth");
        source["spec"]["secretRef"] = json!({"name": secret_name});
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name, "namespace": namespace, "labels": labels},
            "type": "Opaque",
            "data": Json::Object(secret),
        }));
    }
    objects.push(source);
    let scope_namespace = planned.get("scope").as_str() == Some("namespace");
    for (k_name, k) in kustomizations(planned) {
        let path = k.get("path").as_str().unwrap_or_default();
        let mut spec = json!({
            "interval": interval(seconds(&k, "sync_interval_in_seconds")),
            "timeout": interval(seconds(&k, "timeout_in_seconds")),
            "retryInterval": interval(seconds(&k, "retry_interval_in_seconds").or(seconds(&k, "sync_interval_in_seconds"))),
            "path": if path.is_empty() { "./".to_owned() } else { path.to_owned() },
            "prune": k.get("prune").as_bool().unwrap_or(false),
            "force": k.get("force").as_bool().unwrap_or(false),
            "wait": k.get("wait").as_bool().unwrap_or(true),
            "suspend": suspend,
            "sourceRef": {"kind": "GitRepository", "name": name},
        });
        let depends: Vec<Json> = k
            .get("depends_on")
            .strings()
            .iter()
            .map(|d| json!({"name": format!("{name}-{d}")}))
            .collect();
        if !depends.is_empty() {
            spec["dependsOn"] = Json::Array(depends);
        }
        if scope_namespace {
            spec["targetNamespace"] = json!(namespace);
        }
        objects.push(json!({
            "apiVersion": KUSTOMIZE_API,
            "kind": "Kustomization",
            "metadata": {"name": format!("{name}-{k_name}"), "namespace": namespace, "labels": labels},
            "spec": spec,
        }));
    }
    objects
}

/// Makes a planned change.
pub async fn apply(session: &Session, request: ApplyRequest) -> ApplyResponse {
    let direct = request
        .planned
        .as_ref()
        .or(request.prior.as_ref())
        .is_some_and(is_direct);
    let outcome = if direct {
        apply_direct(session, &request).await
    } else {
        apply_arc(session, &request).await
    };
    respond(outcome, request.prior)
}

async fn apply_arc(session: &Session, request: &ApplyRequest) -> Result<Option<Value>, Failure> {
    let arm = session.arm().await?;
    match (&request.prior, &request.planned) {
        (Some(prior), None) => {
            if let Some(id) = string(prior, "id") {
                arm.delete(&id, API_VERSION, &request.cancel).await?;
            }
            Ok(None)
        }
        (_, Some(planned)) => {
            let cluster = planned
                .get("cluster_id")
                .as_str()
                .ok_or_else(|| ProviderError::permanent("cluster_id must be known"))?;
            let id = format!(
                "{}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/{}",
                cluster.trim_end_matches('/'),
                planned.get("name").as_str().unwrap_or_default()
            );
            match arm
                .put(&id, API_VERSION, &arm_body(planned), &request.cancel)
                .await
            {
                Ok(resource) => Ok(Some(with_resource(planned, &resource))),
                Err(e) => {
                    let existing = arm
                        .get(&id, API_VERSION, &request.cancel)
                        .await
                        .ok()
                        .flatten();
                    Err(Failure(
                        existing.map(|r| with_resource(planned, &r)),
                        e.into(),
                    ))
                }
            }
        }
        (None, None) => Ok(None),
    }
}

async fn apply_direct(session: &Session, request: &ApplyRequest) -> Result<Option<Value>, Failure> {
    let recorded = |v: &Value| -> Vec<ObjectRef> {
        v.get("applied_objects")
            .strings()
            .iter()
            .filter_map(|k| ObjectRef::parse(k))
            .collect()
    };
    match (&request.prior, &request.planned) {
        (Some(prior), None) => {
            let objects = recorded(prior);
            if objects.is_empty() {
                return Ok(None);
            }
            let kubeconfig = prior.get("kubeconfig").as_str().unwrap_or_default();
            let removed = async { session.in_cluster(kubeconfig).await?.delete(&objects).await };
            removed.await.map_err(|e| {
                Failure(
                    Some(prior.clone()),
                    in_cluster_error("deleting the Flux objects", e),
                )
            })?;
            Ok(None)
        }
        (prior, Some(planned)) => {
            let mut state = attributes(planned);
            let name = planned.get("name").as_str().unwrap_or_default();
            let namespace = planned
                .get("namespace")
                .as_str()
                .unwrap_or(DEFAULT_NAMESPACE);
            state.insert("id".into(), format!("{namespace}/{name}").into());
            let content_changes = prior.as_ref().is_none_or(|p| {
                deferral::is_deferred(p)
                    || !same(p, planned, &["git_repository", "kustomization", "suspend"])
            });
            if !content_changes {
                for name in [
                    deferral::STATE,
                    deferral::SINCE,
                    deferral::REASON,
                    "applied_objects",
                    "compliance_state",
                ] {
                    state.insert(
                        name.into(),
                        prior.as_ref().map_or(Value::Null, |p| p.get(name).clone()),
                    );
                }
                return Ok(Some(Value::Object(state.into())));
            }
            let objects = direct_objects(planned);
            let previous = prior.as_ref().map(recorded).unwrap_or_default();
            let kubeconfig = planned.get("kubeconfig").as_str().unwrap_or_default();
            let outcome = async {
                let cluster = session.in_cluster(kubeconfig).await?;
                let applied = cluster.apply(&objects, namespace).await?;
                // The namespace may hold more than this configuration: it is not pruned.
                let stale: Vec<ObjectRef> = previous
                    .into_iter()
                    .filter(|p| !applied.contains(p) && p.kind != "Namespace")
                    .collect();
                cluster.delete(&stale).await?;
                Ok::<_, InClusterError>(applied)
            };
            match outcome.await {
                Ok(applied) => {
                    deferral::mark_installed(&mut state);
                    let mut keys: Vec<String> = applied.iter().map(ObjectRef::key).collect();
                    keys.sort();
                    state.insert(
                        "applied_objects".into(),
                        Value::List(keys.into_iter().map(Value::from).collect()),
                    );
                    state.insert("compliance_state".into(), Value::from("Pending"));
                    Ok(Some(Value::Object(state.into())))
                }
                Err(e @ InClusterError::Unreachable(_)) if session.settings.defer_when_offline => {
                    deferral::mark_deferred(
                        &mut state,
                        prior.as_ref(),
                        &e.to_string(),
                        SystemTime::now(),
                    );
                    state.insert(
                        "applied_objects".into(),
                        prior.as_ref().map_or(Value::List(Vec::new()), |p| {
                            p.get("applied_objects").clone()
                        }),
                    );
                    state.insert("compliance_state".into(), Value::from("Pending"));
                    Ok(Some(Value::Object(state.into())))
                }
                Err(e) => Err(Failure(
                    prior.clone(),
                    in_cluster_error("applying the Flux objects", e),
                )),
            }
        }
        (None, None) => Ok(None),
    }
}

fn in_cluster_error(what: &str, e: InClusterError) -> ProviderError {
    match e {
        InClusterError::Unreachable(reason) => {
            ProviderError::unreachable(format!("{what}: the cluster cannot be reached: {reason}"))
        }
        InClusterError::Failed(reason) => ProviderError::permanent(format!("{what}: {reason}")),
    }
}

/// Reads the configuration: from Azure (Arc mode), or its Kustomizations' readiness from
/// the cluster (direct mode, when the site can be reached).
pub async fn read(
    session: &Session,
    current: &Value,
    cancel: &CancellationToken,
) -> Result<Option<Value>, ProviderError> {
    if !is_direct(current) {
        let Some(id) = string(current, "id") else {
            return Ok(Some(current.clone()));
        };
        let resource = session.arm().await?.get(&id, API_VERSION, cancel).await?;
        return Ok(resource.map(|r| with_resource(current, &r)));
    }
    if deferral::is_deferred(current) {
        return Ok(Some(current.clone()));
    }
    let kubeconfig = current.get("kubeconfig").as_str().unwrap_or_default();
    let cluster = session
        .in_cluster(kubeconfig)
        .await
        .map_err(|e| in_cluster_error("reading the Flux objects", e))?;
    let mut ready = Vec::new();
    for reference in current
        .get("applied_objects")
        .strings()
        .iter()
        .filter_map(|k| ObjectRef::parse(k))
        .filter(|r| r.kind == "Kustomization")
    {
        let object = cluster
            .get(&reference)
            .await
            .map_err(|e| in_cluster_error("reading the Flux objects", e))?;
        let Some(object) = object else {
            // Gone: the next apply puts it back.
            let mut out = attributes(current);
            out.insert("applied_objects".into(), Value::List(Vec::new()));
            return Ok(Some(Value::Object(out.into())));
        };
        let condition = object["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready")
            .and_then(|c| c["status"].as_str().map(str::to_owned));
        ready.push(condition);
    }
    let state = if ready.iter().any(|r| r.as_deref() == Some("False")) {
        "Non-Compliant"
    } else if !ready.is_empty() && ready.iter().all(|r| r.as_deref() == Some("True")) {
        "Compliant"
    } else {
        "Pending"
    };
    let mut out = attributes(current);
    out.insert("compliance_state".into(), Value::from(state));
    Ok(Some(Value::Object(out.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Value {
        Value::object([
            ("name", Value::from("clinic-apps")),
            ("namespace", Value::from("flux-system")),
            ("scope", Value::from("cluster")),
            (
                "git_repository",
                Value::object([
                    ("url", Value::from("https://git.example.org/health/apps")),
                    ("branch", Value::from("main")),
                    ("https_user", Value::from("flux")),
                    ("https_key", Value::from("canary-pat").into_sensitive()),
                    ("sync_interval_in_seconds", Value::from(120)),
                    ("timeout_in_seconds", Value::from(600)),
                ]),
            ),
            (
                "kustomization",
                Value::object([
                    (
                        "infra",
                        Value::object([
                            ("path", Value::from("./infra")),
                            ("prune", Value::from(true)),
                        ]),
                    ),
                    (
                        "apps",
                        Value::object([
                            ("path", Value::from("./apps")),
                            ("depends_on", Value::List(vec![Value::from("infra")])),
                            ("sync_interval_in_seconds", Value::from(300)),
                        ]),
                    ),
                ]),
            ),
        ])
    }

    #[test]
    fn the_arm_body_carries_secrets_only_in_protected_settings() {
        let body = arm_body(&config());
        let props = &body["properties"];
        assert_eq!(
            props["gitRepository"]["repositoryRef"],
            json!({"branch": "main"})
        );
        assert_eq!(props["gitRepository"]["syncIntervalInSeconds"], 120);
        assert_eq!(
            props["kustomizations"]["apps"]["dependsOn"],
            json!(["infra"])
        );
        assert_eq!(
            props["configurationProtectedSettings"]["httpsKey"],
            json!(b64("canary-pat"))
        );
        let without_protected = {
            let mut b = body.clone();
            b["properties"]
                .as_object_mut()
                .unwrap()
                .remove("configurationProtectedSettings");
            b.to_string()
        };
        assert!(
            !without_protected.contains("canary")
                && !without_protected.contains(&b64("canary-pat"))
        );
    }

    #[test]
    fn direct_mode_objects_are_flux_v1_with_dependencies_by_object_name() {
        let objects = direct_objects(&config());
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "Secret",
                "GitRepository",
                "Kustomization",
                "Kustomization"
            ]
        );
        let source = &objects[2];
        assert_eq!(source["apiVersion"], SOURCE_API);
        assert_eq!(source["spec"]["interval"], "120s");
        assert_eq!(source["spec"]["secretRef"]["name"], "clinic-apps-auth");
        let apps = objects
            .iter()
            .find(|o| o["metadata"]["name"] == "clinic-apps-apps")
            .unwrap();
        assert_eq!(
            apps["spec"]["dependsOn"],
            json!([{"name": "clinic-apps-infra"}])
        );
        assert_eq!(
            apps["spec"]["sourceRef"],
            json!({"kind": "GitRepository", "name": "clinic-apps"})
        );
        assert_eq!(apps["spec"]["interval"], "300s");
        let infra = objects
            .iter()
            .find(|o| o["metadata"]["name"] == "clinic-apps-infra")
            .unwrap();
        assert_eq!(infra["spec"]["prune"], true);
        assert_eq!(objects[1]["data"]["password"], b64("canary-pat"));
    }

    #[test]
    fn one_mode_one_reference_and_known_dependencies() {
        let mut c = attributes(&config());
        let problems = validate(&Value::Object(c.clone().into()));
        assert!(problems.has_errors(), "neither mode");
        c.insert(
            "kubeconfig".into(),
            Value::from("apiVersion: v1").into_sensitive(),
        );
        assert!(!validate(&Value::Object(c.clone().into())).has_errors());
        let mut repo = attributes(&c["git_repository"]);
        repo.insert("tag".into(), Value::from("v1"));
        c.insert("git_repository".into(), Value::Object(repo.into()));
        let d = validate(&Value::Object(c.into())).into_vec();
        assert_eq!(d[0].attribute.as_deref(), Some("git_repository.tag"));
    }
}
