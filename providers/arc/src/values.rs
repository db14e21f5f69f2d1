//! Small conversions between the engine's values and ARM's JSON.

use std::collections::BTreeMap;

use fleetform_sdk::Value;
use serde_json::Value as Json;

/// The attributes of an object value (empty for anything else).
pub fn attributes(value: &Value) -> BTreeMap<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// A string attribute, when set.
pub fn string(value: &Value, name: &str) -> Option<String> {
    value.get(name).as_str().map(str::to_owned)
}

/// A JSON string as a value (null when absent).
pub fn json_string(json: &Json) -> Value {
    json.as_str().map_or(Value::Null, Value::from)
}

/// A JSON value as an engine value (null stays null).
pub fn from_json(json: &Json) -> Value {
    Value::from(json)
}

/// A map of strings (null or empty when absent) as JSON.
pub fn string_map(value: &Value) -> Option<Json> {
    let map = value.as_object()?;
    Some(Json::Object(
        map.iter()
            .filter_map(|(k, v)| Some((k.clone(), Json::from(v.as_str()?))))
            .collect(),
    ))
}

/// A JSON object of strings as a map value; null when absent or empty.
pub fn map_from_json(json: &Json) -> Value {
    match json.as_object() {
        Some(map) if !map.is_empty() => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or(Value::Null, Value::from)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// True when every attribute in `names` is equal in `a` and `b`.
pub fn same(a: &Value, b: &Value, names: &[&str]) -> bool {
    names
        .iter()
        .all(|n| a.get(n).unmark_deep() == b.get(n).unmark_deep())
}

/// `value` with anything still unknown made null: what a failed change records of a
/// planned object whose computed parts never came to be.
pub fn known(value: Value) -> Value {
    match value {
        Value::Unknown => Value::Null,
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, known(v))).collect()),
        Value::List(items) => Value::List(items.into_iter().map(known).collect()),
        Value::Sensitive(inner) => Value::Sensitive(Box::new(known(*inner))),
        other => other,
    }
}
