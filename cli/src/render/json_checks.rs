//! The `checks` of Terraform's plan representation: one entry per object that has
//! conditions (a resource's pre- and postconditions, a variable's validations, an output's
//! preconditions) with its overall status and each instance's.

use std::collections::BTreeMap;

use fleetform_planner::addrs::{AbsResourceInstance, ModuleInstance};
use fleetform_planner::plan::{CheckResult, CheckStatus, Checked};
use serde_json::{Map, Value, json};

use super::json::{key_json, mode_name};

/// `checks`, grouped by configuration object in address order.
pub fn checks(results: &[CheckResult]) -> Value {
    // object display -> (object address JSON, instance display -> (instance JSON, status))
    type Instances = BTreeMap<String, (Value, CheckStatus)>;
    let mut objects: BTreeMap<String, (Value, Instances)> = BTreeMap::new();
    for r in results {
        let (object, instance) = addresses(&r.object);
        let display = object["to_display"].as_str().unwrap_or_default().to_owned();
        let entry = objects
            .entry(display)
            .or_insert_with(|| (object, BTreeMap::new()));
        let shown = instance["to_display"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let slot = entry
            .1
            .entry(shown)
            .or_insert_with(|| (instance, CheckStatus::Pass));
        slot.1 = worst(slot.1, r.status);
    }
    Value::Array(
        objects
            .into_values()
            .map(|(address, instances)| {
                let status = instances
                    .values()
                    .fold(CheckStatus::Pass, |acc, (_, s)| worst(acc, *s));
                let instances: Vec<Value> = instances
                    .into_values()
                    .map(|(address, s)| json!({ "address": address, "status": word(s) }))
                    .collect();
                json!({ "address": address, "status": word(status), "instances": instances })
            })
            .collect(),
    )
}

/// One failure fails the object; otherwise an error, then an unknown, outweighs passes.
fn worst(a: CheckStatus, b: CheckStatus) -> CheckStatus {
    a.max(b)
}

fn word(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "pass",
        CheckStatus::Unknown => "unknown",
        CheckStatus::Error => "error",
        CheckStatus::Fail => "fail",
    }
}

/// The object's and the instance's `address` objects.
fn addresses(checked: &Checked) -> (Value, Value) {
    match checked {
        Checked::Resource(addr) => resource(addr),
        Checked::Variable(m, name) => named("var", "var.", m, name),
        Checked::Output(m, name) => named("output_value", "output.", m, name),
    }
}

fn resource(addr: &AbsResourceInstance) -> (Value, Value) {
    let r = &addr.resource.resource;
    let mut object = Map::new();
    object.insert("kind".into(), json!("resource"));
    object.insert("mode".into(), json!(mode_name(r.mode)));
    object.insert("type".into(), json!(r.ty));
    object.insert("name".into(), json!(r.name));
    let module_path = addr.module.path();
    let resource_text = if module_path.0.is_empty() {
        r.to_string()
    } else {
        object.insert("module".into(), json!(module_path.to_string()));
        format!("{module_path}.{r}")
    };
    object.insert("to_display".into(), json!(resource_text));
    let mut instance = Map::new();
    instance.insert("to_display".into(), json!(addr.to_string()));
    if !addr.module.is_root() {
        instance.insert("module".into(), json!(addr.module.to_string()));
    }
    if let Some(key) = key_json(&addr.resource.key) {
        instance.insert("instance_key".into(), key);
    }
    (Value::Object(object), Value::Object(instance))
}

fn named(kind: &str, prefix: &str, m: &ModuleInstance, name: &str) -> (Value, Value) {
    let path = m.path();
    let in_module = |module: String| {
        if module.is_empty() {
            format!("{prefix}{name}")
        } else {
            format!("{module}.{prefix}{name}")
        }
    };
    let mut object = Map::new();
    object.insert("kind".into(), json!(kind));
    object.insert("name".into(), json!(name));
    if !path.0.is_empty() {
        object.insert("module".into(), json!(path.to_string()));
    }
    object.insert("to_display".into(), json!(in_module(path.to_string())));
    let mut instance = Map::new();
    instance.insert("to_display".into(), json!(in_module(m.to_string())));
    if !m.is_root() {
        instance.insert("module".into(), json!(m.to_string()));
    }
    (Value::Object(object), Value::Object(instance))
}
