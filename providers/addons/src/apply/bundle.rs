//! Bundles: the Kubernetes objects one apply manages, read from multi-document YAML, each
//! with the identity its inventory entry keeps, in the order they are applied.

use std::collections::BTreeMap;

use serde::Deserialize as _;
use serde_json::Value;

/// An object's identity: what the inventory records and what the plan's keys show.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// The API group, empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    /// `group/Kind/namespace/name`, group and namespace empty when there are none:
    /// `/ConfigMap/kube-system/coredns`, `apiextensions.k8s.io/CustomResourceDefinition//x.io`.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.group, self.kind, self.namespace, self.name
        )
    }

    /// Reads a key back (version unknown).
    pub fn from_key(key: &str) -> Option<ObjectId> {
        let mut parts = key.splitn(4, '/');
        Some(ObjectId {
            group: parts.next()?.to_owned(),
            version: String::new(),
            kind: parts.next()?.to_owned(),
            namespace: parts.next()?.to_owned(),
            name: parts.next()?.to_owned(),
        })
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `Deployment monitoring/agent`, for messages.
    pub fn describe(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    /// Secrets' contents never show in plans or state in clear.
    pub fn is_secret(&self) -> bool {
        self.group.is_empty() && self.kind == "Secret"
    }
}

/// One object of a bundle: its identity (namespace settled once its kind's scope is
/// known) and its body as applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub id: ObjectId,
    pub body: Value,
}

/// A bundle's objects, in the order they are applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bundle {
    pub objects: Vec<Object>,
    /// The namespace of namespaced objects that name none.
    pub default_namespace: String,
}

/// Why a bundle cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BundleError {
    #[error("document {document} of {source_name} is not valid YAML: {message}")]
    Yaml {
        source_name: String,
        document: usize,
        message: String,
    },
    #[error("document {document} of {source_name} is not a Kubernetes object: {message}")]
    NotAnObject {
        source_name: String,
        document: usize,
        message: String,
    },
    #[error("{0} appears twice in the bundle")]
    Duplicate(String),
}

impl Bundle {
    /// Reads YAML texts (each may hold several `---`-separated documents; `kind: List`
    /// documents contribute their items). `sources` names each text for messages.
    /// Empty documents are skipped.
    pub fn from_yaml(
        texts: &[(String, String)],
        default_namespace: &str,
    ) -> Result<Bundle, BundleError> {
        let mut objects = Vec::new();
        for (source_name, text) in texts {
            for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
                let value = Value::deserialize(document).map_err(|e| BundleError::Yaml {
                    source_name: source_name.clone(),
                    document: index + 1,
                    message: e.to_string(),
                })?;
                let not_object = |message: &str| BundleError::NotAnObject {
                    source_name: source_name.clone(),
                    document: index + 1,
                    message: message.to_owned(),
                };
                match value {
                    Value::Null => {}
                    Value::Object(_) if is_list(&value) => {
                        for item in value["items"].as_array().into_iter().flatten() {
                            objects.push(object(item.clone()).map_err(|m| not_object(&m))?);
                        }
                    }
                    Value::Object(_) => objects.push(object(value).map_err(|m| not_object(&m))?),
                    _ => return Err(not_object("expected a mapping with apiVersion and kind")),
                }
            }
        }
        let mut bundle = Bundle {
            objects,
            default_namespace: default_namespace.to_owned(),
        };
        bundle.settle_scopes(&BTreeMap::new());
        bundle.check_unique()?;
        Ok(bundle)
    }

    /// Drops the objects `excluded` names (`Kind/name` or `Kind/namespace/name`);
    /// returns the patterns that matched nothing.
    pub fn exclude(&mut self, excluded: &[String]) -> Vec<String> {
        let mut unmatched = Vec::new();
        for pattern in excluded {
            let before = self.objects.len();
            self.objects.retain(|o| !matches_pattern(&o.id, pattern));
            if self.objects.len() == before {
                unmatched.push(pattern.clone());
            }
        }
        unmatched
    }

    /// Settles each object's namespace once its kind's scope is known: namespaced kinds
    /// without one get the default, cluster-scoped ones lose theirs (as kubectl sends
    /// them). `namespaced` maps `group/Kind` to whether it is namespaced; kinds it does
    /// not know are looked up among the bundle's own CRDs, and otherwise taken as
    /// namespaced when they name a namespace.
    pub fn settle_scopes(&mut self, namespaced: &BTreeMap<String, bool>) {
        let from_crds = self.crd_scopes();
        for object in &mut self.objects {
            let kind = format!("{}/{}", object.id.group, object.id.kind);
            let scoped = namespaced
                .get(&kind)
                .or_else(|| from_crds.get(&kind))
                .copied()
                .or_else(|| builtin_scope(&object.id.group, &object.id.kind));
            match scoped {
                Some(true) if object.id.namespace.is_empty() => {
                    object.id.namespace = self.default_namespace.clone();
                }
                Some(false) => object.id.namespace.clear(),
                _ => {}
            }
            match object.body["metadata"].as_object_mut() {
                Some(meta) if object.id.namespace.is_empty() => {
                    meta.remove("namespace");
                }
                Some(meta) => {
                    meta.insert("namespace".into(), object.id.namespace.clone().into());
                }
                None => {}
            }
        }
    }

    /// `group/Kind` -> namespaced, for the kinds this bundle's CRDs define.
    pub fn crd_scopes(&self) -> BTreeMap<String, bool> {
        self.objects
            .iter()
            .filter(|o| o.id.kind == "CustomResourceDefinition")
            .filter_map(|o| {
                let spec = &o.body["spec"];
                let kind = format!(
                    "{}/{}",
                    spec["group"].as_str()?,
                    spec["names"]["kind"].as_str()?
                );
                Some((kind, spec["scope"] != "Cluster"))
            })
            .collect()
    }

    /// Orders the objects as they are applied (see [`rank`]), keeping the written order
    /// within a rank.
    pub fn sort(&mut self) {
        self.objects.sort_by_key(|o| rank(&o.id));
    }

    pub fn check_unique(&self) -> Result<(), BundleError> {
        let mut seen = std::collections::BTreeSet::new();
        for object in &self.objects {
            if !seen.insert(object.id.key()) {
                return Err(BundleError::Duplicate(object.id.describe()));
            }
        }
        Ok(())
    }

    /// The object with this key.
    pub fn get(&self, key: &str) -> Option<&Object> {
        self.objects.iter().find(|o| o.id.key() == key)
    }
}

fn is_list(value: &Value) -> bool {
    value["kind"]
        .as_str()
        .is_some_and(|k| k == "List" || (k.ends_with("List") && value["items"].is_array()))
}

fn object(value: Value) -> Result<Object, String> {
    let api_version = value["apiVersion"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("it has no apiVersion")?;
    let kind = value["kind"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("it has no kind")?;
    let name = value["metadata"]["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            format!(
                "the {kind} has no metadata.name (generateName cannot be tracked in an inventory)"
            )
        })?;
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    Ok(Object {
        id: ObjectId {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            namespace: value["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            name: name.to_owned(),
        },
        body: value,
    })
}

fn matches_pattern(id: &ObjectId, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    match parts.as_slice() {
        [kind, name] => id.kind == *kind && id.name == *name,
        [kind, namespace, name] => {
            id.kind == *kind && id.namespace == *namespace && id.name == *name
        }
        _ => false,
    }
}

/// Scopes of the built-in kinds, for bundles planned before the cluster answers.
fn builtin_scope(group: &str, kind: &str) -> Option<bool> {
    let cluster_scoped = matches!(
        (group, kind),
        ("", "Namespace" | "Node" | "PersistentVolume")
            | (
                "rbac.authorization.k8s.io",
                "ClusterRole" | "ClusterRoleBinding"
            )
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | (
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration"
            )
            | ("storage.k8s.io", "StorageClass" | "CSIDriver")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("networking.k8s.io", "IngressClass")
            | ("apiregistration.k8s.io", "APIService")
    );
    let namespaced = matches!(
        (group, kind),
        (
            "",
            "ConfigMap"
                | "Secret"
                | "Service"
                | "ServiceAccount"
                | "Pod"
                | "PersistentVolumeClaim"
                | "Endpoints"
                | "LimitRange"
                | "ResourceQuota"
        ) | ("apps", _)
            | ("batch", _)
            | ("rbac.authorization.k8s.io", "Role" | "RoleBinding")
            | ("policy", "PodDisruptionBudget")
            | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
            | ("autoscaling", "HorizontalPodAutoscaler")
            | ("coordination.k8s.io", "Lease")
    );
    if cluster_scoped {
        Some(false)
    } else if namespaced {
        Some(true)
    } else {
        None
    }
}

/// Where a kind comes in an apply: what others need first (namespaces and CRDs, then
/// accounts, configuration and RBAC, then services and workloads), custom resources
/// after every built-in kind, and admission webhooks last, so that a webhook whose
/// service is not up yet cannot refuse the bundle's own objects. Deletes go in reverse.
pub fn rank(id: &ObjectId) -> usize {
    const ORDER: &[&str] = &[
        "Namespace",
        "CustomResourceDefinition",
        "PriorityClass",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "PodDisruptionBudget",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "DaemonSet",
        "Pod",
        "ReplicaSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "StatefulSet",
        "Job",
        "CronJob",
        "IngressClass",
        "Ingress",
        "APIService",
    ];
    let builtin = builtin_scope(&id.group, &id.kind).is_some()
        || matches!(id.group.as_str(), "apiregistration.k8s.io" | "autoscaling");
    match ORDER.iter().position(|k| *k == id.kind) {
        Some(i) if builtin || i < 2 => i,
        _ if id.kind.ends_with("WebhookConfiguration")
            && id.group == "admissionregistration.k8s.io" =>
        {
            ORDER.len() + 2
        }
        // Custom resources, and built-in kinds without a place above.
        _ if builtin => ORDER.len(),
        _ => ORDER.len() + 1,
    }
}

/// The first phase of an apply: what must exist before anything else can be applied.
pub fn is_foundation(id: &ObjectId) -> bool {
    rank(id) < 2
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
# A comment-only document is empty.
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: other}}
- {apiVersion: v1, kind: Namespace, metadata: {name: apps, namespace: ignored}}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ipaddresspools.metallb.io}
spec: {group: metallb.io, scope: Namespaced, names: {kind: IPAddressPool, plural: ipaddresspools}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: hook}
";

    #[test]
    fn documents_become_objects_in_apply_order() {
        let mut bundle = Bundle::from_yaml(&[("app.yaml".into(), YAML.into())], "apps").unwrap();
        bundle.sort();
        let keys: Vec<String> = bundle.objects.iter().map(|o| o.id.key()).collect();
        assert_eq!(
            keys,
            [
                "/Namespace//apps",
                "apiextensions.k8s.io/CustomResourceDefinition//ipaddresspools.metallb.io",
                "/ConfigMap/other/settings",
                "apps/Deployment/apps/web",
                "metallb.io/IPAddressPool/apps/pool",
                "admissionregistration.k8s.io/ValidatingWebhookConfiguration//hook",
            ]
        );
        // Namespaces are settled in the bodies too.
        let web = bundle.get("apps/Deployment/apps/web").unwrap();
        assert_eq!(web.body["metadata"]["namespace"], "apps");
        let ns = bundle.get("/Namespace//apps").unwrap();
        assert!(ns.body["metadata"].get("namespace").is_none());
        assert_eq!(
            ObjectId::from_key("/ConfigMap/other/settings")
                .unwrap()
                .name,
            "settings"
        );

        let mut excluded = bundle.clone();
        let unmatched = excluded.exclude(&[
            "ValidatingWebhookConfiguration/hook".into(),
            "ConfigMap/nowhere/x".into(),
        ]);
        assert_eq!(unmatched, ["ConfigMap/nowhere/x"]);
        assert_eq!(excluded.objects.len(), 5);
    }

    #[test]
    fn bad_documents_are_named() {
        let err = Bundle::from_yaml(&[("x.yaml".into(), "kind: ConfigMap\n".into())], "default")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "document 1 of x.yaml is not a Kubernetes object: it has no apiVersion"
        );
        let twice = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        let err = Bundle::from_yaml(&[("x.yaml".into(), twice.into())], "default").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ConfigMap default/a appears twice in the bundle"
        );
        let err = Bundle::from_yaml(&[("x.yaml".into(), "a: [\n".into())], "default").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("document 1 of x.yaml is not valid YAML"),
            "{err}"
        );
    }
}
