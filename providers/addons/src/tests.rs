//! What users rely on in the addons provider's schemas.

use fleetform_sdk::testing::attribute as attr;
use fleetform_sdk::{Presence, Provider, ProviderSchema};

use crate::AddonsProvider;

fn schema() -> ProviderSchema {
    AddonsProvider::default().schema()
}

#[test]
fn declares_the_catalogue() {
    let s = schema();
    let resources: Vec<_> = s.resources.keys().map(String::as_str).collect();
    assert_eq!(resources, ["addon"]);
    assert!(s.data_sources.is_empty());
    assert_eq!(crate::NAME, "addons");
}

#[test]
fn meets_the_schema_contract() {
    fleetform_sdk::testing::check_contract(&schema());
}

#[test]
fn secrets_are_sensitive_everywhere() {
    let s = schema();
    assert!(attr(&s.provider, "kubeconfig").sensitive);
    let addon = &s.resources["addon"].block;
    assert!(attr(addon, "kubeconfig").sensitive);
    assert!(attr(addon, "issuer_ca").sensitive);
    assert!(!attr(&s.provider, "kubeconfig_path").sensitive);
}

#[test]
fn addon_identity_and_inventory() {
    let addon = &schema().resources["addon"].block;
    assert_eq!(attr(addon, "name").presence, Presence::Required);
    assert!(attr(addon, "name").force_new);
    // Changing the bundle is an in-place server-side apply, not a reinstall.
    assert!(!attr(addon, "manifests").force_new);
    assert!(!attr(addon, "source").force_new);
    assert_eq!(attr(addon, "inventory").presence, Presence::Computed);
    assert_eq!(attr(addon, "objects").ty.to_string(), "map(string)");
    assert_eq!(attr(addon, "prune").presence, Presence::OptionalComputed);
    assert!(addon.blocks.contains_key("cluster_issuer"));
}
