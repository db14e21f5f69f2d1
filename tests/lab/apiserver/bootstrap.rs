//! The objects kube-apiserver ensures at start-up: the system namespaces, the default
//! RBAC roles and bindings (`poststarthook/rbac/bootstrap-roles`), and the `kubernetes`
//! service. Several API servers share one etcd, so each one creates what is missing and
//! leaves what another already created.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::api::{Fields, Server};
use super::fields::Shape;
use super::resources;
use super::status::ApiError;

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "patch",
    "update",
    "get",
    "list",
    "watch",
];

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn cluster_role(name: &str, rules: Vec<Value>) -> Value {
    json!({
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "rules": rules,
    })
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
        .collect();
    json!({
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

/// The namespaced resources the aggregated `view`/`edit`/`admin` roles cover here.
const WORKLOADS: &[&str] = &[
    "pods",
    "services",
    "configmaps",
    "endpoints",
    "events",
    "serviceaccounts",
    "persistentvolumeclaims",
    "replicationcontrollers",
];
const APPS: &[&str] = &["deployments", "daemonsets", "statefulsets", "replicasets"];

fn cluster_roles() -> Vec<Value> {
    let view = vec![
        rule(&[""], WORKLOADS, READ),
        rule(
            &[""],
            &["pods/status", "services/status", "namespaces"],
            READ,
        ),
        rule(&["apps"], APPS, READ),
        rule(&["policy"], &["poddisruptionbudgets"], READ),
        rule(&["coordination.k8s.io"], &["leases"], READ),
    ];
    let mut edit = vec![
        rule(&[""], WORKLOADS, WRITE),
        rule(&[""], &["secrets"], WRITE),
        rule(&[""], &["pods/eviction"], &["create"]),
        rule(&["apps"], APPS, WRITE),
        rule(&["policy"], &["poddisruptionbudgets"], WRITE),
        rule(&["coordination.k8s.io"], &["leases"], WRITE),
    ];
    edit.extend(view.iter().cloned());
    let mut admin = vec![rule(
        &["rbac.authorization.k8s.io"],
        &["roles", "rolebindings"],
        WRITE,
    )];
    admin.extend(edit.iter().cloned());
    vec![
        cluster_role(
            "cluster-admin",
            vec![
                rule(&["*"], &["*"], &["*"]),
                json!({"nonResourceURLs": ["*"], "verbs": ["*"]}),
            ],
        ),
        cluster_role("admin", admin),
        cluster_role("edit", edit),
        cluster_role("view", view),
        cluster_role(
            "system:discovery",
            vec![json!({
                "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                    "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
                "verbs": ["get"],
            })],
        ),
        cluster_role(
            "system:public-info-viewer",
            vec![json!({
                "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
                "verbs": ["get"],
            })],
        ),
        cluster_role(
            "system:basic-user",
            vec![rule(
                &["authorization.k8s.io"],
                &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                &["create"],
            )],
        ),
        cluster_role(
            "system:kubelet-api-admin",
            vec![
                rule(&[""], &["nodes"], &["get", "list", "watch", "proxy"]),
                rule(
                    &[""],
                    &[
                        "nodes/log",
                        "nodes/metrics",
                        "nodes/proxy",
                        "nodes/stats",
                        "nodes/configz",
                        "nodes/healthz",
                        "nodes/pods",
                    ],
                    &["*"],
                ),
            ],
        ),
    ]
}

fn cluster_role_bindings() -> Vec<Value> {
    vec![
        binding("cluster-admin", "cluster-admin", &["system:masters"]),
        binding(
            "system:discovery",
            "system:discovery",
            &["system:authenticated"],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            &["system:authenticated"],
        ),
    ]
}

/// Creates what is missing; another server having created it first is fine.
async fn ensure(
    server: &Server,
    plural: &str,
    group: &str,
    namespace: Option<&str>,
    object: Value,
) -> Result<(), ApiError> {
    let resource = resources::find(group, "v1", plural).expect("bootstrap resource types exist");
    let fields = Fields::Update {
        manager: "kube-apiserver",
        shape: Shape::Builtin,
    };
    match server
        .create(resource, namespace, object, false, fields)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.reason == "AlreadyExists" => Ok(()),
        Err(e) => Err(e),
    }
}

async fn bootstrap_once(server: &Server) -> Result<(), ApiError> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        ensure(
            server,
            "namespaces",
            "",
            None,
            json!({"metadata": {"name": ns}}),
        )
        .await?;
    }
    let rbac = "rbac.authorization.k8s.io";
    for role in cluster_roles() {
        ensure(server, "clusterroles", rbac, None, role).await?;
    }
    for binding in cluster_role_bindings() {
        ensure(server, "clusterrolebindings", rbac, None, binding).await?;
    }
    if let Some(ip) = server.first_service_ip() {
        let service = json!({
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": ip,
                "clusterIPs": [ip],
                "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                    "targetPort": server.config.secure_port}],
                "sessionAffinity": "None",
            },
        });
        ensure(server, "services", "", Some("default"), service).await?;
    }
    Ok(())
}

/// Retries until the bootstrap objects exist (etcd may come up after the API server),
/// then marks the server ready.
pub async fn run(server: &Server) {
    let mut delay = Duration::from_millis(100);
    loop {
        match bootstrap_once(server).await {
            Ok(()) => {
                server.bootstrapped.store(true, Ordering::Relaxed);
                tracing::debug!("bootstrap objects in place");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e.message, "bootstrap objects not created yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
