//! Machine-readable output in Terraform's JSON shapes, so tools written for Terraform read
//! ours unchanged: `validate -json`, the plan and state representations of `show -json`
//! (Terraform's "JSON Output Format"), and, in [`JsonUi`], the streamed UI messages of
//! `plan -json` and `apply -json`.
//!
//! The plan and state representations carry every value except sensitive ones, which are
//! `null` with `*_sensitive` trees marking where they are. Terraform prints them in clear;
//! fleetform keeps secrets to the state and plan files (`output NAME` still prints a
//! sensitive output when asked for it by name). The UI stream redacts too.

use std::collections::BTreeMap;

use fleetform_planner::addrs::{AbsResourceInstance, InstanceKey, ModuleInstance, ResourceMode};
use fleetform_planner::config::Config;
use fleetform_planner::plan::{Action, Mode, OutputChange, Plan, Reason, ResourceChange};
use fleetform_planner::state::State;
use fleetform_sdk::{
    Block, Diagnostic, Diagnostics, Nesting, PathStep, Pos, Severity, SourceRange,
};
use serde_json::{Map, Value, json};

use super::plan::{Schemas, builtin_schema};
pub use super::ui::JsonUi;

/// `validate -json`: `{format_version, valid, error_count, warning_count, diagnostics}`.
pub fn validate(config: &Config, diags: &Diagnostics) -> Value {
    json!({
        "format_version": "1.0",
        "valid": !diags.has_errors(),
        "error_count": diags.error_count(),
        "warning_count": diags.warning_count(),
        "diagnostics": diags.iter().map(|d| diagnostic(config, d)).collect::<Vec<_>>(),
    })
}

fn pos(p: &Pos) -> Value {
    json!({ "line": p.line, "column": p.column, "byte": p.byte })
}

fn range(r: &SourceRange) -> Value {
    json!({ "filename": r.file.display().to_string(), "start": pos(&r.start), "end": pos(&r.end) })
}

/// One diagnostic, as in Terraform's JSON output: severity, summary, detail, range and a
/// snippet of the first line of the range.
pub fn diagnostic(config: &Config, d: &Diagnostic) -> Value {
    // Terraform's JSON has no separate help: suggestions are part of the detail.
    let detail = match &d.help {
        Some(help) => format!("{}\n\n{}", d.detail, capitalize(help)),
        None => d.detail.clone(),
    };
    let mut out = json!({
        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "summary": d.summary,
        "detail": detail,
    });
    if let Some(subject) = &d.subject {
        out["range"] = range(subject);
        if let Some(snippet) = snippet(config, subject) {
            out["snippet"] = snippet;
        }
    }
    if let Some(addr) = &d.address {
        out["address"] = json!(addr);
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".")
        .unwrap_or_default()
}

fn snippet(config: &Config, r: &SourceRange) -> Option<Value> {
    let file = config
        .sources
        .iter()
        .find(|f| f.path().as_ref() == r.file.as_ref())?;
    let text = file.text();
    let line_start = text[..r.start.byte.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = text[r.start.byte.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| r.start.byte + i);
    let code = &text[line_start..line_end];
    let highlight_start = r.start.byte - line_start;
    let highlight_end = (r.end.byte.min(line_end)).max(r.start.byte) - line_start;
    Some(json!({
        "context": Value::Null,
        "code": code,
        "start_line": r.start.line,
        "highlight_start_offset": highlight_start,
        "highlight_end_offset": highlight_end,
        "values": [],
    }))
}

/// The `format_version` of the plan representation (Terraform 1.8 and later).
pub const PLAN_FORMAT_VERSION: &str = "1.2";
/// The `format_version` of the state representation.
pub const STATE_FORMAT_VERSION: &str = "1.0";
/// This fleetform's version, for `fleetform_version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Terraform version whose JSON formats fleetform writes, for `terraform_version`:
/// tools written for Terraform gate on this key. Terraform 1.11 writes plan format 1.2,
/// state format 1.0 and UI messages 1.2, the versions above; fleetform's own version is
/// beside it as `fleetform_version`.
pub const TERRAFORM_VERSION: &str = "1.11.0";

/// The stable address of a built-in provider, `fleetform.io/builtin/NAME`, shaped like
/// Terraform's `terraform.io/builtin/terraform`: providers are built in, nothing is ever
/// fetched from this address.
pub fn provider_address(name: &str) -> String {
    format!("fleetform.io/builtin/{name}")
}

/// `show -json PLANFILE`: Terraform's plan representation. `prior` is the state the plan was
/// made from; `config` the configuration it was made with.
pub fn plan_representation(plan: &Plan, prior: &State, config: &Config) -> Value {
    plan_representation_with(plan, prior, config, &builtin_schema)
}

pub(crate) fn plan_representation_with(
    plan: &Plan,
    prior: &State,
    config: &Config,
    schemas: Schemas<'_>,
) -> Value {
    let mut out = Map::new();
    out.insert("format_version".into(), json!(PLAN_FORMAT_VERSION));
    out.insert("terraform_version".into(), json!(TERRAFORM_VERSION));
    out.insert("fleetform_version".into(), json!(VERSION));
    if !plan.variables.is_empty() {
        let vars: Map<String, Value> = plan
            .variables
            .iter()
            .map(|(k, v)| {
                let value = if sensitive_variable(config, k) {
                    Value::Null
                } else {
                    hide(v).to_json()
                };
                (k.clone(), json!({ "value": value }))
            })
            .collect();
        out.insert("variables".into(), Value::Object(vars));
    }
    out.insert(
        "planned_values".into(),
        planned_values(plan, prior, schemas),
    );
    let drift: Vec<Value> = plan
        .drift
        .iter()
        .filter(|d| plan.mode == Mode::RefreshOnly || d.action != Action::NoOp)
        .map(|d| resource_change(d, schemas))
        .collect();
    if !drift.is_empty() {
        out.insert("resource_drift".into(), Value::Array(drift));
    }
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .filter(|c| {
            !(c.action == Action::Delete && c.addr.resource.resource.mode == ResourceMode::Data)
        })
        .map(|c| resource_change(c, schemas))
        .collect();
    if !changes.is_empty() {
        out.insert("resource_changes".into(), Value::Array(changes));
    }
    if !plan.outputs.is_empty() {
        let outputs: Map<String, Value> = plan
            .outputs
            .iter()
            .map(|(k, oc)| (k.clone(), output_change(oc)))
            .collect();
        out.insert("output_changes".into(), Value::Object(outputs));
    }
    if !prior.resources.is_empty() || !prior.outputs.is_empty() {
        out.insert(
            "prior_state".into(),
            state_representation_with(prior, schemas),
        );
    }
    out.insert(
        "configuration".into(),
        super::json_config::configuration(config, schemas),
    );
    let mut module_instances: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| !c.addr.module.is_root())
        .map(|c| c.addr.module.to_string())
        .collect();
    module_instances.dedup();
    let relevant = super::json_config::relevant_attributes(config, &module_instances);
    if relevant.as_array().is_some_and(|a| !a.is_empty()) {
        out.insert("relevant_attributes".into(), relevant);
    }
    if !plan.checks.is_empty() {
        out.insert("checks".into(), super::json_checks::checks(&plan.checks));
    }
    out.insert("timestamp".into(), json!(rfc3339(plan.timestamp)));
    let applyable = !plan.is_empty() || (plan.mode == Mode::RefreshOnly && !plan.drift.is_empty());
    out.insert("applyable".into(), json!(applyable));
    out.insert("complete".into(), json!(plan.complete));
    out.insert("errored".into(), json!(false));
    Value::Object(out)
}

/// `show -json` without a plan file: Terraform's state representation. An empty state has
/// no `values`, as in Terraform.
pub fn state_representation(state: &State) -> Value {
    state_representation_with(state, &builtin_schema)
}

pub(crate) fn state_representation_with(state: &State, schemas: Schemas<'_>) -> Value {
    let mut out = Map::new();
    out.insert("format_version".into(), json!(STATE_FORMAT_VERSION));
    out.insert("terraform_version".into(), json!(TERRAFORM_VERSION));
    out.insert("fleetform_version".into(), json!(VERSION));
    if state.resources.is_empty() && state.outputs.is_empty() {
        return Value::Object(out);
    }
    let mut values = Map::new();
    if !state.outputs.is_empty() {
        let outputs: Map<String, Value> = state
            .outputs
            .iter()
            .map(|(k, o)| {
                let sensitive = o.sensitive || o.value.contains_sensitive();
                let value = if o.sensitive {
                    Value::Null
                } else {
                    hide(&o.value).to_json()
                };
                (
                    k.clone(),
                    json!({ "sensitive": sensitive, "value": value, "type": type_json(&o.value) }),
                )
            })
            .collect();
        values.insert("outputs".into(), Value::Object(outputs));
    }
    let mut tree = ModuleTree::default();
    for (addr, instance) in &state.resources {
        let schema = schema_block(addr, schemas);
        let mut r = resource_head(addr, &instance.provider);
        r.insert("schema_version".into(), json!(instance.schema_version));
        r.insert(
            "values".into(),
            hide(&mark_schema(&instance.value, schema)).to_json(),
        );
        r.insert(
            "sensitive_values".into(),
            sensitive_tree(&mark_schema(&instance.value, schema)),
        );
        if !instance.dependencies.is_empty() {
            let mut deps: Vec<String> = instance
                .dependencies
                .iter()
                .map(ToString::to_string)
                .collect();
            deps.sort();
            r.insert("depends_on".into(), json!(deps));
        }
        if instance.status.is_tainted() {
            r.insert("tainted".into(), json!(true));
        }
        tree.insert(&addr.module, Value::Object(r));
    }
    values.insert("root_module".into(), tree.to_json(&ModuleInstance::root()));
    out.insert("values".into(), Value::Object(values));
    Value::Object(out)
}

fn planned_values(plan: &Plan, prior: &State, schemas: Schemas<'_>) -> Value {
    let mut out = Map::new();
    let outputs: Map<String, Value> = plan
        .outputs
        .iter()
        .filter_map(|(k, oc)| {
            let after = oc.after.as_ref()?;
            let mut o = Map::new();
            o.insert(
                "sensitive".into(),
                json!(oc.sensitive || after.contains_sensitive()),
            );
            if after.is_wholly_known() {
                o.insert("type".into(), type_json(after));
                let value = if oc.sensitive {
                    Value::Null
                } else {
                    hide(after).to_json()
                };
                o.insert("value".into(), value);
            }
            Some((k.clone(), Value::Object(o)))
        })
        .collect();
    if !outputs.is_empty() {
        out.insert("outputs".into(), Value::Object(outputs));
    }
    let mut tree = ModuleTree::default();
    for c in &plan.changes {
        let Some(after) = c.after.as_ref().filter(|_| c.action != Action::Delete) else {
            continue;
        };
        let schema = schema_block(&c.addr, schemas);
        let mut r = resource_head(&c.addr, &c.provider);
        let version = prior.resources.get(&c.addr).map_or(0, |i| i.schema_version);
        r.insert("schema_version".into(), json!(version));
        r.insert(
            "values".into(),
            omit_unknowns(&hide(&mark_schema(after, schema))).unwrap_or(Value::Null),
        );
        r.insert(
            "sensitive_values".into(),
            sensitive_tree(&mark_schema(after, schema)),
        );
        tree.insert(&c.addr.module, Value::Object(r));
    }
    out.insert("root_module".into(), tree.to_json(&ModuleInstance::root()));
    Value::Object(out)
}

/// The resources of a module instance and its descendants.
#[derive(Default)]
struct ModuleTree {
    resources: Vec<Value>,
    children: BTreeMap<ModuleInstance, ModuleTree>,
}

impl ModuleTree {
    fn insert(&mut self, module: &ModuleInstance, resource: Value) {
        let mut node = self;
        for i in 1..=module.0.len() {
            let prefix = ModuleInstance(module.0[..i].to_vec());
            node = node.children.entry(prefix).or_default();
        }
        node.resources.push(resource);
    }

    fn to_json(&self, address: &ModuleInstance) -> Value {
        let mut out = Map::new();
        if !self.resources.is_empty() {
            out.insert("resources".into(), Value::Array(self.resources.clone()));
        }
        if !address.is_root() {
            out.insert("address".into(), json!(address.to_string()));
        }
        if !self.children.is_empty() {
            let children: Vec<Value> = self.children.iter().map(|(a, t)| t.to_json(a)).collect();
            out.insert("child_modules".into(), Value::Array(children));
        }
        Value::Object(out)
    }
}

fn schema_block<'a>(addr: &AbsResourceInstance, schemas: Schemas<'a>) -> Option<&'a Block> {
    let r = &addr.resource.resource;
    schemas(r.mode, &r.ty).map(|s| &s.block)
}

/// `address`, `mode`, `type`, `name`, `index`, `provider_name` of a resource instance.
fn resource_head(addr: &AbsResourceInstance, provider: &str) -> Map<String, Value> {
    let r = &addr.resource.resource;
    let mut out = Map::new();
    out.insert("address".into(), json!(addr.to_string()));
    out.insert("mode".into(), json!(mode_name(r.mode)));
    out.insert("type".into(), json!(r.ty));
    out.insert("name".into(), json!(r.name));
    if let Some(index) = key_json(&addr.resource.key) {
        out.insert("index".into(), index);
    }
    out.insert(
        "provider_name".into(),
        json!(provider_address(&provider_name(provider))),
    );
    out
}

pub(crate) fn mode_name(mode: ResourceMode) -> &'static str {
    match mode {
        ResourceMode::Managed => "managed",
        ResourceMode::Data => "data",
    }
}

/// An instance key as JSON: a number for `count`, a string for `for_each`.
pub(crate) fn key_json(key: &InstanceKey) -> Option<Value> {
    match key {
        InstanceKey::None => None,
        InstanceKey::Int(i) => Some(json!(i)),
        InstanceKey::Str(s) => Some(json!(s)),
    }
}

/// The provider's name from a provider configuration address (`provider.host.west`,
/// `module.a.provider.host`): Terraform's `provider_name` names the provider, not the
/// configuration.
pub(crate) fn provider_name(config: &str) -> String {
    let rest = config
        .rsplit_once("provider.")
        .map_or(config, |(_, rest)| rest);
    rest.split('.').next().unwrap_or(rest).to_owned()
}

/// The provider's name from a provider configuration address, for other renderers.
pub fn provider_name_of(config: &str) -> String {
    provider_name(config)
}

/// One element of `resource_changes` or `resource_drift`.
fn resource_change(c: &ResourceChange, schemas: Schemas<'_>) -> Value {
    let schema = schema_block(&c.addr, schemas);
    let head = resource_head(&c.addr, &c.provider);
    let mut out = Map::new();
    out.insert("address".into(), head["address"].clone());
    if let Some(prev) = c.previous_addr.as_ref().filter(|p| **p != c.addr) {
        out.insert("previous_address".into(), json!(prev.to_string()));
    }
    if !c.addr.module.is_root() {
        out.insert("module_address".into(), json!(c.addr.module.to_string()));
    }
    for (k, v) in head.into_iter().skip(1) {
        out.insert(k, v);
    }
    let mut change = Map::new();
    change.insert("actions".into(), json!(c.action.terraform_actions()));
    let shown = |v: &fleetform_sdk::Value| hide(&mark_schema(v, schema));
    change.insert(
        "before".into(),
        c.before
            .as_ref()
            .map_or(Value::Null, |v| shown(v).to_json()),
    );
    let (after, after_unknown) = match &c.after {
        None => (Value::Null, json!({})),
        Some(v) if v.is_wholly_known() => (shown(v).to_json(), json!({})),
        Some(v) => (
            omit_unknowns(&shown(v)).unwrap_or(Value::Null),
            unknown_tree(v),
        ),
    };
    change.insert("after".into(), after);
    change.insert("after_unknown".into(), after_unknown);
    let sensitive = |v: &Option<fleetform_sdk::Value>| {
        v.as_ref()
            .map_or(json!(false), |v| sensitive_tree(&mark_schema(v, schema)))
    };
    change.insert("before_sensitive".into(), sensitive(&c.before));
    change.insert("after_sensitive".into(), sensitive(&c.after));
    if !c.replace_paths.is_empty() {
        let paths: Vec<Value> = c
            .replace_paths
            .iter()
            .map(|p| {
                Value::Array(
                    p.iter()
                        .map(|s| match s {
                            PathStep::Attr(k) | PathStep::Key(k) => json!(k),
                            PathStep::Index(i) => json!(i),
                        })
                        .collect(),
                )
            })
            .collect();
        change.insert("replace_paths".into(), Value::Array(paths));
    }
    if let Some(id) = &c.importing {
        change.insert("importing".into(), json!({ "id": id }));
    }
    out.insert("change".into(), Value::Object(change));
    if let Some(reason) = action_reason(c) {
        out.insert("action_reason".into(), json!(reason));
    }
    Value::Object(out)
}

/// Terraform's `action_reason` for a change, when it has one.
pub(crate) fn action_reason(c: &ResourceChange) -> Option<&'static str> {
    Some(match c.reason.as_ref()? {
        Reason::ReplaceBecauseCannotUpdate => "replace_because_cannot_update",
        Reason::ReplaceBecauseTainted => "replace_because_tainted",
        Reason::ReplaceByRequest => "replace_by_request",
        Reason::ReplaceByTriggers(_) => "replace_by_triggers",
        Reason::DeleteBecauseNoResourceConfig => "delete_because_no_resource_config",
        Reason::DeleteBecauseNoModule => "delete_because_no_module",
        Reason::DeleteBecauseNoInstance => match c.addr.resource.key {
            InstanceKey::Int(_) => "delete_because_count_index",
            InstanceKey::Str(_) => "delete_because_each_key",
            InstanceKey::None => "delete_because_wrong_repetition",
        },
        Reason::ReadBecauseConfigUnknown => "read_because_config_unknown",
        Reason::DeleteBecauseDestroyMode => return None,
        Reason::DeleteBecauseDeposed => "delete_because_deposed",
    })
}

/// The action of an output change, in Terraform's words.
pub(crate) fn output_action(oc: &OutputChange) -> Action {
    match (&oc.before, &oc.after) {
        (None, Some(_)) => Action::Create,
        (Some(_), None) => Action::Delete,
        (Some(b), Some(a))
            if fleetform_planner::plan::diff::values_equal(b, a) && a.is_wholly_known() =>
        {
            Action::NoOp
        }
        (None, None) => Action::NoOp,
        _ => Action::Update,
    }
}

fn output_change(oc: &OutputChange) -> Value {
    let sensitive = oc.sensitive
        || oc
            .before
            .as_ref()
            .is_some_and(fleetform_sdk::Value::contains_sensitive)
        || oc
            .after
            .as_ref()
            .is_some_and(fleetform_sdk::Value::contains_sensitive);
    let shown = |v: &fleetform_sdk::Value| {
        if oc.sensitive {
            fleetform_sdk::Value::Null
        } else {
            hide(v)
        }
    };
    let (after, after_unknown) = match &oc.after {
        None => (Value::Null, json!(false)),
        Some(v) if v.is_wholly_known() => (shown(v).to_json(), json!(false)),
        Some(v) => (
            omit_unknowns(&shown(v)).unwrap_or(Value::Null),
            unknown_tree(v),
        ),
    };
    json!({
        "actions": output_action(oc).terraform_actions(),
        "before": oc.before.as_ref().map_or(Value::Null, |v| shown(v).to_json()),
        "after": after,
        "after_unknown": after_unknown,
        "before_sensitive": sensitive,
        "after_sensitive": sensitive,
    })
}

/// The value with every sensitive part's known contents replaced by null (unknown parts
/// stay unknown, for `after_unknown`): what JSON output may show of it.
pub(crate) fn hide(v: &fleetform_sdk::Value) -> fleetform_sdk::Value {
    use fleetform_sdk::Value as V;
    fn blank(v: &V) -> V {
        match v {
            V::Unknown => V::Unknown,
            V::Sensitive(inner) => blank(inner),
            V::List(items) => V::List(items.iter().map(blank).collect()),
            V::Object(map) => V::Object(map.iter().map(|(k, v)| (k.clone(), blank(v))).collect()),
            _ => V::Null,
        }
    }
    match v {
        V::Sensitive(inner) => blank(inner),
        V::List(items) => V::List(items.iter().map(hide).collect()),
        V::Object(map) => V::Object(map.iter().map(|(k, v)| (k.clone(), hide(v))).collect()),
        other => other.clone(),
    }
}

/// True when the root module declares variable `name` sensitive.
fn sensitive_variable(config: &Config, name: &str) -> bool {
    config
        .root()
        .and_then(|m| m.variables.get(name))
        .is_some_and(|v| v.sensitive)
}

/// A value as JSON without its unknown parts: unknown attributes are left out, unknown
/// list elements become null (their position matters). `None` when wholly unknown.
pub(crate) fn omit_unknowns(v: &fleetform_sdk::Value) -> Option<Value> {
    use fleetform_sdk::Value as V;
    match v {
        V::Unknown => None,
        V::Sensitive(inner) => omit_unknowns(inner),
        V::List(items) => Some(Value::Array(
            items
                .iter()
                .map(|i| omit_unknowns(i).unwrap_or(Value::Null))
                .collect(),
        )),
        V::Object(map) => Some(Value::Object(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), omit_unknowns(v)?)))
                .collect(),
        )),
        other => Some(other.to_json()),
    }
}

/// Terraform's `after_unknown` tree: `true` for an unknown value, lists as arrays of their
/// elements' trees, objects with only their non-`false` attributes, `false` otherwise.
pub(crate) fn unknown_tree(v: &fleetform_sdk::Value) -> Value {
    use fleetform_sdk::Value as V;
    match v {
        V::Unknown => json!(true),
        V::Sensitive(inner) => unknown_tree(inner),
        V::List(items) => Value::Array(items.iter().map(unknown_tree).collect()),
        V::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), unknown_tree(v)))
                .filter(|(_, t)| *t != json!(false))
                .collect(),
        ),
        _ => json!(false),
    }
}

/// Terraform's `*_sensitive` tree: `true` for a sensitive value, lists as arrays of their
/// elements' trees, objects with only their non-`false` attributes, `false` otherwise.
pub(crate) fn sensitive_tree(v: &fleetform_sdk::Value) -> Value {
    use fleetform_sdk::Value as V;
    match v {
        V::Sensitive(_) => json!(true),
        V::List(items) => Value::Array(items.iter().map(sensitive_tree).collect()),
        V::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), sensitive_tree(v)))
                .filter(|(_, t)| *t != json!(false))
                .collect(),
        ),
        _ => json!(false),
    }
}

/// The value with the schema's sensitive attributes marked, so the `*_sensitive` trees
/// cover them even where the value lacks the mark.
fn mark_schema(v: &fleetform_sdk::Value, schema: Option<&Block>) -> fleetform_sdk::Value {
    use fleetform_sdk::Value as V;
    let Some(block) = schema else {
        return v.clone();
    };
    let V::Object(map) = v else { return v.clone() };
    let marked = map
        .iter()
        .map(|(k, val)| {
            let val = if block.attributes.get(k).is_some_and(|a| a.sensitive) {
                val.clone().into_sensitive()
            } else if let Some(nested) = block.blocks.get(k) {
                match (nested.nesting, val) {
                    (Nesting::Single, _) => mark_schema(val, Some(&nested.block)),
                    (Nesting::List | Nesting::Set, V::List(items)) => V::List(
                        items
                            .iter()
                            .map(|i| mark_schema(i, Some(&nested.block)))
                            .collect(),
                    ),
                    (Nesting::Map, V::Object(m)) => V::Object(
                        m.iter()
                            .map(|(k, i)| (k.clone(), mark_schema(i, Some(&nested.block))))
                            .collect(),
                    ),
                    _ => val.clone(),
                }
            } else {
                val.clone()
            };
            (k.clone(), val)
        })
        .collect();
    V::Object(marked)
}

/// RFC 3339 in UTC with whole seconds, as Terraform writes a plan's `timestamp`.
pub(crate) fn rfc3339(at: std::time::SystemTime) -> String {
    let at = time::OffsetDateTime::from(at)
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A value's type in cty's JSON type notation (`"string"`, `["object",{...}]`), as
/// Terraform gives output types.
pub(crate) fn type_json(v: &fleetform_sdk::Value) -> Value {
    use fleetform_sdk::Value as V;
    match v {
        V::Sensitive(inner) => type_json(inner),
        V::Null | V::Unknown => json!("dynamic"),
        V::Bool(_) => json!("bool"),
        V::Number(_) => json!("number"),
        V::String(_) => json!("string"),
        V::List(items) => json!(["tuple", items.iter().map(type_json).collect::<Vec<_>>()]),
        V::Set(items) => json!(["set", items.first().map_or(json!("dynamic"), type_json)]),
        V::Object(map) => json!([
            "object",
            map.iter()
                .map(|(k, v)| (k.clone(), type_json(v)))
                .collect::<Map<String, Value>>()
        ]),
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
