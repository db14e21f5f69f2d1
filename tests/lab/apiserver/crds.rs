//! CustomResourceDefinitions: each established, served version of a stored CRD adds a
//! resource type to discovery and to the API, and its custom objects are stored like any
//! other. A CRD is accepted at once (NamesAccepted) and established a moment later by a
//! loop standing in for kube-apiserver's establishing controller, so clients must wait
//! for the Established condition before they use the new resource, as they must with a
//! real server. Deleting a CRD deletes its custom objects.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::Server;
use super::objects;
use super::resources::{self, NameRule, ResourceType};
use super::store::Precondition;

/// How long a snapshot of the stored CRDs serves requests before it is read again.
const CATALOG_TTL: Duration = Duration::from_secs(1);

/// How long after its creation a CRD becomes Established.
const ESTABLISH_DELAY: Duration = Duration::from_millis(300);

/// One served version of an established CRD.
#[derive(Debug, Clone)]
pub struct CustomType {
    pub resource: &'static ResourceType,
    /// The version's `schema.openAPIV3Schema` (null when it has none).
    pub schema: Arc<Value>,
}

/// The custom resource types served now.
#[derive(Debug, Default)]
pub struct Catalog {
    pub custom: Vec<CustomType>,
}

impl Catalog {
    /// The type served at `group`/`version` as `plural`: a built-in one, or a custom one
    /// with its schema.
    pub fn find(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<(&'static ResourceType, Option<Arc<Value>>)> {
        if let Some(builtin) = resources::find(group, version, plural) {
            return Some((builtin, None));
        }
        self.custom
            .iter()
            .find(|c| {
                c.resource.group == group
                    && c.resource.version == version
                    && c.resource.plural == plural
            })
            .map(|c| (c.resource, Some(c.schema.clone())))
    }

    /// Every type served, built-in first.
    pub fn all(&self) -> Vec<&'static ResourceType> {
        resources::RESOURCES
            .iter()
            .chain(self.custom.iter().map(|c| c.resource))
            .collect()
    }

    /// Reads the catalog from the stored CRDs.
    pub fn from_crds(crds: &[Value]) -> Catalog {
        let mut custom = Vec::new();
        for crd in crds {
            if !condition_true(crd, "Established") {
                continue;
            }
            let spec = &crd["spec"];
            for version in spec["versions"].as_array().into_iter().flatten() {
                if version["served"] == false {
                    continue;
                }
                let Some(resource) = custom_type(spec, version) else {
                    continue;
                };
                custom.push(CustomType {
                    resource,
                    schema: Arc::new(version["schema"]["openAPIV3Schema"].clone()),
                });
            }
        }
        Catalog { custom }
    }
}

/// The server's cached catalog.
#[derive(Debug, Default)]
pub struct CatalogCache {
    snapshot: Mutex<Option<(Instant, Arc<Catalog>)>>,
}

impl CatalogCache {
    /// The current catalog: cached, or read afresh when older than [`CATALOG_TTL`] or
    /// when `fresh` (a lookup missed: another server may have established a CRD).
    pub async fn get(
        &self,
        server: &Server,
        fresh: bool,
    ) -> Result<Arc<Catalog>, super::status::ApiError> {
        if !fresh
            && let Some((at, catalog)) = self.snapshot.lock().expect("catalog").as_ref()
            && at.elapsed() < CATALOG_TTL
        {
            return Ok(catalog.clone());
        }
        let crds = stored_crds(server).await?;
        let catalog = Arc::new(Catalog::from_crds(&crds));
        *self.snapshot.lock().expect("catalog") = Some((Instant::now(), catalog.clone()));
        Ok(catalog)
    }

    /// Forgets the snapshot after a CRD changed here.
    pub fn invalidate(&self) {
        *self.snapshot.lock().expect("catalog") = None;
    }
}

async fn stored_crds(server: &Server) -> Result<Vec<Value>, super::status::ApiError> {
    let crd = resources::find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("the CRD type");
    let (stored, _) = server.store.list(&crd.prefix(None)).await?;
    Ok(stored
        .iter()
        .filter_map(|s| objects::decode(&s.value, s.mod_revision).ok())
        .collect())
}

fn condition_true(object: &Value, kind: &str) -> bool {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

/// Leaked resource types by their description: a CRD seen again reuses its type, so the
/// lab server leaks once per distinct CRD version, not per request.
static TYPES: Mutex<BTreeMap<String, &'static ResourceType>> = Mutex::new(BTreeMap::new());

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

fn leak_all(items: &Value) -> &'static [&'static str] {
    let items: Vec<&'static str> = items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(leak)
        .collect();
    Box::leak(items.into_boxed_slice())
}

fn custom_type(spec: &Value, version: &Value) -> Option<&'static ResourceType> {
    let names = &spec["names"];
    let group = spec["group"].as_str()?;
    let version_name = version["name"].as_str()?;
    let plural = names["plural"].as_str()?;
    let kind = names["kind"].as_str()?;
    let namespaced = spec["scope"] != "Cluster";
    let status = version["subresources"]["status"].is_object();
    let description = json!([
        group,
        version_name,
        plural,
        names["singular"],
        kind,
        namespaced,
        status,
        names["shortNames"],
        names["categories"]
    ])
    .to_string();
    let mut types = TYPES.lock().expect("custom types");
    if let Some(found) = types.get(&description) {
        return Some(found);
    }
    let singular = names["singular"]
        .as_str()
        .map_or_else(|| kind.to_lowercase(), str::to_owned);
    let resource: &'static ResourceType = Box::leak(Box::new(ResourceType {
        group: leak(group),
        version: leak(version_name),
        plural: leak(plural),
        singular: leak(&singular),
        kind: leak(kind),
        namespaced,
        short_names: leak_all(&names["shortNames"]),
        categories: leak_all(&names["categories"]),
        status,
        status_on_create: None,
        create_on_update: false,
        names: NameRule::Subdomain,
        fields: &[],
        custom: true,
    }));
    types.insert(description, resource);
    Some(resource)
}

/// The status a new CRD gets: its names accepted, not yet established.
pub fn initial_status(crd: &Value) -> Value {
    let storage = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["storage"] == true)
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default();
    let mut accepted = crd["spec"]["names"].clone();
    if accepted["singular"].is_null()
        && let Some(kind) = accepted["kind"].as_str()
    {
        accepted["singular"] = kind.to_lowercase().into();
    }
    if accepted["listKind"].is_null()
        && let Some(kind) = accepted["kind"].as_str()
    {
        accepted["listKind"] = format!("{kind}List").into();
    }
    let now = objects::now();
    json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "False", "reason": "Installing",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": [storage],
    })
}

/// Establishes CRDs whose names were accepted, as kube-apiserver's establishing controller
/// does. Runs for the server's lifetime; wakes when a CRD changes here, and every few
/// seconds for those created through other servers.
pub async fn establish(server: Arc<Server>) {
    loop {
        let _ = tokio::time::timeout(Duration::from_secs(5), server.crd_changed.notified()).await;
        tokio::time::sleep(ESTABLISH_DELAY).await;
        if let Err(e) = establish_once(&server).await {
            tracing::debug!(error = %e.message, "establishing CRDs failed; retrying");
        }
    }
}

async fn establish_once(server: &Server) -> Result<(), super::status::ApiError> {
    let crd = resources::find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("the CRD type");
    let (stored, _) = server.store.list(&crd.prefix(None)).await?;
    let mut changed = false;
    for item in stored {
        let mut object = objects::decode(&item.value, item.mod_revision)?;
        if condition_true(&object, "Established") || !condition_true(&object, "NamesAccepted") {
            continue;
        }
        let old = object.clone();
        for condition in object["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if condition["type"] == "Established" {
                *condition = json!({"type": "Established", "status": "True",
                    "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
                    "lastTransitionTime": objects::now()});
            }
        }
        super::managed::update(
            Some(&old),
            &mut object,
            "kube-apiserver",
            Some("status"),
            super::fields::Shape::Builtin,
        );
        match server
            .store
            .put(
                &item.key,
                objects::encode(&object),
                Precondition::ModRevision(item.mod_revision),
            )
            .await
        {
            Ok(_) => changed = true,
            // Changed meanwhile (or established by another server): the next round sees it.
            Err(super::store::StoreError::PreconditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if changed {
        server.catalog.invalidate();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn established_served_versions_become_types() {
        let crd = json!({
            "spec": {"group": "metallb.io", "scope": "Namespaced",
                "names": {"plural": "ipaddresspools", "singular": "ipaddresspool", "kind": "IPAddressPool"},
                "versions": [
                    {"name": "v1beta1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object"}}, "subresources": {"status": {}}},
                    {"name": "v1alpha1", "served": false, "storage": false},
                ]},
        });
        assert!(
            Catalog::from_crds(std::slice::from_ref(&crd))
                .custom
                .is_empty()
        );
        let mut established = crd.clone();
        established["status"] = initial_status(&crd);
        established["status"]["conditions"][1]["status"] = "True".into();
        let catalog = Catalog::from_crds(&[established.clone(), established]);
        assert_eq!(catalog.custom.len(), 2);
        // The same CRD version maps to one leaked type.
        assert!(std::ptr::eq(
            catalog.custom[0].resource,
            catalog.custom[1].resource
        ));
        let (resource, schema) = catalog
            .find("metallb.io", "v1beta1", "ipaddresspools")
            .unwrap();
        assert_eq!(resource.kind, "IPAddressPool");
        assert!(resource.status && resource.namespaced && resource.custom);
        assert_eq!(
            resource.key(Some("metallb-system"), "default"),
            "/registry/metallb.io/ipaddresspools/metallb-system/default"
        );
        assert_eq!(*schema.unwrap(), json!({"type": "object"}));
        assert_eq!(initial_status(&crd)["storedVersions"], json!(["v1beta1"]));
    }
}
