//! The state for people (`show`, `state show`): each object as an HCL block, sensitive
//! values redacted.

use std::fmt::Write;

use fleetform_planner::addrs::{AbsResourceInstance, ResourceMode};
use fleetform_planner::state::{InstanceState, State};
use fleetform_sdk::Value;

use super::Color;

/// Every object and output of the state.
pub fn human(state: &State, color: Color) -> String {
    if state.resources.is_empty() && state.outputs.is_empty() {
        return "The state file is empty. No resources are represented.\n".into();
    }
    let mut out = String::new();
    for (addr, instance) in &state.resources {
        out.push_str(&instance_block(addr, instance));
        out.push('\n');
    }
    out.push_str(&super::outputs::human(state, color));
    out
}

/// One object: `# ADDR:` and its attributes as a `resource` block.
pub fn instance_block(addr: &AbsResourceInstance, instance: &InstanceState) -> String {
    let r = &addr.resource.resource;
    let kind = if r.mode == ResourceMode::Data {
        "data"
    } else {
        "resource"
    };
    let mut out = format!("# {addr}:");
    if instance.status.is_tainted() {
        out.push_str(" (tainted)");
    }
    let _ = write!(out, "\n{kind} {:?} {:?} ", r.ty, r.name);
    out.push_str(&hcl(&instance.value, 0));
    out.push('\n');
    out
}

/// A value in multi-line HCL, as Terraform shows state: attributes aligned, nulls left out.
pub fn hcl(value: &Value, indent: usize) -> String {
    let pad = "    ".repeat(indent + 1);
    let close = "    ".repeat(indent);
    match value {
        Value::Sensitive(_) => "(sensitive value)".into(),
        Value::Object(map) => {
            let entries: Vec<(&String, &Value)> =
                map.iter().filter(|(_, v)| !v.is_null()).collect();
            if entries.is_empty() {
                return "{}".into();
            }
            let width = entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            let mut out = String::from("{\n");
            for (k, v) in entries {
                let _ = writeln!(out, "{pad}{k:<width$} = {}", hcl(v, indent + 1));
            }
            out.push_str(&close);
            out.push('}');
            out
        }
        Value::List(items)
            if !items.is_empty()
                && items
                    .iter()
                    .any(|i| matches!(i, Value::Object(_) | Value::List(_))) =>
        {
            let mut out = String::from("[\n");
            for item in items {
                let _ = writeln!(out, "{pad}{},", hcl(item, indent + 1));
            }
            out.push_str(&close);
            out.push(']');
            out
        }
        other => other.to_string(),
    }
}
