//! The lab's Azure over HTTPS: routes requests to Resource Manager, Entra ID, the managed
//! identity endpoint, the OIDC issuer, the cloud metadata and the control API; validates
//! every Resource Manager request against the specs; injects the faults tests ask for;
//! logs every request.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::clock::rfc3339;
use super::config::{Fault, FaultAction, LabConfig, LoggedRequest};
use super::entra::Entra;
use super::resources::{Arm, ArmError, Kind};
use super::spec::{Severity, Specs};

/// A request as the server read it.
pub struct Request {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The raw query.
    pub query: String,
    /// `Authorization`.
    pub authorization: Option<String>,
    /// `Metadata: true` was sent.
    pub metadata: bool,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    fn query(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// An answer.
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The JSON body (`null` for none).
    pub body: Value,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Leaves only `Location` to poll: the operation results URL of the status URL's
    /// operation.
    fn only_location(&mut self) {
        let Some(status) = self
            .headers
            .iter()
            .find(|(k, _)| k == "Azure-AsyncOperation")
            .map(|(_, v)| v.clone())
        else {
            return;
        };
        self.headers
            .retain(|(k, _)| k != "Azure-AsyncOperation" && k != "Location");
        let (path, query) = status.split_once('?').unwrap_or((&status, ""));
        let operation = path.rsplit('/').next().unwrap_or_default();
        let base = path.split("/subscriptions/").next().unwrap_or_default();
        let subscription = path
            .split("/subscriptions/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        self.headers.push((
            "Location".into(),
            format!("{base}/subscriptions/{subscription}/providers/Microsoft.Kubernetes/locations/lab/operationResults/{operation}?{query}"),
        ));
    }
}

impl From<ArmError> for Reply {
    fn from(e: ArmError) -> Reply {
        Reply::json(e.status, e.body())
    }
}

/// The connection is to be closed without an answer.
pub struct Reset;

struct State {
    arm: Arm,
    log: Vec<LoggedRequest>,
    faults: Vec<Fault>,
    seq: u64,
}

/// Everything the server knows.
pub struct Lab {
    /// The configuration.
    pub config: LabConfig,
    /// `https://127.0.0.1:PORT`.
    pub base_url: String,
    entra: Entra,
    specs: Specs,
    state: Mutex<State>,
    started: Instant,
    /// Set while connections are to be refused.
    pub refuse_until: Mutex<Option<Instant>>,
    /// Wakes the accept loop to stop listening.
    pub refuse: tokio::sync::Notify,
}

impl Lab {
    /// The lab for `config`, serving at `base_url`.
    pub fn new(config: LabConfig, base_url: String) -> Result<Lab, String> {
        let specs = Specs::load(&config.specs, super::spec::SPEC_FILES)?;
        Ok(Lab {
            entra: Entra::new(config.clone(), base_url.clone())?,
            specs,
            state: Mutex::new(State {
                arm: Arm::new(
                    Duration::from_millis(config.operation_delay_ms),
                    &config.tenant_id,
                ),
                log: Vec::new(),
                faults: Vec::new(),
                seq: 0,
            }),
            started: Instant::now(),
            refuse_until: Mutex::new(None),
            refuse: tokio::sync::Notify::new(),
            config,
            base_url,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers one request (or resets the connection).
    pub async fn handle(&self, request: Request) -> Result<Reply, Reset> {
        if request.path.starts_with("/_lab/") {
            return Ok(self.control(&request));
        }
        let arrived = self.started.elapsed();
        let mut entry = LoggedRequest {
            seq: 0,
            at_ms: arrived.as_millis() as u64,
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            status: 0,
            kind: kind_of(&request.path).to_owned(),
            operation: None,
            issues: Vec::new(),
            client_id: None,
            grant: None,
            fault: None,
            error_code: None,
        };
        if self
            .refuse_until
            .lock()
            .map(|u| u.is_some_and(|until| Instant::now() < until))
            .unwrap_or(false)
        {
            entry.fault = Some("refuse".into());
            self.record(entry);
            return Err(Reset);
        }
        let fault = self.take_fault(&request);
        let mut failure = None;
        if let Some(action) = &fault {
            entry.fault = Some(format!("{action:?}"));
            match action {
                FaultAction::Throttle { retry_after_secs } => {
                    let sub = request
                        .path
                        .split('/')
                        .nth(2)
                        .unwrap_or_default()
                        .to_owned();
                    let e = ArmError::new(
                        429,
                        "SubscriptionRequestsThrottled",
                        format!(
                            "Number of 'write' requests for subscription '{sub}' actor 'lab' exceeded. Please try again after '{retry_after_secs}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information."
                        ),
                    );
                    entry.status = 429;
                    entry.error_code = Some(e.code.clone());
                    self.record(entry);
                    return Ok(Reply::from(e).header("Retry-After", retry_after_secs.to_string()));
                }
                FaultAction::ServerError { status } => {
                    let e = ArmError::new(
                        *status,
                        "InternalServerError",
                        format!(
                            "Encountered internal server error. Diagnostic information: timestamp '{}', tracking id '{}'.",
                            rfc3339(SystemTime::now()),
                            super::resources::uuid4()
                        ),
                    );
                    entry.status = *status;
                    entry.error_code = Some(e.code.clone());
                    self.record(entry);
                    return Ok(e.into());
                }
                FaultAction::Delay { ms } => tokio::time::sleep(Duration::from_millis(*ms)).await,
                FaultAction::Reset => {
                    self.record(entry);
                    return Err(Reset);
                }
                FaultAction::Refuse { ms } => {
                    if let Ok(mut until) = self.refuse_until.lock() {
                        *until = Some(Instant::now() + Duration::from_millis(*ms));
                    }
                    self.refuse.notify_one();
                    self.record(entry);
                    return Err(Reset);
                }
                FaultAction::FailOperation { code, message } => {
                    failure = Some((code.clone(), message.clone()));
                }
                FaultAction::LocationOnly => {}
            }
        }
        let location_only = matches!(fault, Some(FaultAction::LocationOnly));
        let mut reply = self.route(&request, &mut entry, failure);
        if location_only {
            reply.only_location();
        }
        entry.status = reply.status;
        if reply.status >= 400 {
            entry.error_code = reply.body["error"]["code"]
                .as_str()
                .or(reply.body["error"].as_str())
                .map(str::to_owned);
        }
        self.record(entry);
        Ok(reply)
    }

    fn record(&self, mut entry: LoggedRequest) {
        let mut state = self.state();
        state.seq += 1;
        entry.seq = state.seq;
        tracing::debug!(
            method = %entry.method,
            path = %entry.path,
            status = entry.status,
            fault = ?entry.fault,
            "request"
        );
        state.log.push(entry);
    }

    fn take_fault(&self, request: &Request) -> Option<FaultAction> {
        let mut state = self.state();
        let index = state.faults.iter().position(|f| {
            f.count > 0
                && f.method
                    .as_ref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(&request.method))
                && f.path_contains.as_ref().is_none_or(|p| {
                    request
                        .path
                        .to_ascii_lowercase()
                        .contains(&p.to_ascii_lowercase())
                })
        })?;
        let fault = &mut state.faults[index];
        fault.count -= 1;
        let action = fault.action.clone();
        if fault.count == 0 {
            state.faults.remove(index);
        }
        Some(action)
    }

    fn route(
        &self,
        request: &Request,
        entry: &mut LoggedRequest,
        failure: Option<(String, String)>,
    ) -> Reply {
        let method = request.method.as_str();
        let path = request.path.as_str();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", [tenant, "oauth2", "v2.0", "token"]) => {
                let form = String::from_utf8_lossy(&request.body);
                let ((status, body), grant) = self.entra.token(tenant, &form);
                entry.client_id = grant.client_id;
                entry.grant = grant.method;
                Reply::json(status, body)
            }
            ("GET", ["metadata", "identity", "oauth2", "token"]) => {
                let ((status, body), grant) = self
                    .entra
                    .managed_identity(&request.query_pairs(), request.metadata);
                entry.client_id = grant.client_id;
                entry.grant = grant.method;
                Reply::json(status, body)
            }
            ("GET", ["metadata", "endpoints"]) => Reply::json(200, self.entra.metadata()),
            ("GET", ["oidc", ".well-known", "openid-configuration"]) => {
                Reply::json(200, self.entra.discovery())
            }
            ("GET", ["oidc", "keys"]) => Reply::json(200, self.entra.keys()),
            ("GET", ["oidc", "github"]) => {
                let (status, body) = self.entra.github(
                    request.query("audience").as_deref(),
                    request.authorization.as_deref(),
                );
                Reply::json(status, body)
            }
            ("POST", ["oidc", "ado"]) => {
                let (status, body) = self
                    .entra
                    .azure_pipelines(&request.query_pairs(), request.authorization.as_deref());
                Reply::json(status, body)
            }
            (_, ["subscriptions", ..]) => match self.resource_manager(request, entry, failure) {
                Ok(reply) => reply,
                Err(e) => e.into(),
            },
            _ => Reply::json(
                404,
                json!({"error": {"code": "NotFound", "message": format!("no route for {method} {path}")}}),
            ),
        }
    }

    fn resource_manager(
        &self,
        request: &Request,
        entry: &mut LoggedRequest,
        failure: Option<(String, String)>,
    ) -> Result<Reply, ArmError> {
        entry.client_id = Some(self.entra.authenticate(request.authorization.as_deref())?);
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        let subscription = segments.get(1).copied().unwrap_or_default();
        if !self
            .config
            .subscriptions
            .iter()
            .any(|s| s.eq_ignore_ascii_case(subscription))
        {
            return Err(ArmError::new(
                404,
                "SubscriptionNotFound",
                format!("The subscription '{subscription}' could not be found."),
            ));
        }
        let now = Instant::now();
        let mut state = self.state();
        state.arm.advance(now);
        // Operation status URLs the lab hands out.
        if request.method == "GET" {
            let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
            let n = lower.len();
            if n >= 2 && (lower[n - 2] == "operationstatuses" || lower[n - 2] == "operations") {
                entry.kind = "operation".into();
                let name = segments[n - 1];
                if let Some(op) = self.specs.find("get", &request.path) {
                    entry.operation = Some(op.id);
                }
                return state
                    .arm
                    .operation_status(name, now)
                    .map(|body| {
                        let running = body["status"] == "InProgress";
                        let reply = Reply::json(200, body);
                        if running {
                            reply.header("Retry-After", "1")
                        } else {
                            reply
                        }
                    })
                    .ok_or_else(|| {
                        ArmError::new(
                            404,
                            "OperationNotFound",
                            format!("The operation '{name}' could not be found."),
                        )
                    });
            }
            if n >= 2 && lower[n - 2] == "operationresults" {
                entry.kind = "operation".into();
                let name = segments[n - 1];
                return match state.arm.operation_result(name, now) {
                    None => Err(ArmError::new(
                        404,
                        "OperationNotFound",
                        format!("The operation '{name}' could not be found."),
                    )),
                    Some((false, _)) => Ok(Reply::json(202, Value::Null)
                        .header(
                            "Location",
                            format!("{}{}?{}", self.base_url, request.path, request.query),
                        )
                        .header("Retry-After", "1")),
                    Some((true, Some(resource))) => Ok(Reply::json(200, resource)),
                    Some((true, None)) => Ok(Reply::json(204, Value::Null)),
                };
            }
        }
        let Some(operation) = self.specs.find(&request.method, &request.path) else {
            return Err(ArmError::new(
                400,
                "InvalidResourceType",
                format!(
                    "The resource type could not be found for {} {}.",
                    request.method, request.path
                ),
            ));
        };
        entry.operation = Some(operation.id.clone());
        let kind = if operation.id.starts_with("ConnectedCluster_") {
            Kind::ConnectedCluster
        } else if operation.id.starts_with("Extensions_") {
            Kind::Extension
        } else {
            Kind::FluxConfiguration
        };
        match request.query("api-version") {
            None => {
                return Err(ArmError::new(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                ));
            }
            Some(v) if v != operation.api_version => {
                return Err(ArmError::new(
                    400,
                    "NoRegisteredProviderFound",
                    format!(
                        "No registered resource provider found for API version '{v}' and type '{}'. The supported api-versions are '{}'.",
                        kind.type_name(),
                        operation.api_version
                    ),
                ));
            }
            Some(_) => {}
        }
        if kind != Kind::ConnectedCluster {
            let rp = operation
                .params
                .get("clusterRp")
                .map(String::as_str)
                .unwrap_or_default();
            let rn = operation
                .params
                .get("clusterResourceName")
                .map(String::as_str)
                .unwrap_or_default();
            if !rp.eq_ignore_ascii_case("Microsoft.Kubernetes")
                || !rn.eq_ignore_ascii_case("connectedClusters")
            {
                return Err(ArmError::new(
                    400,
                    "InvalidResourceType",
                    format!(
                        "the lab serves extensions and Flux configurations of Microsoft.Kubernetes/connectedClusters only, not {rp}/{rn}"
                    ),
                ));
            }
        }
        let body: Option<Value> = if request.body.is_empty() {
            None
        } else {
            Some(serde_json::from_slice(&request.body).map_err(|e| {
                ArmError::new(
                    400,
                    "InvalidRequestContent",
                    format!(
                        "The request content was invalid and could not be deserialized: '{e}'."
                    ),
                )
            })?)
        };
        if matches!(request.method.as_str(), "PUT" | "PATCH" | "POST") {
            entry.issues = self.specs.validate_request(&operation, body.as_ref());
            let errors: Vec<Value> = entry
                .issues
                .iter()
                .filter(|i| i.severity == Severity::Error)
                .map(|i| json!({"code": "InvalidRequestContent", "target": i.path, "message": i.message}))
                .collect();
            if !errors.is_empty() {
                let mut e = ArmError::new(
                    400,
                    "InvalidRequestContent",
                    format!(
                        "The request content was invalid: {} problem(s) against the {} definition of api-version {}.",
                        errors.len(),
                        operation.id,
                        operation.api_version
                    ),
                );
                e.details = errors;
                return Err(e);
            }
        }
        let id = request.path.clone();
        let location = |state: &State| -> String {
            let cluster = id
                .to_ascii_lowercase()
                .split("/providers/microsoft.kubernetesconfiguration/")
                .next()
                .unwrap_or_default()
                .to_owned();
            state
                .arm
                .resources
                .get(&cluster)
                .and_then(|c| c.body["location"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "lab".into())
        };
        let op_urls = |op: &str, loc: &str| -> (String, String) {
            let api = kind.api_version();
            let status = match kind {
                Kind::ConnectedCluster => format!(
                    "{}/subscriptions/{subscription}/providers/Microsoft.Kubernetes/locations/{loc}/operationStatuses/{op}?api-version={api}",
                    self.base_url
                ),
                _ => format!("{}{id}/operations/{op}?api-version={api}", self.base_url),
            };
            let results = format!(
                "{}/subscriptions/{subscription}/providers/{}/locations/{loc}/operationResults/{op}?api-version={api}",
                self.base_url,
                kind.type_name().split('/').next().unwrap_or_default()
            );
            (status, results)
        };
        match request.method.as_str() {
            "GET" if operation.id.ends_with("_Get") => {
                Ok(Reply::json(200, state.arm.get(kind, &id)?))
            }
            "GET" => {
                let prefix = id.to_ascii_lowercase();
                let items: Vec<Value> = state
                    .arm
                    .resources
                    .iter()
                    .filter(|(k, s)| s.kind == kind && k.starts_with(&prefix))
                    .map(|(_, s)| s.body.clone())
                    .collect();
                Ok(Reply::json(200, json!({"value": items})))
            }
            "PUT" => {
                let (status, body, op) =
                    state
                        .arm
                        .put(kind, &id, body.unwrap_or_default(), failure)?;
                let loc = location(&state);
                let (status_url, _) = op_urls(&op, &loc);
                Ok(Reply::json(status, body)
                    .header("Azure-AsyncOperation", status_url)
                    .header("Retry-After", "1"))
            }
            "PATCH" => {
                let (status, body, op) = state.arm.patch(kind, &id, &body.unwrap_or_default())?;
                let reply = Reply::json(status, body);
                if op.is_empty() {
                    return Ok(reply);
                }
                let loc = location(&state);
                let (status_url, _) = op_urls(&op, &loc);
                Ok(reply
                    .header("Azure-AsyncOperation", status_url)
                    .header("Retry-After", "1"))
            }
            "DELETE" => {
                let loc = location(&state);
                match state.arm.delete(&id) {
                    None => Ok(Reply::json(204, Value::Null)),
                    Some(op) => {
                        let (status_url, results_url) = op_urls(&op, &loc);
                        Ok(Reply::json(202, Value::Null)
                            .header("Azure-AsyncOperation", status_url)
                            .header("Location", results_url)
                            .header("Retry-After", "1"))
                    }
                }
            }
            "POST" => {
                state.arm.get(
                    kind,
                    &id.rsplit_once('/')
                        .map(|(p, _)| p.to_owned())
                        .unwrap_or_default(),
                )?;
                Ok(Reply::json(200, json!({"kubeconfigs": []})))
            }
            _ => Err(ArmError::new(
                405,
                "MethodNotAllowed",
                "The method is not allowed.",
            )),
        }
    }

    fn control(&self, request: &Request) -> Reply {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let id = body["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        let mut state = self.state();
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/_lab/requests") => Reply::json(200, json!(state.log)),
            ("DELETE", "/_lab/requests") => {
                state.log.clear();
                Reply::json(200, json!({}))
            }
            ("POST", "/_lab/faults") => match serde_json::from_value::<Fault>(body) {
                Ok(fault) => {
                    state.faults.push(fault);
                    Reply::json(200, json!({}))
                }
                Err(e) => Reply::json(400, json!({"message": e.to_string()})),
            },
            ("DELETE", "/_lab/faults") => {
                state.faults.clear();
                Reply::json(200, json!({}))
            }
            ("GET", "/_lab/resources") => {
                state.arm.advance(Instant::now());
                let all: Vec<Value> = state
                    .arm
                    .resources
                    .values()
                    .map(|s| {
                        let id = s.body["id"].as_str().unwrap_or_default();
                        json!({"id": id, "body": s.body, "protected_sha256": state.arm.protected_digests(id)})
                    })
                    .collect();
                Reply::json(200, json!(all))
            }
            ("POST", "/_lab/heartbeat") => {
                let Some(stored) = state.arm.resources.get_mut(&id) else {
                    return Reply::json(404, json!({"message": "no such connected cluster"}));
                };
                let key = stored.body["properties"]["agentPublicKeyCertificate"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if !super::agent_signature_valid(
                    &key,
                    &id,
                    body["signature"].as_str().unwrap_or_default(),
                ) {
                    return Reply::json(
                        403,
                        json!({"message": "the agent's signature does not match agentPublicKeyCertificate"}),
                    );
                }
                let props = &mut stored.body["properties"];
                let now = SystemTime::now();
                props["connectivityStatus"] = json!("Connected");
                props["lastConnectivityTime"] = json!(rfc3339(now));
                for (from, to) in [
                    ("agent_version", "agentVersion"),
                    ("kubernetes_version", "kubernetesVersion"),
                    ("total_node_count", "totalNodeCount"),
                    ("total_core_count", "totalCoreCount"),
                ] {
                    if !body[from].is_null() {
                        props[to] = body[from].clone();
                    }
                }
                if props
                    .get("managedIdentityCertificateExpirationTime")
                    .is_none()
                {
                    props["managedIdentityCertificateExpirationTime"] =
                        json!(rfc3339(now + Duration::from_secs(90 * 86400)));
                }
                Reply::json(200, stored.body.clone())
            }
            ("POST", "/_lab/identity") => {
                let Some(stored) = state.arm.resources.get_mut(&id) else {
                    return Reply::json(404, json!({"message": "no such connected cluster"}));
                };
                let secs = body["expires_in_secs"].as_i64().unwrap_or(0);
                let now = SystemTime::now();
                let at = if secs >= 0 {
                    now + Duration::from_secs(secs as u64)
                } else {
                    now - Duration::from_secs(secs.unsigned_abs())
                };
                let props = &mut stored.body["properties"];
                props["managedIdentityCertificateExpirationTime"] = json!(rfc3339(at));
                if secs < 0 {
                    props["connectivityStatus"] = json!("Expired");
                }
                Reply::json(200, stored.body.clone())
            }
            ("POST", "/_lab/connectivity") => {
                let Some(stored) = state.arm.resources.get_mut(&id) else {
                    return Reply::json(404, json!({"message": "no such connected cluster"}));
                };
                let props = &mut stored.body["properties"];
                if let Some(status) = body["status"].as_str() {
                    props["connectivityStatus"] = json!(status);
                }
                if let Some(ago) = body["last_seen_secs_ago"].as_u64() {
                    props["lastConnectivityTime"] =
                        json!(rfc3339(SystemTime::now() - Duration::from_secs(ago)));
                }
                Reply::json(200, stored.body.clone())
            }
            ("POST", "/_lab/revoke-tokens") => match self.entra.revoke_tokens() {
                Ok(()) => Reply::json(200, json!({})),
                Err(e) => Reply::json(500, json!({"message": e})),
            },
            ("POST", "/_lab/federated-token") => {
                let subject = body["subject"].as_str().unwrap_or_default();
                let audience = body["audience"]
                    .as_str()
                    .unwrap_or(super::entra::EXCHANGE_AUDIENCE);
                Reply::json(
                    200,
                    json!({"token": self.entra.federated_token(subject, audience)}),
                )
            }
            _ => Reply::json(404, json!({"message": "no such control endpoint"})),
        }
    }
}

fn kind_of(path: &str) -> &'static str {
    if path.starts_with("/subscriptions/") {
        "arm"
    } else if path.starts_with("/metadata/identity") {
        "managed_identity"
    } else if path.starts_with("/metadata/") {
        "metadata"
    } else if path.starts_with("/oidc/") {
        "oidc"
    } else {
        "token"
    }
}
