//! Requests: routing, authorization, and the verbs on stored objects.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::authz::{self, Attributes, ResourceAttributes, User};
use super::crds::{self, Catalog, CatalogCache};
use super::fields::Shape;
use super::flags::Config;
use super::managed;
use super::objects::{self, metadata, name_of};
use super::resources::{self, ResourceType};
use super::select::{FieldSelector, Selector};
use super::status::{self, ApiError};
use super::store::{Precondition, Store, StoreError, Stored};
use super::table;

/// How many times a write retries after losing a race with another writer, when the
/// client gave no resourceVersion (kube's GuaranteedUpdate retries the same way).
const WRITE_ATTEMPTS: usize = 8;

/// A request as the handler needs it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    pub content_type: String,
    pub accept: String,
    /// The request carried an `Authorization` header (a token the lab cannot check).
    pub has_authorization: bool,
    /// The `User-Agent` header: writes without `fieldManager` are recorded under it.
    pub user_agent: String,
    pub body: Vec<u8>,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|v| v.is_empty() || v == "true" || v == "1")
    }

    fn dry_run(&self) -> bool {
        self.query.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }

    /// The field manager of a write: `fieldManager`, else the client's User-Agent.
    fn manager(&self) -> String {
        match self.param("fieldManager") {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => managed::manager_from_user_agent(&self.user_agent),
        }
    }
}

/// How a write records field ownership.
#[derive(Clone, Copy)]
pub(super) enum Fields<'a> {
    /// The object's managedFields are already worked out (server-side apply).
    Set,
    /// An update by this manager, on an object of this shape.
    Update { manager: &'a str, shape: Shape<'a> },
}

/// An answer: status code and body.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Json(u16, Value),
    Text(u16, String),
}

impl Reply {
    pub fn code(&self) -> u16 {
        match self {
            Reply::Json(code, _) | Reply::Text(code, _) => *code,
        }
    }
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Reply {
        Reply::Json(error.code, error.to_status())
    }
}

/// Splits a query string into decoded pairs.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(text.get(i + 1..i + 3).unwrap_or(""), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a resource request addresses.
#[derive(Debug, Clone)]
struct Target {
    resource: &'static ResourceType,
    /// A custom resource's schema (its list types decide how apply merges).
    schema: Option<Arc<Value>>,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

impl Target {
    fn shape(&self) -> Shape<'_> {
        match &self.schema {
            Some(schema) if schema.is_object() => Shape::Schema(schema),
            Some(_) => Shape::Unknown,
            None => Shape::Builtin,
        }
    }

    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    fn key(&self) -> String {
        self.resource.key(self.namespace(), self.name())
    }
}

#[derive(Debug)]
enum Route {
    Health {
        endpoint: &'static str,
        check: Option<String>,
    },
    Version,
    ApiVersions,
    GroupList,
    Group(String),
    ResourceList(String, String),
    OpenApiIndex,
    OpenApi(String),
    Resource(Target),
    Unknown,
}

fn route(path: &str, catalog: &Catalog) -> Route {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        [endpoint @ ("readyz" | "livez" | "healthz"), rest @ ..] if rest.len() <= 1 => {
            let endpoint = match *endpoint {
                "readyz" => "readyz",
                "livez" => "livez",
                _ => "healthz",
            };
            Route::Health {
                endpoint,
                check: rest.first().map(|c| (*c).to_owned()),
            }
        }
        ["version"] => Route::Version,
        ["api"] => Route::ApiVersions,
        ["api", "v1"] => Route::ResourceList(String::new(), "v1".into()),
        ["api", "v1", rest @ ..] => target(catalog, "", "v1", rest),
        ["apis"] => Route::GroupList,
        ["apis", group] if resources::is_group(catalog, group) => Route::Group((*group).to_owned()),
        ["apis", group, version] if resources::serves(catalog, group, version) => {
            Route::ResourceList((*group).to_owned(), (*version).to_owned())
        }
        ["apis", group, version, rest @ ..] => target(catalog, group, version, rest),
        ["openapi", "v3"] => Route::OpenApiIndex,
        ["openapi", "v3", rest @ ..] => Route::OpenApi(rest.join("/")),
        _ => Route::Unknown,
    }
}

fn target(catalog: &Catalog, group: &str, version: &str, rest: &[&str]) -> Route {
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            (Some((*ns).to_owned()), [&[*plural][..], tail].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let Some((plural, tail)) = rest.split_first() else {
        return Route::Unknown;
    };
    let Some((resource, schema)) = catalog.find(group, version, plural) else {
        return Route::Unknown;
    };
    if tail.len() > 2 || (namespace.is_some() && !resource.namespaced) {
        return Route::Unknown;
    }
    let name = tail.first().map(|n| (*n).to_owned());
    let subresource = tail.get(1).map(|n| (*n).to_owned());
    let sub_ok = match subresource.as_deref() {
        None => true,
        Some("status") => resource.status,
        Some("eviction") => resource.plural == "pods",
        Some(_) => false,
    };
    // A namespaced object is addressed in its namespace; only lists span namespaces.
    if !sub_ok || (resource.namespaced && namespace.is_none() && name.is_some()) {
        return Route::Unknown;
    }
    Route::Resource(Target {
        resource,
        schema,
        namespace,
        name,
        subresource,
    })
}

/// The verb kube's authorizers see for a resource request, or `None` when the method
/// does not apply to the path.
fn verb(method: &str, target: &Target, watch: bool) -> Option<&'static str> {
    let named = target.name.is_some();
    let sub = target.subresource.as_deref();
    Some(match (method, named, sub) {
        ("GET" | "HEAD", true, None | Some("status")) => "get",
        ("GET" | "HEAD", false, None) if watch => "watch",
        ("GET" | "HEAD", false, None) => "list",
        ("POST", false, None) => "create",
        ("POST", true, Some("eviction")) => "create",
        ("PUT", true, None | Some("status")) => "update",
        ("PATCH", true, None | Some("status")) => "patch",
        ("DELETE", true, None) => "delete",
        ("DELETE", false, None) => "deletecollection",
        _ => return None,
    })
}

/// Whether a client accepts JSON.
fn accepts_json(accept: &str) -> bool {
    accept.trim().is_empty()
        || accept.split(',').any(|media| {
            let media = media.split(';').next().unwrap_or("").trim();
            matches!(media, "application/json" | "*/*" | "application/*")
        })
}

/// The API server: its store and what it reports about itself.
pub struct Server {
    pub store: Arc<dyn Store>,
    pub config: Config,
    /// `https://ADDR:PORT` as clients should reach this server (for `/api`).
    pub server_address: String,
    /// Set once the bootstrap objects are in the store.
    pub bootstrapped: AtomicBool,
    last_known: authz::LastKnown,
    /// The custom resource types, from the stored CRDs.
    pub catalog: CatalogCache,
    /// Woken when a CRD is written here, for the establishing loop.
    pub crd_changed: tokio::sync::Notify,
}

impl Server {
    pub fn new(store: Arc<dyn Store>, config: Config, server_address: String) -> Server {
        Server {
            store,
            config,
            server_address,
            bootstrapped: AtomicBool::new(false),
            last_known: authz::LastKnown::default(),
            catalog: CatalogCache::default(),
            crd_changed: tokio::sync::Notify::new(),
        }
    }

    /// Answers one request from `user` (anonymous when no client certificate was given).
    pub async fn handle(&self, request: &Request, user: &User) -> Reply {
        if user.name == authz::ANONYMOUS && request.has_authorization {
            // A bearer token or basic credentials the lab has no authenticator for: kube
            // answers 401 when presented credentials fail, instead of going anonymous.
            return ApiError::unauthorized().into();
        }
        match self.dispatch(request, user).await {
            Ok(reply) => reply,
            Err(error) => error.into(),
        }
    }

    async fn dispatch(&self, request: &Request, user: &User) -> Result<Reply, ApiError> {
        let mut catalog = self.catalog.get(self, false).await?;
        let mut route = route(&request.path, &catalog);
        if matches!(route, Route::Unknown) && request.path.starts_with("/apis/") {
            // A CRD established through another server, or a moment ago.
            catalog = self.catalog.get(self, true).await?;
            route = self::route(&request.path, &catalog);
        }
        let method = request.method.as_str();
        let target = match route {
            Route::Resource(target) => target,
            route => {
                let attributes = Attributes {
                    verb: if method == "HEAD" {
                        "get".into()
                    } else {
                        method.to_ascii_lowercase()
                    },
                    path: request.path.clone(),
                    resource: None,
                };
                match self.require(user, &attributes).await {
                    // etcd is down and no RBAC objects were read yet: health checks still
                    // answer (and report etcd), as kubelet probes need them.
                    Err(e) if e.code == 500 && matches!(route, Route::Health { .. }) => {}
                    result => result?,
                }
                if !matches!(method, "GET" | "HEAD") {
                    return Err(ApiError::method_not_allowed(
                        "the server does not allow this method on the requested resource",
                    ));
                }
                return self.non_resource(route, request, &catalog).await;
            }
        };
        let watch = request.flag("watch");
        let Some(verb) = verb(method, &target, watch) else {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        };
        let attributes = Attributes {
            verb: verb.into(),
            path: request.path.clone(),
            resource: Some(ResourceAttributes {
                group: target.resource.group.into(),
                resource: target.resource.plural.into(),
                subresource: target.subresource.clone().unwrap_or_default(),
                namespace: target.namespace.clone().unwrap_or_default(),
                name: target.name.clone().unwrap_or_default(),
            }),
        };
        self.require(user, &attributes).await?;
        if !accepts_json(&request.accept) {
            return Err(ApiError::not_acceptable(format!(
                "only the following media types are accepted: application/json (not {})",
                request.accept
            )));
        }
        match verb {
            "get" => self.get(&target, request).await,
            "list" => self.list(&target, request).await,
            "watch" => Err(ApiError::method_not_allowed(
                "watch is not supported by the fleetform lab API server; list instead",
            )),
            "create" if target.subresource.as_deref() == Some("eviction") => {
                self.evict(&target, request).await
            }
            "create" => {
                let body = parse_body(request)?;
                let manager = request.manager();
                let fields = Fields::Update {
                    manager: &manager,
                    shape: target.shape(),
                };
                let object = self
                    .create(
                        target.resource,
                        target.namespace(),
                        body,
                        request.dry_run(),
                        fields,
                    )
                    .await?;
                Ok(Reply::Json(201, object))
            }
            "update" => self.update(&target, request).await,
            "patch" => self.patch(&target, request).await,
            "delete" => self.delete(&target, request).await,
            "deletecollection" => self.delete_collection(&target, request).await,
            _ => Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            )),
        }
    }

    async fn require(&self, user: &User, attributes: &Attributes) -> Result<(), ApiError> {
        if authz::authorize(self.store.as_ref(), &self.last_known, user, attributes).await? {
            Ok(())
        } else {
            Err(attributes.forbidden(user))
        }
    }

    async fn non_resource(
        &self,
        route: Route,
        request: &Request,
        catalog: &Catalog,
    ) -> Result<Reply, ApiError> {
        Ok(match route {
            Route::Health { endpoint, check } => {
                self.health(
                    endpoint,
                    check.as_deref(),
                    request.param("verbose").is_some(),
                )
                .await
            }
            Route::Version => Reply::Json(200, self.version()),
            Route::ApiVersions => Reply::Json(
                200,
                resources::api_versions(
                    self.server_address
                        .strip_prefix("https://")
                        .unwrap_or(&self.server_address),
                ),
            ),
            Route::GroupList => Reply::Json(200, resources::api_group_list(catalog)),
            Route::Group(group) => Reply::Json(200, resources::api_group(catalog, &group)),
            Route::ResourceList(group, version) => {
                Reply::Json(200, resources::api_resource_list(catalog, &group, &version))
            }
            Route::OpenApiIndex => Reply::Json(200, resources::openapi_index(catalog)),
            Route::OpenApi(name) => Reply::Json(
                200,
                resources::openapi_document(catalog, &name, &self.config.version.git_version)
                    .ok_or_else(ApiError::no_such_resource)?,
            ),
            Route::Resource(_) | Route::Unknown => return Err(ApiError::no_such_resource()),
        })
    }

    fn version(&self) -> Value {
        let v = &self.config.version;
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        json!({
            "major": v.major,
            "minor": v.minor,
            "gitVersion": v.git_version,
            "gitCommit": "fleetform-lab",
            "gitTreeState": "clean",
            "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": "none (the fleetform lab API server)",
            "compiler": "rustc",
            "platform": format!("linux/{arch}"),
        })
    }

    /// `/readyz`, `/livez`, `/healthz`, optionally for one check, as kube answers them.
    async fn health(&self, endpoint: &str, only: Option<&str>, verbose: bool) -> Reply {
        let mut checks = vec!["ping", "log", "etcd"];
        if endpoint != "livez" {
            checks.push("poststarthook/rbac/bootstrap-roles");
        }
        if let Some(only) = only {
            if !checks.contains(&only) {
                return Reply::Text(404, "404 page not found\n".into());
            }
            checks.retain(|c| *c == only);
        }
        let mut lines = Vec::new();
        let mut failed = false;
        for check in checks {
            let result = match check {
                "etcd" => self.store.check().await.map_err(|e| e.to_string()),
                "poststarthook/rbac/bootstrap-roles" => {
                    if self.bootstrapped.load(Ordering::Relaxed) {
                        Ok(())
                    } else {
                        Err("not finished".to_owned())
                    }
                }
                _ => Ok(()),
            };
            match result {
                Ok(()) => lines.push(format!("[+]{check} ok")),
                Err(reason) => {
                    tracing::info!(endpoint, check, %reason, "health check failed");
                    failed = true;
                    lines.push(format!("[-]{check} failed: reason withheld"));
                }
            }
        }
        if !failed && !verbose {
            return Reply::Text(200, "ok".into());
        }
        if only.is_some() && !failed {
            return Reply::Text(200, "ok".into());
        }
        let verdict = if failed { "failed" } else { "passed" };
        lines.push(format!("{endpoint} check {verdict}"));
        Reply::Text(if failed { 500 } else { 200 }, lines.join("\n") + "\n")
    }

    async fn read(&self, target: &Target) -> Result<(Stored, Value), ApiError> {
        let stored = self
            .store
            .get(&target.key())
            .await?
            .ok_or_else(|| ApiError::not_found(target.resource, target.name()))?;
        let object = objects::decode(&stored.value, stored.mod_revision)?;
        Ok((stored, object))
    }

    async fn get(&self, target: &Target, request: &Request) -> Result<Reply, ApiError> {
        let (stored, object) = self.read(target).await?;
        if table::wanted(&request.accept) {
            let revision = stored.mod_revision.to_string();
            let include = request.param("includeObject");
            let table = table::table(target.resource, &[object], Some(&revision), include);
            return Ok(Reply::Json(200, table));
        }
        Ok(Reply::Json(200, object))
    }

    /// Objects in the target's scope that the request's selectors select.
    async fn select(
        &self,
        target: &Target,
        request: &Request,
    ) -> Result<(Vec<(Stored, Value)>, i64), ApiError> {
        let labels = Selector::parse(request.param("labelSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(
            request.param("fieldSelector").unwrap_or_default(),
            target.resource.fields,
        )
        .map_err(ApiError::bad_request)?;
        let (stored, revision) = self
            .store
            .list(&target.resource.prefix(target.namespace()))
            .await?;
        let mut items = Vec::new();
        for s in stored {
            let object = objects::decode(&s.value, s.mod_revision)?;
            if labels.matches(&object["metadata"]["labels"]) && fields.matches(&object) {
                items.push((s, object));
            }
        }
        Ok((items, revision))
    }

    async fn list(&self, target: &Target, request: &Request) -> Result<Reply, ApiError> {
        let (items, revision) = self.select(target, request).await?;
        if table::wanted(&request.accept) {
            let objects: Vec<Value> = items.into_iter().map(|(_, object)| object).collect();
            let revision = revision.to_string();
            let include = request.param("includeObject");
            let table = table::table(target.resource, &objects, Some(&revision), include);
            return Ok(Reply::Json(200, table));
        }
        Ok(Reply::Json(200, list_of(target.resource, items, revision)))
    }

    /// Creates an object (also for the bootstrap objects and server-side apply).
    pub(super) async fn create(
        &self,
        resource: &'static ResourceType,
        namespace: Option<&str>,
        mut object: Value,
        dry_run: bool,
        fields: Fields<'_>,
    ) -> Result<Value, ApiError> {
        objects::check_type(resource, &mut object)?;
        let meta = metadata(&mut object);
        match (resource.namespaced, namespace) {
            (true, Some(ns)) => {
                match meta.get("namespace").and_then(Value::as_str) {
                    Some(given) if !given.is_empty() && given != ns => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ));
                    }
                    _ => {}
                }
                meta.insert("namespace".into(), ns.into());
            }
            _ => {
                meta.remove("namespace");
            }
        }
        let name = match meta.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => match meta.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => {
                    format!("{prefix}{}", objects::random_suffix())
                }
                _ => {
                    return Err(ApiError::invalid(
                        resource,
                        "",
                        &[(
                            "metadata.name",
                            "Required value: name or generateName is required".into(),
                        )],
                    ));
                }
            },
        };
        if let Some(problem) = objects::name_problem(resource.names, &name) {
            return Err(ApiError::invalid(
                resource,
                &name,
                &[("metadata.name", problem)],
            ));
        }
        meta.insert("name".into(), name.clone().into());
        if resource.custom
            && resource.status
            && let Some(fields) = object.as_object_mut()
        {
            // A custom object's status is its controller's to write.
            fields.remove("status");
        }
        // Field ownership is what the client sent, before the server fills anything in.
        if let Fields::Update { manager, shape } = fields {
            managed::update(None, &mut object, manager, None, shape);
        }
        let meta = metadata(&mut object);
        meta.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
        meta.insert("creationTimestamp".into(), objects::now().into());
        meta.insert("generation".into(), 1.into());
        meta.remove("resourceVersion");
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if let Some(status) = resource.status_on_create {
            object["status"] = serde_json::from_str(status).expect("table status is JSON");
        }
        if let Some(ns) = namespace.filter(|_| resource.namespaced) {
            let namespaces = resources::find("", "v1", "namespaces").expect("namespaces");
            if self.store.get(&namespaces.key(None, ns)).await?.is_none() {
                return Err(ApiError::not_found(namespaces, ns));
            }
        }
        match resource.plural {
            "namespaces" => object["status"] = json!({"phase": "Active"}),
            "services" => self.allocate_service(&mut object).await?,
            "customresourcedefinitions" => object["status"] = crds::initial_status(&object),
            _ => {}
        }
        if dry_run {
            return Ok(object);
        }
        let key = resource.key(namespace, &name);
        match self
            .store
            .put(&key, objects::encode(&object), Precondition::Absent)
            .await
        {
            Ok(revision) => {
                metadata(&mut object).insert("resourceVersion".into(), revision.to_string().into());
                if resource.plural == "customresourcedefinitions" {
                    self.crd_changed.notify_one();
                }
                Ok(object)
            }
            Err(StoreError::PreconditionFailed { .. }) => {
                Err(ApiError::already_exists(resource, &name))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A ClusterIP from the service network, and node ports, for a new Service. Another
    /// API server may pick the same address at the same moment; the lab accepts that.
    async fn allocate_service(&self, service: &mut Value) -> Result<(), ApiError> {
        let spec = &mut service["spec"];
        if !spec.is_object() {
            *spec = json!({});
        }
        let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_owned();
        spec["type"] = kind.clone().into();
        if let Some(ports) = spec["ports"].as_array_mut() {
            for port in ports {
                if port["protocol"].is_null() {
                    port["protocol"] = "TCP".into();
                }
                if port["targetPort"].is_null() {
                    port["targetPort"] = port["port"].clone();
                }
            }
        }
        if kind == "ExternalName" {
            return Ok(());
        }
        let (services, _) = self.store.list("/registry/services/").await?;
        let existing: Vec<Value> = services
            .iter()
            .filter_map(|s| serde_json::from_slice(&s.value).ok())
            .collect();
        let spec = &mut service["spec"];
        if spec["clusterIP"].as_str().is_none_or(str::is_empty)
            && let Some((base, size)) = self.service_network()
        {
            let used: Vec<&str> = existing
                .iter()
                .filter_map(|s| s["spec"]["clusterIP"].as_str())
                .collect();
            let free = (1..size.saturating_sub(1))
                .map(|offset| Ipv4Addr::from(base + offset).to_string())
                .find(|ip| !used.contains(&ip.as_str()))
                .ok_or_else(|| {
                    ApiError::internal("failed to allocate a serviceIP: range is full")
                })?;
            spec["clusterIP"] = free.clone().into();
            spec["clusterIPs"] = json!([free]);
            spec["ipFamilies"] = json!(["IPv4"]);
            spec["ipFamilyPolicy"] = "SingleStack".into();
        }
        if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
            let mut used: Vec<u64> = existing
                .iter()
                .flat_map(|s| s["spec"]["ports"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| p["nodePort"].as_u64())
                .collect();
            for port in spec["ports"].as_array_mut().into_iter().flatten() {
                if port["nodePort"].is_null() {
                    let free = (30000..=32767)
                        .find(|p| !used.contains(p))
                        .ok_or_else(|| ApiError::internal("the node port range is full"))?;
                    used.push(free);
                    port["nodePort"] = free.into();
                }
            }
        }
        Ok(())
    }

    /// The first IPv4 service network: its base address and size.
    fn service_network(&self) -> Option<(u32, u32)> {
        let range = self.config.service_cluster_ip_range.as_deref()?;
        let first = range.split(',').next()?.trim();
        let (addr, prefix) = first.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 30)?;
        let size = 1u32 << (32 - prefix);
        Some((u32::from(addr) & !(size - 1), size.min(1 << 16)))
    }

    /// The first address of the service network (the `kubernetes` service's).
    pub(super) fn first_service_ip(&self) -> Option<String> {
        self.service_network()
            .map(|(base, _)| Ipv4Addr::from(base + 1).to_string())
    }

    /// Writes `new` over `current` (read at `stored`'s revision): what an update of the
    /// object or of its status subresource keeps from the current object is kept.
    async fn write_update(
        &self,
        target: &Target,
        stored: &Stored,
        current: &Value,
        mut new: Value,
        dry_run: bool,
        fields: Fields<'_>,
    ) -> Result<Value, StoreError> {
        let status_only = target.subresource.as_deref() == Some("status");
        let mut result = if status_only {
            let mut result = current.clone();
            result["status"] = new["status"].take();
            result
        } else {
            for field in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match current["metadata"].get(field) {
                    Some(value) => {
                        metadata(&mut new).insert(field.into(), value.clone());
                    }
                    None => {
                        metadata(&mut new).remove(field);
                    }
                }
            }
            if target.resource.status {
                match current.get("status") {
                    Some(status) => new["status"] = status.clone(),
                    None => {
                        if let Some(fields) = new.as_object_mut() {
                            fields.remove("status");
                        }
                    }
                }
            }
            if target.resource.plural == "services"
                && new["spec"]["clusterIP"].is_null()
                && !current["spec"]["clusterIP"].is_null()
            {
                new["spec"]["clusterIP"] = current["spec"]["clusterIP"].clone();
                new["spec"]["clusterIPs"] = current["spec"]["clusterIPs"].clone();
            }
            if objects::spec_part(&new) != objects::spec_part(current) {
                let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
                metadata(&mut new).insert("generation".into(), generation.into());
            }
            new
        };
        if let Fields::Update { manager, shape } = fields {
            let subresource = target.subresource.as_deref();
            managed::update(Some(current), &mut result, manager, subresource, shape);
        }
        if objects::same_but_times(&result, current) {
            // Nothing changes: kube writes nothing and keeps the resourceVersion.
            return Ok(current.clone());
        }
        if dry_run {
            return Ok(result);
        }
        let finalized = !result["metadata"]["deletionTimestamp"].is_null()
            && result["metadata"]["finalizers"]
                .as_array()
                .is_none_or(Vec::is_empty);
        if finalized {
            // The last finalizer is gone from an object being deleted: it goes now.
            self.store
                .delete(&stored.key, Some(stored.mod_revision))
                .await?;
            return Ok(result);
        }
        let revision = self
            .store
            .put(
                &stored.key,
                objects::encode(&result),
                Precondition::ModRevision(stored.mod_revision),
            )
            .await?;
        metadata(&mut result).insert("resourceVersion".into(), revision.to_string().into());
        if target.resource.plural == "customresourcedefinitions" {
            self.catalog.invalidate();
            self.crd_changed.notify_one();
        }
        Ok(result)
    }

    /// Checks a new version of the target's object (from PUT or a patch) against the URL.
    fn check_new(&self, target: &Target, new: &mut Value) -> Result<(), ApiError> {
        objects::check_type(target.resource, new)?;
        let name = name_of(new);
        if name.is_empty() {
            metadata(new).insert("name".into(), target.name().into());
        } else if name != target.name() {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                target.name()
            )));
        }
        if let Some(ns) = target.namespace() {
            match new["metadata"]["namespace"].as_str() {
                Some(given) if !given.is_empty() && given != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {}
            }
            metadata(new).insert("namespace".into(), ns.into());
        }
        Ok(())
    }

    async fn update(&self, target: &Target, request: &Request) -> Result<Reply, ApiError> {
        let mut body = parse_body(request)?;
        self.check_new(target, &mut body)?;
        let wanted = objects::resource_version(&body)?;
        let manager = request.manager();
        let fields = Fields::Update {
            manager: &manager,
            shape: target.shape(),
        };
        for _ in 0..WRITE_ATTEMPTS {
            let Some(stored) = self.store.get(&target.key()).await? else {
                if target.resource.create_on_update && target.subresource.is_none() {
                    let object = self
                        .create(
                            target.resource,
                            target.namespace(),
                            body,
                            request.dry_run(),
                            fields,
                        )
                        .await?;
                    return Ok(Reply::Json(201, object));
                }
                return Err(ApiError::not_found(target.resource, target.name()));
            };
            if wanted.is_some_and(|rv| rv != stored.mod_revision) {
                return Err(ApiError::conflict(
                    target.resource,
                    target.name(),
                    ApiError::MODIFIED,
                ));
            }
            let current = objects::decode(&stored.value, stored.mod_revision)?;
            match self
                .write_update(
                    target,
                    &stored,
                    &current,
                    body.clone(),
                    request.dry_run(),
                    fields,
                )
                .await
            {
                Ok(object) => return Ok(Reply::Json(200, object)),
                Err(StoreError::PreconditionFailed { .. }) if wanted.is_none() => continue,
                Err(StoreError::PreconditionFailed { .. }) => {
                    return Err(ApiError::conflict(
                        target.resource,
                        target.name(),
                        ApiError::MODIFIED,
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::conflict(
            target.resource,
            target.name(),
            ApiError::MODIFIED,
        ))
    }

    async fn patch(&self, target: &Target, request: &Request) -> Result<Reply, ApiError> {
        let media = request
            .content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        let patch: Value = match media.as_str() {
            "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/json-patch+json" => serde_json::from_slice(&request.body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON in the patch: {e}")))?,
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                serde_yaml_ng::from_slice(&request.body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
            }
            _ => {
                return Err(ApiError::unsupported_media_type(format!(
                    "the body of the request was in an unknown format - accepted media types include: \
                     application/json-patch+json, application/merge-patch+json, \
                     application/apply-patch+yaml (got {media:?})"
                )));
            }
        };
        let apply = media.starts_with("application/apply-patch");
        if apply && request.param("fieldManager").is_none_or(str::is_empty) {
            return Err(ApiError::invalid(
                &PATCH_OPTIONS,
                "",
                &[(
                    "fieldManager",
                    "Required value: is required for apply patch".into(),
                )],
            ));
        }
        let manager = request.manager();
        let force = request.flag("force");
        if force && !apply {
            return Err(ApiError::bad_request(
                "force is only allowed for apply patches",
            ));
        }
        let mut applied = patch.clone();
        if apply {
            self.check_new(target, &mut applied)?;
            if target.resource.status
                && target.subresource.is_none()
                && let Some(fields) = applied.as_object_mut()
            {
                // The main resource ignores status, which has its own endpoint.
                fields.remove("status");
            }
        }
        for _ in 0..WRITE_ATTEMPTS {
            let Some(stored) = self.store.get(&target.key()).await? else {
                if apply && target.subresource.is_none() {
                    let object = managed::apply(None, &applied, &manager, force, target.shape())
                        .map_err(|c| managed::conflict_error(&c))?;
                    let object = self
                        .create(
                            target.resource,
                            target.namespace(),
                            object,
                            request.dry_run(),
                            Fields::Set,
                        )
                        .await?;
                    return Ok(Reply::Json(201, object));
                }
                return Err(ApiError::not_found(target.resource, target.name()));
            };
            let current = objects::decode(&stored.value, stored.mod_revision)?;
            let mut patched = current.clone();
            match media.as_str() {
                "application/json-patch+json" => objects::json_patch(&mut patched, &patch)?,
                _ if apply => {
                    patched =
                        managed::apply(Some(&current), &applied, &manager, force, target.shape())
                            .map_err(|c| managed::conflict_error(&c))?;
                }
                "application/strategic-merge-patch+json" => {
                    objects::strategic_merge_patch(&mut patched, &patch)
                }
                _ => objects::merge_patch(&mut patched, &patch),
            }
            self.check_new(target, &mut patched)?;
            // A resourceVersion in the patch is a precondition on the current object
            // (removing it, as `"resourceVersion": null` does, asks for none).
            if objects::resource_version(&patched)?.is_some_and(|rv| rv != stored.mod_revision) {
                return Err(ApiError::conflict(
                    target.resource,
                    target.name(),
                    ApiError::MODIFIED,
                ));
            }
            let fields = if apply {
                Fields::Set
            } else {
                Fields::Update {
                    manager: &manager,
                    shape: target.shape(),
                }
            };
            match self
                .write_update(
                    target,
                    &stored,
                    &current,
                    patched,
                    request.dry_run(),
                    fields,
                )
                .await
            {
                Ok(object) => return Ok(Reply::Json(200, object)),
                Err(StoreError::PreconditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::conflict(
            target.resource,
            target.name(),
            ApiError::MODIFIED,
        ))
    }

    async fn delete(&self, target: &Target, request: &Request) -> Result<Reply, ApiError> {
        let options: Value = if request.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&request.body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
        };
        let dry_run = request.dry_run()
            || options["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|v| v == "All"));
        for _ in 0..WRITE_ATTEMPTS {
            let (stored, mut object) = self.read(target).await?;
            let preconditions = &options["preconditions"];
            if let Some(uid) = preconditions["uid"].as_str()
                && object["metadata"]["uid"].as_str() != Some(uid)
            {
                return Err(ApiError::conflict(
                    target.resource,
                    target.name(),
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        object["metadata"]["uid"].as_str().unwrap_or_default()
                    ),
                ));
            }
            if let Some(rv) = preconditions["resourceVersion"].as_str()
                && rv != stored.mod_revision.to_string()
            {
                return Err(ApiError::conflict(
                    target.resource,
                    target.name(),
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        stored.mod_revision
                    ),
                ));
            }
            let has_finalizers = object["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
            if object["metadata"]["deletionTimestamp"].is_null() {
                let meta = metadata(&mut object);
                meta.insert("deletionTimestamp".into(), objects::now().into());
                meta.insert("deletionGracePeriodSeconds".into(), 0.into());
            }
            if dry_run {
                return Ok(Reply::Json(200, object));
            }
            if has_finalizers {
                // Finalizers hold the object until whoever owns them removes them.
                let written = self
                    .store
                    .put(
                        &stored.key,
                        objects::encode(&object),
                        Precondition::ModRevision(stored.mod_revision),
                    )
                    .await;
                match written {
                    Ok(revision) => {
                        metadata(&mut object)
                            .insert("resourceVersion".into(), revision.to_string().into());
                        return Ok(Reply::Json(200, object));
                    }
                    Err(StoreError::PreconditionFailed { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            if target.resource.plural == "namespaces" {
                // No namespace controller here: the namespace's objects go with it at once.
                self.delete_namespace_contents(target.name()).await?;
                object["status"]["phase"] = "Terminating".into();
            }
            if target.resource.plural == "customresourcedefinitions" {
                // Its custom objects go with it, as kube's CRD finalizer removes them.
                self.delete_custom_objects(&object).await?;
            }
            match self
                .store
                .delete(&stored.key, Some(stored.mod_revision))
                .await
            {
                Ok(_) => return Ok(Reply::Json(200, object)),
                Err(StoreError::PreconditionFailed { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::conflict(
            target.resource,
            target.name(),
            ApiError::MODIFIED,
        ))
    }

    async fn delete_custom_objects(&self, crd: &Value) -> Result<(), ApiError> {
        let (Some(group), Some(plural)) = (
            crd["spec"]["group"].as_str(),
            crd["spec"]["names"]["plural"].as_str(),
        ) else {
            return Ok(());
        };
        let (items, _) = self
            .store
            .list(&format!("/registry/{group}/{plural}/"))
            .await?;
        for item in items {
            self.store.delete(&item.key, None).await?;
        }
        self.catalog.invalidate();
        Ok(())
    }

    async fn delete_namespace_contents(&self, namespace: &str) -> Result<(), ApiError> {
        let catalog = self.catalog.get(self, true).await?;
        for resource in catalog.all().into_iter().filter(|r| r.namespaced) {
            let (items, _) = self.store.list(&resource.prefix(Some(namespace))).await?;
            for item in items {
                self.store.delete(&item.key, None).await?;
            }
        }
        Ok(())
    }

    async fn delete_collection(
        &self,
        target: &Target,
        request: &Request,
    ) -> Result<Reply, ApiError> {
        let (items, revision) = self.select(target, request).await?;
        let mut deleted = Vec::new();
        for (stored, object) in items {
            if request.dry_run() {
                deleted.push((stored, object));
                continue;
            }
            let item_target = Target {
                name: Some(name_of(&object).to_owned()),
                namespace: object["metadata"]["namespace"].as_str().map(str::to_owned),
                ..target.clone()
            };
            match self.delete(&item_target, request).await {
                Ok(Reply::Json(_, object)) => deleted.push((stored, object)),
                Ok(_) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Reply::Json(
            200,
            list_of(target.resource, deleted, revision),
        ))
    }

    /// `POST pods/NAME/eviction`: deletes the pod unless a PodDisruptionBudget selecting
    /// it would be violated, computing the budget from the pods as the disruption
    /// controller would.
    async fn evict(&self, target: &Target, request: &Request) -> Result<Reply, ApiError> {
        let eviction = parse_body(request)?;
        let eviction_name = name_of(&eviction);
        if !eviction_name.is_empty() && eviction_name != target.name() {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        let pod_target = Target {
            subresource: None,
            ..target.clone()
        };
        let (_, pod) = self.read(&pod_target).await?;
        let phase = pod["status"]["phase"].as_str().unwrap_or_default();
        // Pods that are not running cannot be disrupted further: kube evicts them freely.
        if phase == "Running" {
            self.check_budgets(target, &pod).await?;
        }
        let delete = Request {
            body: match &eviction["deleteOptions"] {
                Value::Null => Vec::new(),
                options => serde_json::to_vec(options).expect("JSON values serialize"),
            },
            ..request.clone()
        };
        self.delete(&pod_target, &delete).await?;
        Ok(Reply::Json(201, status::success(201)))
    }

    async fn check_budgets(&self, target: &Target, pod: &Value) -> Result<(), ApiError> {
        let namespace = target.namespace().unwrap_or_default();
        let budgets = resources::find("policy", "v1", "poddisruptionbudgets").expect("PDBs");
        let (stored, _) = self.store.list(&budgets.prefix(Some(namespace))).await?;
        let mut matching = Vec::new();
        for s in stored {
            let pdb: Value = objects::decode(&s.value, s.mod_revision)?;
            let selector =
                Selector::from_object(&pdb["spec"]["selector"]).map_err(ApiError::bad_request)?;
            if let Some(selector) = selector
                && selector.matches(&pod["metadata"]["labels"])
            {
                matching.push((pdb, selector));
            }
        }
        let (pdb, selector) = match matching.len() {
            0 => return Ok(()),
            1 => matching.pop().expect("one"),
            _ => {
                return Err(ApiError::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ));
            }
        };
        let pods = resources::find("", "v1", "pods").expect("pods");
        let (stored, _) = self.store.list(&pods.prefix(Some(namespace))).await?;
        let mut expected = 0i64;
        let mut healthy = 0i64;
        for s in stored {
            let other: Value = serde_json::from_slice(&s.value).unwrap_or_default();
            if !selector.matches(&other["metadata"]["labels"])
                || !other["metadata"]["deletionTimestamp"].is_null()
            {
                continue;
            }
            expected += 1;
            if is_ready(&other) {
                healthy += 1;
            }
        }
        let desired = desired_healthy(&pdb["spec"], expected)?;
        let allowed = if is_ready(pod) {
            healthy - desired >= 1
        } else {
            // An unready pod adds nothing to the budget (unhealthyPodEvictionPolicy
            // IfHealthyBudget): it may go while the budget holds.
            healthy >= desired
        };
        if allowed {
            return Ok(());
        }
        Err(ApiError::too_many_requests(
            "Cannot evict pod as it would violate the pod's disruption budget.",
            json!({
                "causes": [{
                    "reason": "DisruptionBudget",
                    "message": format!(
                        "The disruption budget {} needs {desired} healthy pods and has {healthy} currently",
                        name_of(&pdb)
                    ),
                }],
            }),
        ))
    }
}

/// The kind used in the Invalid error for a patch without fieldManager.
static PATCH_OPTIONS: ResourceType = ResourceType {
    group: "meta.k8s.io",
    version: "v1",
    plural: "patchoptions",
    singular: "",
    kind: "PatchOptions.meta.k8s.io",
    namespaced: false,
    short_names: &[],
    categories: &[],
    status: false,
    status_on_create: None,
    create_on_update: false,
    names: resources::NameRule::PathSegment,
    fields: &[],
    custom: false,
};

fn is_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// How many healthy pods a budget requires of `expected` pods: minAvailable, or
/// expected - maxUnavailable; percentages round up, as kube's disruption controller does.
fn desired_healthy(spec: &Value, expected: i64) -> Result<i64, ApiError> {
    let scaled = |value: &Value| -> Result<i64, ApiError> {
        match value {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| ApiError::bad_request("invalid disruption budget value")),
            Value::String(s) => {
                let percent: i64 = s
                    .strip_suffix('%')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("invalid disruption budget value {s:?}"))
                    })?;
                Ok((percent * expected + 99) / 100)
            }
            _ => Err(ApiError::bad_request("invalid disruption budget value")),
        }
    };
    if !spec["minAvailable"].is_null() {
        scaled(&spec["minAvailable"])
    } else if !spec["maxUnavailable"].is_null() {
        Ok((expected - scaled(&spec["maxUnavailable"])?).max(0))
    } else {
        // Neither set: kube defaults minAvailable to 1.
        Ok(1)
    }
}

fn parse_body(request: &Request) -> Result<Value, ApiError> {
    if request.body.is_empty() {
        return Err(ApiError::bad_request("the request has no body"));
    }
    let media = request.content_type.split(';').next().unwrap_or("").trim();
    if media == "application/yaml" {
        return serde_yaml_ng::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
    }
    serde_json::from_slice(&request.body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the request body: {e}")))
}

/// A `KindList` of `items`, which carry no apiVersion/kind of their own (as kube sends
/// them).
fn list_of(resource: &ResourceType, items: Vec<(Stored, Value)>, revision: i64) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|(_, mut object)| {
            if let Some(fields) = object.as_object_mut() {
                fields.remove("apiVersion");
                fields.remove("kind");
            }
            object
        })
        .collect();
    json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": revision.to_string()},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let t = |path| match route(path, &Catalog::default()) {
            Route::Resource(t) => Some((t.resource.plural, t.namespace, t.name, t.subresource)),
            _ => None,
        };
        assert_eq!(t("/api/v1/nodes"), Some(("nodes", None, None, None)));
        assert_eq!(
            t("/api/v1/namespaces/kube-system/pods/p/eviction"),
            Some((
                "pods",
                Some("kube-system".into()),
                Some("p".into()),
                Some("eviction".into())
            ))
        );
        assert_eq!(
            t("/api/v1/namespaces/default"),
            Some(("namespaces", None, Some("default".into()), None))
        );
        assert_eq!(
            t("/api/v1/namespaces/default/status"),
            Some((
                "namespaces",
                None,
                Some("default".into()),
                Some("status".into())
            ))
        );
        assert_eq!(
            t("/apis/apps/v1/namespaces/a/deployments/d/status"),
            Some((
                "deployments",
                Some("a".into()),
                Some("d".into()),
                Some("status".into())
            ))
        );
        assert_eq!(t("/api/v1/pods"), Some(("pods", None, None, None)));
        assert_eq!(t("/api/v1/pods/p"), None);
        assert_eq!(t("/api/v1/namespaces/a/nodes"), None);
        assert_eq!(t("/api/v1/nodes/n/eviction"), None);
        assert_eq!(t("/apis/apps/v2/deployments"), None);
        assert!(matches!(
            route("/readyz", &Catalog::default()),
            Route::Health {
                endpoint: "readyz",
                check: None
            }
        ));
        assert!(matches!(
            route("/apis/apps/v1", &Catalog::default()),
            Route::ResourceList(..)
        ));
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            parse_query("labelSelector=app%3Dweb%2Ctier+in+(a)&watch"),
            vec![
                ("labelSelector".into(), "app=web,tier in (a)".into()),
                ("watch".into(), String::new())
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn budgets() {
        let desired = |spec: Value, n| desired_healthy(&spec, n).unwrap();
        assert_eq!(desired(json!({"minAvailable": 2}), 3), 2);
        assert_eq!(desired(json!({"minAvailable": "50%"}), 3), 2);
        assert_eq!(desired(json!({"maxUnavailable": 1}), 3), 2);
        assert_eq!(desired(json!({"maxUnavailable": "50%"}), 3), 1);
        assert_eq!(desired(json!({}), 3), 1);
    }

    #[test]
    fn json_is_acceptable_to_kubectl_and_kube_rs() {
        assert!(accepts_json(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(accepts_json(""));
        assert!(!accepts_json("application/vnd.kubernetes.protobuf"));
    }
}
