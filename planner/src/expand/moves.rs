//! Checks of `moved` and `import` blocks: addresses that parse, moves between things of the
//! same kind and type, and import targets that the configuration declares.

use fleetform_sdk::{Diagnostic, Diagnostics};

use crate::addrs::parse::{abs_resource_instance_from_expr, module_instance_from_expr};
use crate::addrs::{AbsResourceInstance, ModuleInstance, ResourceMode};
use crate::config::{Config, Expr};

enum Target {
    Resource(AbsResourceInstance),
    Module(ModuleInstance),
}

fn target(config: &Config, expr: &Expr, diags: &mut Diagnostics) -> Option<Target> {
    let is_module = matches!(&expr.expr, hcl::edit::expr::Expression::Traversal(t)
        if matches!(&t.expr, hcl::edit::expr::Expression::Variable(v) if v.as_str() == "module"))
        && abs_resource_instance_from_expr(&expr.expr).is_err();
    let parsed = if is_module {
        module_instance_from_expr(&expr.expr).map(Target::Module)
    } else {
        abs_resource_instance_from_expr(&expr.expr).map(Target::Resource)
    };
    match parsed {
        Ok(t) => Some(t),
        Err(e) => {
            let loc = expr.loc();
            let span = e.span.unwrap_or(loc.span.clone());
            diags.push(
                Diagnostic::error("Invalid address", format!("{}.", capitalize(&e.message)))
                    .at(Some(config.sources.range_of(loc.file, span))),
            );
            None
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Reports malformed `moved` and `import` blocks.
pub fn check(config: &Config, diags: &mut Diagnostics) {
    for module in config.modules.values() {
        for moved in &module.moved {
            let (Some(from), Some(to)) = (
                target(config, &moved.from, diags),
                target(config, &moved.to, diags),
            ) else {
                continue;
            };
            let at = Some(config.range(&moved.to.loc()));
            match (from, to) {
                (Target::Resource(f), Target::Resource(t)) => {
                    if f.resource.resource.mode == ResourceMode::Data || t.resource.resource.mode == ResourceMode::Data {
                        diags.push(Diagnostic::error("Invalid \"moved\" address", "Data sources are read, not stored, so they cannot be moved: only managed resources and modules can.").at(at));
                    } else if f.resource.resource.ty != t.resource.resource.ty {
                        diags.push(Diagnostic::error("Resource type mismatch", format!("This statement declares a move from an object of type {:?} to an object of type {:?}. A resource can be moved only to another resource of the same type.", f.resource.resource.ty, t.resource.resource.ty)).at(at));
                    } else if f == t {
                        diags.push(Diagnostic::error("Redundant move statement", "This statement declares a move from an object to the same object; remove it.").at(at));
                    }
                }
                (Target::Module(f), Target::Module(t)) if f == t => {
                    diags.push(Diagnostic::error("Redundant move statement", "This statement declares a move from a module to the same module; remove it.").at(at));
                }
                (Target::Module(_), Target::Module(_)) => {}
                _ => diags.push(Diagnostic::error("Invalid \"moved\" addresses", "A move must be from a resource to a resource or from a module call to a module call.").at(at)),
            }
        }
        for import in &module.imports {
            let Some(target) = target(config, &import.to, diags) else {
                continue;
            };
            let at = Some(config.range(&import.to.loc()));
            let Target::Resource(addr) = target else {
                diags.push(Diagnostic::error("Invalid import address", "An import target is a resource instance, such as host.web or module.clinic[\"north\"].host.this[\"n1\"].").at(at));
                continue;
            };
            if addr.resource.resource.mode == ResourceMode::Data {
                diags.push(Diagnostic::error("Invalid import address", "Only managed resources can be imported; data sources are read at every plan.").at(at));
                continue;
            }
            let module = config.modules.get(&addr.module.path());
            let wanted = &addr.resource.resource;
            if !module.is_some_and(|m| m.resources.contains_key(wanted)) {
                let mut detail = format!(
                    "The configuration for the given import target {addr} does not exist. All target instances must have an associated configuration to be imported."
                );
                let names = module
                    .into_iter()
                    .flat_map(|m| m.resources.keys())
                    .filter(|r| r.ty == wanted.ty && r.mode == wanted.mode)
                    .map(|r| r.name.as_str());
                if let Some(s) = fleetform_sdk::schema::did_you_mean(&wanted.name, names) {
                    detail.push_str(&format!(" Did you mean {}.{s}?", wanted.ty));
                }
                diags.push(
                    Diagnostic::error("Configuration for import target does not exist", detail)
                        .at(at),
                );
            }
        }
    }
}
