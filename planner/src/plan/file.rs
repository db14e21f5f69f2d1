//! Saved plan files (`plan -out FILE`, `apply FILE`): the plan, bound to the state it was
//! made from (lineage and serial) and to the configuration (a hash of every file read),
//! so that applying it to anything else is refused with a clear message.
//!
//! Values keep their unknown and sensitive marks in a tagged JSON encoding. Plan files
//! hold the same secrets state does, so they are written 0600.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use fleetform_sdk::{Path as ValuePath, PathStep, Value};
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use super::{
    Action, CheckResult, CheckStatus, Checked, Interrupted, Mode, OutputChange, Plan, Reason,
    Resolution, ResourceChange,
};
use crate::addrs::{AbsResourceInstance, parse_abs_resource_instance, parse_module_instance};
use crate::config::Config;
use crate::state::{PendingAction, PendingOperation};

const FORMAT: u64 = 2;

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

/// A plan file's bytes.
pub fn encode(plan: &Plan, config_hash: &str) -> Vec<u8> {
    let doc = PlanDocument {
        format_version: FORMAT,
        tool_version: env!("CARGO_PKG_VERSION"),
        config_hash,
        plan: PlanBody(plan),
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// A plan file, written as it is serialized: a fleet's changes are most of a plan, and
/// building them as a JSON tree first would hold the plan twice over.
#[derive(serde::Serialize)]
struct PlanDocument<'a> {
    format_version: u64,
    tool_version: &'static str,
    config_hash: &'a str,
    plan: PlanBody<'a>,
}

struct PlanBody<'a>(&'a Plan);

impl serde::Serialize for PlanBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let plan = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(
            "mode",
            match plan.mode {
                Mode::Normal => "normal",
                Mode::Destroy => "destroy",
                Mode::RefreshOnly => "refresh-only",
            },
        )?;
        map.serialize_entry("lineage", &plan.lineage)?;
        map.serialize_entry("serial", &plan.serial)?;
        map.serialize_entry(
            "variables",
            &Pairs(plan.variables.iter().map(|(k, v)| (k, Encoded(v)))),
        )?;
        map.serialize_entry("changes", &encoded_changes(&plan.changes))?;
        map.serialize_entry("drift", &encoded_changes(&plan.drift))?;
        map.serialize_entry(
            "outputs",
            &plan
                .outputs
                .iter()
                .map(|(k, o)| {
                    (
                        k.clone(),
                        json!({
                            "before": o.before.as_ref().map(encode_value),
                            "after": o.after.as_ref().map(encode_value),
                            "sensitive": o.sensitive,
                        }),
                    )
                })
                .collect::<Map<_, _>>(),
        )?;
        map.serialize_entry(
            "timestamp",
            &plan
                .timestamp
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        )?;
        map.serialize_entry("complete", &plan.complete)?;
        map.serialize_entry(
            "checks",
            &plan.checks.iter().map(encode_check).collect::<Vec<_>>(),
        )?;
        map.serialize_entry(
            "interrupted",
            &plan
                .interrupted
                .iter()
                .map(encode_interrupted)
                .collect::<Vec<_>>(),
        )?;
        map.serialize_entry("deposed", &encoded_changes(&plan.deposed))?;
        map.serialize_entry(
            "partitions",
            &plan
                .partitions
                .iter()
                .map(|(p, u)| {
                    (
                        p.clone(),
                        json!({
                            "serial": u.serial,
                            "written": u.written,
                        }),
                    )
                })
                .collect::<Map<_, _>>(),
        )?;
        map.serialize_entry(
            "rollouts",
            &plan
                .rollouts
                .iter()
                .map(super::rollout::encode)
                .collect::<Vec<_>>(),
        )?;
        map.serialize_entry(
            "deferred",
            &plan
                .deferred
                .iter()
                .map(|(site, changes)| {
                    (
                        site.clone(),
                        json!(
                            changes
                                .iter()
                                .map(|(addr, c)| json!({
                                    "address": addr.to_string(),
                                    "action": c.action,
                                    "since": c.since,
                                    "reason": c.reason,
                                }))
                                .collect::<Vec<_>>()
                        ),
                    )
                })
                .collect::<Map<_, _>>(),
        )?;
        map.end()
    }
}

/// Writes `plan` to `path` (0600, atomically).
pub fn write(path: &Path, plan: &Plan, config_hash: &str) -> Result<(), PlanFileError> {
    write_bytes(path, &encode(plan, config_hash))
}

/// Writes a plan file's bytes to `path` (0600, atomically).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), PlanFileError> {
    let io = |source| PlanFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Named after the plan, so that the next write of this plan removes what a killed
    // one left (a plan holds secrets).
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    remove_leftovers(dir, &prefix);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Removes `.NAME.*.tmp` temporaries a killed write of the plan `NAME` left in `dir`.
fn remove_leftovers(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads a plan file; returns the plan and the configuration hash it was made with.
pub fn read(path: &Path) -> Result<(Plan, String), PlanFileError> {
    let text = std::fs::read(path).map_err(|source| PlanFileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    decode(&text, &path.display().to_string())
}

/// Decodes a plan file's bytes (`name` for messages).
pub fn decode(text: &[u8], name: &str) -> Result<(Plan, String), PlanFileError> {
    let invalid = |message: String| PlanFileError::Invalid {
        path: name.to_owned(),
        message,
    };
    #[derive(serde::Deserialize)]
    struct Version {
        format_version: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Document {
        format_version: Option<u64>,
        config_hash: Option<String>,
        plan: PlanFields,
    }
    let check = |version: Option<u64>| match version {
        Some(FORMAT) => Ok(()),
        Some(other) => Err(invalid(format!(
            "format version {other} was written by another fleetform version"
        ))),
        None => Err(invalid("no format_version".into())),
    };
    let doc: Document = match serde_json::from_slice(text) {
        Ok(doc) => doc,
        // A file of another format is named as such rather than failing on whatever
        // changed; only then is the version read on its own.
        Err(e) => {
            let version: Version =
                serde_json::from_slice(text).map_err(|_| invalid(e.to_string()))?;
            check(version.format_version)?;
            return Err(invalid(e.to_string()));
        }
    };
    check(doc.format_version)?;
    let plan = decode_plan(doc.plan).map_err(invalid)?;
    Ok((plan, doc.config_hash.unwrap_or_default()))
}

/// A plan as read: its lists of changes decoded one change at a time (a fleet's plan as
/// one JSON tree takes several times the memory of the plan), the rest as JSON.
struct PlanFields {
    fields: Json,
    changes: HashMap<String, Vec<ResourceChange>>,
}

impl<'de> serde::Deserialize<'de> for PlanFields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = PlanFields;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a plan")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<PlanFields, A::Error> {
                let mut fields = Map::new();
                let mut changes = HashMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if matches!(key.as_str(), "changes" | "drift" | "deposed") {
                        changes.insert(key, map.next_value::<DecodedChanges>()?.0);
                    } else {
                        fields.insert(key, map.next_value::<Json>()?);
                    }
                }
                Ok(PlanFields {
                    fields: Json::Object(fields),
                    changes,
                })
            }
        }
        d.deserialize_map(Fields)
    }
}

/// A list of changes, each decoded as soon as it is read.
struct DecodedChanges(Vec<ResourceChange>);

impl<'de> serde::Deserialize<'de> for DecodedChanges {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Changes;
        impl<'de> serde::de::Visitor<'de> for Changes {
            type Value = DecodedChanges;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of changes")
            }

            fn visit_unit<E>(self) -> Result<DecodedChanges, E> {
                Ok(DecodedChanges(Vec::new()))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<DecodedChanges, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(change) = seq.next_element::<Json>()? {
                    out.push(decode_change(&change).map_err(serde::de::Error::custom)?);
                }
                Ok(DecodedChanges(out))
            }
        }
        d.deserialize_any(Changes)
    }
}

fn encode_interrupted(i: &Interrupted) -> Json {
    let op = &i.op;
    let (resolution, found, why) = match &i.resolution {
        Resolution::Continue => ("continue", None, None),
        Resolution::Finished(v) => ("finished", Some(v.as_ref().map(encode_value)), None),
        Resolution::Ask(why) => ("ask", None, Some(why.clone())),
    };
    json!({
        "addr": i.addr.to_string(),
        "action": op.action.as_str(),
        "started": op.started,
        "provider": op.provider,
        "prior": op.prior.as_ref().map(encode_value),
        "planned": op.planned.as_ref().map(encode_value),
        "checkpoint": op.checkpoint.as_ref().map(encode_value),
        "dependencies": op.dependencies.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "create_before_destroy": op.create_before_destroy,
        "prevent_destroy": op.prevent_destroy,
        "deposed": op.deposed,
        "resolution": resolution,
        "found": found,
        "why": why,
    })
}

fn decode_interrupted(j: &Json) -> Result<Interrupted, String> {
    let opt = |v: &Json| {
        if v.is_null() {
            Ok(None)
        } else {
            decode_value(v).map(Some)
        }
    };
    let action = match j["action"].as_str() {
        Some("create") => PendingAction::Create,
        Some("update") => PendingAction::Update,
        Some("delete") => PendingAction::Delete,
        other => return Err(format!("unknown interrupted action {other:?}")),
    };
    let op = PendingOperation {
        action,
        started: j["started"].as_str().unwrap_or_default().to_owned(),
        provider: j["provider"].as_str().unwrap_or_default().to_owned(),
        prior: opt(&j["prior"])?,
        planned: opt(&j["planned"])?,
        checkpoint: opt(&j["checkpoint"])?,
        dependencies: j["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| addr(v).map(|a| a.abs_resource()))
            .collect::<Result<_, _>>()?,
        create_before_destroy: j["create_before_destroy"].as_bool().unwrap_or(false),
        prevent_destroy: j["prevent_destroy"].as_bool().unwrap_or(false),
        deposed: j["deposed"].as_bool().unwrap_or(false),
    };
    let resolution = match j["resolution"].as_str() {
        Some("continue") => Resolution::Continue,
        Some("finished") => Resolution::Finished(opt(&j["found"])?),
        Some("ask") => Resolution::Ask(j["why"].as_str().unwrap_or_default().to_owned()),
        other => return Err(format!("unknown resolution {other:?}")),
    };
    Ok(Interrupted {
        addr: addr(&j["addr"])?,
        op,
        resolution,
    })
}

fn encode_check(c: &CheckResult) -> Json {
    let status = match c.status {
        CheckStatus::Pass => "pass",
        CheckStatus::Unknown => "unknown",
        CheckStatus::Error => "error",
        CheckStatus::Fail => "fail",
    };
    match &c.object {
        Checked::Resource(a) => json!({ "resource": a.to_string(), "status": status }),
        Checked::Variable(m, name) => {
            json!({ "variable": name, "module": m.to_string(), "status": status })
        }
        Checked::Output(m, name) => {
            json!({ "output": name, "module": m.to_string(), "status": status })
        }
    }
}

fn decode_check(doc: &Json) -> Result<CheckResult, String> {
    let status = match doc["status"].as_str() {
        Some("pass") => CheckStatus::Pass,
        Some("unknown") => CheckStatus::Unknown,
        Some("error") => CheckStatus::Error,
        Some("fail") => CheckStatus::Fail,
        other => return Err(format!("unknown check status {other:?}")),
    };
    let module = || match doc["module"].as_str().unwrap_or_default() {
        "" => Ok(crate::addrs::ModuleInstance::root()),
        text => parse_module_instance(text).map_err(|e| format!("bad module address: {e}")),
    };
    let object = if let Some(a) = doc["resource"].as_str() {
        Checked::Resource(
            parse_abs_resource_instance(a).map_err(|e| format!("bad address {a:?}: {e}"))?,
        )
    } else if let Some(name) = doc["variable"].as_str() {
        Checked::Variable(module()?, name.to_owned())
    } else if let Some(name) = doc["output"].as_str() {
        Checked::Output(module()?, name.to_owned())
    } else {
        return Err("a check names no object".into());
    };
    Ok(CheckResult { object, status })
}

fn decode_plan(read: PlanFields) -> Result<Plan, String> {
    let PlanFields {
        fields: doc,
        mut changes,
    } = read;
    let mut changes = |key: &str| changes.remove(key).unwrap_or_default();
    let mode = match doc["mode"].as_str() {
        Some("normal") => Mode::Normal,
        Some("destroy") => Mode::Destroy,
        Some("refresh-only") => Mode::RefreshOnly,
        other => return Err(format!("unknown plan mode {other:?}")),
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
        changes: changes("changes"),
        drift: changes("drift"),
        outputs,
        lineage: doc["lineage"].as_str().unwrap_or_default().to_owned(),
        serial: doc["serial"].as_u64().ok_or("no serial")?,
        variables,
        interrupted: doc["interrupted"]
            .as_array()
            .into_iter()
            .flatten()
            .map(decode_interrupted)
            .collect::<Result<_, _>>()?,
        deposed: changes("deposed"),
        timestamp: std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(doc["timestamp"].as_u64().unwrap_or(0)),
        complete: doc["complete"].as_bool().unwrap_or(true),
        checks: doc["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(decode_check)
            .collect::<Result<_, _>>()?,
        partitions: doc["partitions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(p, u)| {
                let serial = u["serial"].as_u64().ok_or("a partition without a serial")?;
                let written = u["written"].as_bool().unwrap_or(true);
                Ok((p.clone(), super::PartitionUse { serial, written }))
            })
            .collect::<Result<_, String>>()?,
        rollouts: doc["rollouts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(super::rollout::decode)
            .collect::<Result<_, String>>()?,
        deferred: doc["deferred"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(site, changes)| {
                let changes = changes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let a = c["address"].as_str().unwrap_or_default();
                        let addr = parse_abs_resource_instance(a)
                            .map_err(|e| format!("bad deferred address {a:?}: {e}"))?;
                        let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                        Ok((
                            addr,
                            crate::state::DeferredChange {
                                action: text("action"),
                                since: text("since"),
                                reason: text("reason"),
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok((site.clone(), changes))
            })
            .collect::<Result<_, String>>()?,
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
        Reason::DeleteBecauseDeposed => "delete_because_deposed".into(),
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
        "delete_because_deposed" => Reason::DeleteBecauseDeposed,
        other => Reason::ReplaceByTriggers(other.strip_prefix("replace_by_triggers:")?.to_owned()),
    })
}

fn encoded_changes(
    changes: &[ResourceChange],
) -> Seq<impl Iterator<Item = EncodedChange<'_>> + Clone> {
    Seq(changes.iter().map(EncodedChange))
}

/// A change as the plan file holds it.
struct EncodedChange<'a>(&'a ResourceChange);

impl serde::Serialize for EncodedChange<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let c = self.0;
        let mut map = s.serialize_map(Some(14))?;
        map.serialize_entry("addr", &c.addr.to_string())?;
        map.serialize_entry(
            "previous_addr",
            &c.previous_addr.as_ref().map(ToString::to_string),
        )?;
        map.serialize_entry("provider", &c.provider)?;
        map.serialize_entry("action", action_name(c.action))?;
        map.serialize_entry("reason", &c.reason.as_ref().map(reason_name))?;
        map.serialize_entry("before", &c.before.as_ref().map(Encoded))?;
        map.serialize_entry("after", &c.after.as_ref().map(Encoded))?;
        map.serialize_entry(
            "replace_paths",
            &c.replace_paths
                .iter()
                .map(|p| encode_path(p))
                .collect::<Vec<_>>(),
        )?;
        map.serialize_entry("importing", &c.importing)?;
        map.serialize_entry(
            "dependencies",
            &Seq(c.dependencies.iter().map(ToString::to_string)),
        )?;
        map.serialize_entry("create_before_destroy", &c.create_before_destroy)?;
        map.serialize_entry("prevent_destroy", &c.prevent_destroy)?;
        map.serialize_entry("resume", &c.resume.as_ref().map(Encoded))?;
        map.serialize_entry("deposed", &c.deposed)?;
        map.end()
    }
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
            .map(|v| addr(v).map(|a| a.abs_resource()))
            .collect::<Result<_, _>>()?,
        create_before_destroy: c["create_before_destroy"].as_bool().unwrap_or(false),
        prevent_destroy: c["prevent_destroy"].as_bool().unwrap_or(false),
        resume: opt(&c["resume"])?,
        deposed: c["deposed"].as_bool().unwrap_or(false),
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
    serde_json::to_value(Encoded(v)).unwrap_or_default()
}

/// A value in the tagged encoding of [`encode_value`], serialized as it is written.
struct Encoded<'a>(&'a Value);

impl serde::Serialize for Encoded<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::List(items) => tagged(s, "list", &Seq(items.iter().map(Encoded))),
            Value::Set(items) => tagged(s, "set", &Seq(items.iter().map(Encoded))),
            Value::Object(map) => tagged(
                s,
                "object",
                &Pairs(map.iter().map(|(k, v)| (k, Encoded(v)))),
            ),
            Value::Unknown => tagged(s, "unknown", &true),
            Value::Sensitive(inner) => tagged(s, "sensitive", &Encoded(inner)),
            Value::String(text) => s.serialize_str(text),
            primitive => serde::Serialize::serialize(&primitive.to_json(), s),
        }
    }
}

fn tagged<S: serde::Serializer, T: serde::Serialize>(
    s: S,
    tag: &str,
    inner: &T,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(tag, inner)?;
    map.end()
}

/// Serializes the items of an iterator as a sequence, without collecting them.
struct Seq<I>(I);

impl<I> serde::Serialize for Seq<I>
where
    I: Iterator + Clone,
    I::Item: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// Serializes the pairs of an iterator as a map, without collecting them.
struct Pairs<I>(I);

impl<I, K, V> serde::Serialize for Pairs<I>
where
    I: Iterator<Item = (K, V)> + Clone,
    K: serde::Serialize,
    V: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.clone())
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
                "set" => Value::Set(
                    inner
                        .as_array()
                        .ok_or("set is not an array")?
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
    fn a_file_of_another_format_is_named_as_such() {
        let message = |text: &str| decode(text.as_bytes(), "p.plan").unwrap_err().to_string();
        // A newer format whose plan this version cannot read.
        let newer = r#"{"format_version": 99, "plan": {"changes": {"by_site": {}}}}"#;
        assert_eq!(
            message(newer),
            "p.plan is not a valid plan file: format version 99 was written by another fleetform version"
        );
        assert_eq!(
            message(r#"{"plan": {"mode": "normal"}}"#),
            "p.plan is not a valid plan file: no format_version"
        );
        // This format, broken: what is wrong with it.
        let broken = message(r#"{"format_version": 2, "plan": {"changes": {"by_site": {}}}}"#);
        assert!(broken.contains("a list of changes"), "{broken}");
        assert!(message("not json").starts_with("p.plan is not a valid plan file: expected"));
    }

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
