//! Saved plan files (`plan -out FILE`, `apply FILE`): the plan, bound to the state it was
//! made from (lineage and serial) and to the configuration (a hash of every file read),
//! so that applying it to anything else is refused with a clear message.
//!
//! Values keep their unknown and sensitive marks in a tagged JSON encoding. Plan files
//! hold the same secrets state does, so they are written 0600.

use std::io::Write;
use std::path::Path;

use fleetform_sdk::{Path as ValuePath, PathStep, Value};
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use super::{Action, Mode, OutputChange, Plan, Reason, ResourceChange};
use crate::addrs::{AbsResourceInstance, parse_abs_resource_instance};
use crate::config::Config;

const FORMAT: u64 = 1;

/// Why a plan file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a plan this version can read.
    #[error("{path} is not a valid plan file: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A hash of every configuration file's name and text, in load order.
pub fn config_hash(config: &Config) -> String {
    let mut hasher = Sha256::new();
    for file in config.sources.iter() {
        hasher.update(file.path().to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(file.text().as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `plan` to `path` (0600, atomically).
pub fn write(path: &Path, plan: &Plan, config_hash: &str) -> Result<(), PlanFileError> {
    let io = |source| PlanFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let doc = json!({
        "format_version": FORMAT,
        "tool_version": env!("CARGO_PKG_VERSION"),
        "config_hash": config_hash,
        "plan": encode_plan(plan),
    });
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    let text = serde_json::to_vec(&doc).map_err(|e| io(std::io::Error::other(e)))?;
    tmp.write_all(&text).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Reads a plan file; returns the plan and the configuration hash it was made with.
pub fn read(path: &Path) -> Result<(Plan, String), PlanFileError> {
    let name = path.display().to_string();
    let invalid = |message: String| PlanFileError::Invalid {
        path: name.clone(),
        message,
    };
    let text = std::fs::read(path).map_err(|source| PlanFileError::Io {
        path: name.clone(),
        source,
    })?;
    let doc: Json = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
    match doc["format_version"].as_u64() {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(invalid(format!(
                "format version {other} was written by another fleetform version"
            )));
        }
        None => return Err(invalid("no format_version".into())),
    }
    let hash = doc["config_hash"].as_str().unwrap_or_default().to_owned();
    let plan = decode_plan(&doc["plan"]).map_err(invalid)?;
    Ok((plan, hash))
}

fn encode_plan(plan: &Plan) -> Json {
    json!({
        "mode": match plan.mode { Mode::Normal => "normal", Mode::Destroy => "destroy", Mode::RefreshOnly => "refresh-only" },
        "lineage": plan.lineage,
        "serial": plan.serial,
        "variables": plan.variables.iter().map(|(k, v)| (k.clone(), encode_value(v))).collect::<Map<_, _>>(),
        "changes": plan.changes.iter().map(encode_change).collect::<Vec<_>>(),
        "drift": plan.drift.iter().map(encode_change).collect::<Vec<_>>(),
        "outputs": plan.outputs.iter().map(|(k, o)| (k.clone(), json!({
            "before": o.before.as_ref().map(encode_value),
            "after": o.after.as_ref().map(encode_value),
            "sensitive": o.sensitive,
        }))).collect::<Map<_, _>>(),
    })
}

fn decode_plan(doc: &Json) -> Result<Plan, String> {
    let mode = match doc["mode"].as_str() {
        Some("normal") => Mode::Normal,
        Some("destroy") => Mode::Destroy,
        Some("refresh-only") => Mode::RefreshOnly,
        other => return Err(format!("unknown plan mode {other:?}")),
    };
    let changes = |key: &str| -> Result<Vec<ResourceChange>, String> {
        doc[key]
            .as_array()
            .map(|a| a.iter().map(decode_change).collect())
            .unwrap_or(Ok(Vec::new()))
    };
    let opt = |v: &Json| {
        if v.is_null() {
            Ok(None)
        } else {
            decode_value(v).map(Some)
        }
    };
    let mut outputs = std::collections::BTreeMap::new();
    for (k, o) in doc["outputs"].as_object().into_iter().flatten() {
        outputs.insert(
            k.clone(),
            OutputChange {
                before: opt(&o["before"])?,
                after: opt(&o["after"])?,
                sensitive: o["sensitive"].as_bool().unwrap_or(false),
            },
        );
    }
    let mut variables = std::collections::BTreeMap::new();
    for (k, v) in doc["variables"].as_object().into_iter().flatten() {
        variables.insert(k.clone(), decode_value(v)?);
    }
    Ok(Plan {
        mode,
        changes: changes("changes")?,
        drift: changes("drift")?,
        outputs,
        lineage: doc["lineage"].as_str().unwrap_or_default().to_owned(),
        serial: doc["serial"].as_u64().ok_or("no serial")?,
        variables,
    })
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::NoOp => "no-op",
        Action::Create => "create",
        Action::Read => "read",
        Action::Update => "update",
        Action::DeleteThenCreate => "delete-create",
        Action::CreateThenDelete => "create-delete",
        Action::Delete => "delete",
    }
}

fn reason_name(r: &Reason) -> String {
    match r {
        Reason::ReplaceByRequest => "replace_by_request".into(),
        Reason::ReplaceBecauseCannotUpdate => "replace_because_cannot_update".into(),
        Reason::ReplaceBecauseTainted => "replace_because_tainted".into(),
        Reason::ReplaceByTriggers(t) => format!("replace_by_triggers:{t}"),
        Reason::DeleteBecauseNoResourceConfig => "delete_because_no_resource_config".into(),
        Reason::DeleteBecauseNoModule => "delete_because_no_module".into(),
        Reason::DeleteBecauseNoInstance => "delete_because_no_instance".into(),
        Reason::DeleteBecauseDestroyMode => "delete_because_destroy_mode".into(),
        Reason::ReadBecauseConfigUnknown => "read_because_config_unknown".into(),
    }
}

fn parse_reason(s: &str) -> Option<Reason> {
    Some(match s {
        "replace_by_request" => Reason::ReplaceByRequest,
        "replace_because_cannot_update" => Reason::ReplaceBecauseCannotUpdate,
        "replace_because_tainted" => Reason::ReplaceBecauseTainted,
        "delete_because_no_resource_config" => Reason::DeleteBecauseNoResourceConfig,
        "delete_because_no_module" => Reason::DeleteBecauseNoModule,
        "delete_because_no_instance" => Reason::DeleteBecauseNoInstance,
        "delete_because_destroy_mode" => Reason::DeleteBecauseDestroyMode,
        "read_because_config_unknown" => Reason::ReadBecauseConfigUnknown,
        other => Reason::ReplaceByTriggers(other.strip_prefix("replace_by_triggers:")?.to_owned()),
    })
}

fn encode_change(c: &ResourceChange) -> Json {
    json!({
        "addr": c.addr.to_string(),
        "previous_addr": c.previous_addr.as_ref().map(ToString::to_string),
        "provider": c.provider,
        "action": action_name(c.action),
        "reason": c.reason.as_ref().map(reason_name),
        "before": c.before.as_ref().map(encode_value),
        "after": c.after.as_ref().map(encode_value),
        "replace_paths": c.replace_paths.iter().map(|p| encode_path(p)).collect::<Vec<_>>(),
        "importing": c.importing,
        "dependencies": c.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "create_before_destroy": c.create_before_destroy,
        "prevent_destroy": c.prevent_destroy,
    })
}

fn addr(v: &Json) -> Result<AbsResourceInstance, String> {
    let text = v.as_str().ok_or("address missing")?;
    parse_abs_resource_instance(text).map_err(|e| format!("bad address {text:?}: {e}"))
}

fn decode_change(c: &Json) -> Result<ResourceChange, String> {
    let action = match c["action"].as_str() {
        Some("no-op") => Action::NoOp,
        Some("create") => Action::Create,
        Some("read") => Action::Read,
        Some("update") => Action::Update,
        Some("delete-create") => Action::DeleteThenCreate,
        Some("create-delete") => Action::CreateThenDelete,
        Some("delete") => Action::Delete,
        other => return Err(format!("unknown action {other:?}")),
    };
    let opt = |v: &Json| {
        if v.is_null() {
            Ok(None)
        } else {
            decode_value(v).map(Some)
        }
    };
    Ok(ResourceChange {
        addr: addr(&c["addr"])?,
        previous_addr: if c["previous_addr"].is_null() {
            None
        } else {
            Some(addr(&c["previous_addr"])?)
        },
        provider: c["provider"].as_str().unwrap_or_default().to_owned(),
        action,
        reason: c["reason"].as_str().and_then(parse_reason),
        before: opt(&c["before"])?,
        after: opt(&c["after"])?,
        replace_paths: c["replace_paths"]
            .as_array()
            .into_iter()
            .flatten()
            .map(decode_path)
            .collect::<Result<_, _>>()?,
        importing: c["importing"].as_str().map(str::to_owned),
        dependencies: c["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(addr)
            .collect::<Result<_, _>>()?,
        create_before_destroy: c["create_before_destroy"].as_bool().unwrap_or(false),
        prevent_destroy: c["prevent_destroy"].as_bool().unwrap_or(false),
    })
}

fn encode_path(p: &[PathStep]) -> Json {
    Json::Array(
        p.iter()
            .map(|s| match s {
                PathStep::Attr(a) => json!({ "attr": a }),
                PathStep::Key(k) => json!({ "key": k }),
                PathStep::Index(i) => json!({ "index": i }),
            })
            .collect(),
    )
}

fn decode_path(p: &Json) -> Result<ValuePath, String> {
    p.as_array()
        .ok_or("path is not a list")?
        .iter()
        .map(|s| {
            if let Some(a) = s["attr"].as_str() {
                Ok(PathStep::Attr(a.to_owned()))
            } else if let Some(k) = s["key"].as_str() {
                Ok(PathStep::Key(k.to_owned()))
            } else if let Some(i) = s["index"].as_u64() {
                Ok(PathStep::Index(
                    usize::try_from(i).map_err(|e| e.to_string())?,
                ))
            } else {
                Err("bad path step".to_owned())
            }
        })
        .collect()
}

/// Tagged encoding: primitives as JSON, and `{"list": [...]}`, `{"object": {...}}`,
/// `{"unknown": true}`, `{"sensitive": value}` for the rest, so user keys never collide
/// with the marks.
pub fn encode_value(v: &Value) -> Json {
    match v {
        Value::List(items) => json!({ "list": items.iter().map(encode_value).collect::<Vec<_>>() }),
        Value::Object(map) => {
            json!({ "object": map.iter().map(|(k, v)| (k.clone(), encode_value(v))).collect::<Map<_, _>>() })
        }
        Value::Unknown => json!({ "unknown": true }),
        Value::Sensitive(inner) => json!({ "sensitive": encode_value(inner) }),
        primitive => primitive.to_json(),
    }
}

/// Reverses [`encode_value`].
pub fn decode_value(j: &Json) -> Result<Value, String> {
    Ok(match j {
        Json::Object(m) if m.len() == 1 => {
            let (tag, inner) = m.iter().next().ok_or("empty value")?;
            match tag.as_str() {
                "list" => Value::List(
                    inner
                        .as_array()
                        .ok_or("list is not an array")?
                        .iter()
                        .map(decode_value)
                        .collect::<Result<_, _>>()?,
                ),
                "object" => Value::Object(
                    inner
                        .as_object()
                        .ok_or("object is not a map")?
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), decode_value(v)?)))
                        .collect::<Result<_, String>>()?,
                ),
                "unknown" => Value::Unknown,
                "sensitive" => decode_value(inner)?.into_sensitive(),
                other => return Err(format!("unknown value tag {other:?}")),
            }
        }
        Json::Object(_) | Json::Array(_) => return Err("untagged collection in plan value".into()),
        primitive => Value::from(primitive),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_marks_through_the_file_encoding() {
        let v = Value::object([
            ("id", Value::Unknown),
            ("secret", Value::from("s3").into_sensitive()),
            (
                "object",
                Value::object([("list", Value::List(vec![Value::from(1), Value::Null]))]),
            ),
        ]);
        assert_eq!(decode_value(&encode_value(&v)).unwrap(), v);
    }
}
