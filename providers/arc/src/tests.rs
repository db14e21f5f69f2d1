//! What users rely on in the arc provider's schemas.

use fleetform_sdk::testing::attribute as attr;
use fleetform_sdk::{Nesting, Presence, Provider, ProviderSchema};

use crate::ArcProvider;

fn schema() -> ProviderSchema {
    ArcProvider.schema()
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
