//! The UI stream: Terraform's machine-readable UI messages, one JSON object per line.

use std::time::Duration;

use fleetform_planner::apply::progress::Progress;
use fleetform_planner::config::Config;
use fleetform_planner::plan::{Action, Mode, OutputChange, Reason};
use fleetform_planner::state::{OutputState, State};
use fleetform_sdk::{Diagnostic, Diagnostics, Value};
use serde_json::{Value as Json, json};

use super::JsonUi;
use crate::render::plan::tests::{addr, canary_plan, change, obj, plan_of, s, secret, web};

fn messages(ui: &JsonUi) -> Vec<Json> {
    ui.output()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn ui() -> JsonUi {
    JsonUi::buffered(Duration::from_secs(10))
}

#[test]
fn every_message_has_the_common_fields() {
    let ui = ui();
    ui.version();
    let mut diags = Diagnostics::new();
    diags.push(Diagnostic::error(
        "Unsupported argument",
        "An argument named \"x\" is not expected here.",
    ));
    diags.push(Diagnostic::warning("Deprecated", "Use y."));
    ui.diagnostics(&Config::default(), &diags);
    let all = messages(&ui);
    assert_eq!(all.len(), 3);
    for m in &all {
        assert_eq!(m["@module"], "fleetform.ui");
        let ts = m["@timestamp"].as_str().unwrap();
        assert!(
            ts.len() == 27
                && ts.ends_with('Z')
                && ts.as_bytes()[10] == b'T'
                && ts.as_bytes()[19] == b'.',
            "{ts}"
        );
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "keys in the logger's sorted order");
    }
    assert_eq!(all[0]["type"], "version");
    assert_eq!(
        all[0]["@message"],
        format!("fleetform {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(all[0]["fleetform"], env!("CARGO_PKG_VERSION"));
    assert_eq!(all[0]["terraform"], "1.11.0");
    assert_eq!(all[0]["ui"], "1.2");
    assert_eq!(all[1]["@level"], "error");
    assert_eq!(all[1]["@message"], "Error: Unsupported argument");
    assert_eq!(all[1]["type"], "diagnostic");
    assert_eq!(all[1]["diagnostic"]["severity"], "error");
    assert_eq!(all[1]["diagnostic"]["summary"], "Unsupported argument");
    assert_eq!(all[2]["@level"], "warn");
    assert_eq!(all[2]["@message"], "Warning: Deprecated");
}

#[test]
fn plan_messages() {
    let mut replace = change(
        "module.m[\"a\"].host.web[0]",
        Action::DeleteThenCreate,
        Some(web()),
        Some(web()),
    );
    replace.reason = Some(Reason::ReplaceBecauseTainted);
    let mut moved = change("host.new", Action::NoOp, Some(web()), Some(web()));
    moved.previous_addr = Some(addr("host.old"));
    let mut imported = change("host.imp", Action::NoOp, Some(web()), Some(web()));
    imported.importing = Some("h-7".into());
    let mut plan = plan_of(vec![
        change("host.a", Action::Create, None, Some(web())),
        change("host.same", Action::NoOp, Some(web()), Some(web())),
        imported,
        moved,
        replace,
    ]);
    plan.drift = vec![change("host.a", Action::Delete, Some(web()), None)];
    plan.outputs.insert(
        "ip".into(),
        OutputChange {
            before: None,
            after: Some(Value::Unknown),
            sensitive: false,
        },
    );
    plan.outputs.insert(
        "token".into(),
        OutputChange {
            before: Some(s("x")),
            after: Some(s("y")),
            sensitive: true,
        },
    );
    let ui = ui();
    ui.plan(&plan);
    let all = messages(&ui);
    let types: Vec<&str> = all.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "resource_drift",
            "planned_change",
            "planned_change",
            "planned_change",
            "planned_change",
            "change_summary",
            "outputs"
        ]
    );
    assert_eq!(all[0]["@message"], "host.a: Drift detected (delete)");
    assert_eq!(all[1]["@message"], "host.a: Plan to create");
    assert_eq!(
        all[1]["change"],
        json!({ "resource": { "addr": "host.a", "module": "", "resource": "host.a", "implied_provider": "host", "resource_type": "host", "resource_name": "a", "resource_key": null }, "action": "create" })
    );
    assert_eq!(all[2]["@message"], "host.imp: Plan to import");
    assert_eq!(all[2]["change"]["importing"], json!({ "id": "h-7" }));
    assert_eq!(all[3]["@message"], "host.new: Plan to move");
    assert_eq!(all[3]["change"]["previous_resource"]["addr"], "host.old");
    let r = &all[4]["change"];
    assert_eq!(
        all[4]["@message"],
        "module.m[\"a\"].host.web[0]: Plan to replace"
    );
    assert_eq!(r["action"], "replace");
    assert_eq!(r["reason"], "tainted");
    assert_eq!(r["resource"]["module"], "module.m[\"a\"]");
    assert_eq!(r["resource"]["resource"], "host.web[0]");
    assert_eq!(r["resource"]["resource_key"], 0);
    assert_eq!(
        all[5]["@message"],
        "Plan: 1 to import, 2 to add, 0 to change, 1 to destroy."
    );
    assert_eq!(
        all[5]["changes"],
        json!({ "add": 2, "change": 0, "import": 1, "remove": 1, "operation": "plan" })
    );
    assert_eq!(all[6]["@message"], "Outputs: 2");
    assert_eq!(
        all[6]["outputs"],
        json!({ "ip": { "sensitive": false, "action": "create" }, "token": { "sensitive": true, "action": "update" } })
    );
}

#[test]
fn apply_hooks_and_summary() {
    let ui = JsonUi::buffered(Duration::from_millis(40));
    let (a, b, c) = (addr("host.a"), addr("host.b"), addr("module.x.host.c"));
    ui.start(&a, Action::Create);
    std::thread::sleep(Duration::from_millis(120));
    ui.complete(&a, Action::Create, Duration::from_millis(1600), Some("h-1"));
    ui.start(&b, Action::Update);
    ui.errored(&b, Action::Update, "boom: secret CANARY-error");
    ui.skipped(&c, Action::Create, "host.b failed");
    let mut plan = plan_of(vec![]);
    plan.mode = Mode::Normal;
    let mut state = State::new();
    state.outputs.insert(
        "name".into(),
        OutputState {
            value: s("web"),
            sensitive: false,
        },
    );
    state.outputs.insert(
        "pw".into(),
        OutputState {
            value: s("CANARY-output"),
            sensitive: true,
        },
    );
    state.outputs.insert(
        "nested".into(),
        OutputState {
            value: obj(&[("k", secret(s("CANARY-nested")))]),
            sensitive: false,
        },
    );
    ui.applied(&plan, &state);
    let out = ui.output();
    assert!(!out.contains("CANARY"), "{out}");
    let all = messages(&ui);
    assert_eq!(all[0]["type"], "apply_start");
    assert_eq!(all[0]["@message"], "host.a: Creating...");
    assert_eq!(all[0]["hook"]["action"], "create");
    assert_eq!(all[0]["hook"]["resource"]["addr"], "host.a");
    assert_eq!(all[1]["type"], "apply_progress");
    assert_eq!(all[1]["@message"], "host.a: Still creating... [0s elapsed]");
    assert!(all[1]["hook"]["elapsed_seconds"].is_u64());
    let complete = all.iter().find(|m| m["type"] == "apply_complete").unwrap();
    assert_eq!(
        complete["@message"],
        "host.a: Creation complete after 2s [id=h-1]"
    );
    assert_eq!(complete["hook"]["id_key"], "id");
    assert_eq!(complete["hook"]["id_value"], "h-1");
    assert_eq!(complete["hook"]["elapsed_seconds"], 2);
    let errored = all.iter().find(|m| m["type"] == "apply_errored").unwrap();
    assert_eq!(
        errored["@message"],
        "host.b: Modifications errored after 0s"
    );
    assert_eq!(errored["hook"]["action"], "update");
    let skipped = all.iter().find(|m| m["type"] == "log").unwrap();
    assert_eq!(
        skipped["@message"],
        "module.x.host.c: Skipped (host.b failed)"
    );
    let summary = all.iter().find(|m| m["type"] == "change_summary").unwrap();
    assert_eq!(
        summary["@message"],
        "Apply complete! Resources: 1 added, 0 changed, 0 destroyed."
    );
    assert_eq!(
        summary["changes"],
        json!({ "add": 1, "change": 0, "import": 0, "remove": 0, "operation": "apply" })
    );
    let outputs = all.iter().find(|m| m["type"] == "outputs").unwrap();
    assert_eq!(outputs["@message"], "Outputs: 3");
    assert_eq!(
        outputs["outputs"]["name"],
        json!({ "sensitive": false, "type": "string", "value": "web" })
    );
    assert_eq!(
        outputs["outputs"]["pw"],
        json!({ "sensitive": true, "type": "string" })
    );
    assert_eq!(
        outputs["outputs"]["nested"],
        json!({ "sensitive": true, "type": ["object", { "k": "string" }] })
    );
}

#[test]
fn destroy_summary() {
    let ui = ui();
    ui.start(&addr("host.a"), Action::Delete);
    ui.complete(
        &addr("host.a"),
        Action::Delete,
        Duration::from_secs(3),
        None,
    );
    let mut plan = plan_of(vec![]);
    plan.mode = Mode::Destroy;
    ui.applied(&plan, &State::new());
    let all = messages(&ui);
    assert_eq!(all[1]["@message"], "host.a: Destruction complete after 3s");
    assert!(all[1]["hook"].get("id_key").is_none());
    assert_eq!(
        all[2]["@message"],
        "Destroy complete! Resources: 1 destroyed."
    );
    assert_eq!(all[2]["changes"]["operation"], "destroy");
    assert_eq!(all[3]["outputs"], json!({}));
}

#[test]
fn canary_secrets_never_appear_in_the_stream() {
    let ui = ui();
    let plan = canary_plan();
    ui.plan(&plan);
    ui.start(&addr("host.web"), Action::Update);
    ui.errored(&addr("host.web"), Action::Update, "CANARY in an error");
    let out = ui.output();
    assert!(!out.contains("CANARY") && !out.contains("31337"), "{out}");
    let all = messages(&ui);
    let outputs = all.iter().find(|m| m["type"] == "outputs").unwrap();
    assert_eq!(outputs["outputs"]["marked"]["sensitive"], true);
    assert_eq!(outputs["outputs"]["gone"]["sensitive"], true);
}

#[test]
fn a_replacement_streams_as_its_two_halves_in_order() {
    let ui = ui();
    let a = addr("host.web");
    ui.start(&a, Action::DeleteThenCreate);
    ui.replacement_step(&a, Action::Delete, Duration::from_secs(2));
    ui.complete(
        &a,
        Action::DeleteThenCreate,
        Duration::from_secs(5),
        Some("h-2"),
    );
    let b = addr("host.db");
    ui.start(&b, Action::CreateThenDelete);
    ui.replacement_step(&b, Action::Create, Duration::from_secs(1));
    ui.complete(&b, Action::CreateThenDelete, Duration::from_secs(3), None);
    let steps: Vec<(String, String, String)> = messages(&ui)
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap().to_owned(),
                m["hook"]["resource"]["addr"].as_str().unwrap().to_owned(),
                m["hook"]["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("apply_start", "host.web", "delete"),
        ("apply_complete", "host.web", "delete"),
        ("apply_start", "host.web", "create"),
        ("apply_complete", "host.web", "create"),
        ("apply_start", "host.db", "create"),
        ("apply_complete", "host.db", "create"),
        ("apply_start", "host.db", "delete"),
        ("apply_complete", "host.db", "delete"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(t, a, x)| (t.to_string(), a.to_string(), x.to_string()))
        .collect();
    assert_eq!(steps, expected);
    let all = messages(&ui);
    assert_eq!(
        all[1]["@message"],
        "host.web: Destruction complete after 2s"
    );
    assert_eq!(all[1]["hook"]["elapsed_seconds"], 2);
    assert_eq!(
        all[3]["@message"],
        "host.web: Creation complete after 0s [id=h-2]"
    );
}

#[test]
fn refresh_messages() {
    let ui = ui();
    let a = addr("host.web");
    ui.refresh_start(&a);
    ui.refresh_complete(&a, Some("h-1"));
    let all = messages(&ui);
    assert_eq!(all[0]["type"], "refresh_start");
    assert_eq!(all[0]["@message"], "host.web: Refreshing state...");
    assert_eq!(all[0]["hook"]["resource"]["addr"], "host.web");
    assert_eq!(all[1]["type"], "refresh_complete");
    assert_eq!(all[1]["@message"], "host.web: Refresh complete [id=h-1]");
    assert_eq!(all[1]["hook"]["id_key"], "id");
    assert_eq!(all[1]["hook"]["id_value"], "h-1");
}
