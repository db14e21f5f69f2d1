//! What users rely on in the host provider's schemas.

use fleetform_sdk::testing::attribute as attr;
use fleetform_sdk::{Nesting, Presence, Provider, ProviderSchema};

use crate::HostProvider;

fn schema() -> ProviderSchema {
    HostProvider::default().schema()
}

#[test]
fn declares_the_catalogue() {
    let s = schema();
    let resources: Vec<_> = s.resources.keys().map(String::as_str).collect();
    assert_eq!(resources, ["host", "host_command", "host_file"]);
    let data: Vec<_> = s.data_sources.keys().map(String::as_str).collect();
    assert_eq!(data, ["host_facts"]);
    assert_eq!(crate::NAME, "host");
}

#[test]
fn meets_the_schema_contract() {
    fleetform_sdk::testing::check_contract(&schema());
}

#[test]
fn host_pins_keys_optionally_and_hides_secrets() {
    let host = &schema().resources["host"].block;
    assert_eq!(attr(host, "address").presence, Presence::Required);
    assert!(attr(host, "address").force_new);
    assert_eq!(attr(host, "host_key").presence, Presence::Optional);
    for secret in ["password", "private_key", "private_key_passphrase"] {
        assert!(attr(host, secret).sensitive, "{secret} must be sensitive");
    }
    assert!(!attr(host, "private_key_file").sensitive);
    // The port has a default the provider fills in, so plans show 22, not null.
    assert_eq!(attr(host, "port").presence, Presence::OptionalComputed);
    for fact in [
        "hostname",
        "os_id",
        "memory_mb",
        "addresses",
        "host_key_fingerprint",
        "id",
    ] {
        assert_eq!(attr(host, fact).presence, Presence::Computed, "{fact}");
    }
}

#[test]
fn bastion_and_preflight_are_single_optional_blocks() {
    let host = &schema().resources["host"].block;
    for name in ["bastion", "preflight"] {
        let nested = &host.blocks[name];
        assert_eq!(nested.nesting, Nesting::Single);
        assert_eq!((nested.min_items, nested.max_items), (0, Some(1)));
    }
    let bastion = &host.blocks["bastion"].block;
    assert_eq!(attr(bastion, "address").presence, Presence::Required);
    assert!(attr(bastion, "password").sensitive);
    assert!(bastion.attributes.contains_key("host_key"));
}

#[test]
fn host_facts_exposes_the_same_facts_as_host() {
    let s = schema();
    let host = &s.resources["host"].block;
    let facts = &s.data_sources["host_facts"].block;
    for (name, attribute) in &facts.attributes {
        if attribute.presence == Presence::Computed {
            assert_eq!(host.attributes.get(name), Some(attribute), "{name}");
        }
    }
    assert_eq!(attr(facts, "host").presence, Presence::Required);
}

#[test]
fn file_and_command_keep_secrets_out_of_plans() {
    let s = schema();
    let file = &s.resources["host_file"].block;
    assert!(!attr(file, "content").sensitive);
    assert!(attr(file, "sensitive_content").sensitive);
    assert!(attr(file, "path").force_new);
    assert_eq!(attr(file, "sha256").presence, Presence::Computed);
    let command = &s.resources["host_command"].block;
    assert!(attr(command, "triggers").force_new);
    assert!(attr(command, "sensitive_environment").sensitive);
    assert!(!attr(command, "command").force_new);
}
