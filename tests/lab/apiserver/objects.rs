//! Object metadata as kube-apiserver manages it: type checks, names, uids, timestamps,
//! resource versions, and patches.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::resources::{NameRule, ResourceType};
use super::status::ApiError;

/// The current time as kube writes timestamps: RFC 3339, UTC, whole seconds.
pub fn now() -> String {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (Howard Hinnant's civil-from-days).
pub fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `metadata`, created if absent.
pub fn metadata(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("made an object above")
}

pub fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

/// The body must be a JSON object of this resource's kind and version; absent
/// `apiVersion`/`kind` are filled in.
pub fn check_type(resource: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
    let Some(fields) = object.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request is not a JSON object",
        ));
    };
    let expected_version = resource.api_version();
    match fields.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            fields.insert("apiVersion".into(), expected_version.clone().into());
        }
        Some(v) if v == expected_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )));
        }
    }
    match fields.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            fields.insert("kind".into(), resource.kind.into());
        }
        Some(k) if k == resource.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                resource.kind
            )));
        }
    }
    Ok(())
}

/// Why `name` is not a valid name for `rule`, in kube's words.
pub fn name_problem(rule: NameRule, name: &str) -> Option<String> {
    let dns_label = |label: &str| {
        let b = label.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    match rule {
        NameRule::Subdomain if name.len() > 253 || !name.split('.').all(dns_label) => {
            Some(format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case \
             alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
             character (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ))
        }
        NameRule::Label if !dns_label(name) => Some(format!(
            "Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case \
             alphanumeric characters or '-', and must start and end with an alphanumeric \
             character (e.g. 'my-name',  or '123-abc', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )),
        NameRule::PathSegment if name == "." || name == ".." => {
            Some(format!("Invalid value: {name:?}: may not be '{name}'"))
        }
        NameRule::PathSegment if name.contains(['/', '%']) => Some(format!(
            "Invalid value: {name:?}: may not contain '/' or '%'"
        )),
        _ => None,
    }
}

/// A random suffix for `generateName`, like kube's (5 characters, no vowels).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// The object's `metadata.resourceVersion` as a revision: `None` when unset, an error when
/// it is not a number this server issued.
pub fn resource_version(object: &Value) -> Result<Option<i64>, ApiError> {
    match object["metadata"]["resourceVersion"].as_str() {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!("invalid resourceVersion {text:?}: not a number"))
        }),
    }
}

/// The object as stored: without `resourceVersion`, which is the key's revision.
pub fn encode(object: &Value) -> Vec<u8> {
    let mut stored = object.clone();
    metadata(&mut stored).remove("resourceVersion");
    serde_json::to_vec(&stored).expect("JSON values serialize")
}

/// An object read from the store, with its revision as `resourceVersion`.
pub fn decode(bytes: &[u8], revision: i64) -> Result<Value, ApiError> {
    let mut object: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
    metadata(&mut object).insert("resourceVersion".into(), revision.to_string().into());
    Ok(object)
}

/// Everything but metadata and status: what `generation` counts changes of.
pub fn spec_part(object: &Value) -> Value {
    let mut rest = object.clone();
    if let Some(fields) = rest.as_object_mut() {
        fields.remove("metadata");
        fields.remove("status");
    }
    rest
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// A strategic merge patch, without the schema kube-apiserver has: it merges like a JSON
/// merge patch, except that a list accompanied by a `$setElementOrder/FIELD` directive (as
/// kubectl apply sends for lists kube merges by key, e.g. containers by name) is merged
/// element by element by the key those entries name, `$patch: delete` entries remove
/// elements, `$deleteFromPrimitiveList/FIELD` removes values and `$retainKeys` drops the
/// other fields. Lists without directives are replaced whole.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = without_directives(patch);
        return;
    };
    if fields.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = without_directives(patch);
        return;
    }
    if !target.is_object() {
        *target = json!({});
    }
    let live = target.as_object_mut().expect("made an object above");
    for (key, value) in fields {
        if key.starts_with('$') {
            continue;
        }
        let deleted = value.get("$patch").and_then(Value::as_str) == Some("delete");
        if value.is_null() || deleted {
            live.remove(key);
            continue;
        }
        let order = fields.get(&format!("$setElementOrder/{key}"));
        match (value, order) {
            (Value::Array(items), Some(Value::Array(order))) => {
                let current = live.remove(key).unwrap_or(Value::Null);
                let current = current.as_array().map(Vec::as_slice).unwrap_or_default();
                live.insert(key.clone(), Value::Array(merge_list(current, items, order)));
            }
            (Value::Object(_), _) => {
                strategic_merge_patch(live.entry(key.clone()).or_insert(Value::Null), value);
            }
            _ => {
                live.insert(key.clone(), without_directives(value));
            }
        }
    }
    for (key, value) in fields {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(Value::Array(items)), Some(gone)) = (live.get_mut(field), value.as_array())
        {
            items.retain(|item| !gone.contains(item));
        }
    }
    if let Some(Value::Array(keep)) = fields.get("$retainKeys") {
        live.retain(|key, _| keep.iter().any(|k| k == key));
    }
}

/// Merges `patch` into `live` by the key the `$setElementOrder` entries name (or by value
/// for lists of scalars), then orders the result as `order` says; elements only the live
/// list has keep their place after those.
fn merge_list(live: &[Value], patch: &[Value], order: &[Value]) -> Vec<Value> {
    let merge_key = order
        .iter()
        .find_map(|entry| entry.as_object().and_then(|o| o.keys().next().cloned()));
    let same = |a: &Value, b: &Value| match &merge_key {
        Some(k) => a.get(k).is_some() && a.get(k) == b.get(k),
        None => a == b,
    };
    let mut merged: Vec<Value> = live.to_vec();
    for item in patch {
        let position = merged.iter().position(|m| same(m, item));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                merged.remove(i);
            }
            (None, true) => {}
            (Some(i), false) if merge_key.is_some() => strategic_merge_patch(&mut merged[i], item),
            (Some(_), false) => {}
            (None, false) => merged.push(without_directives(item)),
        }
    }
    let rank = |item: &Value| {
        order
            .iter()
            .position(|o| same(item, o))
            .unwrap_or(usize::MAX)
    };
    merged.sort_by_key(rank);
    merged
}

/// `value` without strategic merge patch directives (`$...` keys).
fn without_directives(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), without_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_directives).collect()),
        other => other.clone(),
    }
}

/// Whether two versions of an object differ in nothing but managedFields timestamps and
/// resourceVersion: a write that changes nothing else is not made.
pub fn same_but_times(a: &Value, b: &Value) -> bool {
    let strip = |object: &Value| {
        let mut object = object.clone();
        let meta = metadata(&mut object);
        meta.remove("resourceVersion");
        if let Some(Value::Array(entries)) = meta.get_mut("managedFields") {
            for entry in entries {
                if let Some(e) = entry.as_object_mut() {
                    e.remove("time");
                }
            }
        }
        object
    };
    strip(a) == strip(b)
}

/// RFC 6902 JSON patch.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let patch: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    json_patch::patch(target, &patch).map_err(|e| ApiError::unprocessable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_730_000_000), "2024-10-27T03:33:20Z");
    }

    #[test]
    fn names() {
        assert_eq!(name_problem(NameRule::Subdomain, "node-1.lab"), None);
        assert!(name_problem(NameRule::Subdomain, "Node_1").is_some());
        assert!(name_problem(NameRule::Label, "a.b").is_some());
        assert_eq!(name_problem(NameRule::PathSegment, "system:node"), None);
        assert!(name_problem(NameRule::PathSegment, "a/b").is_some());
        let suffix = random_suffix();
        assert_eq!(suffix.len(), 5);
        assert_eq!(name_problem(NameRule::Label, &suffix), None);
    }

    #[test]
    fn patches_and_unchanged_writes() {
        let mut live =
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"x": "9", "y": "2"}});
        let mut later = live.clone();
        later["metadata"]["resourceVersion"] = "7".into();
        assert!(same_but_times(&live, &later));
        later["data"]["x"] = "8".into();
        assert!(!same_but_times(&live, &later));
        merge_patch(&mut live, &json!({"data": {"y": null}}));
        assert_eq!(live["data"], json!({"x": "9"}));
        json_patch(
            &mut live,
            &json!([{"op": "add", "path": "/data/z", "value": "3"}]),
        )
        .unwrap();
        assert_eq!(live["data"]["z"], "3");
        assert_eq!(
            json_patch(
                &mut live,
                &json!([{"op": "test", "path": "/data/z", "value": "4"}])
            )
            .unwrap_err()
            .code,
            422
        );
    }

    #[test]
    fn strategic_merge_patches_as_kubectl_apply_sends_them() {
        let mut pod = json!({"spec": {
            "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}, {"name": "c", "image": "c:1"}],
            "nodeSelector": {"x": "1"},
            "finalizers": ["f1"],
        }});
        strategic_merge_patch(
            &mut pod,
            &json!({"spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "image": "a:2"}, {"name": "c", "$patch": "delete"}],
                "nodeSelector": {"$patch": "replace", "y": "2"},
                "$setElementOrder/finalizers": ["f1", "f2"],
                "finalizers": ["f2"],
            }}),
        );
        assert_eq!(
            pod,
            json!({"spec": {
                "containers": [{"name": "b", "image": "b:1"}, {"name": "a", "image": "a:2"}],
                "nodeSelector": {"y": "2"},
                "finalizers": ["f1", "f2"],
            }})
        );
        // Without directives, lists are replaced as in a merge patch.
        strategic_merge_patch(
            &mut pod,
            &json!({"spec": {"containers": [{"name": "z"}], "$retainKeys": ["containers"]}}),
        );
        assert_eq!(pod, json!({"spec": {"containers": [{"name": "z"}]}}));
    }
}
