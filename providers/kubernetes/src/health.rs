//! What a cluster or node pool object says about the cluster's health, for `fleetform
//! status`: versions (what the members serve, once refresh has asked them), nodes Ready of
//! those there should be, and certificate expiry with each renewal window, read from the
//! object's attributes alone.

use std::collections::BTreeSet;
use std::time::Duration;

use fleetform_sdk::Value;
use fleetform_sdk::health::{Expiry, Health, NodeCount, Part};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cluster::spec::DEFAULT_RENEW_BEFORE;

/// A cluster's report: the version its API servers serve (the declared one until a
/// member has answered), its control-plane nodes, its certificates.
pub fn cluster(value: &Value) -> Health {
    let renew_before = renew_before(value);
    let served: BTreeSet<String> = value
        .get("served_versions")
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(what, _)| what.ends_with("/kube-apiserver"))
        .filter_map(|(_, v)| v.as_str())
        .map(|v| v.trim_start_matches('v').to_owned())
        .collect();
    let kubernetes_version = if served.is_empty() {
        value.get("kubernetes_version").as_str().map(str::to_owned)
    } else {
        Some(served.into_iter().collect::<Vec<_>>().join(", "))
    };
    Health {
        part: Part::ControlPlane,
        name: value.get("name").as_str().unwrap_or_default().to_owned(),
        cluster_id: value.get("id").as_str().map(str::to_owned),
        kubernetes_version,
        nodes: nodes(value),
        certificates: certificates(value, renew_before),
        ..Health::default()
    }
}

/// A node pool's report; `cluster` is its cluster's object, when known, for the renewal
/// window of the kubelets' certificates.
pub fn node_pool(value: &Value, cluster: Option<&Value>) -> Health {
    let renew_before = cluster.and_then(renew_before);
    Health {
        part: Part::NodePool,
        name: value.get("name").as_str().unwrap_or_default().to_owned(),
        cluster_id: value.get("cluster").as_str().map(str::to_owned),
        kubernetes_version: value.get("kubernetes_version").as_str().map(str::to_owned),
        nodes: nodes(value),
        certificates: certificates(value, renew_before),
        ..Health::default()
    }
}

/// The cluster's `certificates.renew_before`, or its default.
fn renew_before(cluster: &Value) -> Option<Duration> {
    let text = cluster
        .get("certificates")
        .get("renew_before")
        .as_str()
        .unwrap_or(DEFAULT_RENEW_BEFORE);
    fleetform_sdk::parse_duration(text).ok()
}

/// `ready_nodes` of `node_names`; `None` before either was recorded.
fn nodes(value: &Value) -> Option<NodeCount> {
    let names = value.get("node_names").as_list()?;
    let ready: BTreeSet<String> = value
        .get("ready_nodes")
        .as_list()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    Some(NodeCount {
        ready: names
            .iter()
            .filter_map(Value::as_str)
            .filter(|n| ready.contains(*n))
            .count(),
        total: names.len(),
    })
}

fn certificates(value: &Value, renew_before: Option<Duration>) -> Vec<Expiry> {
    value
        .get("certificate_expiry")
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, v)| {
            let not_after = v.as_str()?;
            let renew_from = renew_before.and_then(|before| {
                let at = OffsetDateTime::parse(not_after, &Rfc3339).ok()?;
                (at - before).format(&Rfc3339).ok()
            });
            Some(Expiry {
                name: name.clone(),
                not_after: not_after.to_owned(),
                renew_from,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Value {
        Value::List(list.iter().map(|s| Value::from(*s)).collect())
    }

    #[test]
    fn a_cluster_reports_what_it_serves_its_ready_nodes_and_renewal_windows() {
        let cluster_value = Value::object([
            ("name", Value::from("north")),
            ("id", Value::from("c-1")),
            ("kubernetes_version", Value::from("1.30.5")),
            ("control_plane_hosts", strings(&["h1", "h2", "h3"])),
            ("node_names", strings(&["cp-1", "cp-2", "cp-3"])),
            ("ready_nodes", strings(&["cp-1", "cp-3", "gone"])),
            (
                "served_versions",
                Value::object([
                    ("cp-1/kube-apiserver", Value::from("v1.30.5")),
                    ("cp-1/kubelet", Value::from("v1.29.0")),
                    ("cp-2/kube-apiserver", Value::from("v1.30.4")),
                ]),
            ),
            (
                "certificate_expiry",
                Value::object([("apiserver.crt", Value::from("2027-12-01T10:00:00Z"))]),
            ),
            (
                "certificates",
                Value::object([("renew_before", Value::from("720h"))]),
            ),
        ]);
        let h = cluster(&cluster_value);
        assert_eq!(h.part, Part::ControlPlane);
        assert_eq!(h.name, "north");
        assert_eq!(h.cluster_id.as_deref(), Some("c-1"));
        assert_eq!(h.kubernetes_version.as_deref(), Some("1.30.4, 1.30.5"));
        assert_eq!(h.nodes, Some(NodeCount { ready: 2, total: 3 }));
        assert_eq!(
            h.certificates,
            [Expiry {
                name: "apiserver.crt".into(),
                not_after: "2027-12-01T10:00:00Z".into(),
                renew_from: Some("2027-11-01T10:00:00Z".into()),
            }]
        );

        let pool = Value::object([
            ("name", Value::from("workers")),
            ("cluster", Value::from("c-1")),
            ("kubernetes_version", Value::from("1.30.5")),
            ("node_names", strings(&["w-1"])),
            ("ready_nodes", Value::Null),
        ]);
        let h = node_pool(&pool, Some(&cluster_value));
        assert_eq!(h.part, Part::NodePool);
        assert_eq!(h.cluster_id.as_deref(), Some("c-1"));
        assert_eq!(h.nodes, None, "not looked at yet");
        assert!(h.certificates.is_empty());
    }
}
