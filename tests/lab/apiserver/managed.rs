//! `metadata.managedFields`, kept as kube-apiserver keeps it: server-side apply merges an
//! applied configuration into the live object, refuses (409) to change fields another
//! manager owns unless forced, and removes fields its manager applied before and no
//! longer applies when no one else owns them; every other write (create, update,
//! non-apply patch) gives its manager the fields it changed, taking them from the others.

use serde_json::{Map, Value, json};

use super::fields::{self, Element, FieldSet, Shape};
use super::objects;

/// Server-side apply (`Apply`) or any other write (`Update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    /// How conflicts name the manager: `"kubectl"` for an applier, `"kubectl-edit" using
    /// v1` for an updater (kube's manager identifier leaves the time out).
    pub fn display(&self) -> String {
        let mut text = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            text.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == Operation::Update {
            text.push_str(&format!(" using {}", self.api_version));
        }
        text
    }

    fn same_manager(&self, manager: &str, operation: Operation, sub: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == sub
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": match self.operation {
                Operation::Apply => "Apply",
                Operation::Update => "Update",
            },
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let Some(sub) = &self.subresource {
            entry["subresource"] = sub.clone().into();
        }
        entry
    }
}

/// A field another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The manager as conflicts name it.
    pub manager: String,
    pub path: Vec<Element>,
}

/// The object's entries.
pub fn entries(object: &Value) -> Vec<Entry> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(Entry {
                manager: e["manager"].as_str().unwrap_or_default().to_owned(),
                operation: match e["operation"].as_str()? {
                    "Apply" => Operation::Apply,
                    "Update" => Operation::Update,
                    _ => return None,
                },
                api_version: e["apiVersion"].as_str().unwrap_or_default().to_owned(),
                time: e["time"].as_str().unwrap_or_default().to_owned(),
                subresource: e["subresource"].as_str().map(str::to_owned),
                fields: FieldSet::from_fields_v1(&e["fieldsV1"]),
            })
        })
        .collect()
}

/// Writes the entries, ordered as kube orders them: appliers first, then by time,
/// manager, version and subresource.
fn store(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        let rank = |e: &Entry| e.operation == Operation::Update;
        (rank(a), &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
            rank(b),
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    let entries: Vec<Value> = entries.into_iter().map(|e| e.to_json()).collect();
    let meta = objects::metadata(object);
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(entries));
    }
}

/// The applied configuration without what an applier may not send.
fn applied_part(applied: &Value) -> Value {
    let mut applied = applied.clone();
    if let Some(meta) = applied["metadata"].as_object_mut() {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    applied
}

/// The object server-side apply makes of `live` (none: a create) and `applied`, with its
/// managedFields; or the conflicts when not forced.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    shape: Shape<'_>,
) -> Result<Value, Vec<Conflict>> {
    let applied = applied_part(applied);
    let api_version = applied["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ours = FieldSet::of_object(&applied, shape);
    let own_entry = Entry {
        manager: manager.to_owned(),
        operation: Operation::Apply,
        api_version,
        time: objects::now(),
        subresource: None,
        fields: ours.clone(),
    };
    let Some(live) = live else {
        let mut object = applied;
        store(&mut object, vec![own_entry]);
        return Ok(object);
    };
    let mut others = entries(live);
    let previous = others
        .iter()
        .position(|e| e.same_manager(manager, Operation::Apply, None))
        .map(|i| others.remove(i).fields)
        .unwrap_or_default();
    let mut merged = live.clone();
    fields::merge(&mut merged, &applied, shape);

    let mut conflicts = Vec::new();
    for (index, entry) in others.iter().enumerate() {
        for leaf in entry.fields.intersection(&ours).leaves() {
            if fields::get(live, &leaf) != fields::get(&merged, &leaf) {
                conflicts.push((index, leaf));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts
            .into_iter()
            .map(|(index, path)| Conflict {
                manager: others[index].display(),
                path,
            })
            .collect());
    }
    for (index, path) in conflicts {
        let entry = &mut others[index];
        entry.fields = entry.fields.difference(&FieldSet::single(&path));
    }

    // What this manager applied before and no longer applies goes, unless another
    // manager owns it too.
    let mut removed = FieldSet::default();
    for path in previous.difference(&ours).members() {
        let owned_elsewhere = others.iter().any(|e| {
            e.fields
                .intersection(&FieldSet::single(&path))
                .members()
                .contains(&path)
        });
        if !owned_elsewhere && fields::remove(&mut merged, &path) {
            removed = removed.union(&FieldSet::single(&path));
        }
    }
    for entry in &mut others {
        entry.fields = entry.fields.without_subtrees(&removed);
    }
    let mut all = vec![own_entry];
    all.extend(others);
    store(&mut merged, all);
    Ok(merged)
}

/// Records a write other than apply (create, update, patch): `manager` gets the fields
/// that changed from `old` (none: a create) to `new`, which the other managers lose;
/// fields that went are no one's. A `managedFields: [{}]` in `new` resets them first.
pub fn update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    shape: Shape<'_>,
) {
    let reset = new["metadata"]["managedFields"]
        .as_array()
        .is_some_and(|e| e.len() == 1 && e[0].as_object().is_some_and(Map::is_empty));
    let mut all = match old {
        Some(old) if !reset => entries(old),
        _ => Vec::new(),
    };
    let api_version = new["apiVersion"].as_str().unwrap_or_default().to_owned();
    let empty = json!({});
    let old = old.unwrap_or(&empty);
    let before = FieldSet::of_object(old, shape);
    let after = FieldSet::of_object(new, shape);
    let mut changed = after.difference(&before);
    for leaf in after.intersection(&before).leaves() {
        if fields::get(old, &leaf) != fields::get(new, &leaf) {
            changed = changed.union(&FieldSet::single(&leaf));
        }
    }
    let removed = before.difference(&after);
    for entry in &mut all {
        entry.fields = entry.fields.difference(&changed).without_subtrees(&removed);
    }
    if !changed.is_empty() {
        match all.iter_mut().find(|e| {
            e.same_manager(manager, Operation::Update, subresource) && e.api_version == api_version
        }) {
            Some(entry) => {
                entry.fields = entry.fields.union(&changed);
                entry.time = objects::now();
            }
            None => all.push(Entry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                api_version,
                time: objects::now(),
                subresource: subresource.map(str::to_owned),
                fields: changed,
            }),
        }
    }
    store(new, all);
}

/// The Status kube answers a conflicting apply with (409, reason Conflict, one
/// FieldManagerConflict cause per field).
pub fn conflict_error(conflicts: &[Conflict]) -> super::status::ApiError {
    let message = if let [only] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager,
            fields::path_string(&only.path)
        )
    } else {
        let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for manager in managers {
            lines.push(format!("conflicts with {manager}:"));
            for c in conflicts.iter().filter(|c| c.manager == manager) {
                lines.push(format!("- {}", fields::path_string(&c.path)));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", c.manager),
                "field": fields::path_string(&c.path),
            })
        })
        .collect();
    super::status::ApiError {
        code: 409,
        reason: "Conflict",
        message,
        details: Some(json!({"causes": causes})),
    }
}

/// The manager an update without `fieldManager` is recorded under: the client's
/// User-Agent up to its first `/`, as kube-apiserver derives it.
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let name = user_agent.split('/').next().unwrap_or_default().trim();
    if name.is_empty() {
        "unknown".to_owned()
    } else {
        name.chars().take(128).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
    }

    #[test]
    fn appliers_share_fields_and_conflict_on_changes() {
        let first = apply(
            None,
            &cm(json!({"a": "1", "b": "2"})),
            "one",
            false,
            Shape::Builtin,
        )
        .unwrap();
        // Same value: shared, no conflict.
        let shared = apply(
            Some(&first),
            &cm(json!({"a": "1"})),
            "two",
            false,
            Shape::Builtin,
        )
        .unwrap();
        assert_eq!(entries(&shared).len(), 2);
        // Another value: a conflict naming the owner and the path.
        let err = apply(
            Some(&shared),
            &cm(json!({"a": "9"})),
            "two",
            false,
            Shape::Builtin,
        )
        .unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(err[0].manager, "\"one\"");
        assert_eq!(fields::path_string(&err[0].path), ".data.a");
        let status = conflict_error(&err).to_status();
        assert_eq!(
            status["message"],
            "Apply failed with 1 conflict: conflict with \"one\": .data.a"
        );
        // Forced: the value changes and "one" loses the field.
        let forced = apply(
            Some(&shared),
            &cm(json!({"a": "9"})),
            "two",
            true,
            Shape::Builtin,
        )
        .unwrap();
        assert_eq!(forced["data"], json!({"a": "9", "b": "2"}));
        let one = entries(&forced)
            .into_iter()
            .find(|e| e.manager == "one")
            .unwrap();
        assert_eq!(one.fields.to_fields_v1(), json!({"f:data": {"f:b": {}}}));
        // "one" stops applying b: nobody else owns it, so it goes.
        let pruned = apply(Some(&forced), &cm(json!({})), "one", false, Shape::Builtin).unwrap();
        assert_eq!(pruned["data"], json!({"a": "9"}));
    }

    #[test]
    fn updates_take_the_fields_they_change() {
        let applied = apply(
            None,
            &cm(json!({"a": "1", "b": "2"})),
            "fleetform",
            false,
            Shape::Builtin,
        )
        .unwrap();
        let mut edited = applied.clone();
        edited["data"]["a"] = "2".into();
        edited["metadata"]["labels"] = json!({"team": "x"});
        update(
            Some(&applied),
            &mut edited,
            "kubectl-edit",
            None,
            Shape::Builtin,
        );
        let all = entries(&edited);
        let ours = all.iter().find(|e| e.manager == "fleetform").unwrap();
        assert_eq!(ours.fields.to_fields_v1(), json!({"f:data": {"f:b": {}}}));
        let edit = all.iter().find(|e| e.manager == "kubectl-edit").unwrap();
        assert_eq!(edit.display(), "\"kubectl-edit\" using v1");
        assert_eq!(
            edit.fields.to_fields_v1(),
            json!({"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:team": {}}}})
        );
        // Applying the old value again conflicts with the editor.
        let err = apply(
            Some(&edited),
            &cm(json!({"a": "1", "b": "2"})),
            "fleetform",
            false,
            Shape::Builtin,
        )
        .unwrap_err();
        assert_eq!(err[0].manager, "\"kubectl-edit\" using v1");
        assert_eq!(
            manager_from_user_agent("kubectl/v1.32.0 (linux/amd64)"),
            "kubectl"
        );
    }
}
