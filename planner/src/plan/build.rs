//! Making a plan: apply `moved` blocks to the prior state, import what `import` blocks
//! name, expand the configuration with the plan hook, then plan deletes for what the
//! configuration no longer has, output changes, and each change's dependencies.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use fleetform_sdk::{CancellationToken, Diagnostic, Diagnostics, ImportRequest, ReadRequest};
use indexmap::IndexMap;

use super::configure::{ProviderSetup, observe_state};
use super::hook::{Found, PlanHook, Settings, bounded};
use super::{Action, Mode, OutputChange, Plan, Reason, ResourceChange};
use crate::addrs::parse::{abs_resource_instance_from_expr, module_instance_from_expr};
use crate::addrs::{AbsResourceInstance, ModuleInstance, ResourceMode};
use crate::config::Config;
use crate::expand::{self, Options, WalkOptions};
use crate::inputs::InputValue;
use crate::lang::eval_const;
use crate::providers::Providers;
use crate::state::{InstanceState, InstanceStatus, PendingAction, State};

/// Everything a plan is made from.
pub struct Inputs<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The providers.
    pub providers: &'a Providers,
    /// Root variable values.
    pub variables: &'a IndexMap<String, InputValue>,
    /// The workspace name.
    pub workspace: &'a str,
    /// The state the plan starts from.
    pub prior: &'a State,
    /// What to plan.
    pub settings: &'a Settings,
    /// Where provider operations run.
    pub runtime: &'a tokio::runtime::Handle,
    /// Cancelled on interruption.
    pub cancel: CancellationToken,
    /// Receives refresh events.
    pub progress: &'a dyn crate::apply::progress::Progress,
}

/// Makes a plan. Returns `None` when the configuration cannot be evaluated at all.
pub fn plan(inputs: &Inputs<'_>, diags: &mut Diagnostics) -> Option<Plan> {
    let (mut state, moved_from) = apply_moves(inputs.config, inputs.prior, diags);
    let importing = import(inputs, &mut state, diags);
    let settings = inputs.settings;
    let hook = PlanHook {
        config: inputs.config,
        providers: inputs.providers,
        prior: &state,
        settings,
        cancel: inputs.cancel.clone(),
        progress: inputs.progress,
        setup: ProviderSetup::new(
            inputs.providers,
            observe_state(inputs.providers, &state),
            settings.timeout,
            inputs.cancel.clone(),
        ),
        // Every instance the state holds is planned, most often as a no-op.
        found: Mutex::new(Found {
            changes: Vec::with_capacity(state.resources.len()),
            ..Found::default()
        }),
    };
    let options = Options {
        workspace: inputs.workspace.to_owned(),
        inputs_complete: true,
    };
    let leaves_out = |m: &ModuleInstance| {
        settings
            .partitions
            .as_ref()
            .is_some_and(|c| c.leaves_out(m))
    };
    let walk = WalkOptions {
        parallelism: settings.parallelism,
        runtime: Some(inputs.runtime),
        frozen: settings
            .partitions
            .is_some()
            .then_some(&leaves_out as &dyn Fn(&ModuleInstance) -> bool),
        omit_unread: true,
    };
    let exp = expand::expand(
        inputs.config,
        inputs.providers,
        inputs.variables,
        options,
        &hook,
        walk,
        diags,
    )?;
    let Found {
        mut changes,
        mut drift,
        refreshed,
        mut interrupted,
        problems,
        mut unreachable,
    } = hook.found.into_inner().unwrap_or_else(|p| p.into_inner());
    diags.extend(problems);
    // Only a plan of the whole configuration has seen everything such warnings weigh.
    if settings.mode == Mode::Normal && settings.only.is_none() {
        diags.extend(inputs.providers.plan_diagnostics().into_vec());
    }

    // What the state has and the configuration does not: planned for deletion.
    let in_config: HashSet<&AbsResourceInstance> = exp.resources.iter().map(|r| &r.addr).collect();
    let live_modules: HashSet<&ModuleInstance> = exp.data.keys().collect();
    let orphan_reason = |addr: &AbsResourceInstance| {
        if settings.mode == Mode::Destroy {
            Reason::DeleteBecauseDestroyMode
        } else if !live_modules.contains(&addr.module) {
            Reason::DeleteBecauseNoModule
        } else if exp
            .config
            .modules
            .get(&addr.module.path())
            .is_some_and(|m| m.resources.contains_key(&addr.resource.resource))
        {
            Reason::DeleteBecauseNoInstance
        } else {
            Reason::DeleteBecauseNoResourceConfig
        }
    };
    for (addr, instance) in &state.resources {
        if addr.resource.resource.mode != ResourceMode::Managed {
            continue;
        }
        let orphan = !in_config.contains(addr);
        if settings.mode == Mode::RefreshOnly || !(orphan || settings.mode == Mode::Destroy) {
            continue;
        }
        if settings
            .only
            .as_ref()
            .is_some_and(|only| !only.contains(addr))
        {
            continue;
        }
        let ty = &addr.resource.resource.ty;
        if inputs
            .providers
            .resource_type(ResourceMode::Managed, ty)
            .is_none()
        {
            diags.push(unsupported_type_in_state(addr));
            continue;
        }
        let mut current = refreshed
            .get(addr)
            .cloned()
            .unwrap_or_else(|| Some(instance.value.clone()));
        if orphan && settings.refresh {
            current = refresh_orphan(inputs, addr, instance, &mut drift, &mut unreachable, diags);
        }
        let Some(before) = current else { continue };
        let reason = orphan_reason(addr);
        let prevent = instance.prevent_destroy
            || exp
                .config
                .modules
                .get(&addr.module.path())
                .and_then(|m| m.resources.get(&addr.resource.resource))
                .is_some_and(|b| b.lifecycle.prevent_destroy);
        if prevent {
            diags.push(
                Diagnostic::error(
                    "Instance cannot be destroyed",
                    format!("Resource {addr} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. The protection is recorded in state, so it holds even after its block was removed from the configuration. To destroy it, first apply with prevent_destroy = false, or remove it from state with `fleetform state rm`."),
                )
                .address(addr.to_string()),
            );
        }
        changes.push(ResourceChange {
            reason: Some(reason),
            before: Some(before),
            dependencies: instance.dependencies.clone(),
            create_before_destroy: instance.create_before_destroy,
            prevent_destroy: prevent,
            // A delete a killed run started is simply made again.
            resume: state.pending.get(addr).and_then(|op| op.checkpoint.clone()),
            ..ResourceChange::new(addr.clone(), instance.provider.clone(), Action::Delete)
        });
    }
    // Interrupted changes of instances the walk did not plan: deletes of objects the
    // configuration no longer has are made again (above), and so are deposed objects'.
    let settled: HashSet<AbsResourceInstance> =
        interrupted.iter().map(|i| i.addr.clone()).collect();
    let mut deposed = Vec::new();
    for (addr, op) in &state.pending {
        let excluded = settings
            .only
            .as_ref()
            .is_some_and(|only| !only.contains(addr));
        if settled.contains(addr) || excluded || settings.mode == Mode::RefreshOnly {
            continue;
        }
        if op.deposed
            && let Some(before) = &op.prior
        {
            deposed.push(ResourceChange {
                reason: Some(Reason::DeleteBecauseDeposed),
                before: Some(before.clone()),
                create_before_destroy: op.create_before_destroy,
                resume: op.checkpoint.clone(),
                deposed: true,
                ..ResourceChange::new(addr.clone(), op.provider.clone(), Action::Delete)
            });
        }
        // A create a killed run started for an instance the configuration no longer has
        // may have made its object: found, it is deleted like any orphan, so that nothing
        // created is forgotten; not found, there is nothing to do.
        if !op.deposed
            && op.action == PendingAction::Create
            && !in_config.contains(addr)
            && !state.resources.contains_key(addr)
            && let Some(planned) = &op.planned
            && let Some(found) =
                find_interrupted_create(inputs, addr, planned, &mut unreachable, diags)
        {
            // Not planned yet: the walk plans what the configuration has, the loop
            // above what the state has, and this object is in neither.
            changes.push(ResourceChange {
                reason: Some(orphan_reason(addr)),
                before: Some(found),
                dependencies: op.dependencies.clone(),
                create_before_destroy: op.create_before_destroy,
                ..ResourceChange::new(addr.clone(), op.provider.clone(), Action::Delete)
            });
        }
        interrupted.push(super::Interrupted {
            addr: addr.clone(),
            op: op.clone(),
            resolution: super::Resolution::Continue,
        });
    }
    interrupted.sort_by(|a, b| a.addr.cmp(&b.addr));
    if settings.mode == Mode::Destroy {
        changes.retain(|c| c.action == Action::Delete);
    }
    for change in &mut changes {
        change.previous_addr = moved_from.get(&change.addr).cloned();
        change.importing = importing.get(&change.addr).cloned();
    }
    let changes = sorted_by_address(changes);
    let drift = sorted_by_address(drift);

    let mut outputs = BTreeMap::new();
    let declared = exp.config.root().map(|r| &r.outputs);
    if settings.mode != Mode::RefreshOnly {
        for (name, value) in &exp.outputs {
            let sensitive = declared
                .and_then(|o| o.get(name))
                .is_some_and(|o| o.sensitive);
            let after = if settings.mode == Mode::Destroy {
                None
            } else {
                Some(value.clone())
            };
            let before = inputs.prior.outputs.get(name).map(|o| o.value.clone());
            outputs.insert(
                name.clone(),
                OutputChange {
                    before,
                    after,
                    sensitive,
                },
            );
        }
        for (name, old) in &inputs.prior.outputs {
            outputs.entry(name.clone()).or_insert(OutputChange {
                before: Some(old.value.clone()),
                after: None,
                sensitive: old.sensitive,
            });
        }
    }
    let variables = exp
        .data
        .get(&ModuleInstance::root())
        .map(|d| d.vars.clone().into_iter().collect())
        .unwrap_or_default();
    diags.extend(super::sites::unreachable(
        inputs.config,
        &unreachable,
        &changes,
    ));
    let checks = exp.take_checks();
    let rollouts = if settings.mode == Mode::Normal {
        super::rollout::plan_rollouts(
            inputs.config,
            inputs.providers,
            &live_modules,
            &changes,
            &inputs.prior.rollouts,
            diags,
        )
    } else {
        Vec::new()
    };
    exp.discard();
    Some(Plan {
        mode: settings.mode,
        changes,
        drift,
        outputs,
        lineage: inputs.prior.lineage.clone(),
        serial: inputs.prior.serial,
        variables,
        interrupted,
        deposed,
        timestamp: std::time::SystemTime::now(),
        complete: settings.only.is_none(),
        checks,
        partitions: BTreeMap::new(),
        rollouts,
        deferred: super::sites::by_site(inputs.config, &inputs.prior.deferred),
    })
}

/// An object of a type no provider declares (a newer fleetform recorded it, or the state
/// was edited): it can be neither read nor destroyed, so it stays in state, and each plan
/// says so rather than passing over it.
fn unsupported_type_in_state(addr: &AbsResourceInstance) -> Diagnostic {
    let ty = &addr.resource.resource.ty;
    Diagnostic::warning(
        "Resource type not supported",
        format!("{addr} is recorded in state as a {ty:?}, a resource type no provider of this fleetform declares, so it can be neither refreshed nor destroyed and stays in state as it is. If a newer fleetform recorded it, plan with that version; if it is not needed, remove it from state with `fleetform state rm '{addr}'`."),
    )
    .address(addr.to_string())
}

/// Asks the provider of `addr`'s type to read the object `current` describes; `None` when
/// no registered provider supplies the type.
fn read_object(
    inputs: &Inputs<'_>,
    addr: &AbsResourceInstance,
    current: &fleetform_sdk::Value,
) -> Option<Result<Option<fleetform_sdk::Value>, fleetform_sdk::ProviderError>> {
    let provider_name = inputs
        .providers
        .resource_type(ResourceMode::Managed, &addr.resource.resource.ty)
        .map(|(p, _)| p.to_owned())?;
    let provider = inputs.providers.get(&provider_name)?;
    let read = provider.read(ReadRequest {
        type_name: addr.resource.resource.ty.clone(),
        current: current.clone(),
        cancel: inputs.cancel.clone(),
    });
    Some(
        inputs
            .runtime
            .block_on(bounded(inputs.settings.timeout, &inputs.cancel, read)),
    )
}

/// Reads the object an interrupted create of `addr` may have made, from what it was
/// creating (`planned`); `None` when it does not exist or cannot be asked (an unreachable
/// site is reported, an error is a diagnostic).
fn find_interrupted_create(
    inputs: &Inputs<'_>,
    addr: &AbsResourceInstance,
    planned: &fleetform_sdk::Value,
    unreachable: &mut Vec<(AbsResourceInstance, String)>,
    diags: &mut Diagnostics,
) -> Option<fleetform_sdk::Value> {
    match read_object(inputs, addr, planned)? {
        Ok(found) => found,
        Err(e) if e.kind == fleetform_sdk::ErrorKind::Unreachable => {
            unreachable.push((addr.clone(), e.to_string()));
            None
        }
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    "Error reading an interrupted create",
                    format!("{addr}: {e}."),
                )
                .address(addr.to_string()),
            );
            None
        }
    }
}

fn refresh_orphan(
    inputs: &Inputs<'_>,
    addr: &AbsResourceInstance,
    instance: &InstanceState,
    drift: &mut Vec<ResourceChange>,
    unreachable: &mut Vec<(AbsResourceInstance, String)>,
    diags: &mut Diagnostics,
) -> Option<fleetform_sdk::Value> {
    match read_object(inputs, addr, &instance.value)? {
        Ok(Some(v)) => Some(v),
        Ok(None) => {
            drift.push(ResourceChange {
                before: Some(instance.value.clone()),
                ..ResourceChange::new(addr.clone(), instance.provider.clone(), Action::Delete)
            });
            None
        }
        Err(e) if e.kind == fleetform_sdk::ErrorKind::Unreachable => {
            unreachable.push((addr.clone(), e.to_string()));
            Some(instance.value.clone())
        }
        Err(e) => {
            diags.push(
                Diagnostic::error("Error refreshing state", format!("{addr}: {e}."))
                    .address(addr.to_string()),
            );
            Some(instance.value.clone())
        }
    }
}

/// Renames state entries as the root module's `moved` blocks say. Returns the renamed state
/// and, for each new address, the old one.
/// `changes` in address order. A change is large, so the addresses are sorted and each
/// change then moved into place once (along the permutation's cycles), rather than the
/// changes moved at every step of a sort or copied into a second list.
fn sorted_by_address(mut changes: Vec<ResourceChange>) -> Vec<ResourceChange> {
    // Position `k` receives the change now at `order[k]`.
    let mut order: Vec<usize> = (0..changes.len()).collect();
    order.sort_unstable_by(|&a, &b| changes[a].addr.cmp(&changes[b].addr));
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != at {
            let from = std::mem::replace(&mut order[at], at);
            if from == start {
                break;
            }
            changes.swap(at, from);
            at = from;
        }
    }
    changes
}

fn apply_moves<'s>(
    config: &Config,
    prior: &'s State,
    diags: &mut Diagnostics,
) -> (
    Cow<'s, State>,
    HashMap<AbsResourceInstance, AbsResourceInstance>,
) {
    let mut moved = HashMap::new();
    let Some(root) = config.root().filter(|r| !r.moved.is_empty()) else {
        return (Cow::Borrowed(prior), moved);
    };
    let mut state = prior.clone();
    for block in &root.moved {
        let renames: Vec<(AbsResourceInstance, AbsResourceInstance)> = match (
            abs_resource_instance_from_expr(&block.from.expr),
            abs_resource_instance_from_expr(&block.to.expr),
        ) {
            (Ok(from), Ok(to)) => {
                let whole = from.resource.key == crate::addrs::InstanceKey::None
                    && to.resource.key == crate::addrs::InstanceKey::None;
                state
                    .resources
                    .keys()
                    .filter(|a| {
                        if whole {
                            a.abs_resource() == from.abs_resource()
                        } else {
                            **a == from
                        }
                    })
                    .map(|a| {
                        let mut new = to.clone();
                        if whole {
                            new.resource.key = a.resource.key.clone();
                        }
                        (a.clone(), new)
                    })
                    .collect()
            }
            _ => match (
                module_instance_from_expr(&block.from.expr),
                module_instance_from_expr(&block.to.expr),
            ) {
                (Ok(from), Ok(to)) => state
                    .resources
                    .keys()
                    .filter(|a| a.module.0.starts_with(&from.0))
                    .map(|a| {
                        let mut steps = to.0.clone();
                        steps.extend(a.module.0[from.0.len()..].iter().cloned());
                        (
                            a.clone(),
                            AbsResourceInstance {
                                module: ModuleInstance(steps),
                                resource: a.resource.clone(),
                            },
                        )
                    })
                    .collect(),
                // Malformed blocks were reported by validation.
                _ => Vec::new(),
            },
        };
        for (from, to) in renames {
            if state.resources.contains_key(&to) {
                diags.push(
                    Diagnostic::warning("Moved object still exists", format!("{to} already exists in state, so {from} was not moved onto it. Remove the moved block or the duplicate object."))
                        .at(Some(config.range(&block.loc))),
                );
                continue;
            }
            if let Some(instance) = state.resources.remove(&from) {
                state.resources.insert(to.clone(), instance);
                let original = moved.remove(&from).unwrap_or(from);
                moved.insert(to, original);
            }
        }
    }
    (Cow::Owned(state), moved)
}

/// Imports the objects `import` blocks name and that state does not have yet.
fn import(
    inputs: &Inputs<'_>,
    state: &mut Cow<'_, State>,
    diags: &mut Diagnostics,
) -> HashMap<AbsResourceInstance, String> {
    let mut importing = HashMap::new();
    let Some(root) = inputs.config.root() else {
        return importing;
    };
    for block in &root.imports {
        let Ok(to) = abs_resource_instance_from_expr(&block.to.expr) else {
            continue;
        };
        if state.resources.contains_key(&to) {
            continue;
        }
        let id = match eval_const(&block.id.expr)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            Some(id) => id,
            None => {
                diags.push(
                    Diagnostic::error(
                        "Invalid import id",
                        "The import id must be a string known before planning, such as a literal.",
                    )
                    .at(Some(inputs.config.range(&block.id.loc()))),
                );
                continue;
            }
        };
        let Some((provider_name, _)) = inputs
            .providers
            .resource_type(ResourceMode::Managed, &to.resource.resource.ty)
        else {
            continue;
        };
        let Some(provider) = inputs.providers.get(provider_name) else {
            continue;
        };
        let request = ImportRequest {
            type_name: to.resource.resource.ty.clone(),
            id: id.clone(),
            cancel: inputs.cancel.clone(),
        };
        match inputs.runtime.block_on(bounded(
            inputs.settings.timeout,
            &inputs.cancel,
            provider.import(request),
        )) {
            Ok(value) => {
                state.to_mut().resources.insert(
                    to.clone(),
                    InstanceState {
                        provider: format!("provider.{provider_name}"),
                        schema_version: 0,
                        value,
                        dependencies: Vec::new(),
                        status: InstanceStatus::Ready,
                        create_before_destroy: false,
                        prevent_destroy: false,
                    },
                );
                importing.insert(to, id);
            }
            Err(e) => diags.push(
                Diagnostic::error(
                    "Import failed",
                    format!("Importing {to} with id {id:?} failed: {e}."),
                )
                .at(Some(inputs.config.range(&block.loc)))
                .address(to.to_string()),
            ),
        }
    }
    importing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addrs::parse_abs_resource_instance;

    fn change(addr: &str) -> ResourceChange {
        let addr = parse_abs_resource_instance(addr).unwrap();
        ResourceChange::new(addr, String::new(), Action::NoOp)
    }

    #[test]
    fn changes_come_out_in_address_order_whatever_order_they_were_planned_in() {
        let sorted = [
            "a.w",
            "a.x",
            "b.x[1]",
            "b.x[2]",
            "b.x[10]",
            "c.y[\"east\"]",
            "c.y[\"west\"]",
            "data.d.x",
            "module.m.a.x",
        ];
        let addrs = |changes: &[ResourceChange]| -> Vec<String> {
            changes.iter().map(|c| c.addr.to_string()).collect()
        };
        let want = addrs(&sorted.map(change));
        let mut want_sorted = want.clone();
        want_sorted.sort_by_key(|a| parse_abs_resource_instance(a).unwrap());
        assert_eq!(
            want, want_sorted,
            "the expected order is the addresses' order"
        );
        // Every rotation and its reverse: cycles of every length, fixed points, swaps.
        for shift in 0..sorted.len() {
            let mut planned: Vec<ResourceChange> = sorted.map(change).to_vec();
            planned.rotate_left(shift);
            assert_eq!(addrs(&sorted_by_address(planned.clone())), want);
            planned.reverse();
            assert_eq!(addrs(&sorted_by_address(planned)), want);
        }
        assert!(sorted_by_address(Vec::new()).is_empty());
    }
}
