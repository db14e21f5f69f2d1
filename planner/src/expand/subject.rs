//! What a reference names: `var.x` is an input variable, `host.web` a resource,
//! `module.clinic` a module call. Malformed references get Terraform's messages.

use crate::addrs::{InstanceKey, Resource};
use crate::lang::refs::Step;
use crate::lang::{EvalError, Reference};

/// The object a reference names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// `var.NAME`
    Var(String),
    /// `local.NAME`
    Local(String),
    /// `TYPE.NAME` or `data.TYPE.NAME`, with the instance key when written literally.
    Resource(Resource, Option<InstanceKey>),
    /// `module.NAME`, with the instance key and output name when written literally.
    Module(String, Option<InstanceKey>, Option<String>),
    /// `each.key` / `each.value`
    Each,
    /// `count.index`
    Count,
    /// `path.module`, `path.root`, `path.cwd`
    Path,
    /// `fleet.workspace`
    Fleet,
}

fn invalid(r: &Reference, detail: impl Into<String>) -> EvalError {
    EvalError::new(Some(r.span.clone()), "Invalid reference", detail)
}

fn attr_at(r: &Reference, i: usize) -> Option<&str> {
    match r.steps.get(i) {
        Some(Step::Attr(a)) => Some(a),
        _ => None,
    }
}

/// Why a root name that Terraform users may reach for does not exist here.
pub fn unavailable_root(root: &str) -> Option<&'static str> {
    match root {
        "self" => {
            Some("The \"self\" object is not available here: refer to the resource by its address.")
        }
        "terraform" => Some("The \"terraform\" object is called \"fleet\" here: fleet.workspace."),
        _ => None,
    }
}

/// Classifies a reference.
pub fn subject(r: &Reference) -> Result<Subject, EvalError> {
    match r.root.as_str() {
        "var" => attr_at(r, 0)
            .map(|n| Subject::Var(n.to_owned()))
            .ok_or_else(|| invalid(r, "The \"var\" object cannot be accessed directly. Instead, access one of its attributes.")),
        "local" => attr_at(r, 0)
            .map(|n| Subject::Local(n.to_owned()))
            .ok_or_else(|| invalid(r, "The \"local\" object cannot be accessed directly. Instead, access one of its attributes.")),
        "each" => match attr_at(r, 0) {
            Some("key" | "value") => Ok(Subject::Each),
            _ => Err(invalid(r, "The \"each\" object has only the attributes \"key\" and \"value\".")),
        },
        "count" => match attr_at(r, 0) {
            Some("index") => Ok(Subject::Count),
            _ => Err(invalid(r, "The \"count\" object has only the attribute \"index\".")),
        },
        "path" => match attr_at(r, 0) {
            Some("module" | "root" | "cwd") => Ok(Subject::Path),
            _ => Err(invalid(r, "The \"path\" object has only the attributes \"module\", \"root\" and \"cwd\".")),
        },
        "fleet" => match attr_at(r, 0) {
            Some("workspace") => Ok(Subject::Fleet),
            _ => Err(invalid(r, "The \"fleet\" object has only the attribute \"workspace\".")),
        },
        root @ ("self" | "terraform") => Err(invalid(r, unavailable_root(root).unwrap_or_default())),
        "module" => {
            let Some(name) = attr_at(r, 0) else {
                return Err(invalid(r, "The \"module\" object cannot be accessed directly. Instead, access one of its attributes."));
            };
            let (key, out_at) = match r.steps.get(1) {
                Some(Step::Key(k)) => (Some(k.clone()), 2),
                _ => (None, 1),
            };
            Ok(Subject::Module(name.to_owned(), key, attr_at(r, out_at).map(str::to_owned)))
        }
        "data" => {
            let (Some(ty), Some(name)) = (attr_at(r, 0), attr_at(r, 1)) else {
                return Err(invalid(r, "A reference to a data source must be followed by at least one attribute access, specifying the resource type and name."));
            };
            let key = match r.steps.get(2) {
                Some(Step::Key(k)) => Some(k.clone()),
                _ => None,
            };
            Ok(Subject::Resource(Resource::data(ty, name), key))
        }
        ty => {
            let Some(name) = attr_at(r, 0) else {
                return Err(invalid(r, "A reference to a resource type must be followed by at least one attribute access, specifying the resource name."));
            };
            let key = match r.steps.get(1) {
                Some(Step::Key(k)) => Some(k.clone()),
                _ => None,
            };
            Ok(Subject::Resource(Resource::managed(ty, name), key))
        }
    }
}
