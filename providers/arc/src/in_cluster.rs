//! The in-cluster side, the one place this crate talks to a Kubernetes API: a client from
//! the cluster's kubeconfig, server-side apply of objects (field manager `fleetform`,
//! conflicts forced, as the owner of what it declares), and deletes. Failures say whether
//! the cluster could not be reached at all (the site is offline: the work can be
//! deferred) or answered with an error (the work failed).
//!
//! The add-ons provider's apply library (inventory, dry-run diffs, conflicts reported
//! rather than forced) is not used: the agents' and Flux's objects are few, named by this
//! crate and owned by it alone, so a forced apply and deletes by name are all they need.
//! From the add-ons provider this crate takes only the way to reach a cluster
//! (`ApiConnector`, through a jump host where there is one).

use std::sync::Arc;
use std::time::Duration;

use fleetform_provider_addons::directory::ApiConnector;

use kube::api::{Api, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::{Client, Config};
use serde_json::Value;

/// The field manager of everything fleetform applies.
pub const FIELD_MANAGER: &str = "fleetform";

/// Why in-cluster work did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InClusterError {
    /// Nothing answered: the site (or its API server) is unreachable from here.
    #[error("the cluster's API server cannot be reached: {0}")]
    Unreachable(String),
    /// The API server answered with an error, or the input is unusable.
    #[error("{0}")]
    Failed(String),
}

/// An object fleetform applied, by reference: what a later apply prunes or a destroy
/// deletes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `apps/v1`, `v1`, ...
    pub api_version: String,
    /// `Deployment`, ...
    pub kind: String,
    /// The namespace of a namespaced object.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// The reference of a manifest.
    pub fn of(object: &Value) -> Option<ObjectRef> {
        Some(ObjectRef {
            api_version: object["apiVersion"].as_str()?.to_owned(),
            kind: object["kind"].as_str()?.to_owned(),
            namespace: object["metadata"]["namespace"].as_str().map(str::to_owned),
            name: object["metadata"]["name"].as_str()?.to_owned(),
        })
    }

    /// `apps/v1/Deployment/azure-arc/config-agent` (the namespace empty for cluster-scoped
    /// objects): how state records it.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or_default(),
            self.name
        )
    }

    /// Reads [`ObjectRef::key`] back.
    pub fn parse(key: &str) -> Option<ObjectRef> {
        // From the right: name, namespace, then "apiVersion/Kind" (the API version may
        // hold a slash of its own).
        let mut parts = key.rsplitn(3, '/');
        let (name, namespace, api_and_kind) = (parts.next()?, parts.next()?, parts.next()?);
        let (api_version, kind) = api_and_kind.rsplit_once('/')?;
        Some(ObjectRef {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
            name: name.to_owned(),
        })
    }

    fn gvk(&self) -> GroupVersionKind {
        let (group, version) = self
            .api_version
            .split_once('/')
            .unwrap_or(("", &self.api_version));
        GroupVersionKind::gvk(group, version, &self.kind)
    }
}

/// A connection to one cluster's API server.
pub struct InCluster {
    client: Client,
}

impl InCluster {
    /// Connects with `kubeconfig` (through `connector` when the cluster sits behind a jump
    /// host) and checks that the API server answers.
    pub async fn connect(
        kubeconfig: &str,
        connector: Option<Arc<dyn ApiConnector>>,
    ) -> Result<InCluster, InClusterError> {
        if let Some(connector) = connector {
            let clients = connector
                .clients(kubeconfig)
                .await
                .map_err(InClusterError::Unreachable)?;
            let mut last = String::from("no API server");
            for (server, client) in clients {
                match Self::answering(client, &server).await {
                    Ok(cluster) => return Ok(cluster),
                    Err(e) => last = e.to_string(),
                }
            }
            return Err(InClusterError::Unreachable(last));
        }
        let parsed = Kubeconfig::from_yaml(kubeconfig)
            .map_err(|e| InClusterError::Failed(format!("invalid kubeconfig: {e}")))?;
        let mut config = Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
            .await
            .map_err(|e| InClusterError::Failed(format!("invalid kubeconfig: {e}")))?;
        config.connect_timeout = Some(Duration::from_secs(5));
        config.read_timeout = Some(Duration::from_secs(30));
        config.default_retry = false;
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|e| {
            InClusterError::Failed(format!("cannot build a Kubernetes client: {e}"))
        })?;
        Self::answering(client, &server).await
    }

    /// `client` when the API server answers a version request.
    async fn answering(client: Client, server: &str) -> Result<InCluster, InClusterError> {
        match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
            Ok(Ok(_)) => Ok(InCluster { client }),
            Ok(Err(kube::Error::Api(status))) => Err(InClusterError::Failed(format!(
                "{server} refused the version request: {}",
                status.message
            ))),
            Ok(Err(e)) => Err(InClusterError::Unreachable(format!("{server}: {e}"))),
            Err(_) => Err(InClusterError::Unreachable(format!(
                "{server}: no answer within 10s"
            ))),
        }
    }

    async fn resource(
        &self,
        reference: &ObjectRef,
    ) -> Result<(ApiResource, ApiCapabilities), InClusterError> {
        kube::discovery::pinned_kind(&self.client, &reference.gvk())
            .await
            .map_err(|e| classify(&format!("{} {}", reference.api_version, reference.kind), e))
    }

    fn api(
        &self,
        resource: &ApiResource,
        caps: &ApiCapabilities,
        namespace: Option<&str>,
    ) -> Api<DynamicObject> {
        match (&caps.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => {
                Api::namespaced_with(self.client.clone(), ns, resource)
            }
            (Scope::Namespaced, None) => {
                Api::default_namespaced_with(self.client.clone(), resource)
            }
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), resource),
        }
    }

    /// Applies `objects` server-side in order (namespaces and CRDs first), each as
    /// fleetform's field manager; namespaced objects that name no namespace go into
    /// `default_namespace`. Returns their references.
    pub async fn apply(
        &self,
        objects: &[Value],
        default_namespace: &str,
    ) -> Result<Vec<ObjectRef>, InClusterError> {
        let mut ordered: Vec<&Value> = objects.iter().collect();
        ordered.sort_by_key(|o| match o["kind"].as_str() {
            Some("Namespace") => 0,
            Some("CustomResourceDefinition") => 1,
            _ => 2,
        });
        let mut applied = Vec::with_capacity(ordered.len());
        for object in ordered {
            let mut reference = ObjectRef::of(object).ok_or_else(|| {
                InClusterError::Failed("an object without apiVersion, kind or metadata.name".into())
            })?;
            let (resource, caps) = self.resource(&reference).await?;
            let mut object = object.clone();
            match caps.scope {
                Scope::Namespaced if reference.namespace.is_none() => {
                    reference.namespace = Some(default_namespace.to_owned());
                    object["metadata"]["namespace"] = Value::from(default_namespace);
                }
                Scope::Cluster => reference.namespace = None,
                Scope::Namespaced => {}
            }
            let api = self.api(&resource, &caps, reference.namespace.as_deref());
            let params = PatchParams::apply(FIELD_MANAGER).force();
            api.patch(&reference.name, &params, &Patch::Apply(&object))
                .await
                .map_err(|e| classify(&reference.key(), e))?;
            tracing::debug!(object = %reference.key(), "applied server-side");
            applied.push(reference);
        }
        Ok(applied)
    }

    /// Deletes `objects` in reverse order (namespaces last); objects already gone and
    /// kinds the cluster no longer serves are fine.
    pub async fn delete(&self, objects: &[ObjectRef]) -> Result<(), InClusterError> {
        let mut ordered: Vec<&ObjectRef> = objects.iter().collect();
        ordered.sort_by_key(|o| match o.kind.as_str() {
            "Namespace" => 2,
            "CustomResourceDefinition" => 1,
            _ => 0,
        });
        for reference in ordered {
            let (resource, caps) = match self.resource(reference).await {
                Ok(found) => found,
                Err(InClusterError::Failed(_)) => continue,
                Err(e) => return Err(e),
            };
            let api = self.api(&resource, &caps, reference.namespace.as_deref());
            match api
                .delete(&reference.name, &DeleteParams::background())
                .await
            {
                Ok(_) => tracing::debug!(object = %reference.key(), "deleted"),
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => return Err(classify(&reference.key(), e)),
            }
        }
        Ok(())
    }

    /// Reads an object; `None` when it does not exist.
    pub async fn get(&self, reference: &ObjectRef) -> Result<Option<Value>, InClusterError> {
        let (resource, caps) = self.resource(reference).await?;
        let api = self.api(&resource, &caps, reference.namespace.as_deref());
        match api.get_opt(&reference.name).await {
            Ok(found) => Ok(found.and_then(|o| serde_json::to_value(o).ok())),
            Err(e) => Err(classify(&reference.key(), e)),
        }
    }
}

/// An answer from the API server is a failure; anything else means it was not reached.
fn classify(what: &str, e: kube::Error) -> InClusterError {
    match e {
        kube::Error::Api(status) => {
            InClusterError::Failed(format!("{what}: {} ({})", status.message, status.code))
        }
        kube::Error::Discovery(d) => InClusterError::Failed(format!("{what}: {d}")),
        other => InClusterError::Unreachable(format!("{what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_through_their_keys() {
        for key in [
            "apps/v1/Deployment/azure-arc/config-agent",
            "v1/Namespace//azure-arc",
            "source.toolkit.fluxcd.io/v1/GitRepository/flux-system/fleet",
        ] {
            let parsed = ObjectRef::parse(key).unwrap();
            assert_eq!(parsed.key(), key);
        }
        let d = ObjectRef::parse("apps/v1/Deployment/azure-arc/config-agent").unwrap();
        assert_eq!(
            (d.api_version.as_str(), d.kind.as_str()),
            ("apps/v1", "Deployment")
        );
        assert_eq!(d.namespace.as_deref(), Some("azure-arc"));
        let ns = ObjectRef::parse("v1/Namespace//azure-arc").unwrap();
        assert_eq!(ns.namespace, None);
        assert_eq!(ns.api_version, "v1");
    }
}
