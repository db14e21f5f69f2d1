//! Field sets, as server-side apply tracks ownership with them: the paths of an object's
//! fields, list items (by key, value or index) and leaves, encoded in `managedFields` as
//! kube's `FieldsV1` (`f:name`, `k:{"name":"web"}`, `v:"x"`, `i:0`, `.`), and printed in
//! conflicts as structured-merge-diff prints paths (`.spec.containers[name="web"].image`).
//!
//! Which lists merge item by item is a property of the schema: [`Shape`] answers it for
//! the built-in kinds the lab serves (from the merge keys kube's types declare) and for
//! custom resources (from the CRD's `x-kubernetes-list-type` and `-list-map-keys`, lists
//! being atomic otherwise, as kube-apiserver treats them).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Element {
    /// A field of a map or struct.
    Field(String),
    /// An item of an associative list, by its key fields (canonical JSON object).
    Key(String),
    /// An item of a set, by its value (canonical JSON).
    Value(String),
    /// An item of an atomic list, by position.
    Index(usize),
}

/// A set of paths, as a tree: a node is a member when its own path is in the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub member: bool,
    pub children: BTreeMap<Element, FieldSet>,
}

/// How a list merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// Replaced whole; one manager owns it.
    Atomic,
    /// Scalars merged by value.
    Set,
    /// Objects merged by these key fields.
    Map(Vec<String>),
}

/// Where in a schema a value sits.
#[derive(Debug, Clone, Copy)]
pub enum Shape<'a> {
    /// A built-in kind: list semantics come from the field's name.
    Builtin,
    /// A node of a CRD's structural schema.
    Schema(&'a Value),
    /// Nothing known (x-kubernetes-preserve-unknown-fields): every list is atomic.
    Unknown,
}

/// Built-in lists that kube merges by key (their `patchMergeKey` or `listMapKeys`); every
/// other list of the built-in kinds is atomic.
fn builtin_list(field: &str, items: &[Value]) -> ListType {
    let keys: &[&str] = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "secrets"
        | "webhooks" => &["name"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "hostAliases" => &["ip"],
        "ownerReferences" => &["uid"],
        "conditions" => &["type"],
        "topologySpreadConstraints" => &["topologyKey", "whenUnsatisfiable"],
        "finalizers" => return ListType::Set,
        // Container ports and service ports share the name.
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => {
            &["containerPort", "protocol"]
        }
        "ports" => &["port", "protocol"],
        _ => return ListType::Atomic,
    };
    ListType::Map(keys.iter().map(|k| (*k).to_owned()).collect())
}

impl<'a> Shape<'a> {
    /// The shape of field `name` of an object of this shape.
    pub fn field(self, name: &str) -> Shape<'a> {
        match self {
            Shape::Schema(node) => match node["properties"].get(name) {
                Some(child) => Shape::Schema(child),
                None => match &node["additionalProperties"] {
                    Value::Object(_) => Shape::Schema(&node["additionalProperties"]),
                    _ => Shape::Unknown,
                },
            },
            other => other,
        }
    }

    /// The shape of the items of a list of this shape.
    pub fn items(self) -> Shape<'a> {
        match self {
            Shape::Schema(node) if node["items"].is_object() => Shape::Schema(&node["items"]),
            Shape::Schema(_) => Shape::Unknown,
            other => other,
        }
    }

    /// How the list in field `name` (of this object's shape) merges.
    pub fn list_type(self, name: &str, items: &[Value]) -> ListType {
        match self {
            Shape::Builtin => builtin_list(name, items),
            Shape::Unknown => ListType::Atomic,
            Shape::Schema(_) => {
                let node = match self.field(name) {
                    Shape::Schema(node) => node,
                    _ => return ListType::Atomic,
                };
                match node["x-kubernetes-list-type"].as_str() {
                    Some("set") => ListType::Set,
                    Some("map") => ListType::Map(
                        node["x-kubernetes-list-map-keys"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                    ),
                    _ => ListType::Atomic,
                }
            }
        }
    }
}

/// The key of an associative-list item: its key fields as a canonical JSON object. A
/// missing `protocol` counts as TCP, the default kube fills in before merging.
pub fn item_key(item: &Value, keys: &[String]) -> String {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let mut map = Map::new();
    for key in sorted {
        let value = match item.get(key) {
            Some(v) => v.clone(),
            None if key == "protocol" => Value::from("TCP"),
            None => Value::Null,
        };
        map.insert(key.clone(), value);
    }
    Value::Object(map).to_string()
}

impl FieldSet {
    /// The set of an applied configuration: every leaf it sets, and every item of an
    /// associative list or set. Fields that name the object (apiVersion, kind, name,
    /// namespace) and those the server keeps are left out, as kube does.
    pub fn of_object(object: &Value, shape: Shape<'_>) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(fields) = object {
            for (name, value) in fields {
                if matches!(name.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                let child = if name == "metadata" {
                    let mut meta = value.clone();
                    if let Some(m) = meta.as_object_mut() {
                        for ignored in [
                            "name",
                            "namespace",
                            "uid",
                            "resourceVersion",
                            "generation",
                            "creationTimestamp",
                            "managedFields",
                            "deletionTimestamp",
                            "deletionGracePeriodSeconds",
                            "selfLink",
                        ] {
                            m.remove(ignored);
                        }
                    }
                    if meta.as_object().is_some_and(Map::is_empty) {
                        continue;
                    }
                    value_set(&meta, "metadata", Shape::Builtin)
                } else {
                    value_set(value, name, shape)
                };
                set.children.insert(Element::Field(name.clone()), child);
            }
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    /// Paths in `self` but not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let rest = match other.children.get(element) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(element.clone(), rest);
            }
        }
        out
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(element.clone(), both);
                }
            }
        }
        out
    }

    /// The set without the paths in `other` and everything under them.
    pub fn without_subtrees(&self, other: &FieldSet) -> FieldSet {
        if other.member {
            return FieldSet::default();
        }
        let mut out = FieldSet {
            member: self.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let rest = match other.children.get(element) {
                Some(theirs) => child.without_subtrees(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(element.clone(), rest);
            }
        }
        out
    }

    /// Every member path, parents before children.
    pub fn members(&self) -> Vec<Vec<Element>> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut |path, node| {
            if node.member {
                out.push(path.to_vec());
            }
        });
        out
    }

    /// Member paths with nothing under them: the leaves a value comparison looks at.
    pub fn leaves(&self) -> Vec<Vec<Element>> {
        let mut out = Vec::new();
        self.walk(&mut Vec::new(), &mut |path, node| {
            if node.member && node.children.is_empty() {
                out.push(path.to_vec());
            }
        });
        out
    }

    fn walk(&self, path: &mut Vec<Element>, visit: &mut dyn FnMut(&[Element], &FieldSet)) {
        visit(path, self);
        for (element, child) in &self.children {
            path.push(element.clone());
            child.walk(path, visit);
            path.pop();
        }
    }

    /// A set holding exactly `path`.
    pub fn single(path: &[Element]) -> FieldSet {
        let mut set = FieldSet::default();
        let mut node = &mut set;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
        node.member = true;
        set
    }

    /// `managedFields[].fieldsV1`.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            let key = match element {
                Element::Field(name) => format!("f:{name}"),
                Element::Key(key) => format!("k:{key}"),
                Element::Value(value) => format!("v:{value}"),
                Element::Index(index) => format!("i:{index}"),
            };
            map.insert(key, child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Reads `fieldsV1`; unreadable entries are skipped.
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(map) = value.as_object() else {
            return set;
        };
        if map.is_empty() {
            set.member = true;
        }
        for (key, child) in map {
            if key == "." {
                set.member = true;
                continue;
            }
            let element = match key.split_once(':') {
                Some(("f", name)) => Element::Field(name.to_owned()),
                Some(("k", key)) => match serde_json::from_str::<Value>(key) {
                    Ok(v) => Element::Key(v.to_string()),
                    Err(_) => continue,
                },
                Some(("v", value)) => match serde_json::from_str::<Value>(value) {
                    Ok(v) => Element::Value(v.to_string()),
                    Err(_) => continue,
                },
                Some(("i", index)) => match index.parse() {
                    Ok(i) => Element::Index(i),
                    Err(_) => continue,
                },
                _ => continue,
            };
            set.children
                .insert(element, FieldSet::from_fields_v1(child));
        }
        set
    }
}

/// The set of one value in field `name` of an object of shape `parent`.
fn value_set(value: &Value, name: &str, parent: Shape<'_>) -> FieldSet {
    let shape = parent.field(name);
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            let mut set = FieldSet::default();
            for (field, child) in fields {
                set.children.insert(
                    Element::Field(field.clone()),
                    value_set(child, field, shape),
                );
            }
            set
        }
        Value::Array(items) if !items.is_empty() => match parent.list_type(name, items) {
            ListType::Atomic => FieldSet {
                member: true,
                children: BTreeMap::new(),
            },
            ListType::Set => FieldSet {
                member: false,
                children: items
                    .iter()
                    .map(|item| {
                        (
                            Element::Value(item.to_string()),
                            FieldSet {
                                member: true,
                                children: BTreeMap::new(),
                            },
                        )
                    })
                    .collect(),
            },
            ListType::Map(keys) => {
                let item_shape = shape.items();
                let mut set = FieldSet::default();
                for item in items {
                    let mut child = FieldSet {
                        member: true,
                        children: BTreeMap::new(),
                    };
                    if let Value::Object(fields) = item {
                        for (field, v) in fields {
                            child.children.insert(
                                Element::Field(field.clone()),
                                value_set(v, field, item_shape),
                            );
                        }
                    }
                    set.children
                        .insert(Element::Key(item_key(item, &keys)), child);
                }
                set
            }
        },
        _ => FieldSet {
            member: true,
            children: BTreeMap::new(),
        },
    }
}

/// The value at `path`, if the object has it.
pub fn get<'v>(object: &'v Value, path: &[Element]) -> Option<&'v Value> {
    let mut current = object;
    for element in path {
        current = match (element, current) {
            (Element::Field(name), Value::Object(fields)) => fields.get(name)?,
            (Element::Key(key), Value::Array(items)) => {
                let wanted: Map<String, Value> = serde_json::from_str(key).ok()?;
                let keys: Vec<String> = wanted.keys().cloned().collect();
                items.iter().find(|item| item_key(item, &keys) == *key)?
            }
            (Element::Value(value), Value::Array(items)) => {
                let wanted: Value = serde_json::from_str(value).ok()?;
                items.iter().find(|item| **item == wanted)?
            }
            (Element::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Removes the value at `path` (a field, or a list item); returns whether it was there.
pub fn remove(object: &mut Value, path: &[Element]) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let mut parent = object;
    for element in parent_path {
        let next = match (element, parent) {
            (Element::Field(name), Value::Object(fields)) => fields.get_mut(name),
            (Element::Key(key), Value::Array(items)) => {
                let Ok(wanted) = serde_json::from_str::<Map<String, Value>>(key) else {
                    return false;
                };
                let keys: Vec<String> = wanted.keys().cloned().collect();
                items.iter_mut().find(|item| item_key(item, &keys) == *key)
            }
            (Element::Value(value), Value::Array(items)) => {
                let Ok(wanted) = serde_json::from_str::<Value>(value) else {
                    return false;
                };
                items.iter_mut().find(|item| **item == wanted)
            }
            (Element::Index(i), Value::Array(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(next) => parent = next,
            None => return false,
        }
    }
    match (last, parent) {
        (Element::Field(name), Value::Object(fields)) => fields.remove(name).is_some(),
        (Element::Key(key), Value::Array(items)) => {
            let Ok(wanted) = serde_json::from_str::<Map<String, Value>>(key) else {
                return false;
            };
            let keys: Vec<String> = wanted.keys().cloned().collect();
            let before = items.len();
            items.retain(|item| item_key(item, &keys) != *key);
            items.len() != before
        }
        (Element::Value(value), Value::Array(items)) => {
            let Ok(wanted) = serde_json::from_str::<Value>(value) else {
                return false;
            };
            let before = items.len();
            items.retain(|item| *item != wanted);
            items.len() != before
        }
        (Element::Index(i), Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

/// A path as structured-merge-diff prints it in conflicts: `.data.key`,
/// `.spec.containers[name="web"].image`, `.metadata.finalizers[="x"]`.
pub fn path_string(path: &[Element]) -> String {
    let mut out = String::new();
    for element in path {
        match element {
            Element::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            Element::Key(key) => {
                let fields: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push('[');
                out.push_str(&parts.join(","));
                out.push(']');
            }
            Element::Value(value) => {
                out.push_str("[=");
                out.push_str(value);
                out.push(']');
            }
            Element::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// Merges an applied configuration into the live object as server-side apply does:
/// fields it sets win, maps and structs merge field by field, associative lists and sets
/// item by item (new items after the live ones), atomic lists and scalars are replaced.
pub fn merge(live: &mut Value, applied: &Value, shape: Shape<'_>) {
    let (Value::Object(target), Value::Object(fields)) = (&mut *live, applied) else {
        *live = applied.clone();
        return;
    };
    for (name, value) in fields {
        if value.is_null() {
            continue;
        }
        let field_shape = if name == "metadata" {
            Shape::Builtin
        } else {
            shape.field(name)
        };
        match (target.get_mut(name), value) {
            (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                merge(existing, value, field_shape);
            }
            (Some(Value::Array(current)), Value::Array(items)) => {
                match shape.list_type(name, items) {
                    ListType::Atomic => *current = items.clone(),
                    ListType::Set => {
                        for item in items {
                            if !current.contains(item) {
                                current.push(item.clone());
                            }
                        }
                    }
                    ListType::Map(keys) => {
                        let item_shape = field_shape.items();
                        for item in items {
                            let key = item_key(item, &keys);
                            match current.iter_mut().find(|c| item_key(c, &keys) == key) {
                                Some(existing) => merge(existing, item, item_shape),
                                None => current.push(item.clone()),
                            }
                        }
                    }
                }
            }
            _ => {
                target.insert(name.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_of_objects_use_merge_keys() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {
                "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}],
                "tolerations": [{"key": "a"}],
            }}},
        });
        let set = FieldSet::of_object(&deployment, Shape::Builtin);
        let fields = set.to_fields_v1();
        assert_eq!(
            fields,
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {
                    "f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                    }},
                    "f:tolerations": {},
                }}},
            })
        );
        assert_eq!(FieldSet::from_fields_v1(&fields), set);
        let image = set
            .leaves()
            .into_iter()
            .find(|p| p.last() == Some(&Element::Field("image".into())))
            .unwrap();
        assert_eq!(
            path_string(&image),
            ".spec.template.spec.containers[name=\"web\"].image"
        );
        assert_eq!(get(&deployment, &image), Some(&json!("nginx")));
    }

    #[test]
    fn crd_schemas_decide_list_types() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "addresses": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "pools": {"type": "array", "items": {"type": "object"}},
        }}}});
        let object = json!({"spec": {"addresses": ["a", "b"], "pools": ["x"]}});
        let set = FieldSet::of_object(&object, Shape::Schema(&schema));
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:spec": {"f:addresses": {"v:\"a\"": {}, "v:\"b\"": {}}, "f:pools": {}}})
        );
    }

    #[test]
    fn set_algebra_and_merging() {
        let a = FieldSet::of_object(&json!({"data": {"x": "1", "y": "2"}}), Shape::Builtin);
        let b = FieldSet::of_object(&json!({"data": {"y": "3", "z": "4"}}), Shape::Builtin);
        let only_a = a.difference(&b);
        assert_eq!(only_a.to_fields_v1(), json!({"f:data": {"f:x": {}}}));
        assert_eq!(
            a.intersection(&b).to_fields_v1(),
            json!({"f:data": {"f:y": {}}})
        );
        assert_eq!(a.union(&b).leaves().len(), 3);
        let mut live = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}});
        merge(
            &mut live,
            &json!({"spec": {"containers": [{"name": "b", "image": "2"}, {"name": "c"}]}}),
            Shape::Builtin,
        );
        assert_eq!(
            live,
            json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}, {"name": "c"}]}})
        );
        let path = vec![
            Element::Field("spec".into()),
            Element::Field("containers".into()),
            Element::Key(json!({"name": "a"}).to_string()),
        ];
        assert!(remove(&mut live, &path));
        assert_eq!(live["spec"]["containers"].as_array().unwrap().len(), 2);
    }
}
