//! What users rely on in the arc provider's schemas.

use std::time::{Duration, SystemTime};

use fleetform_sdk::testing::attribute as attr;
use fleetform_sdk::{
    CancellationToken, Nesting, PathStep, PlanRequest, Presence, Provider, ProviderSchema, Value,
};

use crate::config::Settings;
use crate::session::Session;
use crate::{ArcProvider, connected_cluster, deadlines, deferral, extension};

fn schema() -> ProviderSchema {
    ArcProvider::new().schema()
}

#[test]
fn declares_the_catalogue() {
    let s = schema();
    let resources: Vec<_> = s.resources.keys().map(String::as_str).collect();
    assert_eq!(
        resources,
        [
            "arc_connected_cluster",
            "arc_extension",
            "gitops_configuration"
        ]
    );
    assert!(s.data_sources.is_empty());
    assert_eq!(crate::NAME, "arc");
}

#[test]
fn meets_the_schema_contract() {
    fleetform_sdk::testing::check_contract(&schema());
}

#[test]
fn endpoints_are_configurable_for_the_lab() {
    let provider = schema().provider;
    for name in ["resource_manager_endpoint", "authority_host"] {
        assert_eq!(attr(&provider, name).presence, Presence::OptionalComputed);
    }
    assert!(attr(&provider, "client_secret").sensitive);
    assert_eq!(attr(&provider, "defer_when_offline").ty.to_string(), "bool");
    for secret in [
        "client_certificate",
        "client_certificate_password",
        "oidc_token",
        "oidc_request_token",
    ] {
        assert!(attr(&provider, secret).sensitive, "{secret}");
    }
}

#[test]
fn connected_cluster_identity_forces_replacement() {
    let cc = &schema().resources["arc_connected_cluster"].block;
    for name in ["name", "resource_group_name", "location"] {
        assert_eq!(attr(cc, name).presence, Presence::Required, "{name}");
        assert!(attr(cc, name).force_new, "{name}");
    }
    // Tags and distribution are in ARM's PATCH body, so they change in place.
    assert!(!attr(cc, "tags").force_new);
    assert!(!attr(cc, "distribution").force_new);
    for name in [
        "agent_version",
        "connectivity_status",
        "provisioning_state",
        "identity_principal_id",
    ] {
        assert_eq!(attr(cc, name).presence, Presence::Computed, "{name}");
    }
}

#[test]
fn extension_scope_and_type_cannot_be_patched() {
    let ext = &schema().resources["arc_extension"].block;
    for name in [
        "cluster_id",
        "name",
        "extension_type",
        "release_namespace",
        "target_namespace",
    ] {
        assert!(attr(ext, name).force_new, "{name}");
    }
    for name in ["version", "release_train", "configuration_settings"] {
        assert!(!attr(ext, name).force_new, "{name}");
    }
}

#[test]
fn gitops_needs_a_repository_and_names_its_kustomizations() {
    let flux = &schema().resources["gitops_configuration"].block;
    let repo = &flux.blocks["git_repository"];
    assert_eq!(repo.nesting, Nesting::Single);
    assert_eq!(repo.min_items, 1);
    assert_eq!(attr(&repo.block, "url").presence, Presence::Required);
    assert_eq!(flux.blocks["kustomization"].nesting, Nesting::Map);
    for name in ["namespace", "scope"] {
        assert!(attr(flux, name).force_new, "{name} is create-only in ARM");
    }
}

fn plan_request(type_name: &str, prior: Option<Value>, config: Value) -> PlanRequest {
    PlanRequest {
        type_name: type_name.into(),
        prior,
        proposed: config.clone(),
        config,
        cancel: CancellationToken::new(),
    }
}

fn session() -> Session {
    Session::new(
        Settings::default(),
        std::sync::Arc::new(fleetform_provider_addons::directory::NoClusters),
    )
}

fn cluster_config() -> Value {
    Value::object([
        ("name", Value::from("north")),
        ("resource_group_name", Value::from("clinics")),
        ("location", Value::from("westeurope")),
        ("kubeconfig", Value::from("apiVersion: v1").into_sensitive()),
    ])
}

#[test]
fn a_new_connection_fills_azures_defaults_and_leaves_the_rest_to_apply() {
    let response = connected_cluster::plan(
        &session(),
        &plan_request("arc_connected_cluster", None, cluster_config()),
        SystemTime::now(),
    );
    let planned = &response.planned;
    assert_eq!(planned.get("distribution").as_str(), Some("generic"));
    assert_eq!(planned.get("agent_auto_upgrade").as_bool(), Some(true));
    assert_eq!(
        planned.get("identity_type").as_str(),
        Some("SystemAssigned")
    );
    for computed in [
        "id",
        "agent_public_key",
        "connectivity_status",
        deferral::STATE,
    ] {
        assert!(planned.get(computed).is_unknown(), "{computed}");
    }
    assert!(response.warnings.is_empty());
}

fn recorded(extra: &[(&str, Value)]) -> Value {
    let mut v = crate::values::attributes(&cluster_config());
    for (k, d) in [
        (
            "id",
            "/subscriptions/s/resourcegroups/clinics/providers/Microsoft.Kubernetes/connectedClusters/north",
        ),
        ("distribution", "generic"),
        ("infrastructure", "generic"),
        ("private_link_state", "Disabled"),
        ("azure_hybrid_benefit", "NotApplicable"),
        ("identity_type", "SystemAssigned"),
        ("connectivity_status", "Connected"),
        (deferral::STATE, deferral::INSTALLED),
    ] {
        v.insert(k.into(), Value::from(d));
    }
    v.insert("agent_auto_upgrade".into(), Value::from(true));
    for (k, value) in extra {
        v.insert((*k).into(), value.clone());
    }
    Value::Object(v.into())
}

#[test]
fn an_unchanged_connection_plans_nothing_and_warns_of_nothing() {
    let prior = recorded(&[]);
    let response = connected_cluster::plan(
        &session(),
        &plan_request("arc_connected_cluster", Some(prior.clone()), prior.clone()),
        SystemTime::now(),
    );
    assert_eq!(response.planned, prior);
    assert!(response.warnings.is_empty() && response.requires_replace.is_empty());
}

#[test]
fn an_expiring_identity_warns_and_an_expired_one_plans_the_reonboarding() {
    let now = SystemTime::now();
    let in_ten_days = deadlines::format_time(now + Duration::from_secs(10 * 86400));
    let prior = recorded(&[(
        "identity_certificate_expiration_time",
        Value::from(in_ten_days.as_str()),
    )]);
    let response = connected_cluster::plan(
        &session(),
        &plan_request("arc_connected_cluster", Some(prior.clone()), prior.clone()),
        now,
    );
    assert_eq!(response.warnings.len(), 1, "{:?}", response.warnings);
    assert!(
        response.warnings[0].contains("in 10 days"),
        "{:?}",
        response.warnings
    );
    assert!(response.requires_replace.is_empty());

    let yesterday = deadlines::format_time(now - Duration::from_secs(86400));
    let prior = recorded(&[
        (
            "identity_certificate_expiration_time",
            Value::from(yesterday.as_str()),
        ),
        ("connectivity_status", Value::from("Expired")),
    ]);
    let response = connected_cluster::plan(
        &session(),
        &plan_request("arc_connected_cluster", Some(prior.clone()), prior.clone()),
        now,
    );
    assert!(
        response.warnings[0].contains("re-onboarded"),
        "{:?}",
        response.warnings
    );
    assert_eq!(
        response.requires_replace,
        vec![vec![PathStep::Attr(
            "identity_certificate_expiration_time".into()
        )]]
    );
    assert!(
        response
            .planned
            .get("identity_certificate_expiration_time")
            .is_unknown()
    );
}

#[test]
fn deferred_work_is_a_pending_change_with_its_reason() {
    let prior = recorded(&[
        (deferral::STATE, Value::from(deferral::DEFERRED)),
        (deferral::SINCE, Value::from("2026-12-06T10:00:00Z")),
        (deferral::REASON, Value::from("no route to host")),
    ]);
    let response = connected_cluster::plan(
        &session(),
        &plan_request("arc_connected_cluster", Some(prior.clone()), prior.clone()),
        SystemTime::now(),
    );
    assert!(response.planned.get(deferral::STATE).is_unknown());
    assert!(
        response.warnings[0].contains("deferred since 2026-12-06T10:00:00Z (no route to host)")
    );
}

#[test]
fn an_extension_version_change_is_an_update_showing_the_new_version() {
    let config = Value::object([
        (
            "cluster_id",
            Value::from(
                "/subscriptions/s/resourcegroups/clinics/providers/Microsoft.Kubernetes/connectedClusters/north",
            ),
        ),
        ("name", Value::from("flux")),
        ("extension_type", Value::from("microsoft.flux")),
        ("version", Value::from("1.14.2")),
        ("auto_upgrade_minor_version", Value::from(false)),
    ]);
    let created = extension::plan(&plan_request("arc_extension", None, config.clone()));
    assert_eq!(
        created.planned.get("current_version").as_str(),
        Some("1.14.2")
    );
    let mut prior = crate::values::attributes(&created.planned);
    prior.insert("id".into(), Value::from("x"));
    prior.insert("provisioning_state".into(), Value::from("Succeeded"));
    let prior = Value::Object(prior.into());
    let mut newer = crate::values::attributes(&config);
    newer.insert("version".into(), Value::from("1.15.0"));
    let mut request = plan_request(
        "arc_extension",
        Some(prior.clone()),
        Value::Object(newer.clone().into()),
    );
    let mut proposed = crate::values::attributes(&prior);
    proposed.insert("version".into(), Value::from("1.15.0"));
    request.proposed = Value::Object(proposed.into());
    let updated = extension::plan(&request);
    assert_eq!(
        updated.planned.get("current_version").as_str(),
        Some("1.15.0")
    );
    assert!(updated.planned.get("provisioning_state").is_unknown());

    let mut pinned_with_auto = newer;
    pinned_with_auto.insert("auto_upgrade_minor_version".into(), Value::from(true));
    let problems = extension::validate(&Value::Object(pinned_with_auto.into())).into_vec();
    assert_eq!(problems[0].attribute.as_deref(), Some("version"));
}

#[test]
fn connected_cluster_rules_point_at_their_attribute() {
    let mut config = crate::values::attributes(&cluster_config());
    config.insert("desired_agent_version".into(), Value::from("1.21.10"));
    config.insert(
        "agent_bundle".into(),
        Value::object([
            ("url", Value::from("https://mirror/agents.yaml")),
            ("sha256", Value::from("abc")),
        ]),
    );
    let attributes: Vec<Option<String>> =
        connected_cluster::validate(&Value::Object(config.clone().into()))
            .into_vec()
            .into_iter()
            .map(|d| d.attribute)
            .collect();
    assert_eq!(
        attributes,
        [
            Some("desired_agent_version".into()),
            Some("agent_bundle.sha256".into())
        ]
    );
    config.insert("agent_auto_upgrade".into(), Value::from(false));
    config.insert(
        "agent_bundle".into(),
        Value::object([
            ("url", Value::from("https://mirror/agents.yaml")),
            ("sha256", Value::from("a".repeat(64))),
        ]),
    );
    assert!(connected_cluster::validate(&Value::Object(config.into())).is_empty());
}
