//! The scope of one module instance (and, inside a counted or for_each block, one
//! instance of it): how `var.`, `local.`, resource, `data.`, `module.`, `each.`,
//! `count.` and `path.` references resolve during expansion.

use std::borrow::Cow;
use std::ops::Range;

use fleetform_sdk::Value;
use hcl::edit::Decorated;
use hcl::edit::expr::TraversalOperator;

use super::{Expansion, InstanceData};
use crate::addrs::{ModuleInstance, Resource};
use crate::lang::{EvalError, Scope};

/// `each.key` and `each.value`, or `count.index`, of the block being evaluated.
#[derive(Debug, Clone, Default)]
pub struct Repetition {
    /// `each.key`, `each.value`.
    pub each: Option<(Value, Value)>,
    /// `count.index`.
    pub count: Option<Value>,
}

/// A scope with nothing but `each` and `count`: what an instance knows about itself before
/// anything it refers to is evaluated.
pub struct RepetitionScope<'a> {
    pub rep: &'a Repetition,
}

impl Scope for RepetitionScope<'_> {
    fn resolve(
        &self,
        root: &str,
        at: Option<Range<usize>>,
        ops: &[Decorated<TraversalOperator>],
    ) -> Result<(Cow<'_, Value>, usize), EvalError> {
        let found = match (root, name_at(ops, 0)) {
            ("each", Some("key")) => self.rep.each.as_ref().map(|(k, _)| k),
            ("each", Some("value")) => self.rep.each.as_ref().map(|(_, v)| v),
            ("count", Some("index")) => self.rep.count.as_ref(),
            _ => None,
        };
        found
            .map(|v| (Cow::Borrowed(v), 1))
            .ok_or_else(|| EvalError::new(at, "Invalid reference", "not available here"))
    }

    fn root_value(&self, _root: &str) -> Option<Value> {
        None
    }
}

/// A scope over one module instance.
pub struct InstanceScope<'a> {
    pub exp: &'a Expansion<'a>,
    pub module: &'a ModuleInstance,
    pub data: &'a InstanceData,
    pub rep: &'a Repetition,
    /// Extra names (the variable under validation, a dynamic block's iterator).
    pub extra: &'a [(String, Value)],
}

fn name_at(ops: &[Decorated<TraversalOperator>], i: usize) -> Option<&str> {
    match ops.get(i).map(|op| op.value()) {
        Some(TraversalOperator::GetAttr(name)) => Some(name.as_str()),
        _ => None,
    }
}

impl InstanceScope<'_> {
    fn resource_value(&self, r: &Resource) -> Option<&Value> {
        self.data.resources.get(r)
    }

    fn module_value(&self, call: &str) -> Option<Value> {
        self.exp.module_call_value(self.module, call)
    }
}

impl Scope for InstanceScope<'_> {
    fn resolve(
        &self,
        root: &str,
        at: Option<Range<usize>>,
        ops: &[Decorated<TraversalOperator>],
    ) -> Result<(Cow<'_, Value>, usize), EvalError> {
        if let Some((_, v)) = self.extra.iter().find(|(n, _)| n == root) {
            return Ok((Cow::Borrowed(v), 0));
        }
        if let Some(detail) = super::subject::unavailable_root(root) {
            return Err(EvalError::new(at, "Invalid reference", detail));
        }
        let missing = |what: &str| {
            EvalError::new(
                at.clone(),
                "Invalid reference",
                format!("The {root:?} object cannot be accessed directly. Instead, access {what}."),
            )
        };
        match root {
            "var" => {
                let name = name_at(ops, 0).ok_or_else(|| missing("one of its attributes"))?;
                match self.data.vars.get(name) {
                    Some(v) => Ok((Cow::Borrowed(v), 1)),
                    None => Err(EvalError::new(
                        at,
                        "Reference to undeclared input variable",
                        format!(
                            "An input variable with the name {name:?} has not been declared. This variable can be declared with a variable {name:?} {{}} block."
                        ),
                    )),
                }
            }
            "local" => {
                let name = name_at(ops, 0).ok_or_else(|| missing("one of its attributes"))?;
                match self.data.locals.get(name) {
                    Some(v) => Ok((Cow::Borrowed(v), 1)),
                    None => Err(EvalError::new(
                        at,
                        "Reference to undeclared local value",
                        format!("A local value with the name {name:?} has not been declared."),
                    )),
                }
            }
            "each" => {
                let Some((key, value)) = &self.rep.each else {
                    return Err(EvalError::new(
                        at,
                        "Reference to \"each\" in context without for_each",
                        "The \"each\" object can be used only in \"module\" or \"resource\" blocks, and only when the \"for_each\" argument is set.",
                    ));
                };
                match name_at(ops, 0) {
                    Some("key") => Ok((Cow::Borrowed(key), 1)),
                    Some("value") => Ok((Cow::Borrowed(value), 1)),
                    _ => Err(EvalError::new(
                        at,
                        "Invalid reference",
                        "The \"each\" object has only the attributes \"key\" and \"value\".",
                    )),
                }
            }
            "count" => match (&self.rep.count, name_at(ops, 0)) {
                (Some(index), Some("index")) => Ok((Cow::Borrowed(index), 1)),
                (None, _) => Err(EvalError::new(
                    at,
                    "Reference to \"count\" in non-counted context",
                    "The \"count\" object can only be used in \"module\", \"resource\", and \"data\" blocks, and only when the \"count\" argument is set.",
                )),
                _ => Err(EvalError::new(
                    at,
                    "Invalid reference",
                    "The \"count\" object has only the attribute \"index\".",
                )),
            },
            "path" => {
                let dir = |p: &std::path::Path| Value::from(p.to_string_lossy().into_owned());
                match name_at(ops, 0) {
                    Some("module") => Ok((Cow::Owned(dir(&self.exp.module_dir(self.module))), 1)),
                    Some("root") => Ok((
                        Cow::Owned(dir(&self.exp.module_dir(&ModuleInstance::root()))),
                        1,
                    )),
                    Some("cwd") => Ok((
                        Cow::Owned(dir(&std::env::current_dir().unwrap_or_default())),
                        1,
                    )),
                    _ => Err(EvalError::new(
                        at,
                        "Invalid reference",
                        "The \"path\" object has only the attributes \"module\", \"root\" and \"cwd\".",
                    )),
                }
            }
            "fleet" => match name_at(ops, 0) {
                Some("workspace") => Ok((Cow::Owned(Value::from(self.exp.workspace.as_str())), 1)),
                _ => Err(EvalError::new(
                    at,
                    "Invalid reference",
                    "The \"fleet\" object has only the attribute \"workspace\".",
                )),
            },
            "module" => {
                let call = name_at(ops, 0).ok_or_else(|| missing("one of its attributes"))?;
                if let (Some(output), Some(child)) = (
                    name_at(ops, 1),
                    self.exp.config.modules.get(&self.module.path().child(call)),
                ) && !child.outputs.contains_key(output)
                {
                    return Err(EvalError::new(
                        at,
                        "Unsupported attribute",
                        format!(
                            "This object does not have an attribute named {output:?}: module {call:?} declares no output of that name."
                        ),
                    ));
                }
                match self.module_value(call) {
                    Some(v) => Ok((Cow::Owned(v), 1)),
                    None => Err(EvalError::new(
                        at,
                        "Reference to undeclared module",
                        format!("No module call named {call:?} is declared in this module."),
                    )),
                }
            }
            "data" => {
                let (Some(ty), Some(name)) = (name_at(ops, 0), name_at(ops, 1)) else {
                    return Err(missing("a data source by its type and name"));
                };
                match self.resource_value(&Resource::data(ty, name)) {
                    Some(v) => Ok((Cow::Borrowed(v), 2)),
                    None => Err(EvalError::new(
                        at,
                        "Reference to undeclared resource",
                        format!(
                            "A data resource {ty:?} {name:?} has not been declared in this module."
                        ),
                    )),
                }
            }
            ty => {
                let Some(name) = name_at(ops, 0) else {
                    return Err(EvalError::new(
                        at,
                        "Invalid reference",
                        "A reference to a resource type must be followed by at least one attribute access, specifying the resource name.",
                    ));
                };
                match self.resource_value(&Resource::managed(ty, name)) {
                    Some(v) => Ok((Cow::Borrowed(v), 1)),
                    None => Err(EvalError::new(
                        at,
                        "Reference to undeclared resource",
                        format!(
                            "A managed resource {ty:?} {name:?} has not been declared in this module."
                        ),
                    )),
                }
            }
        }
    }

    fn timestamp(&self) -> Option<String> {
        self.exp.applying.then(crate::lang::now_rfc3339)
    }

    fn root_value(&self, root: &str) -> Option<Value> {
        if let Some((_, v)) = self.extra.iter().find(|(n, _)| n == root) {
            return Some(v.clone());
        }
        match root {
            "var" => Some(Value::Object(self.data.vars.clone().into_iter().collect())),
            "local" => Some(Value::Object(
                self.data.locals.clone().into_iter().collect(),
            )),
            "each" => self
                .rep
                .each
                .as_ref()
                .map(|(k, v)| Value::object([("key", k.clone()), ("value", v.clone())])),
            "count" => self
                .rep
                .count
                .as_ref()
                .map(|i| Value::object([("index", i.clone())])),
            "path" => Some(Value::object([
                (
                    "module",
                    Value::from(
                        self.exp
                            .module_dir(self.module)
                            .to_string_lossy()
                            .into_owned(),
                    ),
                ),
                (
                    "root",
                    Value::from(
                        self.exp
                            .module_dir(&ModuleInstance::root())
                            .to_string_lossy()
                            .into_owned(),
                    ),
                ),
            ])),
            "module" => {
                let calls = self
                    .exp
                    .config
                    .modules
                    .get(&self.module.path())?
                    .module_calls
                    .keys();
                Some(Value::Object(
                    calls
                        .filter_map(|c| Some((c.clone(), self.module_value(c)?)))
                        .collect(),
                ))
            }
            "data" => {
                let mut by_type: std::collections::BTreeMap<
                    String,
                    std::collections::BTreeMap<String, Value>,
                > = Default::default();
                for (r, v) in &self.data.resources {
                    if r.mode == crate::addrs::ResourceMode::Data {
                        by_type
                            .entry(r.ty.clone())
                            .or_default()
                            .insert(r.name.clone(), v.clone());
                    }
                }
                Some(Value::Object(
                    by_type
                        .into_iter()
                        .map(|(t, m)| (t, Value::Object(m.into())))
                        .collect(),
                ))
            }
            ty => {
                let names: std::collections::BTreeMap<String, Value> = self
                    .data
                    .resources
                    .iter()
                    .filter(|(r, _)| r.mode == crate::addrs::ResourceMode::Managed && r.ty == ty)
                    .map(|(r, v)| (r.name.clone(), v.clone()))
                    .collect();
                (!names.is_empty()).then_some(Value::Object(names.into()))
            }
        }
    }
}
