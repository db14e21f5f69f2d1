//! `arc_extension`: a cluster extension (Microsoft.KubernetesConfiguration/extensions
//! 2025-03-01). Created with PUT, changed with PATCH (version, release train,
//! auto-upgrade, settings: what ARM lets a PATCH change), deleted with DELETE, each a
//! long-running operation. Protected settings are sent, never read back, and kept in
//! state (sensitive) to tell when they change.

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, CancellationToken, Diagnostic, Diagnostics, PlanRequest,
    PlanResponse, ProviderError, Value,
};
use serde_json::{Value as Json, json};

use crate::failure::{Failure, respond};
use crate::session::Session;
use crate::values::{attributes, json_string, map_from_json, same, string, string_map};

/// The api-version of Microsoft.KubernetesConfiguration/extensions.
pub const API_VERSION: &str = "2025-03-01";

/// The extension's ARM id.
pub fn resource_id(config: &Value) -> Option<String> {
    Some(format!(
        "{}/providers/Microsoft.KubernetesConfiguration/extensions/{}",
        config.get("cluster_id").as_str()?.trim_end_matches('/'),
        config.get("name").as_str()?
    ))
}

/// Checks what the schema cannot: a pinned version turns auto-upgrade off, and the scope
/// is the cluster's or one namespace's, not both.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if !config.get("version").is_null()
        && config.get("auto_upgrade_minor_version").as_bool() == Some(true)
    {
        diags.push(
            Diagnostic::error(
                "A pinned version needs auto-upgrade off",
                "Azure upgrades an extension with auto_upgrade_minor_version = true, so a pinned version would not hold.",
            )
            .attribute("version")
            .help("set auto_upgrade_minor_version = false, or remove version"),
        );
    }
    if !config.get("release_namespace").is_null() && !config.get("target_namespace").is_null() {
        diags.push(
            Diagnostic::error(
                "Two scopes for one extension",
                "An extension is installed either cluster-wide into release_namespace or into target_namespace only, not both.",
            )
            .attribute("target_namespace"),
        );
    }
    if let Some(id) = config.get("cluster_id").as_str()
        && !id
            .to_ascii_lowercase()
            .contains("/providers/microsoft.kubernetes/connectedclusters/")
    {
        diags.push(
            Diagnostic::error(
                "Not a connected cluster id",
                format!(
                    "{id:?} is not the ARM id of a Microsoft.Kubernetes/connectedClusters resource."
                ),
            )
            .attribute("cluster_id")
            .help("use arc_connected_cluster.NAME.id"),
        );
    }
    diags
}

/// Plans a create or update; a version change is an in-place update showing the new
/// `current_version`.
pub fn plan(request: &PlanRequest) -> PlanResponse {
    let mut planned = attributes(&request.proposed);
    let pinned = request.config.get("version").as_str().map(str::to_owned);
    let auto = match request.config.get("auto_upgrade_minor_version").as_bool() {
        Some(auto) => auto,
        None => pinned.is_none(),
    };
    planned.insert("auto_upgrade_minor_version".into(), Value::from(auto));
    if request.config.get("release_train").is_null() {
        let train = if auto {
            Value::from("Stable")
        } else {
            request
                .prior
                .as_ref()
                .map_or(Value::Null, |p| p.get("release_train").clone())
        };
        planned.insert("release_train".into(), train);
    }
    let mut response = PlanResponse::new(Value::Null);
    let Some(prior) = &request.prior else {
        planned.insert("id".into(), Value::Unknown);
        planned.insert("provisioning_state".into(), Value::Unknown);
        planned.insert(
            "current_version".into(),
            pinned.map_or(Value::Unknown, Value::from),
        );
        response.planned = Value::Object(planned.into());
        return response;
    };
    if request.config.get("cluster_id").is_unknown() {
        response.warnings.push(
            "its cluster is being re-connected, which deletes this extension in Azure; it is re-created on the new connection".into(),
        );
    }
    let proposed = Value::Object(planned.clone().into());
    let changes = !same(
        prior,
        &proposed,
        &[
            "version",
            "auto_upgrade_minor_version",
            "release_train",
            "configuration_settings",
            "configuration_protected_settings",
        ],
    );
    if changes {
        planned.insert("provisioning_state".into(), Value::Unknown);
        let version_moves = !same(
            prior,
            &proposed,
            &["version", "auto_upgrade_minor_version", "release_train"],
        );
        if version_moves {
            planned.insert(
                "current_version".into(),
                pinned.map_or(Value::Unknown, Value::from),
            );
        }
    }
    response.planned = Value::Object(planned.into());
    response
}

fn properties(planned: &Value) -> Json {
    let auto = planned
        .get("auto_upgrade_minor_version")
        .as_bool()
        .unwrap_or(true);
    let mut properties = json!({"autoUpgradeMinorVersion": auto});
    if auto && let Some(train) = planned.get("release_train").as_str() {
        properties["releaseTrain"] = json!(train);
    }
    if let Some(version) = planned.get("version").as_str() {
        properties["version"] = json!(version);
    }
    properties["configurationSettings"] =
        string_map(planned.get("configuration_settings")).unwrap_or_else(|| json!({}));
    properties
}

fn protected(planned: &Value) -> Option<Json> {
    string_map(planned.get("configuration_protected_settings").unmark().0)
}

fn put_body(planned: &Value) -> Json {
    let mut props = properties(planned);
    props["extensionType"] = json!(planned.get("extension_type").as_str().unwrap_or_default());
    if let Some(ns) = planned.get("release_namespace").as_str() {
        props["scope"] = json!({"cluster": {"releaseNamespace": ns}});
    } else if let Some(ns) = planned.get("target_namespace").as_str() {
        props["scope"] = json!({"namespace": {"targetNamespace": ns}});
    }
    if let Some(secrets) = protected(planned) {
        props["configurationProtectedSettings"] = secrets;
    }
    json!({"identity": {"type": "SystemAssigned"}, "properties": props})
}

fn patch_body(prior: &Value, planned: &Value) -> Json {
    let mut props = properties(planned);
    if !same(prior, planned, &["configuration_protected_settings"]) {
        props["configurationProtectedSettings"] = protected(planned).unwrap_or_else(|| json!({}));
    }
    json!({"properties": props})
}

/// `base` with what ARM says about the extension; protected settings stay as recorded.
fn with_resource(base: &Value, resource: &Json) -> Value {
    let mut out = attributes(base);
    let props = &resource["properties"];
    out.insert("id".into(), json_string(&resource["id"]));
    out.insert(
        "extension_type".into(),
        json_string(&props["extensionType"]),
    );
    out.insert(
        "auto_upgrade_minor_version".into(),
        Value::from(props["autoUpgradeMinorVersion"].as_bool().unwrap_or(true)),
    );
    out.insert("release_train".into(), json_string(&props["releaseTrain"]));
    out.insert("version".into(), json_string(&props["version"]));
    out.insert(
        "current_version".into(),
        json_string(&props["currentVersion"]),
    );
    out.insert(
        "provisioning_state".into(),
        json_string(&props["provisioningState"]),
    );
    out.insert(
        "configuration_settings".into(),
        map_from_json(&props["configurationSettings"]),
    );
    out.insert(
        "release_namespace".into(),
        json_string(&props["scope"]["cluster"]["releaseNamespace"]),
    );
    out.insert(
        "target_namespace".into(),
        json_string(&props["scope"]["namespace"]["targetNamespace"]),
    );
    // Azure returns the type as it registered it; a configuration differing in case only
    // names the same type.
    if let (Some(configured), Some(reported)) = (
        base.get("extension_type").as_str(),
        props["extensionType"].as_str(),
    ) && configured.eq_ignore_ascii_case(reported)
    {
        out.insert("extension_type".into(), Value::from(configured));
    }
    if base
        .get("configuration_settings")
        .as_object()
        .is_some_and(|m| m.is_empty())
        && out["configuration_settings"].is_null()
    {
        out.insert(
            "configuration_settings".into(),
            base.get("configuration_settings").clone(),
        );
    }
    Value::Object(out.into())
}

/// Makes a planned change.
pub async fn apply(session: &Session, request: ApplyRequest) -> ApplyResponse {
    let outcome = change(session, &request).await;
    respond(outcome, request.prior)
}

async fn change(session: &Session, request: &ApplyRequest) -> Result<Option<Value>, Failure> {
    let arm = session.arm().await?;
    match (&request.prior, &request.planned) {
        (Some(prior), None) => {
            if let Some(id) = string(prior, "id") {
                arm.delete(&id, API_VERSION, &request.cancel).await?;
            }
            Ok(None)
        }
        (prior, Some(planned)) => {
            let id = resource_id(planned)
                .ok_or_else(|| ProviderError::permanent("cluster_id and name must be known"))?;
            let written = match prior {
                None => {
                    arm.put(&id, API_VERSION, &put_body(planned), &request.cancel)
                        .await
                }
                Some(prior) => {
                    arm.patch(
                        &id,
                        API_VERSION,
                        &patch_body(prior, planned),
                        &request.cancel,
                    )
                    .await
                }
            };
            match written {
                Ok(resource) => Ok(Some(with_resource(planned, &resource))),
                Err(e) => {
                    // Accepted before its operation failed: record what exists.
                    let existing = arm
                        .get(&id, API_VERSION, &request.cancel)
                        .await
                        .ok()
                        .flatten();
                    Err(Failure(
                        existing.map(|r| with_resource(planned, &r)),
                        ProviderError::from(e),
                    ))
                }
            }
        }
        (None, None) => Ok(None),
    }
}

/// Reads the extension from Azure; `None` when it is gone.
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
