//! Shape tests of the plan and state representations against Terraform's documented
//! format ("JSON Output Format") and its own `show -json` fixtures.

use fleetform_planner::config::Config;
use fleetform_planner::plan::{Action, Mode, OutputChange, Reason};
use fleetform_planner::state::{InstanceState, InstanceStatus, OutputState, State};
use fleetform_sdk::{PathStep, Value};
use serde_json::json;

use super::{plan_representation_with, state_representation_with};
use crate::render::plan::tests::{addr, canary_plan, change, n, obj, plan_of, s, secret, web};

fn schemas(
    mode: fleetform_planner::addrs::ResourceMode,
    ty: &str,
) -> Option<&'static fleetform_sdk::Schema> {
    crate::render::plan::tests::schemas_for_tests(mode, ty)
}

fn instance(value: Value) -> InstanceState {
    InstanceState {
        provider: "provider.host".into(),
        schema_version: 0,
        value,
        dependencies: Vec::new(),
        status: InstanceStatus::Ready,
        create_before_destroy: false,
        prevent_destroy: false,
    }
}

#[test]
fn create_has_null_before_and_unknown_tree() {
    let after = obj(&[
        ("id", Value::Unknown),
        ("name", s("web")),
        ("address", s("10.0.0.5")),
        ("password", secret(s("hunter2"))),
        ("ports", Value::List(vec![n(22), Value::Unknown])),
        (
            "labels",
            obj(&[("site", s("north")), ("zone", Value::Unknown)]),
        ),
    ]);
    let plan = plan_of(vec![change("host.web", Action::Create, None, Some(after))]);
    let j = plan_representation_with(&plan, &State::new(), &Config::default(), &schemas);
    assert_eq!(j["format_version"], "1.2");
    assert_eq!(j["terraform_version"], "1.11.0");
    assert_eq!(j["fleetform_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(j["timestamp"], "1970-01-01T00:00:00Z");
    assert_eq!(j["complete"], true);
    assert_eq!(j["errored"], false);
    assert_eq!(j["applyable"], true);
    assert!(
        j.get("prior_state").is_none(),
        "an empty prior state is left out, as in Terraform"
    );
    let rc = &j["resource_changes"][0];
    assert_eq!(
        *rc,
        json!({
            "address": "host.web",
            "mode": "managed",
            "type": "host",
            "name": "web",
            "provider_name": "fleetform.io/builtin/host",
            "change": {
                "actions": ["create"],
                "before": null,
                "after": {
                    "address": "10.0.0.5",
                    "labels": { "site": "north" },
                    "name": "web",
                    "password": null,
                    "ports": [22, null]
                },
                "after_unknown": { "id": true, "labels": { "zone": true }, "ports": [false, true] },
                "before_sensitive": false,
                "after_sensitive": { "labels": {}, "password": true, "ports": [false, false] }
            }
        })
    );
    let planned = &j["planned_values"]["root_module"]["resources"][0];
    assert_eq!(planned["values"], rc["change"]["after"]);
    assert_eq!(planned["sensitive_values"], rc["change"]["after_sensitive"]);
    assert_eq!(planned["schema_version"], 0);
}

#[test]
fn update_trees_mirror_the_values() {
    let before = obj(&[
        ("id", s("h-1")),
        ("name", s("web")),
        (
            "labels",
            obj(&[("team", s("ops")), ("token", secret(s("t0k3n")))]),
        ),
        ("ports", Value::List(vec![secret(n(1)), n(2)])),
        (
            "disk",
            Value::List(vec![obj(&[("size", n(20)), ("label", secret(s("root")))])]),
        ),
    ]);
    let mut after = before.clone();
    if let Value::Object(m) = &mut after {
        m.insert("name".into(), s("api"));
    }
    let plan = plan_of(vec![change(
        "host.web",
        Action::Update,
        Some(before),
        Some(after),
    )]);
    let j = plan_representation_with(&plan, &State::new(), &Config::default(), &schemas);
    let c = &j["resource_changes"][0]["change"];
    assert_eq!(c["actions"], json!(["update"]));
    assert_eq!(
        c["after_unknown"],
        json!({}),
        "a wholly known after has an empty tree"
    );
    let tree =
        json!({ "labels": { "token": true }, "ports": [true, false], "disk": [{ "label": true }] });
    assert_eq!(c["before_sensitive"], tree);
    assert_eq!(c["after_sensitive"], tree);
    assert_eq!(
        c["before"]["labels"]["token"],
        serde_json::Value::Null,
        "sensitive values stay in the plan file: the JSON shows where they are, not what"
    );
    assert!(c.get("replace_paths").is_none());
    assert!(j["resource_changes"][0].get("action_reason").is_none());
}

#[test]
fn replace_paths_and_reasons() {
    let mut replace = change(
        "host.web",
        Action::DeleteThenCreate,
        Some(web()),
        Some(obj(&[
            ("id", Value::Unknown),
            ("name", s("web")),
            ("address", s("10.0.0.6")),
        ])),
    );
    replace.reason = Some(Reason::ReplaceBecauseCannotUpdate);
    replace.replace_paths = vec![
        vec![PathStep::Attr("address".into())],
        vec![
            PathStep::Attr("labels".into()),
            PathStep::Key("site".into()),
        ],
        vec![PathStep::Attr("ports".into()), PathStep::Index(1)],
    ];
    let mut cbd = change(
        "host.db",
        Action::CreateThenDelete,
        Some(web()),
        Some(web()),
    );
    cbd.reason = Some(Reason::ReplaceBecauseTainted);
    let reason = |a: &str, action: Action, r: Reason| {
        let mut c = change(a, action, Some(web()), (action != Action::Delete).then(web));
        c.reason = Some(r);
        c
    };
    let plan = plan_of(vec![
        cbd,
        reason(
            "host.gone",
            Action::Delete,
            Reason::DeleteBecauseNoResourceConfig,
        ),
        reason("host.i[3]", Action::Delete, Reason::DeleteBecauseNoInstance),
        reason(
            "host.k[\"a\"]",
            Action::Delete,
            Reason::DeleteBecauseNoInstance,
        ),
        reason("host.r", Action::DeleteThenCreate, Reason::ReplaceByRequest),
        reason(
            "host.t",
            Action::DeleteThenCreate,
            Reason::ReplaceByTriggers("host.x".into()),
        ),
        reason("host.w", Action::Delete, Reason::DeleteBecauseNoInstance),
        replace,
        reason(
            "module.m.host.x",
            Action::Delete,
            Reason::DeleteBecauseNoModule,
        ),
        reason("host.d", Action::Delete, Reason::DeleteBecauseDestroyMode),
    ]);
    let j = plan_representation_with(&plan, &State::new(), &Config::default(), &schemas);
    let by_addr = |a: &str| {
        j["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == a)
            .unwrap()
            .clone()
    };
    let web = by_addr("host.web");
    assert_eq!(web["change"]["actions"], json!(["delete", "create"]));
    assert_eq!(
        web["change"]["replace_paths"],
        json!([["address"], ["labels", "site"], ["ports", 1]])
    );
    assert_eq!(web["action_reason"], "replace_because_cannot_update");
    assert_eq!(
        by_addr("host.db")["change"]["actions"],
        json!(["create", "delete"])
    );
    assert_eq!(
        by_addr("host.db")["action_reason"],
        "replace_because_tainted"
    );
    assert_eq!(by_addr("host.r")["action_reason"], "replace_by_request");
    assert_eq!(by_addr("host.t")["action_reason"], "replace_by_triggers");
    assert_eq!(
        by_addr("host.gone")["action_reason"],
        "delete_because_no_resource_config"
    );
    assert_eq!(
        by_addr("host.i[3]")["action_reason"],
        "delete_because_count_index"
    );
    assert_eq!(by_addr("host.i[3]")["index"], 3);
    assert_eq!(
        by_addr("host.k[\"a\"]")["action_reason"],
        "delete_because_each_key"
    );
    assert_eq!(by_addr("host.k[\"a\"]")["index"], "a");
    assert_eq!(
        by_addr("host.w")["action_reason"],
        "delete_because_wrong_repetition"
    );
    let m = by_addr("module.m.host.x");
    assert_eq!(m["action_reason"], "delete_because_no_module");
    assert_eq!(m["module_address"], "module.m");
    assert!(by_addr("host.d").get("action_reason").is_none());
    let gone = by_addr("host.gone");
    assert_eq!(gone["change"]["after"], json!(null));
    assert_eq!(gone["change"]["after_unknown"], json!({}));
    assert_eq!(gone["change"]["after_sensitive"], json!(false));
    assert_eq!(gone["change"]["before_sensitive"], json!({}));
}

#[test]
fn read_move_import_and_drift() {
    let mut read = change(
        "data.host_facts.web",
        Action::Read,
        None,
        Some(obj(&[("id", Value::Unknown), ("name", s("web"))])),
    );
    read.reason = Some(Reason::ReadBecauseConfigUnknown);
    let mut moved = change("host.web", Action::NoOp, Some(web()), Some(web()));
    moved.previous_addr = Some(addr("host.old"));
    let mut imported = change("host.imp", Action::NoOp, Some(web()), Some(web()));
    imported.importing = Some("h-1".into());
    let mut plan = plan_of(vec![read, imported, moved]);
    plan.drift = vec![change(
        "host.web",
        Action::Update,
        Some(obj(&[("id", s("h-1"))])),
        Some(web()),
    )];
    let j = plan_representation_with(&plan, &State::new(), &Config::default(), &schemas);
    let rc = j["resource_changes"].as_array().unwrap();
    assert_eq!(rc[0]["address"], "data.host_facts.web");
    assert_eq!(rc[0]["mode"], "data");
    assert_eq!(rc[0]["change"]["actions"], json!(["read"]));
    assert_eq!(rc[0]["action_reason"], "read_because_config_unknown");
    assert_eq!(rc[1]["change"]["importing"], json!({ "id": "h-1" }));
    assert_eq!(rc[1]["change"]["actions"], json!(["no-op"]));
    assert_eq!(rc[2]["previous_address"], "host.old");
    let drift = &j["resource_drift"][0];
    assert_eq!(drift["address"], "host.web");
    assert_eq!(drift["change"]["actions"], json!(["update"]));
}

#[test]
fn modules_nest_in_planned_values() {
    let plan = plan_of(vec![
        change("host.a", Action::Create, None, Some(web())),
        change(
            "module.x[\"n\"].module.y.host.b",
            Action::Create,
            None,
            Some(web()),
        ),
        change("module.x[\"n\"].host.c", Action::Create, None, Some(web())),
        change("host.gone", Action::Delete, Some(web()), None),
    ]);
    let j = plan_representation_with(&plan, &State::new(), &Config::default(), &schemas);
    let root = &j["planned_values"]["root_module"];
    assert_eq!(
        root["resources"].as_array().unwrap().len(),
        1,
        "deleted objects are not planned values"
    );
    let x = &root["child_modules"][0];
    assert_eq!(x["address"], "module.x[\"n\"]");
    assert_eq!(x["resources"][0]["address"], "module.x[\"n\"].host.c");
    assert_eq!(x["child_modules"][0]["address"], "module.x[\"n\"].module.y");
    assert_eq!(
        x["child_modules"][0]["resources"][0]["address"],
        "module.x[\"n\"].module.y.host.b"
    );
}

#[test]
fn output_changes_and_prior_state() {
    let mut plan = plan_of(vec![]);
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
            before: Some(s("a")),
            after: Some(s("b")),
            sensitive: true,
        },
    );
    plan.outputs.insert(
        "same".into(),
        OutputChange {
            before: Some(s("v")),
            after: Some(s("v")),
            sensitive: false,
        },
    );
    plan.variables.insert("region".into(), s("north"));
    let mut prior = State::new();
    prior.set(
        addr("host.web"),
        instance(obj(&[("id", s("h-1")), ("password", s("pw"))])),
    );
    prior.outputs.insert(
        "token".into(),
        OutputState {
            value: s("a"),
            sensitive: true,
        },
    );
    let j = plan_representation_with(&plan, &prior, &Config::default(), &schemas);
    assert_eq!(j["variables"], json!({ "region": { "value": "north" } }));
    assert_eq!(
        j["output_changes"]["ip"],
        json!({ "actions": ["create"], "before": null, "after": null, "after_unknown": true, "before_sensitive": false, "after_sensitive": false })
    );
    assert_eq!(
        j["output_changes"]["token"],
        json!({ "actions": ["update"], "before": null, "after": null, "after_unknown": false, "before_sensitive": true, "after_sensitive": true })
    );
    assert_eq!(j["output_changes"]["same"]["actions"], json!(["no-op"]));
    assert_eq!(
        j["planned_values"]["outputs"]["token"],
        json!({ "sensitive": true, "type": "string", "value": null })
    );
    assert_eq!(
        j["planned_values"]["outputs"]["ip"],
        json!({ "sensitive": false })
    );
    let prior_state = &j["prior_state"];
    assert_eq!(prior_state["format_version"], "1.0");
    let r = &prior_state["values"]["root_module"]["resources"][0];
    assert_eq!(
        r["sensitive_values"],
        json!({ "password": true }),
        "the schema's sensitive attributes are marked"
    );
}

#[test]
fn state_representation_shape() {
    assert_eq!(
        state_representation_with(&State::new(), &schemas),
        json!({
            "format_version": "1.0",
            "terraform_version": "1.11.0",
            "fleetform_version": env!("CARGO_PKG_VERSION")
        })
    );
    let mut state = State::new();
    let mut tainted = instance(obj(&[("id", s("h-2"))]));
    tainted.status = InstanceStatus::Tainted;
    tainted.dependencies = vec![addr("host.a").abs_resource()];
    state.set(addr("host.b[0]"), tainted);
    state.set(
        addr("host.a"),
        instance(obj(&[
            ("id", s("h-1")),
            ("labels", obj(&[("k", secret(s("v")))])),
        ])),
    );
    state.outputs.insert(
        "name".into(),
        OutputState {
            value: obj(&[("a", n(1))]),
            sensitive: false,
        },
    );
    let j = state_representation_with(&state, &schemas);
    assert_eq!(
        j["values"]["outputs"]["name"],
        json!({ "sensitive": false, "value": { "a": 1 }, "type": ["object", { "a": "number" }] })
    );
    let resources = j["values"]["root_module"]["resources"].as_array().unwrap();
    assert_eq!(
        resources[0],
        json!({
            "address": "host.a", "mode": "managed", "type": "host", "name": "a", "provider_name": "fleetform.io/builtin/host",
            "schema_version": 0, "values": { "id": "h-1", "labels": { "k": null } },
            "sensitive_values": { "labels": { "k": true } }
        })
    );
    assert_eq!(resources[1]["index"], 0);
    assert_eq!(resources[1]["tainted"], true);
    assert_eq!(resources[1]["depends_on"], json!(["host.a"]));
}

#[test]
fn canary_plan_keeps_its_sensitive_marks() {
    let plan = canary_plan();
    let j = plan_representation_with(&plan, &State::new(), &Config::default(), &schemas);
    let web = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "host.web")
        .unwrap();
    assert_eq!(web["change"]["after_sensitive"]["password"], true);
    assert_eq!(
        web["change"]["after_sensitive"]["labels"],
        json!({ "token": true, "new": true })
    );
    assert_eq!(
        web["change"]["after_sensitive"]["ports"],
        json!([false, true])
    );
    assert_eq!(
        web["change"]["before_sensitive"]["labels"],
        json!({ "token": true })
    );
    let db = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "host.db")
        .unwrap();
    assert_eq!(
        db["change"]["after_sensitive"],
        json!({ "password": true, "disk": [{ "label": true }] })
    );
    assert_eq!(j["output_changes"]["declared"]["after_sensitive"], true);
    assert_eq!(j["output_changes"]["marked"]["after_sensitive"], true);
}

#[test]
fn refresh_only_applyable_with_drift() {
    let mut plan = plan_of(vec![change(
        "host.web",
        Action::NoOp,
        Some(web()),
        Some(web()),
    )]);
    let j = plan_representation_with(&plan, &State::new(), &Config::default(), &schemas);
    assert_eq!(j["applyable"], false);
    plan.mode = Mode::RefreshOnly;
    plan.drift = vec![change("host.web", Action::Delete, Some(web()), None)];
    let j = plan_representation_with(&plan, &State::new(), &Config::default(), &schemas);
    assert_eq!(j["applyable"], true);
    assert_eq!(
        j["resource_drift"][0]["change"]["actions"],
        json!(["delete"])
    );
}

#[test]
fn provider_names_come_from_configuration_addresses() {
    assert_eq!(super::provider_name("provider.host"), "host");
    assert_eq!(super::provider_name("provider.host.west"), "host");
    assert_eq!(
        super::provider_name("module.a[\"x\"].provider.kubernetes"),
        "kubernetes"
    );
}
