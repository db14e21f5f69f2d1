//! The Arc resources the lab keeps and how ARM treats them: connected clusters,
//! extensions and Flux configurations, created and deleted through long-running operations
//! that end after the configured delay, ARM's error bodies, protected settings accepted
//! and never returned, and a cluster's children deleted with it. What the agents would
//! report (connectivity, agent version, the identity certificate's expiry) is set through
//! the lab's control API, as a cluster's agents would set it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::clock::rfc3339;

/// The resource types the lab serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Microsoft.Kubernetes/connectedClusters.
    ConnectedCluster,
    /// Microsoft.KubernetesConfiguration/extensions.
    Extension,
    /// Microsoft.KubernetesConfiguration/fluxConfigurations.
    FluxConfiguration,
}

impl Kind {
    /// The ARM type name.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::ConnectedCluster => "Microsoft.Kubernetes/connectedClusters",
            Kind::Extension => "Microsoft.KubernetesConfiguration/extensions",
            Kind::FluxConfiguration => "Microsoft.KubernetesConfiguration/fluxConfigurations",
        }
    }

    /// The api-version its spec defines.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::ConnectedCluster => "2024-01-01",
            Kind::Extension => "2025-03-01",
            Kind::FluxConfiguration => "2025-04-01",
        }
    }
}

/// A stored resource.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its kind.
    pub kind: Kind,
    /// The body ARM returns.
    pub body: Value,
    /// Protected settings as received (never returned).
    pub protected: BTreeMap<String, String>,
    /// When its current operation ends.
    pub ready_at: Instant,
    /// ARM's error when the operation is to fail.
    pub failure: Option<(String, String)>,
}

/// A long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The resource id (lower case) it acts on.
    pub target: String,
    /// PUT, PATCH or DELETE.
    pub action: String,
    /// When it ends.
    pub done_at: Instant,
    /// The error it ends with, if it fails.
    pub error: Option<(String, String)>,
    /// When it started, RFC 3339.
    pub started: String,
    /// The operation id.
    pub name: String,
    /// The resource id as the client wrote it.
    pub resource_id: String,
    /// A finished delete has removed its resource (a later resource of the same id is
    /// another one).
    pub applied: bool,
}

/// An ARM error answer.
#[derive(Debug, Clone)]
pub struct ArmError {
    /// The HTTP status.
    pub status: u16,
    /// ARM's code.
    pub code: String,
    /// ARM's message.
    pub message: String,
    /// Per-property details.
    pub details: Vec<Value>,
}

impl ArmError {
    /// A new error.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ArmError {
        ArmError {
            status,
            code: code.to_owned(),
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// ARM's error body.
    pub fn body(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }
}

/// The extension versions the lab's "Azure" offers per release train.
fn catalogue_version(extension_type: &str, train: &str) -> &'static str {
    match (
        extension_type.to_ascii_lowercase().as_str(),
        train.to_ascii_lowercase().as_str(),
    ) {
        ("microsoft.flux", "preview") => "1.15.0",
        ("microsoft.flux", _) => "1.14.2",
        ("microsoft.azuremonitor.containers", _) => "3.1.24",
        (_, "preview") => "1.1.0",
        _ => "1.0.0",
    }
}

/// The resources, operations and what the lab's "Azure" decides about them.
#[derive(Default)]
pub struct Arm {
    /// Resources by lower-case id.
    pub resources: BTreeMap<String, Stored>,
    /// Operations by id.
    pub operations: BTreeMap<String, Operation>,
    /// How long operations take.
    pub delay: Duration,
    /// The tenant identities belong to.
    pub tenant_id: String,
    next_operation: u64,
}

impl Arm {
    /// An empty Resource Manager whose operations take `delay`.
    pub fn new(delay: Duration, tenant_id: &str) -> Arm {
        Arm {
            delay,
            tenant_id: tenant_id.to_owned(),
            ..Arm::default()
        }
    }

    /// Ends every operation whose time has come: resources reach Succeeded (or Failed),
    /// deleted ones (and their children) go.
    pub fn advance(&mut self, now: Instant) {
        let mut finished = Vec::new();
        for op in self.operations.values_mut() {
            if op.done_at <= now && op.action == "DELETE" && op.error.is_none() && !op.applied {
                op.applied = true;
                finished.push(op.target.clone());
            }
        }
        for target in finished {
            let prefix = format!("{target}/");
            self.resources
                .retain(|id, _| id != &target && !id.starts_with(&prefix));
        }
        for stored in self.resources.values_mut() {
            if stored.ready_at > now {
                continue;
            }
            let props = &mut stored.body["properties"];
            let state = props["provisioningState"].as_str().unwrap_or("Succeeded");
            if ["Accepted", "Creating", "Updating", "Provisioning"].contains(&state) {
                match &stored.failure {
                    Some((code, message)) => {
                        props["provisioningState"] = json!("Failed");
                        if stored.kind == Kind::Extension {
                            props["errorInfo"] = json!({"code": code, "message": message});
                        }
                    }
                    None => {
                        props["provisioningState"] = json!("Succeeded");
                        if stored.kind == Kind::FluxConfiguration {
                            let suspended = props["suspend"] == true;
                            props["complianceState"] =
                                json!(if suspended { "Suspended" } else { "Compliant" });
                            props["statusUpdatedAt"] = json!(rfc3339(SystemTime::now()));
                        }
                    }
                }
            }
        }
    }

    fn start_operation(
        &mut self,
        target: &str,
        resource_id: &str,
        action: &str,
        error: Option<(String, String)>,
    ) -> String {
        self.next_operation += 1;
        let name = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            fastrand::u32(..),
            self.next_operation
        );
        self.operations.insert(
            name.clone(),
            Operation {
                target: target.to_owned(),
                action: action.to_owned(),
                done_at: Instant::now() + self.delay,
                error,
                started: rfc3339(SystemTime::now()),
                name: name.clone(),
                resource_id: resource_id.to_owned(),
                applied: false,
            },
        );
        name
    }

    /// The parent cluster's id of a child resource id, lower case.
    fn parent_of(id: &str) -> Option<String> {
        let lower = id.to_ascii_lowercase();
        let at = lower.find("/providers/microsoft.kubernetesconfiguration/")?;
        Some(lower[..at].to_owned())
    }

    /// A PUT of `body` to `id`; `failure` makes its operation fail. Returns the status,
    /// the body and the operation's id.
    pub fn put(
        &mut self,
        kind: Kind,
        id: &str,
        mut body: Value,
        failure: Option<(String, String)>,
    ) -> Result<(u16, Value, String), ArmError> {
        let key = id.to_ascii_lowercase();
        if kind != Kind::ConnectedCluster {
            let parent = Arm::parent_of(id).unwrap_or_default();
            if !self.resources.contains_key(&parent) {
                return Err(ArmError::new(
                    404,
                    "ParentResourceNotFound",
                    format!(
                        "Failed to perform 'write' on resource(s) of type '{}', because the parent resource '{}' could not be found.",
                        kind.type_name(),
                        parent
                    ),
                ));
            }
        }
        let existed = self.resources.get(&key).cloned();
        let name = id.rsplit('/').next().unwrap_or_default().to_owned();
        let props = body["properties"]
            .as_object_mut()
            .cloned()
            .unwrap_or_default();
        let mut props = Value::Object(props);
        let protected: BTreeMap<String, String> = props
            .as_object_mut()
            .and_then(|p| p.remove("configurationProtectedSettings"))
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let mut stored_body = json!({"id": id, "name": name, "type": kind.type_name()});
        match kind {
            Kind::ConnectedCluster => {
                stored_body["location"] = body["location"].clone();
                if let Some(tags) = body.get("tags") {
                    stored_body["tags"] = tags.clone();
                }
                if let Some(k) = body.get("kind") {
                    stored_body["kind"] = k.clone();
                }
                let identity_type = body["identity"]["type"]
                    .as_str()
                    .unwrap_or("None")
                    .to_owned();
                let mut identity = json!({"type": identity_type});
                if identity_type == "SystemAssigned" {
                    let principal = existed
                        .as_ref()
                        .and_then(|e| {
                            e.body["identity"]["principalId"]
                                .as_str()
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(uuid4);
                    identity["principalId"] = json!(principal);
                    identity["tenantId"] = json!(self.tenant_id);
                }
                stored_body["identity"] = identity;
                for (k, v) in [
                    ("distribution", "generic"),
                    ("infrastructure", "generic"),
                    ("privateLinkState", "Disabled"),
                    ("azureHybridBenefit", "NotApplicable"),
                ] {
                    if props.get(k).is_none() {
                        props[k] = json!(v);
                    }
                }
                if props["arcAgentProfile"].is_object()
                    && props["arcAgentProfile"].get("agentAutoUpgrade").is_none()
                {
                    props["arcAgentProfile"]["agentAutoUpgrade"] = json!("Enabled");
                }
                // What the agents reported survives an update of the resource.
                let reported = [
                    "connectivityStatus",
                    "agentVersion",
                    "kubernetesVersion",
                    "totalNodeCount",
                    "totalCoreCount",
                    "lastConnectivityTime",
                    "managedIdentityCertificateExpirationTime",
                ];
                for field in reported {
                    if let Some(v) = existed
                        .as_ref()
                        .and_then(|e| e.body["properties"].get(field))
                    {
                        props[field] = v.clone();
                    }
                }
                if props.get("connectivityStatus").is_none() {
                    props["connectivityStatus"] = json!("Connecting");
                }
                props["provisioningState"] = json!(if existed.is_some() {
                    "Updating"
                } else {
                    "Accepted"
                });
            }
            Kind::Extension => {
                let train = props["releaseTrain"]
                    .as_str()
                    .unwrap_or("Stable")
                    .to_owned();
                if props.get("releaseTrain").is_none() && props["autoUpgradeMinorVersion"] != false
                {
                    props["releaseTrain"] = json!("Stable");
                }
                if props.get("autoUpgradeMinorVersion").is_none() {
                    props["autoUpgradeMinorVersion"] = json!(true);
                }
                let extension_type = props["extensionType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                props["currentVersion"] = match props["version"].as_str() {
                    Some(v) => json!(v),
                    None => json!(catalogue_version(&extension_type, &train)),
                };
                props["isSystemExtension"] = json!(false);
                props["statuses"] = json!([]);
                props["provisioningState"] = json!(if existed.is_some() {
                    "Updating"
                } else {
                    "Creating"
                });
                stored_body["identity"] = json!({"type": "SystemAssigned", "principalId": uuid4(), "tenantId": self.tenant_id});
            }
            Kind::FluxConfiguration => {
                for (k, v) in [
                    ("scope", json!("cluster")),
                    ("namespace", json!("default")),
                    ("sourceKind", json!("GitRepository")),
                    ("suspend", json!(false)),
                ] {
                    if props.get(k).is_none() {
                        props[k] = v;
                    }
                }
                if let Some(existing) = &existed {
                    for k in ["scope", "namespace"] {
                        if existing.body["properties"][k] != props[k] {
                            return Err(ArmError::new(
                                400,
                                "InvalidRequestContent",
                                format!(
                                    "properties.{k} cannot be changed after the Flux configuration is created"
                                ),
                            ));
                        }
                    }
                }
                if let Some(kustomizations) = props["kustomizations"].as_object_mut() {
                    for (name, k) in kustomizations.iter_mut() {
                        k["name"] = json!(name);
                        for (field, default) in [
                            ("path", json!("")),
                            ("timeoutInSeconds", json!(600)),
                            ("syncIntervalInSeconds", json!(600)),
                            ("prune", json!(false)),
                            ("force", json!(false)),
                            ("wait", json!(true)),
                        ] {
                            if k.get(field).is_none() {
                                k[field] = default;
                            }
                        }
                    }
                }
                let repo = &mut props["gitRepository"];
                if repo.is_object() {
                    for (field, default) in
                        [("timeoutInSeconds", 600), ("syncIntervalInSeconds", 600)]
                    {
                        if repo.get(field).is_none() {
                            repo[field] = json!(default);
                        }
                    }
                }
                let url = props["gitRepository"]["url"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let branch = props["gitRepository"]["repositoryRef"]["branch"]
                    .as_str()
                    .unwrap_or("main")
                    .to_owned();
                let digest = openssl::sha::sha1(format!("{url}@{branch}").as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                props["sourceSyncedCommitId"] = json!(format!("{branch}@sha1:{hex}"));
                props["sourceUpdatedAt"] = json!(rfc3339(SystemTime::now()));
                props["complianceState"] = json!("Pending");
                props["statuses"] = json!([]);
                if url.starts_with("ssh://") && !protected.contains_key("sshPrivateKey") {
                    props["repositoryPublicKey"] = json!(
                        "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBGxhYi1mbHV4LWtleQ=="
                    );
                }
                props["provisioningState"] = json!(if existed.is_some() {
                    "Updating"
                } else {
                    "Creating"
                });
            }
        }
        stored_body["properties"] = props;
        let status = if existed.is_some() { 200 } else { 201 };
        let operation = self.start_operation(&key, id, "PUT", failure.clone());
        self.resources.insert(
            key,
            Stored {
                kind,
                body: stored_body.clone(),
                protected,
                ready_at: Instant::now() + self.delay,
                failure,
            },
        );
        Ok((status, stored_body, operation))
    }

    /// A PATCH: a connected cluster's tags and patchable properties (synchronous), or an
    /// extension's patchable properties (an operation). Returns the status, body and the
    /// operation id (empty when synchronous).
    pub fn patch(
        &mut self,
        kind: Kind,
        id: &str,
        patch: &Value,
    ) -> Result<(u16, Value, String), ArmError> {
        let key = id.to_ascii_lowercase();
        let Some(stored) = self.resources.get_mut(&key) else {
            return Err(not_found(kind, id));
        };
        if let Some(tags) = patch.get("tags") {
            stored.body["tags"] = tags.clone();
        }
        let mut patch_props = patch["properties"].clone();
        if let Some(p) = patch_props.as_object_mut()
            && let Some(Value::Object(secrets)) = p.remove("configurationProtectedSettings")
        {
            for (k, v) in secrets {
                stored
                    .protected
                    .insert(k, v.as_str().unwrap_or_default().to_owned());
            }
        }
        for (k, v) in patch_props.as_object().into_iter().flatten() {
            stored.body["properties"][k] = v.clone();
        }
        match kind {
            Kind::ConnectedCluster => Ok((200, stored.body.clone(), String::new())),
            _ => {
                if kind == Kind::Extension {
                    let props = &mut stored.body["properties"];
                    let train = props["releaseTrain"]
                        .as_str()
                        .unwrap_or("Stable")
                        .to_owned();
                    let extension_type = props["extensionType"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    props["currentVersion"] = match props["version"].as_str() {
                        Some(v) => json!(v),
                        None => json!(catalogue_version(&extension_type, &train)),
                    };
                }
                stored.body["properties"]["provisioningState"] = json!("Updating");
                stored.ready_at = Instant::now() + self.delay;
                let body = stored.body.clone();
                let operation = self.start_operation(&key, id, "PATCH", None);
                Ok((202, body, operation))
            }
        }
    }

    /// A DELETE: 202 with an operation, or 204 when there is nothing to delete.
    pub fn delete(&mut self, id: &str) -> Option<String> {
        let key = id.to_ascii_lowercase();
        let stored = self.resources.get_mut(&key)?;
        stored.body["properties"]["provisioningState"] = json!("Deleting");
        Some(self.start_operation(&key, id, "DELETE", None))
    }

    /// The resource at `id`.
    pub fn get(&self, kind: Kind, id: &str) -> Result<Value, ArmError> {
        self.resources
            .get(&id.to_ascii_lowercase())
            .map(|s| s.body.clone())
            .ok_or_else(|| not_found(kind, id))
    }

    /// An operation's status body (the ARM OperationStatusResult shape).
    pub fn operation_status(&self, name: &str, now: Instant) -> Option<Value> {
        let op = self.operations.get(name)?;
        let done = op.done_at <= now;
        let mut body = json!({
            "id": format!("{}/operations/{}", op.resource_id, op.name),
            "name": op.name,
            "status": "InProgress",
            "startTime": op.started,
        });
        if done {
            match &op.error {
                Some((code, message)) => {
                    body["status"] = json!("Failed");
                    body["error"] = json!({"code": code, "message": message});
                }
                None => body["status"] = json!("Succeeded"),
            }
            body["endTime"] = json!(rfc3339(SystemTime::now()));
        }
        Some(body)
    }

    /// Whether the operation has ended (for `Location` polling), and the resource it
    /// leaves (none after a delete).
    pub fn operation_result(&self, name: &str, now: Instant) -> Option<(bool, Option<Value>)> {
        let op = self.operations.get(name)?;
        let resource = self.resources.get(&op.target).map(|s| s.body.clone());
        Some((op.done_at <= now, resource))
    }

    /// Protected settings received for `id`, as SHA-256 hex digests.
    pub fn protected_digests(&self, id: &str) -> BTreeMap<String, String> {
        self.resources
            .get(&id.to_ascii_lowercase())
            .map(|s| {
                s.protected
                    .iter()
                    .map(|(k, v)| {
                        let digest = openssl::sha::sha256(v.as_bytes());
                        (
                            k.clone(),
                            digest.iter().map(|b| format!("{b:02x}")).collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// ARM's 404 for a missing resource.
pub fn not_found(kind: Kind, id: &str) -> ArmError {
    let name = id.rsplit('/').next().unwrap_or_default();
    let group = id
        .split('/')
        .skip_while(|s| !s.eq_ignore_ascii_case("resourcegroups"))
        .nth(1)
        .unwrap_or_default();
    ArmError::new(
        404,
        "ResourceNotFound",
        format!(
            "The Resource '{}/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            kind.type_name()
        ),
    )
}

/// A random version-4 UUID.
pub fn uuid4() -> String {
    uuid::Uuid::new_v4().to_string()
}
