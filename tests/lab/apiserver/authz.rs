//! Authorization as `--authorization-mode=Node,RBAC` decides, closely enough for the lab:
//! `system:masters` may do anything; kubelets (`system:node:NAME` in `system:nodes`) may
//! do what kube's Node authorizer and the `system:node` role let them; everyone else gets
//! what RBAC bindings stored in the cluster grant. RBAC objects are read on every request,
//! so a binding made through one API server applies at once on all of them.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::status::ApiError;
use super::store::{Store, StoreResult};

pub const MASTERS: &str = "system:masters";
pub const NODES: &str = "system:nodes";
pub const AUTHENTICATED: &str = "system:authenticated";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn anonymous() -> User {
        User {
            name: ANONYMOUS.into(),
            groups: vec![UNAUTHENTICATED.into()],
        }
    }

    /// A user known from a client certificate, in `system:authenticated` as well.
    pub fn authenticated(name: String, mut groups: Vec<String>) -> User {
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        User { name, groups }
    }

    fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// What a resource request touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceAttributes {
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

/// What is asked: a verb on a resource, or on a non-resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub path: String,
    pub resource: Option<ResourceAttributes>,
}

impl Attributes {
    /// kube's `User "x" cannot list resource "nodes" in API group "" at the cluster scope`,
    /// as a Forbidden error.
    pub fn forbidden(&self, user: &User) -> ApiError {
        match &self.resource {
            None => ApiError::forbidden(
                None,
                "",
                &format!(
                    "User {:?} cannot {} path {:?}",
                    user.name, self.verb, self.path
                ),
            ),
            Some(r) => {
                let mut resource = r.resource.clone();
                if !r.subresource.is_empty() {
                    resource = format!("{resource}/{}", r.subresource);
                }
                let scope = if r.namespace.is_empty() {
                    "at the cluster scope".to_owned()
                } else {
                    format!("in the namespace {:?}", r.namespace)
                };
                ApiError::forbidden(
                    Some((&r.group, &r.resource)),
                    &r.name,
                    &format!(
                        "User {:?} cannot {} resource {resource:?} in API group {:?} {scope}",
                        user.name, self.verb, r.group
                    ),
                )
            }
        }
    }
}

/// The RBAC objects as last read: when etcd does not answer, authorization goes on with
/// them, as kube-apiserver's informer caches let it (health checks keep answering while
/// etcd is down). Every request reads afresh when etcd answers.
#[derive(Debug, Default)]
pub struct LastKnown {
    reads: Mutex<HashMap<String, Vec<Value>>>,
}

impl LastKnown {
    /// The objects under `prefix` (or the one at a key: zero or one).
    async fn read(&self, store: &dyn Store, key: &str, prefix: bool) -> StoreResult<Vec<Value>> {
        let read = if prefix {
            store.list(key).await.map(|(items, _)| items)
        } else {
            store.get(key).await.map(|item| item.into_iter().collect())
        };
        let mut reads = self.reads.lock().expect("RBAC cache");
        match read {
            Ok(items) => {
                let values: Vec<Value> = items.iter().filter_map(|s| parse(&s.value)).collect();
                reads.insert(key.to_owned(), values.clone());
                Ok(values)
            }
            Err(e) => reads.get(key).cloned().ok_or(e),
        }
    }
}

/// Whether `user` may do what `attributes` describe.
pub async fn authorize(
    store: &dyn Store,
    last_known: &LastKnown,
    user: &User,
    attributes: &Attributes,
) -> StoreResult<bool> {
    if user.in_group(MASTERS) {
        return Ok(true);
    }
    if user.in_group(NODES) && user.name.starts_with("system:node:") && node_allows(attributes) {
        return Ok(true);
    }
    let rbac = Rbac { store, last_known };
    rbac.allows(user, attributes).await
}

/// What kubelets may do: kube's Node authorizer together with the `system:node` role,
/// without the Node authorizer's per-node graph (a kubelet may touch any node's objects).
fn node_allows(attributes: &Attributes) -> bool {
    let Some(r) = &attributes.resource else {
        return false;
    };
    let verb = attributes.verb.as_str();
    let read = matches!(verb, "get" | "list" | "watch");
    let write = matches!(verb, "create" | "update" | "patch");
    match (
        r.group.as_str(),
        r.resource.as_str(),
        r.subresource.as_str(),
    ) {
        ("", "nodes", "" | "status") => read || write,
        ("", "pods", "") => read || matches!(verb, "create" | "delete"),
        ("", "pods", "status") => matches!(verb, "update" | "patch"),
        ("", "pods", "eviction") => verb == "create",
        ("", "events", "") => matches!(verb, "create" | "update" | "patch"),
        ("", "services" | "endpoints", "") => read,
        ("", "configmaps" | "secrets", "") => verb == "get",
        ("coordination.k8s.io", "leases", "") => r.namespace == "kube-node-lease",
        _ => false,
    }
}

struct Rbac<'a> {
    store: &'a dyn Store,
    last_known: &'a LastKnown,
}

impl Rbac<'_> {
    async fn list(&self, prefix: &str) -> StoreResult<Vec<Value>> {
        self.last_known.read(self.store, prefix, true).await
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Value>> {
        Ok(self.last_known.read(self.store, key, false).await?.pop())
    }

    async fn allows(&self, user: &User, attributes: &Attributes) -> StoreResult<bool> {
        let mut cluster_roles: HashMap<String, Option<Value>> = HashMap::new();
        for binding in self.list("/registry/clusterrolebindings/").await? {
            if binds(&binding, user, "")
                && binding["roleRef"]["kind"] == "ClusterRole"
                && let Some(role) = self
                    .cluster_role(&mut cluster_roles, role_name(&binding))
                    .await?
                && role_allows(&role, attributes)
            {
                return Ok(true);
            }
        }
        let Some(namespace) = attributes
            .resource
            .as_ref()
            .map(|r| r.namespace.as_str())
            .filter(|ns| !ns.is_empty())
        else {
            return Ok(false);
        };
        for binding in self
            .list(&format!("/registry/rolebindings/{namespace}/"))
            .await?
        {
            if !binds(&binding, user, namespace) {
                continue;
            }
            let role = match binding["roleRef"]["kind"].as_str() {
                Some("ClusterRole") => {
                    self.cluster_role(&mut cluster_roles, role_name(&binding))
                        .await?
                }
                Some("Role") => {
                    self.get(&format!(
                        "/registry/roles/{namespace}/{}",
                        role_name(&binding)
                    ))
                    .await?
                }
                _ => None,
            };
            if role.is_some_and(|role| role_allows(&role, attributes)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn cluster_role(
        &self,
        seen: &mut HashMap<String, Option<Value>>,
        name: &str,
    ) -> StoreResult<Option<Value>> {
        if let Some(role) = seen.get(name) {
            return Ok(role.clone());
        }
        let role = self.get(&format!("/registry/clusterroles/{name}")).await?;
        seen.insert(name.to_owned(), role.clone());
        Ok(role)
    }
}

fn parse(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

fn role_name(binding: &Value) -> &str {
    binding["roleRef"]["name"].as_str().unwrap_or_default()
}

/// Whether a binding's subjects include `user`. `namespace` is the binding's own (for
/// service accounts named without one).
fn binds(binding: &Value, user: &User, namespace: &str) -> bool {
    binding["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|subject| {
            let name = subject["name"].as_str().unwrap_or_default();
            match subject["kind"].as_str() {
                Some("User") => user.name == name,
                Some("Group") => user.in_group(name),
                Some("ServiceAccount") => {
                    let ns = subject["namespace"]
                        .as_str()
                        .filter(|ns| !ns.is_empty())
                        .unwrap_or(namespace);
                    user.name == format!("system:serviceaccount:{ns}:{name}")
                }
                _ => false,
            }
        })
}

fn strings(value: &Value) -> impl Iterator<Item = &str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn role_allows(role: &Value, attributes: &Attributes) -> bool {
    role["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|rule| rule_allows(rule, attributes))
}

/// kube's RBAC rule matching (`RuleAllows`).
fn rule_allows(rule: &Value, attributes: &Attributes) -> bool {
    let verb_ok = strings(&rule["verbs"]).any(|v| v == "*" || v == attributes.verb);
    if !verb_ok {
        return false;
    }
    match &attributes.resource {
        None => strings(&rule["nonResourceURLs"]).any(|url| {
            url == "*"
                || url == attributes.path
                || url
                    .strip_suffix('*')
                    .is_some_and(|prefix| attributes.path.starts_with(prefix))
        }),
        Some(r) => {
            let group_ok = strings(&rule["apiGroups"]).any(|g| g == "*" || g == r.group);
            let combined = if r.subresource.is_empty() {
                r.resource.clone()
            } else {
                format!("{}/{}", r.resource, r.subresource)
            };
            let resource_ok = strings(&rule["resources"]).any(|res| {
                res == "*"
                    || res == combined
                    || (!r.subresource.is_empty()
                        && res.strip_prefix("*/") == Some(r.subresource.as_str()))
            });
            let mut names = strings(&rule["resourceNames"]).peekable();
            let name_ok = names.peek().is_none() || names.any(|n| n == r.name);
            group_ok && resource_ok && name_ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            path: String::new(),
            resource: Some(ResourceAttributes {
                group: group.into(),
                resource: resource.into(),
                subresource: sub.into(),
                namespace: String::new(),
                name: name.into(),
            }),
        }
    }

    #[test]
    fn rules_match_like_rbac() {
        let rule = json!({"apiGroups": [""], "resources": ["pods", "*/status"], "verbs": ["get"]});
        assert!(rule_allows(&rule, &resource("get", "", "pods", "", "")));
        assert!(rule_allows(
            &rule,
            &resource("get", "", "nodes", "status", "")
        ));
        assert!(!rule_allows(
            &rule,
            &resource("get", "", "pods", "eviction", "")
        ));
        assert!(!rule_allows(&rule, &resource("list", "", "pods", "", "")));
        assert!(!rule_allows(
            &rule,
            &resource("get", "apps", "pods", "", "")
        ));
        let named =
            json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"], "resourceNames": ["a"]});
        assert!(rule_allows(
            &named,
            &resource("delete", "apps", "x", "", "a")
        ));
        assert!(!rule_allows(&named, &resource("list", "apps", "x", "", "")));
        let urls = json!({"nonResourceURLs": ["/api", "/api/*"], "verbs": ["get"]});
        let path = |p: &str| Attributes {
            verb: "get".into(),
            path: p.into(),
            resource: None,
        };
        assert!(rule_allows(&urls, &path("/api/v1")));
        assert!(!rule_allows(&urls, &path("/apis")));
    }

    #[test]
    fn forbidden_messages_read_like_kube() {
        let user = User::authenticated(
            "kubernetes-admin".into(),
            vec!["kubeadm:cluster-admins".into()],
        );
        let e = resource("list", "", "nodes", "", "").forbidden(&user);
        assert_eq!(
            e.message,
            "nodes is forbidden: User \"kubernetes-admin\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
        );
        let mut attrs = resource("create", "", "pods", "eviction", "p");
        attrs.resource.as_mut().unwrap().namespace = "ns".into();
        assert_eq!(
            attrs.forbidden(&user).message,
            "pods \"p\" is forbidden: User \"kubernetes-admin\" cannot create resource \"pods/eviction\" in API group \"\" in the namespace \"ns\""
        );
        let path = Attributes {
            verb: "get".into(),
            path: "/api".into(),
            resource: None,
        };
        assert_eq!(
            path.forbidden(&User::anonymous()).message,
            "forbidden: User \"system:anonymous\" cannot get path \"/api\""
        );
    }
}
