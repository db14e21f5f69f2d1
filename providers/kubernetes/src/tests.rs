//! What users rely on in the kubernetes provider's schemas.

use fleetform_sdk::testing::attribute as attr;
use fleetform_sdk::{Nesting, Presence, Provider, ProviderSchema};

use crate::KubernetesProvider;

fn schema() -> ProviderSchema {
    KubernetesProvider::default().schema()
}

#[test]
fn declares_the_catalogue() {
    let s = schema();
    let resources: Vec<_> = s.resources.keys().map(String::as_str).collect();
    assert_eq!(resources, ["cluster", "node_pool"]);
    let data: Vec<_> = s.data_sources.keys().map(String::as_str).collect();
    assert_eq!(data, ["cluster_kubeconfig"]);
    assert_eq!(crate::NAME, "kubernetes");
}

#[test]
fn meets_the_schema_contract() {
    fleetform_sdk::testing::check_contract(&schema());
}

#[test]
fn cluster_upgrades_in_place_but_network_layout_replaces() {
    let cluster = &schema().resources["cluster"].block;
    let version = attr(cluster, "kubernetes_version");
    assert_eq!(version.presence, Presence::Required);
    assert!(!version.force_new, "upgrades must be in place");
    assert!(!attr(cluster, "control_plane_hosts").force_new);
    for name in ["name", "pod_cidr", "service_cidr", "dns_domain"] {
        assert!(attr(cluster, name).force_new, "{name}");
    }
    assert_eq!(
        attr(cluster, "endpoint_port").presence,
        Presence::OptionalComputed
    );
}

#[test]
fn cluster_secrets_are_computed_and_hidden() {
    let cluster = &schema().resources["cluster"].block;
    let kubeconfig = attr(cluster, "admin_kubeconfig");
    assert_eq!(kubeconfig.presence, Presence::Computed);
    assert!(kubeconfig.sensitive);
    // The CA certificate is public; hiding it would make plans unreadable.
    assert!(!attr(cluster, "ca_certificate").sensitive);
    let expiry = attr(cluster, "certificate_expiry");
    assert_eq!(expiry.presence, Presence::Computed);
    assert_eq!(expiry.ty.to_string(), "map(string)");
    let data = &schema().data_sources["cluster_kubeconfig"].block;
    assert!(attr(data, "kubeconfig").sensitive);
}

#[test]
fn cluster_blocks_are_single_and_optional() {
    let cluster = &schema().resources["cluster"].block;
    for name in ["certificates", "oidc"] {
        let nested = &cluster.blocks[name];
        assert_eq!(nested.nesting, Nesting::Single, "{name}");
        assert_eq!(nested.min_items, 0, "{name}");
    }
    let oidc = &cluster.blocks["oidc"].block;
    assert_eq!(attr(oidc, "issuer_url").presence, Presence::Required);
}

#[test]
fn node_pool_follows_the_cluster_version_unless_set() {
    let pool = &schema().resources["node_pool"].block;
    assert_eq!(
        attr(pool, "kubernetes_version").presence,
        Presence::OptionalComputed
    );
    for name in ["cluster", "name", "os"] {
        assert!(attr(pool, name).force_new, "{name}");
    }
    assert!(
        !attr(pool, "hosts").force_new,
        "hosts join and leave in place"
    );
    let taint = &pool.blocks["taint"];
    assert_eq!(taint.nesting, Nesting::List);
    assert_eq!(attr(&taint.block, "effect").presence, Presence::Required);
}

#[test]
fn a_windows_pool_with_hosts_is_refused_before_apply() {
    use fleetform_sdk::{ValidateRequest, Value};
    let provider = KubernetesProvider::default();
    let pool = |hosts: Value| {
        Value::object([
            ("cluster", Value::from("dc")),
            ("name", Value::from("win")),
            ("os", Value::from("windows")),
            ("hosts", hosts),
        ])
    };
    let check = |config: Value| {
        provider.validate_resource(&ValidateRequest {
            type_name: "node_pool".into(),
            config,
        })
    };
    let refused = check(pool(Value::List(vec![Value::Unknown])));
    let diag = refused
        .iter()
        .find(|d| d.is_error())
        .expect("a Windows pool with a host not known yet is refused");
    assert_eq!(diag.attribute.as_deref(), Some("hosts"));
    assert!(diag.detail.contains("not supported yet"), "{}", diag.detail);
    assert!(
        !check(pool(Value::List(Vec::new()))).has_errors(),
        "an empty Windows pool is fine"
    );
}
