//! `arc_connected_cluster`: planning, applying and reading a connected cluster, the Azure
//! side through Resource Manager (Microsoft.Kubernetes/connectedClusters 2024-01-01) and
//! the in-cluster side (agent key, connection configuration, agent workloads) through
//! the cluster's kubeconfig. An unreachable cluster defers the in-cluster side; an expired
//! identity certificate plans the re-onboarding (replacement).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, CancellationToken, Diagnostic, Diagnostics, PathStep, PlanRequest,
    PlanResponse, ProviderError, Value,
};
use serde_json::{Value as Json, json};

use crate::agent::{self, AgentKey, Bundle, Connection, Proxy};
use crate::deadlines::{Reported, parse_time};
use crate::deferral;
use crate::in_cluster::{InCluster, InClusterError, ObjectRef};
use crate::session::Session;
use crate::values::{attributes, from_json, json_string, map_from_json, same, string, string_map};

/// The api-version of Microsoft.Kubernetes/connectedClusters.
pub const API_VERSION: &str = "2024-01-01";

/// Attributes ARM's PATCH changes (ConnectedClusterPatch).
const PATCHABLE: &[&str] = &[
    "tags",
    "distribution",
    "distribution_version",
    "azure_hybrid_benefit",
];
/// Attributes only a PUT changes.
const PUT_ONLY: &[&str] = &[
    "identity_type",
    "aad_profile",
    "agent_auto_upgrade",
    "desired_agent_version",
    "infrastructure",
    "private_link_state",
    "private_link_scope_resource_id",
];
/// Attributes whose change reaches into the cluster.
const IN_CLUSTER: &[&str] = &["agent_bundle", "proxy", "distribution", "infrastructure"];
/// What ARM computes, unknown until a create is applied.
const COMPUTED: &[&str] = &[
    "id",
    "agent_version",
    "kubernetes_version",
    "total_node_count",
    "total_core_count",
    "connectivity_status",
    "provisioning_state",
    "identity_principal_id",
    "identity_tenant_id",
    "last_connectivity_time",
    "identity_certificate_expiration_time",
    "agent_public_key",
    "pending_agent_key",
    "agent_objects",
];

/// The ARM id of the cluster a configuration names.
pub fn resource_id(subscription: &str, config: &Value) -> Option<String> {
    Some(format!(
        "/subscriptions/{subscription}/resourcegroups/{}/providers/Microsoft.Kubernetes/connectedClusters/{}",
        config.get("resource_group_name").as_str()?,
        config.get("name").as_str()?
    ))
}

/// Checks what the schema cannot: a pinned agent version needs auto-upgrade off, a
/// private link scope needs private link on, and a bundle digest is SHA-256 in hex.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if !config.get("desired_agent_version").is_null()
        && config.get("agent_auto_upgrade").as_bool() != Some(false)
    {
        diags.push(
            Diagnostic::error(
                "A pinned agent version needs auto-upgrade off",
                "Azure keeps agents on the newest release while agent_auto_upgrade is on (the default), so desired_agent_version would not hold.",
            )
            .attribute("desired_agent_version")
            .help("set agent_auto_upgrade = false"),
        );
    }
    if !config.get("private_link_scope_resource_id").is_null()
        && config.get("private_link_state").as_str() != Some("Enabled")
    {
        diags.push(
            Diagnostic::error(
                "A private link scope needs private link",
                "private_link_scope_resource_id only applies with private_link_state = \"Enabled\".",
            )
            .attribute("private_link_scope_resource_id"),
        );
    }
    if let Some(sha) = config.get("agent_bundle").get("sha256").as_str()
        && (sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        diags.push(
            Diagnostic::error(
                "Not a SHA-256 digest",
                format!("{sha:?} is not 64 hexadecimal digits; pin the bundle with the output of `sha256sum`."),
            )
            .attribute("agent_bundle.sha256"),
        );
    }
    diags
}

/// Plans a create or update: defaults, what ARM computes, the in-cluster work, and the
/// deadlines (an expired identity certificate plans the re-onboarding).
pub fn plan(session: &Session, request: &PlanRequest, now: SystemTime) -> PlanResponse {
    let mut planned = attributes(&request.proposed);
    let defaults = [
        ("distribution", Value::from("generic")),
        ("infrastructure", Value::from("generic")),
        ("agent_auto_upgrade", Value::from(true)),
        ("private_link_state", Value::from("Disabled")),
        ("azure_hybrid_benefit", Value::from("NotApplicable")),
        ("identity_type", Value::from("SystemAssigned")),
    ];
    for (name, default) in defaults {
        if request.config.get(name).is_null() && planned.get(name).is_none_or(Value::is_unknown) {
            planned.insert(name.into(), default);
        }
    }
    if let Some(Value::Object(aad)) = planned.get_mut("aad_profile")
        && aad
            .get("tenant_id")
            .is_none_or(|t| t.is_unknown() || t.is_null())
    {
        let tenant = session.settings.auth.tenant_id.clone();
        aad.insert(
            "tenant_id".into(),
            tenant.map_or(Value::Unknown, Value::from),
        );
    }
    let mut response = PlanResponse::new(Value::Null);
    let Some(prior) = &request.prior else {
        for name in COMPUTED {
            planned.insert((*name).into(), Value::Unknown);
        }
        deferral::plan(&mut planned, None, true);
        response.planned = Value::Object(planned.into());
        return response;
    };
    let proposed = Value::Object(planned.clone().into());
    let touches = !same(prior, &proposed, IN_CLUSTER);
    if let Some(warning) = deferral::plan(&mut planned, Some(prior), touches) {
        response.warnings.push(warning);
    }
    if touches {
        planned.insert("agent_objects".into(), Value::Unknown);
    }
    if !same(prior, &proposed, PATCHABLE) || !same(prior, &proposed, PUT_ONLY) {
        planned.insert("provisioning_state".into(), Value::Unknown);
    }
    let findings = session.settings.deadlines.check(&reported(prior), now);
    response.warnings.extend(findings.warnings);
    if findings.expired {
        // The re-onboarding: a new connection with a new identity, planned as a
        // replacement so that the plan shows the whole sequence.
        planned.insert(
            "identity_certificate_expiration_time".into(),
            Value::Unknown,
        );
        response.requires_replace.push(vec![PathStep::Attr(
            "identity_certificate_expiration_time".into(),
        )]);
    }
    response.planned = Value::Object(planned.into());
    response
}

/// What Azure last reported, for the deadline checks.
fn reported(value: &Value) -> Reported<'_> {
    Reported {
        identity_certificate_expires: value.get("identity_certificate_expiration_time").as_str(),
        last_seen: value.get("last_connectivity_time").as_str(),
        connectivity: value.get("connectivity_status").as_str(),
        agent_version: value.get("agent_version").as_str(),
        bundle_version: value.get("agent_bundle").get("version").as_str(),
    }
}

/// True when the cluster's identity certificate has expired, so that the cluster is due
/// for re-onboarding.
pub fn identity_expired(value: &Value, now: SystemTime) -> bool {
    value
        .get("identity_certificate_expiration_time")
        .as_str()
        .and_then(parse_time)
        .is_some_and(|at| at <= now)
}

/// The ARM body of a PUT.
fn put_body(planned: &Value, public_key: &str) -> Json {
    let mut properties = json!({
        "agentPublicKeyCertificate": public_key,
        "distribution": planned.get("distribution").as_str().unwrap_or("generic"),
        "infrastructure": planned.get("infrastructure").as_str().unwrap_or("generic"),
        "privateLinkState": planned.get("private_link_state").as_str().unwrap_or("Disabled"),
        "azureHybridBenefit": planned.get("azure_hybrid_benefit").as_str().unwrap_or("NotApplicable"),
        "arcAgentProfile": {
            "agentAutoUpgrade": if planned.get("agent_auto_upgrade").as_bool().unwrap_or(true) { "Enabled" } else { "Disabled" },
        },
    });
    if let Some(v) = planned.get("distribution_version").as_str() {
        properties["distributionVersion"] = json!(v);
    }
    if let Some(v) = planned.get("private_link_scope_resource_id").as_str() {
        properties["privateLinkScopeResourceId"] = json!(v);
    }
    if let Some(v) = planned.get("desired_agent_version").as_str() {
        properties["arcAgentProfile"]["desiredAgentVersion"] = json!(v);
    }
    let aad = planned.get("aad_profile");
    if aad.as_object().is_some() {
        let mut profile = json!({});
        if let Some(rbac) = aad.get("enable_azure_rbac").as_bool() {
            profile["enableAzureRBAC"] = json!(rbac);
        }
        let groups = aad.get("admin_group_object_ids").strings();
        if !groups.is_empty() {
            profile["adminGroupObjectIDs"] = json!(groups);
        }
        if let Some(tenant) = aad.get("tenant_id").as_str() {
            profile["tenantID"] = json!(tenant);
        }
        properties["aadProfile"] = profile;
    }
    let mut body = json!({
        "location": planned.get("location").as_str().unwrap_or_default(),
        "identity": {"type": planned.get("identity_type").as_str().unwrap_or("SystemAssigned")},
        "properties": properties,
    });
    if let Some(tags) = string_map(planned.get("tags")) {
        body["tags"] = tags;
    }
    body
}

/// The ARM body of a PATCH (ConnectedClusterPatch).
fn patch_body(planned: &Value) -> Json {
    let mut properties = json!({});
    for (name, field) in [
        ("distribution", "distribution"),
        ("distribution_version", "distributionVersion"),
        ("azure_hybrid_benefit", "azureHybridBenefit"),
    ] {
        if let Some(v) = planned.get(name).as_str() {
            properties[field] = json!(v);
        }
    }
    json!({
        "tags": string_map(planned.get("tags")).unwrap_or_else(|| json!({})),
        "properties": properties,
    })
}

/// `base` with what ARM says about the cluster: the arguments Azure holds (so that
/// changes made in Azure show as drift) and everything it computes.
pub fn with_resource(base: &Value, resource: &Json) -> Value {
    let mut out = attributes(base);
    let props = &resource["properties"];
    let set = |out: &mut BTreeMap<String, Value>, name: &str, value: Value| {
        out.insert(name.into(), value);
    };
    set(&mut out, "id", json_string(&resource["id"]));
    // No tags in Azure is what both null and {} in the configuration mean.
    let tags = map_from_json(&resource["tags"]);
    let configured_none = base.get("tags").as_object().is_none_or(|t| t.is_empty());
    if !(tags.is_null() && configured_none) {
        set(&mut out, "tags", tags);
    }
    if let Some(location) = resource["location"].as_str() {
        let squash = |s: &str| s.to_ascii_lowercase().replace(' ', "");
        let configured = base.get("location").as_str().unwrap_or_default();
        if squash(configured) != squash(location) {
            set(&mut out, "location", location.into());
        }
    }
    for (name, field) in [
        ("distribution", "distribution"),
        ("distribution_version", "distributionVersion"),
        ("infrastructure", "infrastructure"),
        ("private_link_state", "privateLinkState"),
        (
            "private_link_scope_resource_id",
            "privateLinkScopeResourceId",
        ),
        ("azure_hybrid_benefit", "azureHybridBenefit"),
        ("agent_version", "agentVersion"),
        ("kubernetes_version", "kubernetesVersion"),
        ("connectivity_status", "connectivityStatus"),
        ("provisioning_state", "provisioningState"),
        ("last_connectivity_time", "lastConnectivityTime"),
        (
            "identity_certificate_expiration_time",
            "managedIdentityCertificateExpirationTime",
        ),
    ] {
        set(&mut out, name, json_string(&props[field]));
    }
    for (name, field) in [
        ("total_node_count", "totalNodeCount"),
        ("total_core_count", "totalCoreCount"),
    ] {
        set(&mut out, name, from_json(&props[field]));
    }
    let profile = &props["arcAgentProfile"];
    set(
        &mut out,
        "agent_auto_upgrade",
        Value::from(profile["agentAutoUpgrade"].as_str() != Some("Disabled")),
    );
    set(
        &mut out,
        "desired_agent_version",
        json_string(&profile["desiredAgentVersion"]),
    );
    set(
        &mut out,
        "identity_type",
        json_string(&resource["identity"]["type"]),
    );
    set(
        &mut out,
        "identity_principal_id",
        json_string(&resource["identity"]["principalId"]),
    );
    set(
        &mut out,
        "identity_tenant_id",
        json_string(&resource["identity"]["tenantId"]),
    );
    let aad = &props["aadProfile"];
    if aad.is_object() || !base.get("aad_profile").is_null() {
        let groups: Vec<Value> = aad["adminGroupObjectIDs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g.as_str().map(Value::from))
            .collect();
        let configured = base.get("aad_profile");
        set(
            &mut out,
            "aad_profile",
            Value::object([
                (
                    "enable_azure_rbac",
                    aad["enableAzureRBAC"]
                        .as_bool()
                        .map_or(configured.get("enable_azure_rbac").clone(), Value::from),
                ),
                (
                    "admin_group_object_ids",
                    if groups.is_empty() && configured.get("admin_group_object_ids").is_null() {
                        Value::Null
                    } else {
                        Value::List(groups)
                    },
                ),
                ("tenant_id", json_string(&aad["tenantID"])),
            ]),
        );
    }
    Value::Object(out.into())
}

fn connection(session: &Session, planned: &Value, cloud: &fleetform_azure::Cloud) -> Connection {
    let proxy = planned.get("proxy");
    Connection {
        subscription: session.settings.subscription_id.clone().unwrap_or_default(),
        resource_group: string(planned, "resource_group_name").unwrap_or_default(),
        name: string(planned, "name").unwrap_or_default(),
        location: string(planned, "location").unwrap_or_default(),
        tenant: string(planned, "identity_tenant_id")
            .or_else(|| session.settings.auth.tenant_id.clone())
            .unwrap_or_default(),
        cloud: cloud.name.clone(),
        resource_manager: cloud.resource_manager.to_string(),
        distribution: string(planned, "distribution").unwrap_or_else(|| "generic".into()),
        infrastructure: string(planned, "infrastructure").unwrap_or_else(|| "generic".into()),
        proxy: proxy.as_object().map(|_| Proxy {
            https: string(proxy, "https_proxy"),
            http: string(proxy, "http_proxy"),
            no_proxy: string(proxy, "no_proxy"),
            ca_certificate: string(proxy, "ca_certificate"),
        }),
    }
}

/// The agent bundle's objects, when the configuration names a bundle: fetched (or taken
/// from the cache) and checked before anything is created, so that a bad bundle fails
/// the change without side effects.
async fn bundle(session: &Session, planned: &Value) -> Result<Vec<Json>, ProviderError> {
    let bundle = planned.get("agent_bundle");
    let (Some(url), Some(sha256)) = (bundle.get("url").as_str(), bundle.get("sha256").as_str())
    else {
        return Ok(Vec::new());
    };
    let bundle = Bundle {
        url: url.to_owned(),
        sha256: sha256.to_owned(),
    };
    agent::bundle_objects(session.http()?, &bundle, &session.settings.cache_dir).await
}

/// Installs or updates the agents in the cluster: namespace, key (when given), connection
/// configuration, bundle; prunes bundle objects of an earlier apply that are gone.
async fn install(
    session: &Session,
    planned: &Value,
    prior: Option<&Value>,
    private_key: Option<&str>,
    bundle: Vec<Json>,
) -> Result<Vec<String>, InClusterError> {
    let kubeconfig = planned.get("kubeconfig").as_str().unwrap_or_default();
    let cloud = session
        .cloud()
        .await
        .map_err(|e| InClusterError::Failed(e.message))?;
    let mut objects = vec![
        agent::namespace(),
        agent::cluster_config(&connection(session, planned, cloud)),
    ];
    if let Some(key) = private_key {
        objects.push(agent::key_secret(key));
    }
    objects.extend(bundle);
    let cluster = session.in_cluster(kubeconfig).await?;
    let applied = cluster.apply(&objects, agent::NAMESPACE).await?;
    let mut keys: Vec<String> = applied.iter().map(ObjectRef::key).collect();
    // The key Secret stays recorded once installed, even when a later apply does not
    // carry the key: it is ours to delete.
    let secret = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(agent::NAMESPACE.into()),
        name: agent::KEY_SECRET.into(),
    }
    .key();
    if !keys.contains(&secret) {
        keys.push(secret);
    }
    let previous = prior
        .map(|p| p.get("agent_objects").strings())
        .unwrap_or_default();
    let stale: Vec<ObjectRef> = previous
        .iter()
        .filter(|k| !keys.contains(k))
        .filter_map(|k| ObjectRef::parse(k))
        .collect();
    if !stale.is_empty() {
        cluster.delete(&stale).await?;
    }
    keys.sort();
    Ok(keys)
}

/// Makes a planned change.
pub async fn apply(session: &Session, request: ApplyRequest) -> ApplyResponse {
    match (&request.prior, &request.planned) {
        (Some(prior), None) => {
            let error = delete(session, prior, &request.cancel).await.err();
            ApplyResponse {
                new_state: error.as_ref().map(|_| prior.clone()),
                error,
            }
        }
        (prior, Some(planned)) => write(session, prior.as_ref(), planned, &request.cancel).await,
        (None, None) => ApplyResponse {
            new_state: None,
            error: None,
        },
    }
}

async fn write(
    session: &Session,
    prior: Option<&Value>,
    planned: &Value,
    cancel: &CancellationToken,
) -> ApplyResponse {
    let fail = |state: Option<Value>, e: ProviderError| ApplyResponse {
        new_state: state,
        error: Some(e),
    };
    let (arm, subscription) = match (session.arm().await, session.subscription()) {
        (Ok(arm), Ok(subscription)) => (arm, subscription.to_owned()),
        (Err(e), _) | (_, Err(e)) => return fail(prior.cloned(), e),
    };
    let Some(id) = resource_id(&subscription, planned) else {
        return fail(
            prior.cloned(),
            ProviderError::permanent("name and resource_group_name must be known"),
        );
    };
    let touches = prior.is_none_or(|p| deferral::is_deferred(p) || !same(p, planned, IN_CLUSTER));
    let bundle_objects = if touches {
        match bundle(session, planned).await {
            Ok(objects) => objects,
            Err(e) => return fail(prior.cloned(), e),
        }
    } else {
        Vec::new()
    };
    // A create makes a new key pair; an update keeps the one Azure has.
    let mut new_key: Option<AgentKey> = None;
    let public_key = match prior.and_then(|p| string(p, "agent_public_key")) {
        Some(key) => key,
        None => match agent::generate_key().await {
            Ok(key) => {
                let public = key.public_b64.clone();
                new_key = Some(key);
                public
            }
            Err(e) => return fail(prior.cloned(), e),
        },
    };
    let arm_changed = prior.is_none_or(|p| !same(p, planned, PUT_ONLY));
    let patch_changed = prior.is_some_and(|p| !same(p, planned, PATCHABLE));
    let resource = if arm_changed {
        tracing::debug!(cluster = %id, "putting the connected cluster");
        arm.put(&id, API_VERSION, &put_body(planned, &public_key), cancel)
            .await
    } else if patch_changed {
        tracing::debug!(cluster = %id, "patching the connected cluster");
        arm.patch(&id, API_VERSION, &patch_body(planned), cancel)
            .await
    } else {
        arm.get(&id, API_VERSION, cancel).await.and_then(|r| {
            r.ok_or_else(|| fleetform_azure::AzureError::Decode(format!("{id} no longer exists")))
        })
    };
    let resource = match resource {
        Ok(resource) => resource,
        Err(e) => {
            // The PUT may have been accepted before its operation failed: record what
            // exists, so nothing created is forgotten.
            let existing = arm.get(&id, API_VERSION, cancel).await.ok().flatten();
            let state = existing
                .map(|r| with_resource(&with_key(planned, &public_key, None), &r))
                .or_else(|| prior.cloned());
            return fail(state, e.into());
        }
    };
    let pending = new_key
        .as_ref()
        .map(|k| k.private_pem.clone())
        .or_else(|| prior.and_then(|p| p.get("pending_agent_key").as_str().map(str::to_owned)));
    let mut state = attributes(&with_resource(
        &with_key(planned, &public_key, pending.as_deref()),
        &resource,
    ));
    if !touches {
        for name in [
            deferral::STATE,
            deferral::SINCE,
            deferral::REASON,
            "agent_objects",
        ] {
            state.insert(
                name.into(),
                prior.map_or(Value::Null, |p| p.get(name).clone()),
            );
        }
        return ApplyResponse {
            new_state: Some(Value::Object(state.into())),
            error: None,
        };
    }
    let planned_now = Value::Object(state.clone().into());
    match install(
        session,
        &planned_now,
        prior,
        pending.as_deref(),
        bundle_objects,
    )
    .await
    {
        Ok(objects) => {
            deferral::mark_installed(&mut state);
            state.insert("pending_agent_key".into(), Value::Null);
            state.insert(
                "agent_objects".into(),
                Value::List(objects.into_iter().map(Value::from).collect()),
            );
            tracing::debug!(cluster = %id, "Arc agents installed in the cluster");
            ApplyResponse {
                new_state: Some(Value::Object(state.into())),
                error: None,
            }
        }
        Err(e @ InClusterError::Unreachable(_)) if session.settings.defer_when_offline => {
            let reason = e.to_string();
            tracing::debug!(cluster = %id, %reason, "in-cluster work deferred");
            deferral::mark_deferred(&mut state, prior, &reason, SystemTime::now());
            if !state.contains_key("agent_objects") || state["agent_objects"].is_unknown() {
                state.insert(
                    "agent_objects".into(),
                    prior.map_or(Value::List(Vec::new()), |p| p.get("agent_objects").clone()),
                );
            }
            ApplyResponse {
                new_state: Some(Value::Object(state.into())),
                error: None,
            }
        }
        Err(e) => {
            deferral::mark_deferred(&mut state, prior, &e.to_string(), SystemTime::now());
            if state.get("agent_objects").is_none_or(Value::is_unknown) {
                state.insert(
                    "agent_objects".into(),
                    prior.map_or(Value::List(Vec::new()), |p| p.get("agent_objects").clone()),
                );
            }
            let kind = matches!(e, InClusterError::Unreachable(_));
            let message =
                format!("the Azure side of {id} is done, but installing the agents failed: {e}");
            fail(
                Some(Value::Object(state.into())),
                if kind {
                    ProviderError::unreachable(message)
                } else {
                    ProviderError::permanent(message)
                },
            )
        }
    }
}

/// `planned` with the agent key recorded: the public half always, the private half
/// (sensitive) only while it waits to be installed.
fn with_key(planned: &Value, public_key: &str, pending: Option<&str>) -> Value {
    let mut out = attributes(planned);
    out.insert("agent_public_key".into(), public_key.into());
    out.insert(
        "pending_agent_key".into(),
        pending.map_or(Value::Null, |k| Value::from(k).into_sensitive()),
    );
    Value::Object(out.into())
}

async fn delete(
    session: &Session,
    prior: &Value,
    cancel: &CancellationToken,
) -> Result<(), ProviderError> {
    let id = string(prior, "id")
        .ok_or_else(|| ProviderError::permanent("the cluster has no recorded id"))?;
    let mut objects: Vec<ObjectRef> = prior
        .get("agent_objects")
        .strings()
        .iter()
        .filter_map(|k| ObjectRef::parse(k))
        .collect();
    if !objects.is_empty() {
        objects.push(ObjectRef::of(&agent::namespace()).expect("a constant object"));
        let kubeconfig = prior.get("kubeconfig").as_str().unwrap_or_default();
        let removed = async {
            let cluster = session.in_cluster(kubeconfig).await?;
            cluster.delete(&objects).await?;
            wait_gone(
                &cluster,
                &ObjectRef::of(&agent::namespace()).expect("a constant object"),
            )
            .await
        };
        match removed.await {
            Ok(()) => tracing::debug!(cluster = %id, "Arc agents removed from the cluster"),
            // Azure's side goes regardless: the agents of an unreachable site can no longer
            // reach Azure with a deleted resource, and its next connect starts afresh.
            Err(e) => {
                tracing::warn!(cluster = %id, "the Arc agents could not be removed from the cluster: {e}")
            }
        }
    }
    session
        .arm()
        .await?
        .delete(&id, API_VERSION, cancel)
        .await?;
    Ok(())
}

/// Waits (up to two minutes) until a deleted namespace is gone, so that a re-onboarding
/// does not apply into a terminating namespace.
async fn wait_gone(cluster: &InCluster, namespace: &ObjectRef) -> Result<(), InClusterError> {
    for _ in 0..120 {
        if cluster.get(namespace).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(InClusterError::Failed(format!(
        "namespace {} is still terminating",
        namespace.name
    )))
}

/// Reads the cluster from Azure; `None` when it is gone.
pub async fn read(
    session: &Session,
    current: &Value,
    cancel: &CancellationToken,
) -> Result<Option<Value>, ProviderError> {
    let Some(id) = string(current, "id") else {
        return Ok(Some(current.clone()));
    };
    let resource = session.arm().await?.get(&id, API_VERSION, cancel).await?;
    Ok(resource.map(|r| with_resource(current, &r)))
}
