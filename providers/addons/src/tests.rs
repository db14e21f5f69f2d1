//! What users rely on in the addons provider's schemas.

use fleetform_sdk::testing::attribute as attr;
use fleetform_sdk::{Presence, Provider, ProviderSchema};

use crate::AddonsProvider;

fn schema() -> ProviderSchema {
    AddonsProvider.schema()
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
fn kubeconfigs_are_sensitive_everywhere() {
    let s = schema();
    assert!(attr(&s.provider, "kubeconfig").sensitive);
    assert!(attr(&s.resources["addon"].block, "kubeconfig").sensitive);
    assert!(!attr(&s.provider, "kubeconfig_path").sensitive);
}

#[test]
fn addon_identity_and_inventory() {
    let addon = &schema().resources["addon"].block;
    assert_eq!(attr(addon, "name").presence, Presence::Required);
    assert!(attr(addon, "name").force_new);
    // Changing the bundle is an in-place server-side apply, not a reinstall.
    assert!(!attr(addon, "manifests").force_new);
    assert_eq!(attr(addon, "inventory").presence, Presence::Computed);
    assert_eq!(attr(addon, "prune").presence, Presence::OptionalComputed);
    assert_eq!(attr(addon, "values").ty.to_string(), "map(any)");
}
