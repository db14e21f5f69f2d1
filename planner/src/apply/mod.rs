//! Applying a plan: record its moves and imports, walk the configuration again with the
//! apply hook (so every change sees the real values of what it depends on), then destroy
//! what the plan deletes, in reverse dependency order, and record the outputs.
//!
//! Every completed change is written to the state journal as it completes; the caller
//! compacts the journal into the state file when the run ends. A failure keeps everything
//! that succeeded; dependents of a failed change are skipped; independent ones go on.

pub mod hook;
pub mod progress;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use fleetform_sdk::{ApplyRequest, CancellationToken, Diagnostic, Diagnostics, Value};
use futures::StreamExt;
use indexmap::IndexMap;

use self::hook::ApplyHook;
use self::progress::Progress;
use crate::addrs::{AbsResourceInstance, ResourceMode};
use crate::config::Config;
use crate::expand::{self, Options};
use crate::inputs::{InputSource, InputValue};
use crate::plan::hook::{Settings, bounded};
use crate::plan::{Action, Mode, Plan, ResourceChange};
use crate::providers::Providers;
use crate::state::{InstanceState, InstanceStatus, Journal, JournalEntry, OutputState, State};

/// Everything an apply needs.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub providers: &'a Providers,
    pub plan: &'a Plan,
    pub workspace: &'a str,
    pub settings: &'a Settings,
    pub runtime: &'a tokio::runtime::Handle,
    pub progress: &'a dyn Progress,
    /// Set on the first interrupt: start nothing new.
    pub stopping: &'a AtomicBool,
    /// Cancelled on the second interrupt.
    pub cancel: CancellationToken,
}

/// Applies `plan` to `state`, recording every change in `journal` as it completes.
/// Returns the new state; failures are diagnostics.
pub fn apply(
    inputs: &Inputs<'_>,
    state: State,
    journal: Box<dyn Journal>,
    diags: &mut Diagnostics,
) -> State {
    let state = Mutex::new(state);
    let journal = Mutex::new(journal);
    let changes: HashMap<AbsResourceInstance, ResourceChange> = inputs
        .plan
        .changes
        .iter()
        .map(|c| (c.addr.clone(), c.clone()))
        .collect();
    record_moves_and_imports(inputs.plan, &state, &journal, diags);
    let mut hook = ApplyHook {
        config: inputs.config,
        providers: inputs.providers,
        runtime: inputs.runtime,
        settings: inputs.settings,
        changes: &changes,
        state: &state,
        journal: &journal,
        progress: inputs.progress,
        stopping: inputs.stopping,
        cancel: inputs.cancel.clone(),
        failed: Mutex::new(HashSet::new()),
        configured: HashSet::new(),
    };
    let mut outputs = None;
    if inputs.plan.mode == Mode::Normal {
        let variables: IndexMap<String, InputValue> = inputs
            .plan
            .variables
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    InputValue {
                        value: v.clone(),
                        source: InputSource::SavedPlan,
                    },
                )
            })
            .collect();
        let options = Options {
            workspace: inputs.workspace.to_owned(),
            inputs_complete: true,
        };
        if let Some(exp) = expand::expand(
            inputs.config,
            inputs.providers,
            &variables,
            options,
            &mut hook,
            diags,
        ) {
            outputs = Some(exp.outputs.clone());
        }
    }
    let failed = hook.failed.into_inner().unwrap_or_default();
    if inputs.stopping.load(Ordering::SeqCst) {
        diags.push(Diagnostic::error(
            "Apply interrupted",
            "The run was interrupted: changes in progress were finished and recorded, and the rest were not started. Run apply again to finish.",
        ));
    }
    destroy(inputs, &changes, &state, &journal, failed, diags);
    let mut state = state.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut journal = journal.into_inner().unwrap_or_else(|p| p.into_inner());
    record_outputs(inputs, outputs, &mut state, journal.as_mut(), diags);
    if let Err(e) = journal.sync() {
        diags.push(Diagnostic::error(
            "Failed to persist state",
            format!("The state journal could not be synced to disk: {e}."),
        ));
    }
    state
}

fn record(
    state: &Mutex<State>,
    journal: &Mutex<Box<dyn Journal>>,
    addr: &AbsResourceInstance,
    instance: Option<InstanceState>,
    diags: &mut Diagnostics,
) {
    let entry = JournalEntry::Instance {
        addr: addr.clone(),
        state: instance.clone(),
    };
    if let Ok(mut j) = journal.lock()
        && let Err(e) = j.record(&entry)
    {
        diags.push(
            Diagnostic::error("Failed to persist state", format!("{addr}: {e}."))
                .address(addr.to_string()),
        );
    }
    if let Ok(mut s) = state.lock() {
        match instance {
            Some(i) => s.resources.insert(addr.clone(), i),
            None => s.resources.remove(addr),
        };
    }
}

fn record_moves_and_imports(
    plan: &Plan,
    state: &Mutex<State>,
    journal: &Mutex<Box<dyn Journal>>,
    diags: &mut Diagnostics,
) {
    // What refresh found becomes the recorded state, as in Terraform: the plan was made
    // from it, and a refresh-only plan consists of nothing else.
    for drifted in &plan.drift {
        let current = state
            .lock()
            .ok()
            .and_then(|s| s.resources.get(&drifted.addr).cloned());
        let Some(mut instance) = current else {
            continue;
        };
        match &drifted.after {
            Some(now) => {
                instance.value = now.clone();
                record(state, journal, &drifted.addr, Some(instance), diags);
            }
            None => record(state, journal, &drifted.addr, None, diags),
        }
    }
    for change in &plan.changes {
        if let Some(previous) = &change.previous_addr {
            let moved = state
                .lock()
                .ok()
                .and_then(|mut s| s.resources.remove(previous));
            if let Some(instance) = moved {
                record(state, journal, previous, None, diags);
                record(state, journal, &change.addr, Some(instance), diags);
            }
        }
        if change.importing.is_some()
            && let Some(before) = &change.before
        {
            let instance = InstanceState {
                provider: change.provider.clone(),
                schema_version: 0,
                value: before.clone(),
                dependencies: change.dependencies.clone(),
                status: InstanceStatus::Ready,
                create_before_destroy: change.create_before_destroy,
                prevent_destroy: change.prevent_destroy,
            };
            record(state, journal, &change.addr, Some(instance), diags);
        }
    }
}

/// Destroys what the plan deletes: an object only once everything that depends on it is
/// gone, so the deletes run in waves, each wave concurrently.
fn destroy(
    inputs: &Inputs<'_>,
    changes: &HashMap<AbsResourceInstance, ResourceChange>,
    state: &Mutex<State>,
    journal: &Mutex<Box<dyn Journal>>,
    mut failed: HashSet<AbsResourceInstance>,
    diags: &mut Diagnostics,
) {
    let mut pending: Vec<&ResourceChange> = changes
        .values()
        .filter(|c| c.action == Action::Delete)
        .collect();
    pending.sort_by(|a, b| a.addr.cmp(&b.addr));
    while !pending.is_empty() {
        let keep = kept_for(changes, &failed);
        let waiting: HashSet<&AbsResourceInstance> =
            pending.iter().flat_map(|c| c.dependencies.iter()).collect();
        let (wave, rest): (Vec<&ResourceChange>, Vec<&ResourceChange>) = pending
            .into_iter()
            .partition(|c| !waiting.contains(&c.addr));
        if wave.is_empty() {
            // Only a dependency cycle in recorded state can get here: delete the rest anyway.
            run_wave(inputs, rest, &keep, state, journal, &mut failed, diags);
            break;
        }
        run_wave(inputs, wave, &keep, state, journal, &mut failed, diags);
        pending = rest;
    }
}

fn run_wave(
    inputs: &Inputs<'_>,
    wave: Vec<&ResourceChange>,
    keep: &HashSet<AbsResourceInstance>,
    state: &Mutex<State>,
    journal: &Mutex<Box<dyn Journal>>,
    failed: &mut HashSet<AbsResourceInstance>,
    diags: &mut Diagnostics,
) {
    let stopping = inputs.stopping.load(Ordering::SeqCst);
    // Each delete is recorded the moment it completes, so a crash forgets at most the
    // ones in flight.
    let outcomes: Vec<(AbsResourceInstance, Result<Diagnostics, String>)> =
        inputs.runtime.block_on(
            futures::stream::iter(wave.into_iter().map(|change| async move {
                let addr = change.addr.clone();
                // An object that failed to go must keep what it depends on.
                let blocked = keep.contains(&addr);
                if stopping || blocked {
                    inputs.progress.skipped(
                        &addr,
                        Action::Delete,
                        if stopping {
                            "the run was interrupted"
                        } else {
                            "something that depends on it could not be destroyed"
                        },
                    );
                    return (addr, Err(String::new()));
                }
                let Some(prior) = change.before.clone() else {
                    let mut recorded = Diagnostics::new();
                    record(state, journal, &addr, None, &mut recorded);
                    return (addr, Ok(recorded));
                };
                let Some((provider_name, _)) = inputs
                    .providers
                    .resource_type(ResourceMode::Managed, &addr.resource.resource.ty)
                else {
                    return (addr, Err("no provider supplies this resource type".into()));
                };
                let Some(provider) = inputs.providers.get(provider_name) else {
                    return (addr, Err("provider not registered".into()));
                };
                inputs.progress.start(&addr, Action::Delete);
                let started = Instant::now();
                let request = ApplyRequest {
                    type_name: addr.resource.resource.ty.clone(),
                    prior: Some(prior),
                    planned: None,
                    config: Value::Null,
                    cancel: inputs.cancel.clone(),
                };
                let response = bounded(inputs.settings.timeout, &inputs.cancel, async {
                    Ok(provider.apply(request).await)
                })
                .await;
                match response {
                    Ok(r) if r.error.is_none() => {
                        let mut recorded = Diagnostics::new();
                        record(state, journal, &addr, None, &mut recorded);
                        inputs
                            .progress
                            .complete(&addr, Action::Delete, started.elapsed(), None);
                        (addr, Ok(recorded))
                    }
                    Ok(r) => {
                        let message = r.error.map(|e| e.message).unwrap_or_default();
                        inputs.progress.errored(&addr, Action::Delete, &message);
                        (addr, Err(message))
                    }
                    Err(e) => {
                        inputs.progress.errored(&addr, Action::Delete, &e.message);
                        (addr, Err(e.message))
                    }
                }
            }))
            .buffer_unordered(inputs.settings.parallelism.max(1))
            .collect(),
        );
    for (addr, outcome) in outcomes {
        match outcome {
            Ok(recorded) => diags.extend(recorded),
            Err(message) => {
                if !message.is_empty() {
                    diags.push(
                        Diagnostic::error(
                            "Error destroying resource",
                            format!("{addr}: {message}."),
                        )
                        .address(addr.to_string()),
                    );
                }
                failed.insert(addr);
            }
        }
    }
}

/// Everything that objects which failed (or were skipped) still depend on, transitively:
/// those must not be destroyed from under them.
fn kept_for(
    changes: &HashMap<AbsResourceInstance, ResourceChange>,
    failed: &HashSet<AbsResourceInstance>,
) -> HashSet<AbsResourceInstance> {
    let mut keep = HashSet::new();
    let mut todo: Vec<&AbsResourceInstance> = failed.iter().collect();
    while let Some(addr) = todo.pop() {
        for dep in changes
            .get(addr)
            .map(|c| c.dependencies.as_slice())
            .unwrap_or_default()
        {
            if keep.insert(dep.clone()) {
                todo.push(dep);
            }
        }
    }
    keep
}

fn record_outputs(
    inputs: &Inputs<'_>,
    outputs: Option<std::collections::BTreeMap<String, Value>>,
    state: &mut State,
    journal: &mut dyn Journal,
    diags: &mut Diagnostics,
) {
    let declared = inputs.config.root().map(|r| &r.outputs);
    let names: Vec<String> = state.outputs.keys().cloned().collect();
    let outputs = outputs.unwrap_or_default();
    for name in names {
        if !outputs.contains_key(&name) {
            state.outputs.remove(&name);
            let _ = journal.record(&JournalEntry::Output { name, state: None });
        }
    }
    for (name, value) in outputs {
        if !value.is_wholly_known() {
            continue;
        }
        let sensitive = declared
            .and_then(|o| o.get(&name))
            .is_some_and(|o| o.sensitive);
        let output = OutputState { value, sensitive };
        if let Err(e) = journal.record(&JournalEntry::Output {
            name: name.clone(),
            state: Some(output.clone()),
        }) {
            diags.push(Diagnostic::error(
                "Failed to persist state",
                format!("output {name}: {e}."),
            ));
        }
        state.outputs.insert(name, output);
    }
}
