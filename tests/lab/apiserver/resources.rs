//! The resource types the lab server stores, and the discovery documents that describe
//! them. One generic store serves them all; the few per-kind differences (status reset on
//! create, create-on-update, which names are valid, field selectors) are table entries.

use serde_json::{Value, json};

use super::crds::Catalog;

/// How an object's name is checked, as kube-apiserver does per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// A lowercase RFC 1123 subdomain (most kinds).
    Subdomain,
    /// A lowercase RFC 1123 label (namespaces, services).
    Label,
    /// Anything usable in a URL path segment (RBAC objects, e.g. `system:node`).
    PathSegment,
}

/// One resource type: what discovery lists and how objects of it are stored.
#[derive(Debug)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Has a `status` subresource: updates of the object keep its status, and updates of
    /// `status` change nothing else.
    pub status: bool,
    /// kube-apiserver's PrepareForCreate replaces the status with this (pods start
    /// Pending whatever the client sent).
    pub status_on_create: Option<&'static str>,
    /// A PUT of a missing object creates it (AllowCreateOnUpdate).
    pub create_on_update: bool,
    pub names: NameRule,
    /// Field selector labels beyond metadata.name and metadata.namespace.
    pub fields: &'static [&'static str],
    /// Defined by a CustomResourceDefinition: stored under its group, as kube stores
    /// custom objects.
    pub custom: bool,
}

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource as kube's messages name it: `nodes`, `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The etcd key of one object, as kube-apiserver lays them out (except that nodes are
    /// under `nodes`, not kube's historical `minions`, and services under `services`).
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}{name}", self.prefix(namespace))
    }

    /// The etcd key prefix of every object in `namespace` (or everywhere).
    pub fn prefix(&self, namespace: Option<&str>) -> String {
        let base = if self.custom {
            format!("/registry/{}/{}/", self.group, self.plural)
        } else {
            format!("/registry/{}/", self.plural)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{base}{ns}/"),
            _ => base,
        }
    }
}

const fn resource(
    group: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        version: "v1",
        plural,
        singular,
        kind,
        namespaced,
        short_names: &[],
        categories: &[],
        status: false,
        status_on_create: None,
        create_on_update: false,
        names: NameRule::Subdomain,
        fields: &[],
        custom: false,
    }
}

const RBAC: &str = "rbac.authorization.k8s.io";

pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        short_names: &["ns"],
        status: true,
        names: NameRule::Label,
        fields: &["status.phase"],
        ..resource("", "namespaces", "namespace", "Namespace", false)
    },
    ResourceType {
        short_names: &["no"],
        status: true,
        fields: &["spec.unschedulable"],
        ..resource("", "nodes", "node", "Node", false)
    },
    ResourceType {
        short_names: &["po"],
        categories: &["all"],
        status: true,
        status_on_create: Some(r#"{"phase":"Pending"}"#),
        fields: &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ..resource("", "pods", "pod", "Pod", true)
    },
    ResourceType {
        short_names: &["svc"],
        categories: &["all"],
        status: true,
        names: NameRule::Label,
        fields: &["spec.clusterIP", "spec.type"],
        ..resource("", "services", "service", "Service", true)
    },
    ResourceType {
        short_names: &["cm"],
        ..resource("", "configmaps", "configmap", "ConfigMap", true)
    },
    ResourceType {
        fields: &["type"],
        ..resource("", "secrets", "secret", "Secret", true)
    },
    ResourceType {
        short_names: &["sa"],
        ..resource(
            "",
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            true,
        )
    },
    ResourceType {
        short_names: &["ev"],
        create_on_update: true,
        names: NameRule::PathSegment,
        fields: &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ..resource("", "events", "event", "Event", true)
    },
    ResourceType {
        short_names: &["ep"],
        create_on_update: true,
        ..resource("", "endpoints", "endpoints", "Endpoints", true)
    },
    ResourceType {
        create_on_update: true,
        names: NameRule::PathSegment,
        ..resource(RBAC, "clusterroles", "clusterrole", "ClusterRole", false)
    },
    ResourceType {
        create_on_update: true,
        names: NameRule::PathSegment,
        ..resource(
            RBAC,
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
            false,
        )
    },
    ResourceType {
        create_on_update: true,
        names: NameRule::PathSegment,
        ..resource(RBAC, "roles", "role", "Role", true)
    },
    ResourceType {
        create_on_update: true,
        names: NameRule::PathSegment,
        ..resource(RBAC, "rolebindings", "rolebinding", "RoleBinding", true)
    },
    ResourceType {
        short_names: &["pdb"],
        status: true,
        ..resource(
            "policy",
            "poddisruptionbudgets",
            "poddisruptionbudget",
            "PodDisruptionBudget",
            true,
        )
    },
    ResourceType {
        create_on_update: true,
        ..resource("coordination.k8s.io", "leases", "lease", "Lease", true)
    },
    ResourceType {
        short_names: &["deploy"],
        categories: &["all"],
        status: true,
        status_on_create: Some("{}"),
        ..resource("apps", "deployments", "deployment", "Deployment", true)
    },
    ResourceType {
        short_names: &["ds"],
        categories: &["all"],
        status: true,
        status_on_create: Some("{}"),
        ..resource("apps", "daemonsets", "daemonset", "DaemonSet", true)
    },
    ResourceType {
        short_names: &["sts"],
        categories: &["all"],
        status: true,
        status_on_create: Some("{}"),
        ..resource("apps", "statefulsets", "statefulset", "StatefulSet", true)
    },
    ResourceType {
        short_names: &["rs"],
        categories: &["all"],
        status: true,
        status_on_create: Some("{}"),
        ..resource("apps", "replicasets", "replicaset", "ReplicaSet", true)
    },
    ResourceType {
        short_names: &["crd", "crds"],
        status: true,
        ..resource(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
        )
    },
];

/// The resource type served at `group`/`version` as `plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Whether some resource type is served at `group`/`version`.
pub fn serves(catalog: &Catalog, group: &str, version: &str) -> bool {
    catalog
        .all()
        .iter()
        .any(|r| r.group == group && r.version == version)
}

/// The verbs of every stored resource. No `watch`: the lab server does not stream.
const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
];

/// The groups in the order kube-apiserver lists them (custom groups after the built-in
/// ones).
fn groups(catalog: &Catalog) -> Vec<&'static str> {
    let mut groups: Vec<&str> = Vec::new();
    for r in catalog.all() {
        if !r.group.is_empty() && !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    groups
}

/// The versions served for `group`, the preferred one first.
fn versions(catalog: &Catalog, group: &str) -> Vec<&'static str> {
    let mut versions: Vec<&str> = Vec::new();
    for r in catalog.all() {
        if r.group == group && !versions.contains(&r.version) {
            versions.push(r.version);
        }
    }
    versions
}

/// `GET /api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// `GET /apis`.
pub fn api_group_list(catalog: &Catalog) -> Value {
    let groups: Vec<Value> = groups(catalog)
        .into_iter()
        .map(|g| api_group(catalog, g))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/GROUP`.
pub fn api_group(catalog: &Catalog, group: &str) -> Value {
    let versions: Vec<Value> = versions(catalog, group)
        .into_iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "preferredVersion": versions.first().cloned().unwrap_or_default(),
        "versions": versions,
    })
}

/// Whether `/apis/GROUP` exists.
pub fn is_group(catalog: &Catalog, group: &str) -> bool {
    groups(catalog).contains(&group)
}

/// `GET /api/v1` or `GET /apis/GROUP/VERSION`.
pub fn api_resource_list(catalog: &Catalog, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for r in catalog
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        if r.status {
            resources.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if r.plural == "pods" {
            resources.push(json!({
                "name": "pods/eviction",
                "singularName": "",
                "namespaced": true,
                "group": "policy",
                "version": "v1",
                "kind": "Eviction",
                "verbs": ["create"],
            }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    })
}

/// The served group versions as OpenAPI v3 names them: `api/v1`, `apis/apps/v1`.
fn openapi_names(catalog: &Catalog) -> Vec<(String, &'static str, &'static str)> {
    let mut names: Vec<(String, &str, &str)> = Vec::new();
    for r in catalog.all() {
        let name = if r.group.is_empty() {
            format!("api/{}", r.version)
        } else {
            format!("apis/{}/{}", r.group, r.version)
        };
        if !names.iter().any(|(n, _, _)| *n == name) {
            names.push((name, r.group, r.version));
        }
    }
    names
}

/// `GET /openapi/v3`: where each group version's document is.
pub fn openapi_index(catalog: &Catalog) -> Value {
    let paths: serde_json::Map<String, Value> = openapi_names(catalog)
        .into_iter()
        .map(|(name, _, _)| {
            let url = format!("/openapi/v3/{name}?hash=fleetform-lab");
            (name, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// `GET /openapi/v3/api/v1` (etc.): the PATCH operations of each resource, with the
/// `fieldValidation` parameter kubectl looks for before it leaves validation to the
/// server. There are no schemas: the lab server checks types and names, not fields, so
/// unknown fields are stored rather than refused.
pub fn openapi_document(catalog: &Catalog, name: &str, version: &str) -> Option<Value> {
    let (_, group, group_version) = openapi_names(catalog)
        .into_iter()
        .find(|(n, _, _)| n == name)?;
    let mut paths = serde_json::Map::new();
    for r in catalog
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == group_version)
    {
        let scope = if r.namespaced {
            "namespaces/{namespace}/"
        } else {
            ""
        };
        let path = format!("/{name}/{scope}{}/{{name}}", r.plural);
        paths.insert(
            path,
            json!({"patch": {
                "operationId": format!("patch{}", r.kind),
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
                "parameters": [
                    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
                ],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}
