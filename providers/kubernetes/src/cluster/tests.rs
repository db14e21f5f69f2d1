//! What a cluster's plan shows: defaults, certificates due for renewal (and only those),
//! the rollout of a version change, and the changes it refuses.

use std::time::{Duration, SystemTime};

use fleetform_provider_host::Fleet;
use fleetform_sdk::{CancellationToken, PlanRequest, Value};

use super::{essential, plan, spec};

fn json(value: serde_json::Value) -> Value {
    Value::from(&value)
}

fn config(version: &str, renew_before: &str) -> Value {
    json(serde_json::json!({
        "name": "dc",
        "kubernetes_version": version,
        "control_plane_hosts": ["10.1.0.1:22", "10.1.0.2:22", "10.1.0.3:22"],
        "certificates": { "renew_before": renew_before },
    }))
}

/// A recorded cluster whose leaves expire in 20 days and CAs in about ten years, except
/// the etcd CA, which expires in 10 days.
fn prior(now: SystemTime) -> Value {
    let at = |days: u64| crate::pki::rfc3339(now + Duration::from_secs(days * 86_400));
    let mut state = serde_json::json!({
        "id": "dc",
        "name": "dc",
        "kubernetes_version": "1.31.1",
        "control_plane_hosts": ["10.1.0.1:22", "10.1.0.2:22", "10.1.0.3:22"],
        "endpoint_address": "10.1.0.1",
        "endpoint_port": 6443,
        "pod_cidr": "10.244.0.0/16",
        "service_cidr": "10.96.0.0/12",
        "dns_domain": "cluster.local",
        "install_runtime": true,
        "control_plane_schedulable": false,
        "certificates": {
            "key_algorithm": "ecdsa-p256",
            "ca_validity": "87600h",
            "leaf_validity": "8760h",
            "renew_before": "720h"
        },
        "endpoint": "https://10.1.0.1:6443",
        "ca_certificate": "PEM",
        "admin_kubeconfig": "YAML",
        "etcd_members": ["cp-1", "cp-2", "cp-3"],
        "node_names": ["cp-1", "cp-2", "cp-3"],
        "rollout": [],
        "pki": "{}",
        "certificate_expiry": {
            "ca": at(3650),
            "etcd-ca": at(10),
            "front-proxy-ca": at(3650),
            "apiserver": at(20),
            "admin.conf": at(20),
            "cp-1/etcd-server": at(20),
            "cp-2/kubelet.conf": at(200),
        }
    });
    state["certificate_expiry"]["front-proxy-client"] = serde_json::json!(at(400));
    json(state)
}

fn request(prior: Option<Value>, config: Value) -> PlanRequest {
    let mut proposed = config.as_object().cloned().unwrap_or_default();
    if let Some(prior) = prior.as_ref().and_then(Value::as_object) {
        for (name, value) in prior {
            proposed
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
    }
    PlanRequest {
        type_name: "cluster".into(),
        prior,
        config,
        proposed: Value::Object(proposed.into()),
        cancel: CancellationToken::new(),
    }
}

fn expiry(planned: &Value) -> Vec<(String, bool)> {
    planned
        .get("certificate_expiry")
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, v)| (name.clone(), v.is_unknown()))
        .collect()
}

#[test]
fn a_new_cluster_gets_kubeadms_defaults_and_computes_the_rest() {
    let fleet = Fleet::new();
    let response = plan(
        &fleet,
        &request(None, config("1.31.2", "720h")),
        SystemTime::now(),
    )
    .unwrap();
    let planned = &response.planned;
    assert_eq!(planned.get("id").as_str(), Some("dc"));
    assert_eq!(
        planned.get("pod_cidr").as_str(),
        Some(spec::DEFAULT_POD_CIDR)
    );
    assert_eq!(planned.get("service_cidr").as_str(), Some("10.96.0.0/12"));
    assert_eq!(planned.get("endpoint_port").as_i64(), Some(6443));
    assert_eq!(
        planned.get("certificates").get("leaf_validity").as_str(),
        Some("8760h")
    );
    assert_eq!(
        planned.get("certificates").get("renew_before").as_str(),
        Some("720h")
    );
    for computed in [
        "ca_certificate",
        "admin_kubeconfig",
        "certificate_expiry",
        "pki",
    ] {
        assert!(planned.get(computed).is_unknown(), "{computed}");
    }
}

#[test]
fn exactly_the_leaves_within_renew_before_are_planned_for_renewal() {
    let fleet = Fleet::new();
    let now = SystemTime::now();
    let response = plan(
        &fleet,
        &request(Some(prior(now)), config("1.31.1", "720h")),
        now,
    )
    .unwrap();
    let renewed: Vec<String> = expiry(&response.planned)
        .into_iter()
        .filter(|(_, unknown)| *unknown)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(renewed, ["admin.conf", "apiserver", "cp-1/etcd-server"]);
    assert!(response.planned.get("admin_kubeconfig").is_unknown());
    // The CA inside the window is not renewed but said.
    assert_eq!(response.warnings.len(), 1, "{:?}", response.warnings);
    assert!(
        response.warnings[0].contains("etcd-ca"),
        "{:?}",
        response.warnings
    );
    assert!(
        response.warnings[0].contains("explicit"),
        "{:?}",
        response.warnings
    );
}

#[test]
fn nothing_due_plans_no_change() {
    let fleet = Fleet::new();
    let now = SystemTime::now();
    let response = plan(
        &fleet,
        &request(Some(prior(now)), config("1.31.1", "24h")),
        now,
    )
    .unwrap();
    assert!(
        expiry(&response.planned)
            .iter()
            .all(|(_, unknown)| !unknown)
    );
    assert_eq!(response.planned.get("pki"), prior(now).get("pki"));
    assert_eq!(
        response.planned.get("admin_kubeconfig").as_str(),
        Some("YAML")
    );
}

#[test]
fn a_patch_bump_rolls_out_one_member_at_a_time_in_order() {
    let fleet = Fleet::new();
    let now = SystemTime::now();
    let response = plan(
        &fleet,
        &request(Some(prior(now)), config("1.31.2", "24h")),
        now,
    )
    .unwrap();
    let steps: Vec<&str> = response
        .planned
        .get("rollout")
        .as_list()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "1. control-plane member cp-1: 1.31.1 -> 1.31.2, then wait until it serves",
            "2. control-plane member cp-2: 1.31.1 -> 1.31.2, then wait until it serves",
            "3. control-plane member cp-3: 1.31.1 -> 1.31.2, then wait until it serves",
        ]
    );
}

#[test]
fn a_skipped_minor_and_a_membership_change_are_refused() {
    let fleet = Fleet::new();
    let now = SystemTime::now();
    let e = plan(
        &fleet,
        &request(Some(prior(now)), config("1.33.0", "24h")),
        now,
    )
    .unwrap_err();
    assert!(e.message.contains("skips 1.32"), "{e}");
    let mut changed = config("1.31.1", "24h").as_object().cloned().unwrap();
    changed.insert(
        "control_plane_hosts".into(),
        json(serde_json::json!(["10.1.0.1:22"])),
    );
    let e = plan(
        &fleet,
        &request(Some(prior(now)), Value::Object(changed.into())),
        now,
    )
    .unwrap_err();
    assert!(
        e.message.contains("does not add or remove etcd members"),
        "{e}"
    );
}

#[test]
fn a_new_certificate_name_reissues_only_the_api_servers_certificate() {
    let fleet = Fleet::new();
    let now = SystemTime::now();
    let mut with_san = config("1.31.1", "24h").as_object().cloned().unwrap();
    with_san.insert(
        "apiserver_cert_extra_sans".into(),
        json(serde_json::json!(["api.dc.lan"])),
    );
    let response = plan(
        &fleet,
        &request(Some(prior(now)), Value::Object(with_san.into())),
        now,
    )
    .unwrap();
    let reissued: Vec<String> = expiry(&response.planned)
        .into_iter()
        .filter(|(_, unknown)| *unknown)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(reissued, ["apiserver"]);
}

#[test]
fn essential_addons_follow_the_version_and_kube_vip_needs_a_virtual_ip() {
    let now = SystemTime::now();
    let fleet = Fleet::new();
    let mut recorded = prior(now);
    let planned = plan(
        &fleet,
        &request(Some(recorded.clone()), config("1.31.1", "720h")),
        now,
    )
    .unwrap()
    .planned;
    let digests = planned.get("essential_addons").clone();
    let keys: Vec<&String> = digests.as_object().unwrap().keys().collect();
    assert!(
        keys.contains(&&"apps/DaemonSet/kube-system/kube-proxy".to_owned()),
        "{keys:?}"
    );
    // Recorded as applied: planning again changes nothing; a new version changes kube-proxy.
    if let Value::Object(state) = &mut recorded {
        state.insert("essential_addons".into(), digests.clone());
    }
    let again = plan(
        &fleet,
        &request(Some(recorded.clone()), config("1.31.1", "720h")),
        now,
    )
    .unwrap()
    .planned;
    assert_eq!(again.get("essential_addons"), &digests);
    let upgrade = plan(
        &fleet,
        &request(Some(recorded), config("1.31.2", "720h")),
        now,
    )
    .unwrap()
    .planned;
    let changed: Vec<&String> = upgrade
        .get("essential_addons")
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| digests.get(k) != *v)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        changed,
        [
            "/ConfigMap/kube-system/kubeadm-config",
            "apps/DaemonSet/kube-system/kube-proxy"
        ]
    );

    // kube_vip serves endpoint_address, which must be an address.
    let mut with_vip = config("1.31.1", "720h");
    if let Value::Object(c) = &mut with_vip {
        c.insert("kube_vip".into(), json(serde_json::json!({})));
    }
    let diags = spec::validate(&with_vip);
    assert!(
        diags
            .iter()
            .any(|d| d.attribute.as_deref() == Some("endpoint_address")
                && d.summary == "kube-vip needs a virtual IP"),
        "{diags:?}"
    );
    if let Value::Object(c) = &mut with_vip {
        c.insert("endpoint_address".into(), Value::from("10.1.0.100"));
        c.insert(
            "kube_vip".into(),
            json(serde_json::json!({"interface": "bond0.12"})),
        );
    }
    let spec = spec::ClusterSpec::read(&with_vip).unwrap();
    let vip = spec.kube_vip.clone().unwrap();
    assert_eq!(
        (vip.address.to_string(), vip.interface.as_str()),
        ("10.1.0.100".into(), "bond0.12")
    );
    let endpoint = crate::pki::Endpoint {
        host: "10.1.0.100".into(),
        port: 6443,
    };
    let settings = super::render_settings(&spec, &[], &endpoint);
    let manifest = crate::render::kube_vip_manifest(&settings, &vip).unwrap();
    assert_eq!(manifest.path, "/etc/kubernetes/manifests/kube-vip.yaml");
    let pod: k8s_openapi::api::core::v1::Pod = serde_yaml_ng::from_str(&manifest.content).unwrap();
    let env: std::collections::BTreeMap<String, String> = pod.spec.as_ref().unwrap().containers[0]
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert_eq!(env["address"], "10.1.0.100");
    assert_eq!(env["vip_interface"], "bond0.12");
    assert_eq!(env["vip_leasename"], "plndr-cp-lock");
    assert_eq!(pod.spec.unwrap().host_network, Some(true));
}

#[test]
fn a_created_cluster_that_no_pod_network_addon_targets_is_warned_about() {
    let mut networks = essential::PodNetworks::default();
    networks.created("dc");
    networks.created("clinic");
    networks.given(Some("dc"));
    let warnings = networks.warnings();
    let details: Vec<&str> = warnings.iter().map(|d| d.detail.as_str()).collect();
    assert_eq!(details.len(), 1, "{details:?}");
    assert!(details[0].starts_with("cluster \"clinic\" is created by this plan"));
    // An addon whose cluster is not known yet may be the clinic's: no guess, no warning.
    networks.given(None);
    assert!(networks.warnings().is_empty());
}
