//! What users and the engine rely on in the provider as a whole.

use fleetform_sdk::{
    CancellationToken, ImportRequest, Provider, ProviderSchema, ReadRequest, Value,
};

use crate::FleetformProvider;

fn schema() -> ProviderSchema {
    FleetformProvider.schema()
}

#[test]
fn declares_the_catalogue_and_an_empty_provider_block() {
    let s = schema();
    let resources: Vec<_> = s.resources.keys().map(String::as_str).collect();
    assert_eq!(resources, ["fleetform_data", "local_file"]);
    assert!(s.data_sources.is_empty());
    assert!(s.provider.attributes.is_empty() && s.provider.blocks.is_empty());
    assert_eq!(crate::NAME, "fleetform");
}

#[test]
fn meets_the_schema_contract() {
    fleetform_sdk::testing::check_contract(&schema());
}

#[tokio::test]
async fn unknown_types_and_cancelled_runs_are_errors() {
    let err = FleetformProvider
        .import(ImportRequest {
            type_name: "local_dir".into(),
            id: "x".into(),
            cancel: CancellationToken::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "the fleetform provider has no resource type named \"local_dir\""
    );

    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = FleetformProvider
        .read(ReadRequest {
            type_name: "fleetform_data".into(),
            current: Value::Null,
            cancel,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, fleetform_sdk::ErrorKind::Cancelled);
}
