//! Field ownership as the API server reports it: the `fieldsV1` sets of an object's
//! `managedFields`, read into paths; the part of an object a manager owns (its
//! projection, which is what fleetform records and compares); and the paths of conflicts
//! (`.spec.template.spec.containers[name="web"].image`), read back so that a field left
//! to another manager can be dropped from what fleetform applies.
//!
//! Nothing here needs the objects' schemas: list items are matched by the key fields the
//! server names.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A field of a map or struct.
    Field(String),
    /// An item of an associative list, by its key fields.
    Key(Map<String, Value>),
    /// An item of a set, by value.
    Value(Value),
    /// An item by position.
    Index(usize),
}

/// A set of paths, as a tree; `member` marks a node whose own path is in the set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    pub member: bool,
    pub children: Vec<(Step, FieldSet)>,
}

impl FieldSet {
    /// Reads a `fieldsV1` value; entries it cannot read are skipped.
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(map) = value.as_object() else {
            return set;
        };
        set.member = map.is_empty() || map.contains_key(".");
        for (key, child) in map {
            let step = match key.split_once(':') {
                Some(("f", name)) => Step::Field(name.to_owned()),
                Some(("k", key)) => match serde_json::from_str::<Value>(key) {
                    Ok(Value::Object(fields)) => Step::Key(fields),
                    _ => continue,
                },
                Some(("v", value)) => match serde_json::from_str(value) {
                    Ok(v) => Step::Value(v),
                    Err(_) => continue,
                },
                Some(("i", index)) => match index.parse() {
                    Ok(i) => Step::Index(i),
                    Err(_) => continue,
                },
                _ => continue,
            };
            set.children.push((step, FieldSet::from_fields_v1(child)));
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    fn child(&self, step: &Step) -> Option<&FieldSet> {
        self.children
            .iter()
            .find(|(s, _)| s == step)
            .map(|(_, c)| c)
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (step, theirs) in &other.children {
            match out.children.iter_mut().find(|(s, _)| s == step) {
                Some((_, mine)) => *mine = mine.union(theirs),
                None => out.children.push((step.clone(), theirs.clone())),
            }
        }
        out
    }

    /// Paths in `self` but not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: Vec::new(),
        };
        for (step, mine) in &self.children {
            let rest = match other.child(step) {
                Some(theirs) => mine.difference(theirs),
                None => mine.clone(),
            };
            if !rest.is_empty() {
                out.children.push((step.clone(), rest));
            }
        }
        out
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &[Step]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((step, rest)) => self.child(step).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Member paths with nothing under them, in order.
    pub fn leaves(&self) -> Vec<Vec<Step>> {
        let mut out = Vec::new();
        collect_leaves(self, &mut Vec::new(), &mut out);
        out
    }
}

fn collect_leaves(set: &FieldSet, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    if set.member && set.children.is_empty() {
        out.push(path.clone());
    }
    for (step, child) in &set.children {
        path.push(step.clone());
        collect_leaves(child, path, out);
        path.pop();
    }
}

/// One `managedFields` entry, as far as fleetform reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Manager {
    pub name: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

/// The object's `managedFields`.
pub fn managers(object: &Value) -> Vec<Manager> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| Manager {
            name: entry["manager"].as_str().unwrap_or_default().to_owned(),
            operation: entry["operation"].as_str().unwrap_or_default().to_owned(),
            subresource: entry["subresource"].as_str().map(str::to_owned),
            fields: FieldSet::from_fields_v1(&entry["fieldsV1"]),
        })
        .collect()
}

/// What `manager` owns through server-side apply.
pub fn applied_by(object: &Value, manager: &str) -> FieldSet {
    managers(object)
        .into_iter()
        .filter(|m| m.name == manager && m.operation == "Apply" && m.subresource.is_none())
        .fold(FieldSet::default(), |all, m| all.union(&m.fields))
}

/// The part of `object` that `set` covers, keys sorted: maps and structs keep the owned
/// fields, lists the owned items (in the object's order), leaves their whole value.
pub fn project(object: &Value, set: &FieldSet) -> Value {
    if set.children.is_empty() {
        // A leaf is owned whole; nothing owned (an object applied with its name alone)
        // projects to an empty object.
        return if set.member {
            sorted(object)
        } else {
            Value::Object(Map::new())
        };
    }
    match object {
        Value::Object(fields) => {
            let mut out = BTreeMap::new();
            for (step, child) in &set.children {
                if let Step::Field(name) = step
                    && let Some(value) = fields.get(name)
                {
                    out.insert(name.clone(), project(value, child));
                }
            }
            Value::Object(out.into_iter().collect())
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let owned = set.children.iter().find(|(step, _)| match step {
                    Step::Key(key) => key_matches(item, key),
                    Step::Value(value) => item == value,
                    Step::Index(i) => *i == index,
                    Step::Field(_) => false,
                });
                if let Some((_, child)) = owned {
                    out.push(project(item, child));
                }
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(fields) => {
            let sorted: BTreeMap<&String, Value> =
                fields.iter().map(|(k, v)| (k, self::sorted(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// A missing `protocol` key field counts as TCP, the default kube fills in.
fn key_matches(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(name, wanted)| match item.get(name) {
        Some(v) => v == wanted,
        None => name == "protocol" && wanted == "TCP",
    })
}

/// The value at `path`, if `object` has it.
pub fn get<'v>(object: &'v Value, path: &[Step]) -> Option<&'v Value> {
    let mut current = object;
    for step in path {
        current = match (step, current) {
            (Step::Field(name), Value::Object(fields)) => fields.get(name)?,
            (Step::Key(key), Value::Array(items)) => {
                items.iter().find(|item| key_matches(item, key))?
            }
            (Step::Value(value), Value::Array(items)) => items.iter().find(|i| *i == value)?,
            (Step::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Removes the value at `path` from `object`; whether it was there.
pub fn remove(object: &mut Value, path: &[Step]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut current = object;
    for step in parents {
        let next = match (step, current) {
            (Step::Field(name), Value::Object(fields)) => fields.get_mut(name),
            (Step::Key(key), Value::Array(items)) => {
                items.iter_mut().find(|item| key_matches(item, key))
            }
            (Step::Value(value), Value::Array(items)) => items.iter_mut().find(|i| *i == value),
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => return false,
        }
    }
    match (last, current) {
        (Step::Field(name), Value::Object(fields)) => fields.remove(name).is_some(),
        (Step::Key(key), Value::Array(items)) => {
            let before = items.len();
            items.retain(|item| !key_matches(item, key));
            before != items.len()
        }
        (Step::Value(value), Value::Array(items)) => {
            let before = items.len();
            items.retain(|item| item != value);
            before != items.len()
        }
        (Step::Index(i), Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

/// A path as the API server prints it: `.data.key`, `.spec.ports[port=80,protocol="TCP"]`,
/// `.metadata.finalizers[="x"]`.
pub fn path_string(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            Step::Key(key) => {
                let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push('[');
                out.push_str(&parts.join(","));
                out.push(']');
            }
            Step::Value(value) => out.push_str(&format!("[={value}]")),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Reads a path the API server printed back into steps.
pub fn parse_path(text: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            steps.push(Step::Field(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (inside, tail) = split_bracket(after)?;
            rest = tail;
            if let Some(value) = inside.strip_prefix('=') {
                steps.push(Step::Value(serde_json::from_str(value).ok()?));
            } else if let Ok(index) = inside.parse() {
                steps.push(Step::Index(index));
            } else {
                let mut key = Map::new();
                for pair in split_pairs(inside) {
                    let (name, value) = pair.split_once('=')?;
                    key.insert(name.to_owned(), serde_json::from_str(value).ok()?);
                }
                steps.push(Step::Key(key));
            }
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The text up to the `]` that closes the bracket (not one inside a string), and the rest.
fn split_bracket(text: &str) -> Option<(&str, &str)> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ']' if !in_string => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    None
}

/// `a=1,b="x,y"` split at the commas outside strings.
fn split_pairs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut in_string, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ',' if !in_string => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app": "web", "team": "ops"}, "managedFields": [
                {"manager": "fleetform", "operation": "Apply", "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}},
                    }}}},
                }},
                {"manager": "kubectl-label", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}},
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {}}},
            ]},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx", "imagePullPolicy": "Always", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "x"},
            ]}}},
        })
    }

    #[test]
    fn projections_keep_what_a_manager_applied() {
        let object = deployment();
        let ours = applied_by(&object, "fleetform");
        assert_eq!(
            project(&object, &ours),
            json!({
                "metadata": {"labels": {"app": "web"}},
                "spec": {"template": {"spec": {"containers": [
                    {"image": "nginx", "name": "web", "ports": [{"containerPort": 80}]},
                ]}}},
            })
        );
        assert_eq!(project(&object, &FieldSet::default()), json!({}));
        let all = managers(&object);
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].subresource.as_deref(), Some("status"));
        let leaves: Vec<String> = ours.leaves().iter().map(|p| path_string(p)).collect();
        assert!(
            leaves.contains(&".spec.template.spec.containers[name=\"web\"].image".to_owned()),
            "{leaves:?}"
        );
    }

    #[test]
    fn conflict_paths_read_back_and_remove() {
        for text in [
            ".data.key",
            ".spec.template.spec.containers[name=\"web\"].image",
            ".spec.ports[port=80,protocol=\"TCP\"].targetPort",
            ".metadata.finalizers[=\"a]b\"]",
            ".spec.args[2]",
        ] {
            let path = parse_path(text).unwrap();
            assert_eq!(path_string(&path), text);
        }
        assert!(parse_path("spec").is_none());
        let mut object = deployment();
        let image = parse_path(".spec.template.spec.containers[name=\"web\"].image").unwrap();
        assert_eq!(get(&object, &image), Some(&json!("nginx")));
        assert!(remove(&mut object, &image));
        assert!(get(&object, &image).is_none());
        assert!(!remove(&mut object, &image));
        let port = parse_path(
            ".spec.template.spec.containers[name=\"web\"].ports[containerPort=80,protocol=\"TCP\"]",
        )
        .unwrap();
        assert!(remove(&mut object, &port));
    }
}
