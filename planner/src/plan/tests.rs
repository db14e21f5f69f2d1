//! Planning against a recording provider: what the engine asks providers, in what order.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetform_sdk::{
    ApplyRequest, ApplyResponse, Attribute, Block, CancellationToken, ConfigureRequest,
    Diagnostics, PlanRequest, PlanResponse, Provider, ProviderError, ProviderSchema, ReadRequest,
    Schema, Type, Value,
};
use indexmap::IndexMap;

use super::Mode;
use super::build::{Inputs, plan};
use super::hook::Settings;
use crate::inputs::{InputSource, InputValue};
use crate::providers::Providers;
use crate::state::State;

/// Records every call as a line.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Provider for Recorder {
    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: Block::new().attr(
                "region",
                Attribute::required(Type::String).describe("Where."),
            ),
            resources: [(
                "rec_thing".to_owned(),
                Schema::new(
                    Block::new().attr("name", Attribute::required(Type::String).describe("Name.")),
                ),
            )]
            .into_iter()
            .collect(),
            data_sources: Default::default(),
        }
    }

    async fn configure(&self, request: ConfigureRequest) -> Result<(), ProviderError> {
        let region = request
            .config
            .as_object()
            .and_then(|m| m.get("region"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        self.0
            .lock()
            .unwrap()
            .push(format!("configure region={region}"));
        Ok(())
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, ProviderError> {
        self.0.lock().unwrap().push("plan".into());
        Ok(PlanResponse::new(request.proposed))
    }

    async fn apply(&self, request: ApplyRequest) -> ApplyResponse {
        ApplyResponse {
            new_state: request.planned,
            error: None,
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        Ok(Some(request.current))
    }
}

#[test]
fn each_provider_configuration_is_configured_once_before_its_first_plan() {
    let (config, diags) = crate::config::load_source(
        "main.hcl",
        "variable \"region\" {}\nprovider \"rec\" {\n  region = var.region\n}\nresource \"rec_thing\" \"a\" {\n  count = 3\n  name  = \"a${count.index}\"\n}\n",
    );
    assert!(!diags.has_errors(), "{diags:?}");
    let recorder = Arc::new(Recorder::default());
    let mut providers = Providers::new();
    providers.register("rec", recorder.clone()).unwrap();
    let mut variables = IndexMap::new();
    variables.insert(
        "region".to_owned(),
        InputValue {
            value: Value::from("north"),
            source: InputSource::CommandLine,
        },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = Settings {
        mode: Mode::Normal,
        refresh: true,
        replace: HashSet::new(),
        only: None,
        parallelism: 2,
        timeout: Duration::from_secs(5),
        refresh_untargeted: true,
        partitions: None,
    };
    let prior = State::new();
    let inputs = Inputs {
        config: &config,
        providers: &providers,
        variables: &variables,
        workspace: "default",
        prior: &prior,
        settings: &settings,
        runtime: runtime.handle(),
        cancel: CancellationToken::new(),
        progress: &crate::apply::progress::Silent,
    };
    let mut diags = Diagnostics::new();
    let made = plan(&inputs, &mut diags).expect("a plan");
    assert!(!diags.has_errors(), "{diags:?}");
    assert_eq!(made.counts(), (3, 0, 0));
    let calls = recorder.0.lock().unwrap().clone();
    assert_eq!(calls, ["configure region=north", "plan", "plan", "plan"]);
}

/// Plans `text` over a state holding `rec_thing.a` with the given status.
fn plan_over(
    text: &str,
    status: crate::state::InstanceStatus,
) -> (Option<super::Plan>, Diagnostics) {
    use crate::addrs::parse_abs_resource_instance;
    use crate::state::{InstanceState, State};
    let (config, diags) = crate::config::load_source("main.hcl", text);
    assert!(!diags.has_errors(), "{diags:?}");
    let mut providers = Providers::new();
    providers
        .register("rec", Arc::new(Recorder::default()))
        .unwrap();
    let mut prior = State::new();
    prior.set(
        parse_abs_resource_instance("rec_thing.a").unwrap(),
        InstanceState {
            provider: "provider.rec".into(),
            schema_version: 0,
            value: Value::object([("name", Value::from("a"))]),
            dependencies: Vec::new(),
            status,
            create_before_destroy: false,
            prevent_destroy: true,
        },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = Settings {
        mode: Mode::Normal,
        refresh: false,
        replace: HashSet::new(),
        only: None,
        parallelism: 2,
        timeout: Duration::from_secs(5),
        refresh_untargeted: true,
        partitions: None,
    };
    let variables = IndexMap::new();
    let inputs = Inputs {
        config: &config,
        providers: &providers,
        variables: &variables,
        workspace: "default",
        prior: &prior,
        settings: &settings,
        runtime: runtime.handle(),
        cancel: CancellationToken::new(),
        progress: &crate::apply::progress::Silent,
    };
    let mut diags = Diagnostics::new();
    let made = plan(&inputs, &mut diags);
    (made, diags)
}

#[test]
fn an_object_whose_creation_failed_is_created_again_despite_prevent_destroy() {
    use crate::state::InstanceStatus;
    let text = "provider \"rec\" {\n  region = \"north\"\n}\nresource \"rec_thing\" \"a\" {\n  name = \"a\"\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n";
    let (made, diags) = plan_over(text, InstanceStatus::Incomplete);
    assert!(!diags.has_errors(), "{diags:?}");
    let made = made.expect("a plan");
    let change = &made.changes[0];
    assert_eq!(change.action, super::Action::DeleteThenCreate);
    assert_eq!(change.reason, Some(super::Reason::ReplaceBecauseTainted));
    // A tainted object that was complete is what prevent_destroy protects.
    let (_, diags) = plan_over(text, InstanceStatus::Tainted);
    assert!(
        diags
            .iter()
            .any(|d| d.summary == "Instance cannot be destroyed"),
        "{diags:?}"
    );
}
