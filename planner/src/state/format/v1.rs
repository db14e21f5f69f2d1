//! Format version 1: the serde mirror of the model, and the conversions both ways.
//!
//! ```json
//! {"format_version": 1, "tool": "fleetform", "tool_version": "0.1.0", "serial": 3, "lineage": "…",
//!  "outputs": {"name": {"value": …, "sensitive": true}},
//!  "resources": [{"module": "module.clinic[\"north\"]", "mode": "managed", "type": "host",
//!    "name": "web", "provider": "provider.host", "instances": [{"index_key": "a",
//!    "schema_version": 0, "attributes": {…}, "sensitive_attributes": [["password"]],
//!    "dependencies": ["host.x"], "status": "tainted", "create_before_destroy": false,
//!    "prevent_destroy": true}]}]}
//! ```
//!
//! `module` is omitted for the root module, `index_key` for an instance without one and
//! `status` when ready. Instances of one resource with different providers are written as
//! separate resource entries and merged when read.

use std::collections::{BTreeMap, BTreeSet};

use fleetform_sdk::Value;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{DecodeError, FORMAT_VERSION, Header, TOOL, TOOL_VERSION, invalid};
use crate::addrs::{
    AbsResourceInstance, InstanceKey, ModuleInstance, Resource, ResourceMode,
    parse_abs_resource_instance, parse_module_instance,
};
use crate::state::backend::LockInfo;
use crate::state::journal::JournalEntry;
use crate::state::{
    ApplyOutcome, DeferredChange, InstanceState, InstanceStatus, LastApply, OutputState,
    PendingAction, PendingOperation, RolloutProgress, RolloutStatus, State,
};

#[derive(Serialize, Deserialize)]
#[serde(expecting = "a fleetform state (a JSON object)")]
pub(super) struct StateV1 {
    format_version: u64,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    tool_version: String,
    serial: u64,
    lineage: String,
    #[serde(default)]
    outputs: BTreeMap<String, OutputV1>,
    #[serde(default)]
    resources: Vec<ResourceV1>,
    /// Changes a killed run left unfinished; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending_operations: Vec<PendingV1>,
    /// How the last apply went; absent before the first (and in states written before
    /// fleetform recorded it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_apply: Option<LastApplyV1>,
    /// How far each rollout got; absent when the fleet has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    rollouts: BTreeMap<String, RolloutV1>,
    /// Changes deferred because their object was unreachable, by address; absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    deferred: BTreeMap<String, DeferredV1>,
}

/// A deferred change.
#[derive(Serialize, Deserialize, Clone)]
#[serde(expecting = "a deferred change object")]
pub(super) struct DeferredV1 {
    action: String,
    since: String,
    reason: String,
}

/// A deferred change in a journal line.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a deferred change with its address")]
pub(super) struct AddressedDeferredV1 {
    address: String,
    #[serde(flatten)]
    change: DeferredV1,
}

fn encode_deferred(c: &DeferredChange) -> DeferredV1 {
    DeferredV1 {
        action: c.action.clone(),
        since: c.since.clone(),
        reason: c.reason.clone(),
    }
}

fn decode_deferred(v: DeferredV1) -> DeferredChange {
    DeferredChange {
        action: v.action,
        since: v.since,
        reason: v.reason,
    }
}

/// A rollout's progress.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a rollout progress object")]
pub(super) struct RolloutV1 {
    status: RolloutStatusV1,
    stage: String,
    batch: usize,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    done: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    failed: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    halted: Option<String>,
    updated: String,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum RolloutStatusV1 {
    Running,
    Halted,
    Completed,
}

fn encode_rollout(p: &RolloutProgress) -> RolloutV1 {
    RolloutV1 {
        status: match p.status {
            RolloutStatus::Running => RolloutStatusV1::Running,
            RolloutStatus::Halted => RolloutStatusV1::Halted,
            RolloutStatus::Completed => RolloutStatusV1::Completed,
        },
        stage: p.stage.clone(),
        batch: p.batch,
        done: p.done.clone(),
        failed: p.failed.clone(),
        halted: p.halted.clone(),
        updated: p.updated.clone(),
    }
}

fn decode_rollout(v: RolloutV1) -> RolloutProgress {
    RolloutProgress {
        status: match v.status {
            RolloutStatusV1::Running => RolloutStatus::Running,
            RolloutStatusV1::Halted => RolloutStatus::Halted,
            RolloutStatusV1::Completed => RolloutStatus::Completed,
        },
        stage: v.stage,
        batch: v.batch,
        done: v.done,
        failed: v.failed,
        halted: v.halted,
        updated: v.updated,
    }
}

/// A rollout's progress in a journal line.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a named rollout progress object")]
pub(super) struct NamedRolloutV1 {
    name: String,
    #[serde(flatten)]
    progress: RolloutV1,
}

/// The last apply: `{"operation": "apply", "started": "…", "finished": "…", "outcome":
/// "succeeded", "changes": 3, "failed": 0, "fleetform_version": "0.1.0"}`.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a last apply object")]
struct LastApplyV1 {
    #[serde(default = "apply_word")]
    operation: String,
    started: String,
    finished: String,
    outcome: OutcomeV1,
    #[serde(default)]
    changes: u64,
    #[serde(default)]
    failed: u64,
    #[serde(default)]
    fleetform_version: String,
}

fn apply_word() -> String {
    "apply".to_owned()
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum OutcomeV1 {
    Succeeded,
    Failed,
    Interrupted,
}

/// A pending operation. Values may hold secrets (marked by path, like attributes) and, in
/// `planned`, values only the provider could tell (marked by path, stored as null).
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a pending operation object")]
pub(super) struct PendingV1 {
    address: String,
    action: PendingActionV1,
    started: String,
    provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prior: Option<MarkedV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    planned: Option<MarkedV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint: Option<MarkedV1>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default)]
    create_before_destroy: bool,
    #[serde(default)]
    prevent_destroy: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deposed: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum PendingActionV1 {
    Create,
    Update,
    Delete,
}

/// A value with the paths of its sensitive and unknown parts.
#[derive(Serialize, Deserialize)]
#[serde(expecting = "a value object")]
struct MarkedV1 {
    value: Json,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sensitive: Vec<Vec<Json>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    unknown: Vec<Vec<Json>>,
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "an output object")]
struct OutputV1 {
    value: Json,
    #[serde(default)]
    sensitive: bool,
    /// Marks inside the value (an output built from sensitive attributes); usually absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sensitive_attributes: Vec<Vec<Json>>,
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "a resource object")]
pub(super) struct ResourceV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    mode: ModeV1,
    #[serde(rename = "type")]
    ty: String,
    name: String,
    provider: String,
    instances: Vec<InstanceV1>,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum ModeV1 {
    Managed,
    Data,
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "an instance object")]
struct InstanceV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index_key: Option<Json>,
    #[serde(default)]
    schema_version: u64,
    attributes: Attributes,
    #[serde(default)]
    sensitive_attributes: Vec<Vec<Json>>,
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<StatusV1>,
    /// Set on a tainted object whose creation failed part way (status stays "tainted", as
    /// Terraform's readers expect).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    create_incomplete: bool,
    #[serde(default)]
    create_before_destroy: bool,
    #[serde(default)]
    prevent_destroy: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum StatusV1 {
    Ready,
    Tainted,
}

// ---- state ----

pub(super) fn encode_state(state: &State) -> StateV1 {
    let outputs = state
        .outputs
        .iter()
        .map(|(name, output)| (name.clone(), encode_output(output)))
        .collect();
    // Consecutive instances of one resource with one provider share an entry.
    let mut resources: Vec<ResourceV1> = Vec::new();
    let mut last: Option<(&AbsResourceInstance, &str)> = None;
    for (addr, instance) in &state.resources {
        let same = last.is_some_and(|(prev, provider)| {
            prev.module == addr.module
                && prev.resource.resource == addr.resource.resource
                && provider == instance.provider
        });
        if !same {
            resources.push(resource_entry(addr, &instance.provider));
        }
        if let Some(entry) = resources.last_mut() {
            entry
                .instances
                .push(encode_instance(&addr.resource.key, instance));
        }
        last = Some((addr, &instance.provider));
    }
    StateV1 {
        format_version: FORMAT_VERSION,
        tool: TOOL.into(),
        tool_version: TOOL_VERSION.into(),
        serial: state.serial,
        lineage: state.lineage.clone(),
        outputs,
        resources,
        pending_operations: state
            .pending
            .iter()
            .map(|(addr, op)| encode_pending(addr, op))
            .collect(),
        last_apply: state.last_apply.as_ref().map(encode_last_apply),
        rollouts: state
            .rollouts
            .iter()
            .map(|(name, p)| (name.clone(), encode_rollout(p)))
            .collect(),
        deferred: state
            .deferred
            .iter()
            .map(|(addr, c)| (addr.to_string(), encode_deferred(c)))
            .collect(),
    }
}

fn encode_last_apply(last: &LastApply) -> LastApplyV1 {
    LastApplyV1 {
        operation: last.operation.clone(),
        started: last.started.clone(),
        finished: last.finished.clone(),
        outcome: match last.outcome {
            ApplyOutcome::Succeeded => OutcomeV1::Succeeded,
            ApplyOutcome::Failed => OutcomeV1::Failed,
            ApplyOutcome::Interrupted => OutcomeV1::Interrupted,
        },
        changes: last.changes,
        failed: last.failed,
        fleetform_version: last.version.clone(),
    }
}

fn decode_last_apply(last: LastApplyV1) -> LastApply {
    LastApply {
        operation: last.operation,
        started: last.started,
        finished: last.finished,
        outcome: match last.outcome {
            OutcomeV1::Succeeded => ApplyOutcome::Succeeded,
            OutcomeV1::Failed => ApplyOutcome::Failed,
            OutcomeV1::Interrupted => ApplyOutcome::Interrupted,
        },
        changes: last.changes,
        failed: last.failed,
        version: last.fleetform_version,
    }
}

pub(super) fn decode_state(v: StateV1) -> Result<State, DecodeError> {
    if v.lineage.is_empty() {
        return Err(invalid("lineage", "lineage is empty"));
    }
    let mut state = State {
        lineage: v.lineage,
        serial: v.serial,
        resources: BTreeMap::new(),
        outputs: BTreeMap::new(),
        pending: BTreeMap::new(),
        last_apply: v.last_apply.map(decode_last_apply),
        rollouts: v
            .rollouts
            .into_iter()
            .map(|(name, p)| (name, decode_rollout(p)))
            .collect(),
        deferred: BTreeMap::new(),
    };
    for (text, change) in v.deferred {
        let addr = parse_abs_resource_instance(&text)
            .map_err(|e| invalid("deferred", format!("invalid address {text:?}: {e}")))?;
        state.deferred.insert(addr, decode_deferred(change));
    }
    for (i, p) in v.pending_operations.into_iter().enumerate() {
        let (addr, op) = decode_pending(p, &format!("pending_operations[{i}]"))?;
        state.pending.insert(addr, op);
    }
    for (name, output) in v.outputs {
        let path = format!("outputs.{name}");
        let output = decode_output(output, &path)?;
        state.outputs.insert(name, output);
    }
    // Built from a sorted list rather than instance by instance: a state is written in
    // address order, so sorting it costs one pass, where inserting searches the tree.
    let mut instances = Vec::new();
    for (i, resource) in v.resources.into_iter().enumerate() {
        let path = format!("resources[{i}]");
        for (j, (addr, instance)) in decode_resource(resource, &path)?.into_iter().enumerate() {
            instances.push(((i, j), addr, instance));
        }
    }
    instances.sort_by(|a, b| a.1.cmp(&b.1));
    if let Some(pair) = instances.windows(2).find(|w| w[0].1 == w[1].1) {
        let later = pair.iter().map(|(at, ..)| *at).max().unwrap_or_default();
        return Err(invalid(
            format!("resources[{}].instances[{}]", later.0, later.1),
            format!("instance {} appears more than once", pair[1].1),
        ));
    }
    state.resources = instances
        .into_iter()
        .map(|(_, addr, instance)| (addr, instance))
        .collect();
    Ok(state)
}

fn resource_entry(addr: &AbsResourceInstance, provider: &str) -> ResourceV1 {
    let resource = &addr.resource.resource;
    ResourceV1 {
        module: (!addr.module.is_root()).then(|| addr.module.to_string()),
        mode: match resource.mode {
            ResourceMode::Managed => ModeV1::Managed,
            ResourceMode::Data => ModeV1::Data,
        },
        ty: resource.ty.clone(),
        name: resource.name.clone(),
        provider: provider.to_owned(),
        instances: Vec::new(),
    }
}

fn encode_instance(key: &InstanceKey, instance: &InstanceState) -> InstanceV1 {
    let sensitive_attributes = encode_marks(&instance.value);
    let attributes = Attributes(instance.value.clone());
    InstanceV1 {
        index_key: encode_key(key),
        schema_version: instance.schema_version,
        attributes,
        sensitive_attributes,
        dependencies: instance
            .dependencies
            .iter()
            .map(ToString::to_string)
            .collect(),
        status: match instance.status {
            InstanceStatus::Ready => None,
            InstanceStatus::Tainted | InstanceStatus::Incomplete => Some(StatusV1::Tainted),
        },
        create_incomplete: instance.status == InstanceStatus::Incomplete,
        create_before_destroy: instance.create_before_destroy,
        prevent_destroy: instance.prevent_destroy,
    }
}

fn decode_resource(
    r: ResourceV1,
    path: &str,
) -> Result<Vec<(AbsResourceInstance, InstanceState)>, DecodeError> {
    let module = decode_module(r.module.as_deref(), &format!("{path}.module"))?;
    let resource = decode_resource_name(r.mode, &r.ty, &r.name, path)?;
    if r.provider.is_empty() {
        return Err(invalid(format!("{path}.provider"), "provider is empty"));
    }
    let mut out = Vec::with_capacity(r.instances.len());
    for (j, inst) in r.instances.into_iter().enumerate() {
        let path = format!("{path}.instances[{j}]");
        let key = decode_key(inst.index_key.as_ref(), &format!("{path}.index_key"))?;
        let value = mark_value(
            inst.attributes.0,
            &inst.sensitive_attributes,
            &format!("{path}.sensitive_attributes"),
        )?;
        if !matches!(value.unmark().0, Value::Object(_)) {
            return Err(invalid(
                format!("{path}.attributes"),
                format!("attributes must be an object, not {}", value.kind_name()),
            ));
        }
        // Format 1 listed instances; format 2 lists resources. Both read as resources.
        let mut dependencies = inst
            .dependencies
            .iter()
            .enumerate()
            .map(|(k, text)| {
                parse_abs_resource_instance(text)
                    .map(|a| a.abs_resource())
                    .map_err(|e| {
                        invalid(
                            format!("{path}.dependencies[{k}]"),
                            format!("invalid address {text:?}: {e}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        dependencies.sort();
        dependencies.dedup();
        out.push((
            AbsResourceInstance {
                module: module.clone(),
                resource: resource.instance(key),
            },
            InstanceState {
                provider: r.provider.clone(),
                schema_version: inst.schema_version,
                value,
                dependencies,
                status: match inst.status {
                    None | Some(StatusV1::Ready) => InstanceStatus::Ready,
                    Some(StatusV1::Tainted) if inst.create_incomplete => InstanceStatus::Incomplete,
                    Some(StatusV1::Tainted) => InstanceStatus::Tainted,
                },
                create_before_destroy: inst.create_before_destroy,
                prevent_destroy: inst.prevent_destroy,
            },
        ));
    }
    Ok(out)
}

fn decode_module(text: Option<&str>, path: &str) -> Result<ModuleInstance, DecodeError> {
    match text {
        None | Some("") => Ok(ModuleInstance::root()),
        Some(text) => parse_module_instance(text)
            .map_err(|e| invalid(path, format!("invalid module address {text:?}: {e}"))),
    }
}

fn decode_resource_name(
    mode: ModeV1,
    ty: &str,
    name: &str,
    path: &str,
) -> Result<Resource, DecodeError> {
    if ty.is_empty() {
        return Err(invalid(format!("{path}.type"), "type is empty"));
    }
    if name.is_empty() {
        return Err(invalid(format!("{path}.name"), "name is empty"));
    }
    Ok(match mode {
        ModeV1::Managed => Resource::managed(ty, name),
        ModeV1::Data => Resource::data(ty, name),
    })
}

fn encode_key(key: &InstanceKey) -> Option<Json> {
    match key {
        InstanceKey::None => None,
        InstanceKey::Int(i) => Some(Json::from(*i)),
        InstanceKey::Str(s) => Some(Json::from(s.as_str())),
    }
}

fn decode_key(key: Option<&Json>, path: &str) -> Result<InstanceKey, DecodeError> {
    match key {
        None | Some(Json::Null) => Ok(InstanceKey::None),
        Some(Json::String(s)) => Ok(InstanceKey::Str(s.clone())),
        Some(Json::Number(n)) => n.as_i64().map(InstanceKey::Int).ok_or_else(|| {
            invalid(
                path,
                format!("an index key must be a whole number, not {n}"),
            )
        }),
        Some(other) => Err(invalid(
            path,
            format!("an index key is a number or a string, not {other}"),
        )),
    }
}

fn encode_output(output: &OutputState) -> OutputV1 {
    let (value, sensitive_attributes) = encode_value(&output.value);
    OutputV1 {
        value,
        sensitive: output.sensitive,
        sensitive_attributes,
    }
}

fn decode_output(output: OutputV1, path: &str) -> Result<OutputState, DecodeError> {
    Ok(OutputState {
        value: decode_value(
            &output.value,
            &output.sensitive_attributes,
            &format!("{path}.sensitive_attributes"),
        )?,
        sensitive: output.sensitive,
    })
}

// ---- pending operations ----

fn encode_pending(addr: &AbsResourceInstance, op: &PendingOperation) -> PendingV1 {
    PendingV1 {
        address: addr.to_string(),
        action: match op.action {
            PendingAction::Create => PendingActionV1::Create,
            PendingAction::Update => PendingActionV1::Update,
            PendingAction::Delete => PendingActionV1::Delete,
        },
        started: op.started.clone(),
        provider: op.provider.clone(),
        prior: op.prior.as_ref().map(encode_marked),
        planned: op.planned.as_ref().map(encode_marked),
        checkpoint: op.checkpoint.as_ref().map(encode_marked),
        dependencies: op.dependencies.iter().map(ToString::to_string).collect(),
        create_before_destroy: op.create_before_destroy,
        prevent_destroy: op.prevent_destroy,
        deposed: op.deposed,
    }
}

fn decode_pending(
    p: PendingV1,
    path: &str,
) -> Result<(AbsResourceInstance, PendingOperation), DecodeError> {
    let addr = parse_abs_resource_instance(&p.address).map_err(|e| {
        invalid(
            format!("{path}.address"),
            format!("invalid address {:?}: {e}", p.address),
        )
    })?;
    let marked = |m: Option<MarkedV1>, what: &str| {
        m.map(|m| decode_marked(m, &format!("{path}.{what}")))
            .transpose()
    };
    let dependencies = p
        .dependencies
        .iter()
        .enumerate()
        .map(|(k, text)| {
            parse_abs_resource_instance(text)
                .map(|a| a.abs_resource())
                .map_err(|e| {
                    invalid(
                        format!("{path}.dependencies[{k}]"),
                        format!("invalid address {text:?}: {e}"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let op = PendingOperation {
        action: match p.action {
            PendingActionV1::Create => PendingAction::Create,
            PendingActionV1::Update => PendingAction::Update,
            PendingActionV1::Delete => PendingAction::Delete,
        },
        started: p.started,
        provider: p.provider,
        prior: marked(p.prior, "prior")?,
        planned: marked(p.planned, "planned")?,
        checkpoint: marked(p.checkpoint, "checkpoint")?,
        dependencies,
        create_before_destroy: p.create_before_destroy,
        prevent_destroy: p.prevent_destroy,
        deposed: p.deposed,
    };
    Ok((addr, op))
}

fn encode_marked(value: &Value) -> MarkedV1 {
    let mut sensitive = Vec::new();
    let mut unknown = Vec::new();
    collect_paths(value, &mut Vec::new(), &mut sensitive, &mut unknown);
    MarkedV1 {
        value: value.to_json(),
        sensitive,
        unknown,
    }
}

fn collect_paths(
    value: &Value,
    path: &mut Vec<Json>,
    sensitive: &mut Vec<Vec<Json>>,
    unknown: &mut Vec<Vec<Json>>,
) {
    let (inner, marked) = value.unmark();
    if marked {
        sensitive.push(path.clone());
    }
    match inner {
        Value::Unknown => unknown.push(path.clone()),
        Value::List(items) | Value::Set(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Json::from(i));
                collect_paths(item, path, sensitive, unknown);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(Json::from(key.as_str()));
                collect_paths(item, path, sensitive, unknown);
                path.pop();
            }
        }
        _ => {}
    }
}

fn decode_marked(m: MarkedV1, path: &str) -> Result<Value, DecodeError> {
    let mut value = Value::from(&m.value);
    for (k, steps) in m.unknown.iter().enumerate() {
        set_unknown(&mut value, steps).map_err(|message| {
            invalid(
                format!("{path}.unknown[{k}]"),
                format!("unknown path does not fit the value: {message}"),
            )
        })?;
    }
    mark_value(value, &m.sensitive, &format!("{path}.sensitive"))
}

fn set_unknown(value: &mut Value, steps: &[Json]) -> Result<(), String> {
    match (value, steps.split_first()) {
        (target, None) => {
            *target = Value::Unknown;
            Ok(())
        }
        (Value::Object(map), Some((Json::String(name), rest))) => map
            .get_mut(name)
            .ok_or_else(|| format!("there is no attribute or key {name:?}"))
            .and_then(|child| set_unknown(child, rest)),
        (Value::List(items), Some((Json::Number(n), rest))) => n
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| items.get_mut(i))
            .ok_or_else(|| format!("there is no element {n}"))
            .and_then(|child| set_unknown(child, rest)),
        (_, Some((step, _))) => Err(format!("step {step} does not fit")),
    }
}

// ---- values and their sensitive marks ----

/// The unmarked JSON of `value` and the paths of its sensitive marks, outer ones first.
fn encode_value(value: &Value) -> (Json, Vec<Vec<Json>>) {
    (value.to_json(), encode_marks(value))
}

/// The sensitive paths of a value (the value itself is written unmarked).
fn encode_marks(value: &Value) -> Vec<Vec<Json>> {
    debug_assert!(
        value.is_wholly_known(),
        "an unknown value cannot be stored in state: {value}"
    );
    let mut marks = Vec::new();
    collect_marks(value, &mut Vec::new(), &mut marks);
    marks
}

fn collect_marks(value: &Value, path: &mut Vec<Json>, out: &mut Vec<Vec<Json>>) {
    let (inner, marked) = value.unmark();
    if marked {
        out.push(path.clone());
    }
    match inner {
        Value::List(items) | Value::Set(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Json::from(i));
                collect_marks(item, path, out);
                path.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                path.push(Json::from(key.as_str()));
                collect_marks(item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn decode_value(json: &Json, marks: &[Vec<Json>], path: &str) -> Result<Value, DecodeError> {
    mark_value(Value::from(json), marks, path)
}

/// Applies stored sensitive paths to a decoded value.
fn mark_value(mut value: Value, marks: &[Vec<Json>], path: &str) -> Result<Value, DecodeError> {
    for (k, steps) in marks.iter().enumerate() {
        mark_at(&mut value, steps).map_err(|message| {
            invalid(
                format!("{path}[{k}]"),
                format!(
                    "sensitive path {} does not fit the value: {message}",
                    Json::from(steps.clone())
                ),
            )
        })?;
    }
    Ok(value)
}

/// Marks the part of `value` at `steps` sensitive (looking through marks on the way).
fn mark_at(value: &mut Value, steps: &[Json]) -> Result<(), String> {
    match (value, steps.split_first()) {
        (target, None) => {
            let old = std::mem::take(target);
            *target = old.into_sensitive();
            Ok(())
        }
        (Value::Sensitive(inner), Some(_)) => mark_at(inner, steps),
        (Value::Object(map), Some((Json::String(name), rest))) => match map.get_mut(name) {
            Some(child) => mark_at(child, rest),
            None => Err(format!("there is no attribute or key {name:?}")),
        },
        (Value::List(items), Some((Json::Number(n), rest))) => {
            let index = n.as_u64().and_then(|i| usize::try_from(i).ok());
            match index.and_then(|i| items.get_mut(i)) {
                Some(child) => mark_at(child, rest),
                None => Err(format!(
                    "there is no element {n} in a list of {}",
                    items.len()
                )),
            }
        }
        (_, Some((step, _))) if !(step.is_string() || step.is_number()) => Err(format!(
            "a step is an attribute name (string) or a list index (number), not {step}"
        )),
        (other, Some((step, _))) => {
            Err(format!("step {step} cannot go into {}", other.kind_name()))
        }
    }
}

// ---- journal ----

#[derive(Serialize, Deserialize)]
#[serde(expecting = "a fleetform journal header (a JSON object)")]
pub(super) struct JournalHeaderV1 {
    journal_version: u64,
    #[serde(default)]
    tool: String,
    #[serde(default)]
    tool_version: String,
    lineage: String,
    serial: u64,
}

pub(super) fn journal_header(base: &Header) -> JournalHeaderV1 {
    JournalHeaderV1 {
        journal_version: 1,
        tool: TOOL.into(),
        tool_version: TOOL_VERSION.into(),
        lineage: base.lineage.clone(),
        serial: base.serial,
    }
}

pub(super) fn decode_journal_header(h: JournalHeaderV1) -> Result<Header, DecodeError> {
    if h.lineage.is_empty() {
        return Err(invalid("lineage", "lineage is empty"));
    }
    Ok(Header {
        lineage: h.lineage,
        serial: h.serial,
    })
}

/// One journal line: an instance or output set or removed.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[serde(
    expecting = "a journal entry: {\"set\": …}, {\"remove\": …}, {\"pending\": …}, {\"settled\": …}, {\"set_output\": …}, {\"remove_output\": …}, {\"rollout\": …}, {\"remove_rollout\": …}, {\"deferred\": …} or {\"undeferred\": …}"
)]
pub(super) enum JournalLineV1 {
    /// A resource entry as in the state file, with exactly one instance.
    Set(ResourceV1),
    Remove(InstanceAddrV1),
    /// An operation starts (or saved progress).
    Pending(Box<PendingV1>),
    /// An operation is no longer pending (its address).
    Settled(String),
    SetOutput(NamedOutputV1),
    RemoveOutput(String),
    /// A rollout's progress.
    Rollout(Box<NamedRolloutV1>),
    /// A rollout removed (its name).
    RemoveRollout(String),
    /// A change deferred.
    Deferred(AddressedDeferredV1),
    /// A deferral ended (its address).
    Undeferred(String),
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "an instance address object")]
pub(super) struct InstanceAddrV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    mode: ModeV1,
    #[serde(rename = "type")]
    ty: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index_key: Option<Json>,
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "an output object")]
pub(super) struct NamedOutputV1 {
    name: String,
    value: Json,
    #[serde(default)]
    sensitive: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sensitive_attributes: Vec<Vec<Json>>,
}

pub(super) fn journal_line(entry: &JournalEntry) -> JournalLineV1 {
    match entry {
        JournalEntry::Instance {
            addr,
            state: Some(instance),
        } => {
            let mut resource = resource_entry(addr, &instance.provider);
            resource
                .instances
                .push(encode_instance(&addr.resource.key, instance));
            JournalLineV1::Set(resource)
        }
        JournalEntry::Instance { addr, state: None } => {
            let entry = resource_entry(addr, "");
            JournalLineV1::Remove(InstanceAddrV1 {
                module: entry.module,
                mode: entry.mode,
                ty: entry.ty,
                name: entry.name,
                index_key: encode_key(&addr.resource.key),
            })
        }
        JournalEntry::Output {
            name,
            state: Some(output),
        } => {
            let output = encode_output(output);
            JournalLineV1::SetOutput(NamedOutputV1 {
                name: name.clone(),
                value: output.value,
                sensitive: output.sensitive,
                sensitive_attributes: output.sensitive_attributes,
            })
        }
        JournalEntry::Output { name, state: None } => JournalLineV1::RemoveOutput(name.clone()),
        JournalEntry::Pending { addr, op: Some(op) } => {
            JournalLineV1::Pending(Box::new(encode_pending(addr, op)))
        }
        JournalEntry::Pending { addr, op: None } => JournalLineV1::Settled(addr.to_string()),
        JournalEntry::Rollout {
            name,
            progress: Some(p),
        } => JournalLineV1::Rollout(Box::new(NamedRolloutV1 {
            name: name.clone(),
            progress: encode_rollout(p),
        })),
        JournalEntry::Rollout {
            name,
            progress: None,
        } => JournalLineV1::RemoveRollout(name.clone()),
        JournalEntry::Deferred {
            addr,
            change: Some(c),
        } => JournalLineV1::Deferred(AddressedDeferredV1 {
            address: addr.to_string(),
            change: encode_deferred(c),
        }),
        JournalEntry::Deferred { addr, change: None } => {
            JournalLineV1::Undeferred(addr.to_string())
        }
    }
}

pub(super) fn decode_journal_line(line: JournalLineV1) -> Result<JournalEntry, DecodeError> {
    Ok(match line {
        JournalLineV1::Set(resource) => {
            if resource.instances.len() != 1 {
                return Err(invalid(
                    "set.instances",
                    format!(
                        "a journal entry sets exactly one instance, not {}",
                        resource.instances.len()
                    ),
                ));
            }
            let mut decoded = decode_resource(resource, "set")?;
            match decoded.pop() {
                Some((addr, instance)) => JournalEntry::Instance {
                    addr,
                    state: Some(instance),
                },
                None => return Err(invalid("set.instances", "no instance")),
            }
        }
        JournalLineV1::Remove(a) => JournalEntry::Instance {
            addr: AbsResourceInstance {
                module: decode_module(a.module.as_deref(), "remove.module")?,
                resource: decode_resource_name(a.mode, &a.ty, &a.name, "remove")?
                    .instance(decode_key(a.index_key.as_ref(), "remove.index_key")?),
            },
            state: None,
        },
        JournalLineV1::SetOutput(o) => {
            let output = decode_output(
                OutputV1 {
                    value: o.value,
                    sensitive: o.sensitive,
                    sensitive_attributes: o.sensitive_attributes,
                },
                "set_output",
            )?;
            JournalEntry::Output {
                name: o.name,
                state: Some(output),
            }
        }
        JournalLineV1::RemoveOutput(name) => JournalEntry::Output { name, state: None },
        JournalLineV1::Pending(p) => {
            let (addr, op) = decode_pending(*p, "pending")?;
            JournalEntry::Pending { addr, op: Some(op) }
        }
        JournalLineV1::Settled(text) => JournalEntry::Pending {
            addr: parse_abs_resource_instance(&text)
                .map_err(|e| invalid("settled", format!("invalid address {text:?}: {e}")))?,
            op: None,
        },
        JournalLineV1::Rollout(r) => JournalEntry::Rollout {
            name: r.name,
            progress: Some(decode_rollout(r.progress)),
        },
        JournalLineV1::RemoveRollout(name) => JournalEntry::Rollout {
            name,
            progress: None,
        },
        JournalLineV1::Deferred(d) => JournalEntry::Deferred {
            addr: parse_abs_resource_instance(&d.address).map_err(|e| {
                invalid("deferred", format!("invalid address {:?}: {e}", d.address))
            })?,
            change: Some(decode_deferred(d.change)),
        },
        JournalLineV1::Undeferred(text) => JournalEntry::Deferred {
            addr: parse_abs_resource_instance(&text)
                .map_err(|e| invalid("undeferred", format!("invalid address {text:?}: {e}")))?,
            change: None,
        },
    })
}

// ---- lock file ----

#[derive(Serialize, Deserialize)]
#[serde(expecting = "lock information (a JSON object)")]
pub(super) struct LockInfoV1 {
    #[serde(default)]
    id: String,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    who: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    created: String,
    #[serde(default)]
    path: String,
}

pub(super) fn lock_info(info: &LockInfo) -> LockInfoV1 {
    LockInfoV1 {
        id: info.id.clone(),
        operation: info.operation.clone(),
        who: info.who.clone(),
        version: info.version.clone(),
        created: info.created.clone(),
        path: info.path.clone(),
    }
}

pub(super) fn decode_lock_info(v: LockInfoV1) -> LockInfo {
    LockInfo {
        id: v.id,
        operation: v.operation,
        who: v.who,
        version: v.version,
        created: v.created,
        path: v.path,
    }
}

/// Instance attributes on the wire: written and read as plain JSON straight from and into
/// the engine's `Value`, without an intermediate JSON tree (state reads are on the path of
/// every plan). Marks are not part of it: they are stored as `sensitive_attributes`.
struct Attributes(Value);

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Plain(&self.0).serialize(serializer)
    }
}

struct Plain<'v>(&'v Value);

impl Serialize for Plain<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Null | Value::Unknown => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::List(items) | Value::Set(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Plain(item))?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k, &Plain(v))?;
                }
                m.end()
            }
            Value::Sensitive(inner) => Plain(inner).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PlainVisitor).map(Attributes)
    }
}

struct PlainVisitor;

impl<'de> serde::de::Visitor<'de> for PlainVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(fleetform_sdk::value::Number::from(n)))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Value, E> {
        fleetform_sdk::value::Number::from_f64(n)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Attributes(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, Attributes(v))) = map.next_entry::<String, Attributes>()? {
            out.insert(k, v);
        }
        Ok(Value::Object(out.into()))
    }
}
