//! What the control-plane members actually run, as opposed to the files fleetform wrote:
//! the version each API server reports on /version and the kubelet version each member's
//! Node reports. Refresh records them in `served_versions`; plan warns when one differs
//! from the declared version while the files are as written, because then some other
//! binary runs on the host and rewriting the files would not change it. The same Node
//! says whether the member is Ready (`ready_nodes`, which `fleetform status` counts).

use std::collections::BTreeMap;
use std::time::Duration;

use fleetform_provider_host::fleet::Fleet;
use fleetform_sdk::Value;
use k8s_openapi::api::core::v1::Node;
use kube::Api;

use super::ClusterSpec;
use crate::api::Reach;
use crate::pki::Endpoint;
use crate::remote::ClusterHost;
use crate::version::Version;

/// How long one member may take to answer; a member that does not is left out (refresh
/// of an offline clinic must not fail on it: the files check reports the host).
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// What the members of a cluster were found running.
pub(super) struct Observed {
    /// `{"NODE/kube-apiserver": "v1.30.5", "NODE/kubelet": "v1.30.5"}`.
    pub served: Value,
    /// The members whose Node is Ready, as a list of names.
    pub ready: Value,
}

/// The versions the members of the cluster recorded in `current` serve, and which of them
/// are Ready; members that do not answer are left out of both.
pub(super) async fn observe(fleet: &Fleet, current: &Value) -> Observed {
    let mut served = BTreeMap::new();
    let mut ready = Vec::new();
    let (Ok(spec), Some(kubeconfig)) = (
        ClusterSpec::read(current),
        current.get("admin_kubeconfig").as_str(),
    ) else {
        return Observed {
            served: Value::Object(served.into()),
            ready: Value::List(ready),
        };
    };
    let names = current.get("node_names").strings();
    for (id, node) in spec.control_plane_hosts.iter().zip(&names) {
        let Ok(host) = ClusterHost::find(fleet, id) else {
            continue;
        };
        let Ok(address) = host.address().await else {
            continue;
        };
        let server = Endpoint {
            host: address.to_string(),
            port: spec.endpoint_port,
        };
        let reach = Reach::for_host(&host);
        let asked = tokio::time::timeout(ASK_TIMEOUT, async {
            let client = reach.client(kubeconfig, Some(&server)).await.ok()?;
            let apiserver = client.apiserver_version().await.ok().map(|i| i.git_version);
            let found = Api::<Node>::all(client).get_opt(node).await.ok().flatten();
            let is_ready = found.as_ref().is_some_and(crate::api::is_ready);
            let kubelet = found.and_then(|n| n.status?.node_info.map(|i| i.kubelet_version));
            Some((apiserver, kubelet, is_ready))
        })
        .await;
        let Ok(Some((apiserver, kubelet, is_ready))) = asked else {
            tracing::debug!(%node, "no answer about served versions");
            continue;
        };
        if is_ready {
            ready.push(Value::from(node.clone()));
        }
        if let Some(v) = apiserver {
            served.insert(format!("{node}/kube-apiserver"), Value::from(v));
        }
        if let Some(v) = kubelet {
            served.insert(format!("{node}/kubelet"), Value::from(v));
        }
    }
    Observed {
        served: Value::Object(served.into()),
        ready: Value::List(ready),
    }
}

/// A warning for each recorded served version that is not `declared`, unless refresh
/// found fleetform's files changed (then apply rewrites them, which is the fix).
pub(super) fn warnings(prior: &Value, declared: Version) -> Vec<String> {
    let drifted = prior
        .get("drifted_files")
        .as_list()
        .is_some_and(|l| !l.is_empty());
    let Some(served) = prior.get("served_versions").as_object() else {
        return Vec::new();
    };
    if drifted {
        return Vec::new();
    }
    served
        .iter()
        .filter_map(|(what, v)| {
            let text = v.as_str()?;
            let differs = text.parse::<Version>().ok() != Some(declared);
            differs.then(|| {
                let (node, component) = what.split_once('/').unwrap_or((what, "kube-apiserver"));
                format!(
                    "{node} runs {component} {text}, not the declared {declared}, although the files \
                     fleetform wrote there are as written: another binary runs on the host. Applying \
                     would not change it; find what replaced it (a package upgrade, a manual \
                     install) on {node}"
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prior(served: &[(&str, &str)], drifted: &[&str]) -> Value {
        Value::object([
            (
                "served_versions",
                Value::Object(
                    served
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                        .collect(),
                ),
            ),
            (
                "drifted_files",
                Value::List(drifted.iter().map(|f| Value::from(*f)).collect()),
            ),
        ])
    }

    #[test]
    fn a_member_serving_another_version_is_a_warning_naming_it() {
        let declared: Version = "1.30.5".parse().unwrap();
        let same = prior(
            &[
                ("cp-1/kube-apiserver", "v1.30.5"),
                ("cp-1/kubelet", "v1.30.5"),
            ],
            &[],
        );
        assert!(warnings(&same, declared).is_empty());
        let other = prior(
            &[
                ("cp-1/kube-apiserver", "v1.30.4"),
                ("cp-1/kubelet", "v1.30.5"),
            ],
            &[],
        );
        let found = warnings(&other, declared);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("cp-1 runs kube-apiserver v1.30.4, not the declared 1.30.5"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn drifted_files_are_the_cause_to_fix_first() {
        let declared: Version = "1.30.5".parse().unwrap();
        let drifted = prior(
            &[("cp-1/kube-apiserver", "v1.30.4")],
            &["cp-1:/etc/kubernetes/manifests/kube-apiserver.yaml"],
        );
        assert!(warnings(&drifted, declared).is_empty());
    }
}
