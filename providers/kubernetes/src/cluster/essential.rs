//! A cluster's essential add-ons (kube-proxy, CoreDNS, the kubeadm-config and
//! cluster-info ConfigMaps, the bootstrap RBAC; see [`crate::render::essential_addons`]),
//! applied through the cluster's API once its control plane serves, with the add-on
//! library: server-side apply under their own field manager, an inventory whose entries
//! state keeps (each with a digest of what was applied), and prune. Like kubeadm, nothing
//! waits for CoreDNS's pods: they stay Pending until a pod network exists.

use std::collections::BTreeSet;
use std::time::Duration;

use fleetform_provider_addons::addon::POD_NETWORK_LABEL;
use fleetform_provider_addons::apply::{self, Bundle, Cluster, ObjectId, Options, Record};
use fleetform_provider_addons::sources::sha256_hex;
use fleetform_provider_host::fleet::Fleet;
use fleetform_sdk::{Diagnostic, Diagnostics, ProviderError, Value};
use k8s_openapi::api::apps::v1::DaemonSet;
use kube::api::{Api, ListParams};

use super::ClusterSpec;
use crate::api;
use crate::pki::Endpoint;
use crate::remote::ClusterHost;
use crate::render;

/// The field manager of the essential add-ons: their own, so that an addon touching the
/// same objects conflicts visibly instead of sharing fleetform's entry.
pub const FIELD_MANAGER: &str = "fleetform-cluster";

/// The cluster's essential add-ons, rendered.
pub fn bundle(
    spec: &ClusterSpec,
    endpoint: &Endpoint,
    ca_certificate: &str,
) -> Result<Bundle, ProviderError> {
    let settings = super::render_settings(spec, &[], endpoint);
    let documents = render::essential_addons(&settings, ca_certificate).map_err(|e| {
        ProviderError::permanent(format!("cannot render the essential add-ons: {e}"))
    })?;
    Bundle::from_yaml(&documents, "kube-system")
        .map_err(|e| ProviderError::permanent(format!("the essential add-ons do not parse: {e}")))
}

/// What state records of the add-ons: a short digest of each object as rendered, by
/// `group/Kind/namespace/name`. A new fleetform release that renders them differently,
/// or a version change, shows here.
pub fn digests(bundle: &Bundle) -> Value {
    Value::Object(
        bundle
            .objects
            .iter()
            .map(|o| {
                let digest = sha256_hex(o.body.to_string().as_bytes());
                (o.id.key(), Value::from(digest[..16].to_owned()))
            })
            .collect(),
    )
}

/// Applies the add-ons through `servers` (the endpoint, then every member), pruning
/// those recorded in `prior` (an `essential_addons` value) that are no longer rendered.
pub async fn apply(
    servers: Vec<(String, kube::Client)>,
    bundle: &Bundle,
    prior: &Value,
) -> Result<(), ProviderError> {
    let recorded: Vec<Record> = prior
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(key, _)| {
            let mut id = ObjectId::from_key(key)?;
            // Every kind among the essential add-ons is served at v1 of its group.
            id.version = "v1".into();
            Some(Record {
                id,
                uid: None,
                managed: None,
            })
        })
        .collect();
    let options = Options {
        field_manager: FIELD_MANAGER.into(),
        wait: false,
        ..Options::default()
    };
    let cluster = Cluster::from_clients(servers);
    let outcome = apply::apply(&cluster, bundle, &recorded, &options).await;
    for warning in &outcome.warnings {
        tracing::warn!("essential add-ons: {warning}");
    }
    match outcome.error {
        None => Ok(()),
        Some(e) => Err(ProviderError::transient(format!(
            "cannot apply the essential add-ons: {e}"
        ))),
    }
}

/// What a cluster without a pod network is like, for both warnings.
const WITHOUT_POD_NETWORK: &str = "until one does (Calico, Cilium, Flannel...), its nodes \
    report NotReady and pods, CoreDNS's first, stay Pending";

/// The clusters a plan creates and the ones its add-ons give pod networks: a cluster
/// created without one is a plan warning (an existing cluster is asked instead, see
/// [`pod_network_warning`]).
#[derive(Debug, Default)]
pub struct PodNetworks {
    created: BTreeSet<String>,
    given: BTreeSet<String>,
    /// An addon with a pod network whose cluster is not known at plan time: it may be for
    /// any of the new clusters, so none is warned about.
    given_to_unknown: bool,
}

impl PodNetworks {
    /// The plan creates the cluster `id`.
    pub fn created(&mut self, id: &str) {
        self.created.insert(id.to_owned());
    }

    /// An addon with `pod_network = true` targets `cluster` (`None`: not known yet).
    pub fn given(&mut self, cluster: Option<&str>) {
        match cluster {
            Some(id) => {
                self.given.insert(id.to_owned());
            }
            None => self.given_to_unknown = true,
        }
    }

    /// One warning per created cluster that no pod-network addon targets.
    pub fn warnings(&self) -> Diagnostics {
        let mut out = Diagnostics::new();
        if self.given_to_unknown {
            return out;
        }
        for id in self.created.difference(&self.given) {
            out.push(Diagnostic::warning(
                "No pod network",
                format!(
                    "cluster {id:?} is created by this plan, and no addon with pod_network = \
                     true targets it: {WITHOUT_POD_NETWORK}"
                ),
            ));
        }
        out
    }
}

/// A plan warning for a cluster in which no pod network runs: no DaemonSet carries the
/// label that addons with `pod_network = true` put on theirs. `None` when one runs, or
/// when the cluster cannot be asked (the plan warns about that elsewhere).
pub async fn pod_network_warning(fleet: &Fleet, prior: &Value) -> Option<String> {
    let id = prior.get("id").as_str()?;
    let kubeconfig = prior.get("admin_kubeconfig").as_str()?;
    let spec = ClusterSpec::read(prior).ok()?;
    let first = ClusterHost::find(fleet, spec.control_plane_hosts.first()?).ok()?;
    let reach = api::Reach::for_host(&first);
    let mut servers = vec![Endpoint {
        host: prior.get("endpoint_address").as_str()?.to_owned(),
        port: spec.endpoint_port,
    }];
    for host in &spec.control_plane_hosts {
        if let Ok((target, _)) = fleet.host(host) {
            servers.push(Endpoint {
                host: target.address,
                port: spec.endpoint_port,
            });
        }
    }
    let client = api::first_ready(&reach, kubeconfig, &servers, Duration::from_secs(3))
        .await
        .ok()?;
    let daemonsets: Api<DaemonSet> = Api::all(client);
    let selector = format!("{POD_NETWORK_LABEL}=true");
    let found = daemonsets
        .list(&ListParams::default().labels(&selector).limit(1))
        .await
        .ok()?;
    found.items.is_empty().then(|| {
        format!(
            "no pod network runs in cluster {id:?} (no addon with pod_network = true has installed \
             one): {WITHOUT_POD_NETWORK}"
        )
    })
}
