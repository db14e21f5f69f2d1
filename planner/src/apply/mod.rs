//! Applying a plan: record its moves and imports, walk the configuration again with the
//! apply hook (so every change sees the real values of what it depends on), then destroy
//! what the plan deletes, in reverse dependency order, and record the outputs.
//!
//! Every completed change is written to the state journal as it completes; the caller
//! compacts the journal into the state file when the run ends. A failure keeps everything
//! that succeeded; dependents of a failed change are skipped; independent ones go on.

pub mod hook;
pub mod progress;
pub mod record;
pub mod rollout;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use fleetform_sdk::{ApplyRequest, CancellationToken, Diagnostic, Diagnostics, Value};
use futures::StreamExt;
use indexmap::IndexMap;

use self::hook::ApplyHook;
use self::progress::Progress;
use self::record::{Recorder, operation};
use crate::addrs::{AbsResource, AbsResourceInstance, ModuleInstance, ResourceMode};
use crate::config::Config;
use crate::expand::{self, Options, ProviderConfigAddr, WalkOptions};
use crate::inputs::{InputSource, InputValue};
use crate::plan::configure::{ProviderSetup, observe_recorded};
use crate::plan::hook::{Settings, bounded};
use crate::plan::{Action, Mode, Plan, Resolution, ResourceChange};
use crate::providers::Providers;
use crate::state::{
    InstanceState, InstanceStatus, Journal, JournalEntry, OutputState, PendingAction, State,
};

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
    /// Record the root outputs (false for a run that may not write the part of a
    /// partitioned state holding them).
    pub record_outputs: bool,
}

/// The plan's changes by address.
pub type Changes<'p> = HashMap<&'p AbsResourceInstance, &'p ResourceChange>;

/// Applies `plan` to `state`, recording every change in `journal` as it completes.
/// Returns the new state; failures are diagnostics.
pub fn apply(
    inputs: &Inputs<'_>,
    state: State,
    journal: Box<dyn Journal>,
    diags: &mut Diagnostics,
) -> State {
    let recorder = Recorder::new(state, journal);
    let changes: Changes<'_> = inputs.plan.changes.iter().map(|c| (&c.addr, c)).collect();
    record_moves_and_imports(inputs.plan, &recorder, diags);
    forget_settled_deferrals(inputs.plan, &changes, &recorder, diags);
    let hook = ApplyHook {
        config: inputs.config,
        providers: inputs.providers,
        settings: inputs.settings,
        changes: &changes,
        recorder: &recorder,
        progress: inputs.progress,
        stopping: inputs.stopping,
        cancel: inputs.cancel.clone(),
        failed: Mutex::new(HashSet::new()),
        setup: ProviderSetup::new(
            inputs.providers,
            observe_recorded(inputs.providers, &recorder),
            inputs.settings.timeout,
            inputs.cancel.clone(),
        ),
        destroying: inputs.plan.mode == Mode::Destroy,
        not_started: Default::default(),
        rollout: rollout::Coordinator::new(
            &inputs.plan.rollouts,
            &changes,
            inputs.providers,
            &recorder,
            inputs.progress,
            inputs.cancel.clone(),
            inputs.record_outputs,
        ),
        deferred: Mutex::new(Default::default()),
    };
    let mut outputs = None;
    let mut provider_values = HashMap::new();
    // A destroy evaluates the configuration too: deletes need their provider blocks.
    if inputs.plan.mode != Mode::RefreshOnly {
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
        let partitions = inputs.settings.partitions.as_ref();
        let leaves_out = |m: &ModuleInstance| partitions.is_some_and(|c| c.leaves_out(m));
        let walk = WalkOptions {
            parallelism: inputs.settings.parallelism,
            runtime: Some(inputs.runtime),
            frozen: partitions
                .is_some()
                .then_some(&leaves_out as &dyn Fn(&ModuleInstance) -> bool),
            omit_unread: true,
        };
        if let Some(exp) = expand::expand(
            inputs.config,
            inputs.providers,
            &variables,
            options,
            &hook,
            walk,
            diags,
        ) {
            if inputs.plan.mode == Mode::Normal {
                outputs = Some(exp.outputs.clone());
            }
            provider_values = exp
                .provider_values
                .iter()
                .map(|(addr, value)| (addr.to_string(), (addr.clone(), value.clone())))
                .collect();
            exp.discard();
        }
    }
    let failed = hook.failed.lock().map(|f| f.clone()).unwrap_or_default();
    if inputs.stopping.load(Ordering::SeqCst) {
        diags.push(Diagnostic::error(
            "Apply interrupted",
            "The run was interrupted: changes in progress were finished and recorded, and the rest were not started. Run apply again to finish.",
        ));
    }
    if let Ok(deferred) = hook.deferred.lock() {
        diags.extend(crate::plan::sites::deferred(inputs.config, &deferred));
    }
    if let Some(rollout) = &hook.rollout {
        for (name, why) in rollout.halted() {
            diags.push(Diagnostic::error(
                "Rollout halted",
                format!("{why}. Sites it had not reached were left as they were; the state records how far rollout {name:?} got, and the next apply checks the failed sites' gates again and goes on from there."),
            ));
        }
    }
    let deleter = Deleter {
        inputs,
        setup: &hook.setup,
        rollout: hook.rollout.as_ref(),
        provider_values: &provider_values,
        recorder: &recorder,
        not_started: Default::default(),
    };
    deleter.destroy(&changes, failed, diags);
    let not_started = hook.not_started.load(Ordering::SeqCst) + deleter.not_started.get();
    drop(hook);
    if let Some(failure) = recorder.failure() {
        diags.push(journal_failure(&failure, not_started));
    }
    let (mut state, mut journal) = recorder.into_parts();
    if inputs.record_outputs {
        record_outputs(inputs, outputs, &mut state, journal.as_mut(), diags);
    }
    if let Err(e) = journal.sync() {
        diags.push(Diagnostic::error(
            "Failed to persist state",
            format!("The state journal could not be synced to disk: {e}."),
        ));
    }
    state
}

/// Deferred changes this plan no longer has (the configuration went back, or the object
/// converged some other way) are no longer deferred. A partial plan (`-target`) leaves
/// them all as they are.
fn forget_settled_deferrals(
    plan: &Plan,
    changes: &Changes<'_>,
    recorder: &Recorder,
    diags: &mut Diagnostics,
) {
    if !plan.complete || plan.mode != Mode::Normal {
        return;
    }
    let settled: Vec<AbsResourceInstance> = recorder
        .state()
        .deferred
        .keys()
        .filter(|addr| changes.get(*addr).is_none_or(|c| c.action == Action::NoOp))
        .cloned()
        .collect();
    for addr in settled {
        if let Err(e) = recorder.record(JournalEntry::Deferred {
            addr: addr.clone(),
            change: None,
        }) {
            diags.push(
                Diagnostic::error("Failed to persist state", format!("{addr}: {e}."))
                    .address(addr.to_string()),
            );
        }
    }
}

/// The one diagnostic that says what a journal failure left unrecorded.
fn journal_failure(failure: &record::JournalFailure, not_started: usize) -> Diagnostic {
    let mut detail = format!(
        "Changes could no longer be recorded in the state journal ({}), so apply started nothing after that: {not_started} planned change(s) were not started. Not recorded:",
        failure.error
    );
    for what in &failure.unrecorded {
        detail.push_str("\n  - ");
        detail.push_str(what);
    }
    detail.push_str("\nA change that was started is recorded as pending: the next plan shows it and settles it with its provider. Free space (or fix the cause) and run apply again.");
    Diagnostic::error("State journal cannot be written", detail)
}

fn record(
    recorder: &Recorder,
    addr: &AbsResourceInstance,
    instance: Option<InstanceState>,
    diags: &mut Diagnostics,
) {
    if let Err(e) = recorder.instance(addr, instance) {
        diags.push(
            Diagnostic::error("Failed to persist state", format!("{addr}: {e}."))
                .address(addr.to_string()),
        );
    }
}

fn record_moves_and_imports(plan: &Plan, recorder: &Recorder, diags: &mut Diagnostics) {
    settle_interrupted(plan, recorder, diags);
    // What refresh found becomes the recorded state, as in Terraform: the plan was made
    // from it, and a refresh-only plan consists of nothing else.
    for drifted in &plan.drift {
        let current = recorder.state().resources.get(&drifted.addr).cloned();
        let Some(mut instance) = current else {
            continue;
        };
        match &drifted.after {
            Some(now) => {
                instance.value = now.clone();
                record(recorder, &drifted.addr, Some(instance), diags);
            }
            None => record(recorder, &drifted.addr, None, diags),
        }
    }
    for change in &plan.changes {
        if let Some(previous) = &change.previous_addr {
            let moved = recorder.state().resources.get(previous).cloned();
            if let Some(instance) = moved {
                record(recorder, previous, None, diags);
                record(recorder, &change.addr, Some(instance), diags);
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
            record(recorder, &change.addr, Some(instance), diags);
        }
    }
}

/// Destroys what the plan deletes, each object as soon as everything recorded as
/// depending on its resource is gone: one site's slow delete holds back only what that
/// site's objects depend on. An object that failed to go (or to change) keeps everything
/// it depends on.
/// Records what the plan found about changes a killed run left unfinished: an object the
/// provider found finished is recorded; a change the plan does not make again (nothing is
/// left to do) is no longer pending. Those it makes again are recorded by their own steps.
fn settle_interrupted(plan: &Plan, recorder: &Recorder, diags: &mut Diagnostics) {
    for interrupted in &plan.interrupted {
        let addr = &interrupted.addr;
        let op = &interrupted.op;
        let result = match &interrupted.resolution {
            Resolution::Finished(_) if op.deposed => recorder.settle(addr),
            Resolution::Finished(found) => {
                let object = match op.action {
                    PendingAction::Delete => None,
                    PendingAction::Create | PendingAction::Update => {
                        found.clone().map(|v| op.instance(v))
                    }
                };
                recorder.instance(addr, object)
            }
            Resolution::Continue => {
                let again = plan
                    .changes
                    .iter()
                    .any(|c| c.addr == *addr && c.action != Action::NoOp)
                    || (op.deposed && plan.deposed.iter().any(|d| d.addr == *addr));
                if again { Ok(()) } else { recorder.settle(addr) }
            }
            // A plan that needs the user's decision cannot be applied.
            Resolution::Ask(_) => Ok(()),
        };
        if let Err(e) = result {
            diags.push(
                Diagnostic::error("Failed to persist state", format!("{addr}: {e}."))
                    .address(addr.to_string()),
            );
        }
    }
}

/// What deletes need: the run, its provider configurations, and where to record.
struct Deleter<'a> {
    inputs: &'a Inputs<'a>,
    setup: &'a ProviderSetup<'a>,
    /// Evaluated provider blocks by address as recorded in state.
    provider_values: &'a HashMap<String, (ProviderConfigAddr, std::sync::Arc<Value>)>,
    recorder: &'a Recorder,
    /// Holds back deletes in sites a rollout did not reach.
    rollout: Option<&'a rollout::Coordinator<'a>>,
    /// Deletes not started because the journal could not be written.
    not_started: std::cell::Cell<usize>,
}

impl Deleter<'_> {
    fn destroy(
        &self,
        changes: &Changes<'_>,
        failed: HashSet<AbsResourceInstance>,
        diags: &mut Diagnostics,
    ) {
        let inputs = self.inputs;
        let mut deletes: Vec<&ResourceChange> = changes
            .values()
            .copied()
            .filter(|c| c.action == Action::Delete)
            .chain(&inputs.plan.deposed)
            .collect();
        if deletes.is_empty() {
            return;
        }
        deletes.sort_by(|a, b| a.addr.cmp(&b.addr));
        let keep = kept_for(changes, &failed);
        // For each resource, how many deletes of objects depending on it are still to finish.
        let mut waiting_on: HashMap<AbsResource, usize> = HashMap::new();
        for d in &deletes {
            for r in &d.dependencies {
                *waiting_on.entry(r.clone()).or_default() += 1;
            }
        }
        let mut by_resource: HashMap<AbsResource, Vec<usize>> = HashMap::new();
        for (i, d) in deletes.iter().enumerate() {
            by_resource
                .entry(d.addr.abs_resource())
                .or_default()
                .push(i);
        }
        let mut started = vec![false; deletes.len()];
        let mut ready: std::collections::VecDeque<usize> = (0..deletes.len())
            .filter(|&i| !waiting_on.contains_key(&deletes[i].addr.abs_resource()))
            .collect();
        let mut any_failed = !failed.is_empty();
        let parallelism = inputs.settings.parallelism.max(1);
        inputs.runtime.block_on(async {
            let mut running = futures::stream::FuturesUnordered::new();
            loop {
                while running.len() < parallelism
                    && let Some(i) = ready.pop_front()
                {
                    if std::mem::replace(&mut started[i], true) {
                        continue;
                    }
                    let change = deletes[i];
                    if self.recorder.broken() {
                        inputs.progress.skipped(
                            &change.addr,
                            Action::Delete,
                            "the state journal cannot be written",
                        );
                        self.not_started.set(self.not_started.get() + 1);
                        any_failed = true;
                        continue;
                    }
                    let held = self
                        .rollout
                        .and_then(|r| r.holds_delete(&change.addr.module));
                    if let Some(why) = held {
                        inputs.progress.skipped(&change.addr, Action::Delete, &why);
                        any_failed = true;
                        continue;
                    }
                    let stopping = inputs.stopping.load(Ordering::SeqCst);
                    if stopping || keep.contains(&change.addr.abs_resource()) {
                        inputs.progress.skipped(
                            &change.addr,
                            Action::Delete,
                            if stopping {
                                "the run was interrupted"
                            } else {
                                "something that depends on it could not be destroyed"
                            },
                        );
                        any_failed = true;
                        continue;
                    }
                    running.push(async move { (i, self.delete_one(change).await) });
                }
                let Some((i, outcome)) = running.next().await else {
                    let left: Vec<usize> = (0..deletes.len()).filter(|&i| !started[i]).collect();
                    if left.is_empty() {
                        break;
                    }
                    if any_failed {
                        for i in left {
                            started[i] = true;
                            inputs.progress.skipped(
                                &deletes[i].addr,
                                Action::Delete,
                                "something that depends on it could not be destroyed",
                            );
                        }
                        break;
                    }
                    // Only a dependency cycle in recorded state can get here: delete the rest.
                    ready.extend(left);
                    continue;
                };
                match outcome {
                    Ok(recorded) => {
                        diags.extend(recorded);
                        for r in &deletes[i].dependencies {
                            let Some(n) = waiting_on.get_mut(r) else {
                                continue;
                            };
                            *n -= 1;
                            if *n == 0 {
                                waiting_on.remove(r);
                                ready.extend(by_resource.get(r).into_iter().flatten().copied());
                            }
                        }
                    }
                    Err(message) => {
                        any_failed = true;
                        diags.push(
                            Diagnostic::error(
                                "Error destroying resource",
                                format!("{}: {message}.", deletes[i].addr),
                            )
                            .address(deletes[i].addr.to_string()),
                        );
                    }
                }
            }
        });
    }

    /// Deletes one object and records that it is gone; `Err` with the provider's message.
    async fn delete_one(&self, change: &ResourceChange) -> Result<Diagnostics, String> {
        let (inputs, recorder) = (self.inputs, self.recorder);
        let addr = &change.addr;
        let mut recorded = Diagnostics::new();
        let Some(prior) = change.before.clone() else {
            record(recorder, addr, None, &mut recorded);
            return Ok(recorded);
        };
        let Some((provider_name, _)) = inputs
            .providers
            .resource_type(ResourceMode::Managed, &addr.resource.resource.ty)
        else {
            return Err("no provider supplies this resource type".into());
        };
        let Some(provider) = inputs.providers.get(provider_name) else {
            return Err("provider not registered".into());
        };
        // The provider configuration recorded with the object, or the provider's implied one
        // when its block is gone.
        let (config_addr, block) = self
            .provider_values
            .get(&change.provider)
            .cloned()
            .unwrap_or_else(|| {
                (
                    ProviderConfigAddr {
                        module: crate::addrs::ModuleInstance::root(),
                        name: provider_name.to_owned(),
                        alias: None,
                    },
                    std::sync::Arc::new(Value::Null),
                )
            });
        if let Some(d) = self.setup.ensure(&config_addr, &block).await {
            recorded.push(d);
        }
        let mut op = operation(
            change,
            PendingAction::Delete,
            Some(prior.clone()),
            None,
            change.resume.clone(),
        );
        op.deposed = change.deposed;
        recorder.start(addr, op)?;
        inputs.progress.start(addr, Action::Delete);
        let started = Instant::now();
        let secrets = fleetform_sdk::Secrets::of(&prior);
        let request = ApplyRequest {
            type_name: addr.resource.resource.ty.clone(),
            prior: Some(prior),
            planned: None,
            config: Value::Null,
            cancel: inputs.cancel.clone(),
            resume: change.resume.clone(),
            checkpoint: recorder.checkpoint(addr),
        };
        let response = bounded(inputs.settings.timeout, &inputs.cancel, async {
            Ok(provider.apply(request).await)
        })
        .await;
        let deleted = matches!(&response, Ok(r) if r.error.is_none());
        tracing::debug!(address = %addr, elapsed = ?started.elapsed(), ok = deleted, "destroyed");
        // A deposed object is not at its address: only its pending delete ends.
        if deleted && !change.deposed {
            record(recorder, addr, None, &mut recorded);
        } else {
            recorder.settle(addr)?;
        }
        match response {
            Ok(r) if r.error.is_none() => {
                inputs
                    .progress
                    .complete(addr, Action::Delete, started.elapsed(), None);
                Ok(recorded)
            }
            Ok(r) => {
                let message = r.error.map(|e| e.message).unwrap_or_default();
                let message = secrets.redact(&message);
                inputs.progress.errored(addr, Action::Delete, &message);
                Err(message)
            }
            Err(e) => {
                let message = secrets.redact(&e.message);
                inputs.progress.errored(addr, Action::Delete, &message);
                Err(message)
            }
        }
    }
}

/// The resources that objects which failed (or were skipped) still depend on,
/// transitively: their objects must not be destroyed from under them.
fn kept_for(changes: &Changes<'_>, failed: &HashSet<AbsResourceInstance>) -> HashSet<AbsResource> {
    let mut by_resource: HashMap<AbsResource, Vec<&ResourceChange>> = HashMap::new();
    for c in changes.values() {
        by_resource
            .entry(c.addr.abs_resource())
            .or_default()
            .push(c);
    }
    let mut keep = HashSet::new();
    let mut todo: Vec<&AbsResource> = failed
        .iter()
        .filter_map(|f| changes.get(f))
        .flat_map(|c| c.dependencies.iter())
        .collect();
    while let Some(resource) = todo.pop() {
        if !keep.insert(resource.clone()) {
            continue;
        }
        for c in by_resource.get(resource).into_iter().flatten() {
            todo.extend(c.dependencies.iter());
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
