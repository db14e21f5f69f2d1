//! The apply hook: for each resource block's instances, make the planned change. Each
//! change is planned again with its now-known configuration and checked against the saved
//! plan, applied, and recorded in the state journal at once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use fleetform_sdk::{
    ApplyRequest, CancellationToken, Diagnostic, PlanRequest, ReadDataRequest, Secrets, Value,
};
use futures::FutureExt;
use futures::future::LocalBoxFuture;

use super::Changes;
use super::progress::Progress;
use super::record::now_rfc3339;
use super::record::{Recorder, operation};
use crate::addrs::{AbsResourceInstance, ResourceMode};
use crate::config::Config;
use crate::expand::hook::unknown_computed;
use crate::expand::{Hook, InstanceRequest, Outcome};
use crate::plan::configure::ProviderSetup;
use crate::plan::diff::{carry_marks, changed_paths};
use crate::plan::hook::{Settings, bounded, propose};
use crate::plan::sites::action_word;
use crate::plan::{Action, ResourceChange};
use crate::providers::Providers;
use crate::state::{DeferredChange, InstanceState, InstanceStatus, JournalEntry, PendingAction};

/// Applies each instance.
pub struct ApplyHook<'a> {
    pub config: &'a Config,
    pub providers: &'a Providers,
    pub settings: &'a Settings,
    /// The planned changes by address.
    pub changes: &'a Changes<'a>,
    /// Where each change is recorded as it starts and completes.
    pub recorder: &'a Recorder,
    pub progress: &'a dyn Progress,
    /// Set on the first interrupt: start nothing new.
    pub stopping: &'a AtomicBool,
    /// Cancelled on the second interrupt: ask providers to abort.
    pub cancel: CancellationToken,
    /// Instances that failed or were skipped: what they depend on is not destroyed.
    pub failed: Mutex<HashSet<AbsResourceInstance>>,
    pub setup: ProviderSetup<'a>,
    /// A destroy plan: the walk only evaluates (for the provider blocks the deletes use).
    pub destroying: bool,
    /// Changes not started because the journal could not be written.
    pub not_started: std::sync::atomic::AtomicUsize,
    /// The plan's rollouts, when it has any with work.
    pub rollout: Option<super::rollout::Coordinator<'a>>,
    /// Changes deferred in this run (their object was unreachable, or something they need
    /// was deferred), with the action and why.
    pub deferred: Mutex<BTreeMap<AbsResourceInstance, (Action, String)>>,
}

/// Why a change did not happen.
#[derive(Debug)]
pub enum ChangeError {
    /// It failed.
    Failed(String),
    /// Its object could not be reached: the change is deferred, not failed.
    Unreachable(String),
}

impl From<String> for ChangeError {
    fn from(message: String) -> ChangeError {
        ChangeError::Failed(message)
    }
}

impl From<&str> for ChangeError {
    fn from(message: &str) -> ChangeError {
        ChangeError::Failed(message.to_owned())
    }
}

impl ChangeError {
    /// A provider's error, with what was being done (`context`, may be empty).
    fn provider(context: &str, e: &fleetform_sdk::ProviderError) -> ChangeError {
        let message = if context.is_empty() {
            format!("{e}.")
        } else {
            format!("{context}: {e}.")
        };
        if e.kind == fleetform_sdk::ErrorKind::Unreachable {
            ChangeError::Unreachable(message)
        } else {
            ChangeError::Failed(message)
        }
    }
}

/// A change that makes or changes an object (what a rollout's batches wait for).
fn is_forward(action: Action) -> bool {
    matches!(
        action,
        Action::Create | Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete
    )
}

impl Hook for ApplyHook<'_> {
    fn applying(&self) -> bool {
        true
    }

    fn recorded(&self, addr: &AbsResourceInstance) -> Value {
        self.prior(addr).unwrap_or(Value::Unknown)
    }

    fn admission(&self, addr: &AbsResourceInstance) -> Option<LocalBoxFuture<'_, ()>> {
        let rollout = self.rollout.as_ref()?;
        let change = self.changes.get(addr)?;
        if !is_forward(change.action) || self.destroying {
            return None;
        }
        rollout.admission(addr)
    }

    fn background(&self) -> Option<LocalBoxFuture<'_, ()>> {
        let rollout = self.rollout.as_ref()?;
        Some(rollout.drive().boxed_local())
    }

    fn stalled(&self) {
        if let Some(rollout) = &self.rollout {
            rollout.stalled();
        }
    }

    fn instance<'a>(&'a self, request: InstanceRequest<'a>) -> LocalBoxFuture<'a, Outcome> {
        async move {
            // A forward change in a rollout's site tells the rollout when it is done.
            let site = self
                .rollout
                .as_ref()
                .filter(|_| !self.destroying)
                .filter(|_| {
                    self.changes
                        .get(&request.addr)
                        .is_some_and(|c| is_forward(c.action))
                })
                .and_then(|r| r.site(&request.addr).cloned());
            let mut diags = Vec::new();
            diags.extend(
                self.setup
                    .ensure(&request.provider, &request.provider_config)
                    .await,
            );
            let (value, diag, failed) = self.apply_one(&request).await;
            if let (Some(rollout), Some(site)) = (&self.rollout, &site) {
                use super::rollout::Finished;
                let why = format!("{} did not apply", request.addr);
                let deferral = self
                    .deferred
                    .lock()
                    .ok()
                    .and_then(|d| d.get(&request.addr).map(|(_, why)| why.clone()));
                let outcome = match (failed, &deferral) {
                    (false, _) => Finished::Made,
                    (true, Some(reason)) => Finished::Deferred(reason),
                    (true, None) => Finished::Failed(&why),
                };
                rollout.finished(site, outcome);
            }
            diags.extend(diag);
            if failed {
                self.fail(&request.addr);
            }
            Outcome {
                value,
                diags,
                failed,
            }
        }
        .boxed_local()
    }
}

impl ApplyHook<'_> {
    fn prior(&self, addr: &AbsResourceInstance) -> Option<Value> {
        self.recorder
            .state()
            .resources
            .get(addr)
            .map(|i| i.value.clone())
    }

    /// Records that the change of `addr` waits for its object (or what it needs) to be
    /// reachable: in the journal (keeping when it was first deferred) and for the run's
    /// per-site report.
    fn defer(&self, addr: &AbsResourceInstance, action: Action, why: &str) {
        let since = self
            .recorder
            .state()
            .deferred
            .get(addr)
            .map(|d| d.since.clone())
            .unwrap_or_else(now_rfc3339);
        let change = DeferredChange {
            action: action_word(action).to_owned(),
            since,
            reason: why.to_owned(),
        };
        if let Err(e) = self.recorder.record(JournalEntry::Deferred {
            addr: addr.clone(),
            change: Some(change),
        }) {
            tracing::warn!(%addr, error = %e, "a deferred change could not be recorded");
        }
        self.progress.skipped(
            addr,
            action,
            &format!("deferred: {}", why.trim_end_matches('.')),
        );
        if let Ok(mut deferred) = self.deferred.lock() {
            deferred.insert(addr.clone(), (action, why.to_owned()));
        }
    }

    /// Whether the instance at `addr` (as the walk names a failed dependency) was deferred.
    fn is_deferred(&self, addr: &str) -> bool {
        let Ok(addr) = crate::addrs::parse_abs_resource_instance(addr) else {
            return false;
        };
        self.deferred.lock().is_ok_and(|d| d.contains_key(&addr))
    }

    fn fail(&self, addr: &AbsResourceInstance) {
        if let Ok(mut failed) = self.failed.lock() {
            failed.insert(addr.clone());
        }
    }

    fn error(&self, request: &InstanceRequest<'_>, summary: &str, message: &str) -> Diagnostic {
        Diagnostic::error(summary, format!("{}: {message}", request.addr))
            .at(Some(self.config.range(&request.block.loc)))
            .address(request.addr.to_string())
    }

    fn record(
        &self,
        addr: &AbsResourceInstance,
        instance: Option<InstanceState>,
    ) -> Result<(), String> {
        self.recorder.instance(addr, instance)
    }

    /// Applies one instance's planned change: its value afterwards, what went wrong, and
    /// whether it failed (or was skipped), so that its dependents are skipped too.
    async fn apply_one(&self, request: &InstanceRequest<'_>) -> (Value, Option<Diagnostic>, bool) {
        let addr = &request.addr;
        let prior = self.prior(addr);
        let fallback = || {
            prior.clone().unwrap_or_else(|| {
                unknown_computed(request.config.clone(), &request.schema.block, false)
            })
        };
        let Some(provider) = self.providers.get(&request.provider.name) else {
            return (fallback(), None, false);
        };
        if self.destroying {
            return (fallback(), None, false);
        }
        if addr.resource.resource.mode == ResourceMode::Data {
            if !request.config.is_wholly_known() {
                return (
                    unknown_computed(request.config.clone(), &request.schema.block, true),
                    None,
                    false,
                );
            }
            let read = provider.read_data(ReadDataRequest {
                type_name: addr.resource.resource.ty.clone(),
                config: request.config.clone(),
                cancel: self.cancel.clone(),
            });
            return match bounded(self.settings.timeout, &self.cancel, read).await {
                Ok(v) => (
                    carry_marks(&request.schema.block, v, &[Some(&request.config)]),
                    None,
                    false,
                ),
                Err(e) => (
                    Value::Unknown,
                    Some(self.error(
                        request,
                        "Error reading data source",
                        &Secrets::of(&request.config).redact(&format!("{e}.")),
                    )),
                    true,
                ),
            };
        }
        let Some(change) = self.changes.get(addr) else {
            return (fallback(), None, false);
        };
        let action = change.action;
        if matches!(action, Action::NoOp | Action::Read | Action::Delete) {
            return (fallback(), None, false);
        }
        if let Some(rollout) = &self.rollout
            && let Some(site) = rollout.site(addr)
            && let Err(why) = rollout.enter(site)
        {
            self.progress.skipped(addr, action, &why);
            return (fallback(), None, true);
        }
        if let Some(dep) = &request.blocked_by
            && self.is_deferred(dep)
        {
            self.defer(
                addr,
                action,
                &format!("it needs {dep}, whose change is deferred"),
            );
            return (fallback(), None, true);
        }
        if let Some(dep) = &request.blocked_by {
            self.progress
                .skipped(addr, action, &format!("{dep} failed"));
            return (fallback(), None, true);
        }
        if self.stopping.load(Ordering::SeqCst) {
            self.progress
                .skipped(addr, action, "the run was interrupted");
            return (fallback(), None, true);
        }
        if self.recorder.broken() {
            // Nothing new starts once changes can no longer be recorded.
            self.progress
                .skipped(addr, action, "the state journal cannot be written");
            self.not_started.fetch_add(1, Ordering::SeqCst);
            return (fallback(), None, true);
        }
        if !request.config.is_wholly_known() {
            let message = "its configuration is still not known at apply time; this is a bug in the plan's dependency order.";
            return (
                fallback(),
                Some(self.error(request, "Configuration unknown at apply", message)),
                true,
            );
        }
        self.progress.start(addr, action);
        let started = Instant::now();
        match self.change(request, change, prior.clone()).await {
            Ok(value) => {
                // An id is shown in progress lines, unless it is sensitive (as in Terraform).
                let id = value
                    .as_object()
                    .and_then(|m| m.get("id"))
                    .filter(|v| !matches!(v, Value::Sensitive(_)))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.progress
                    .complete(addr, action, started.elapsed(), id.as_deref());
                (value, None, false)
            }
            Err(e) => {
                // Provider messages never quote a secret of the instance, whatever the
                // provider put in them.
                let mut secrets = Secrets::of(&request.config);
                if let Some(prior) = &prior {
                    secrets.add(prior);
                }
                let message = match e {
                    ChangeError::Unreachable(message) => {
                        let message = secrets.redact(&message);
                        self.defer(addr, action, &message);
                        return (self.prior(addr).unwrap_or(Value::Unknown), None, true);
                    }
                    ChangeError::Failed(message) => secrets.redact(&message),
                };
                self.progress.errored(addr, action, &message);
                (
                    self.prior(addr).unwrap_or(Value::Unknown),
                    Some(self.error(request, "Error applying change", &message)),
                    true,
                )
            }
        }
    }

    fn instance_state(
        &self,
        change: &ResourceChange,
        value: Value,
        status: InstanceStatus,
    ) -> InstanceState {
        InstanceState {
            provider: change.provider.clone(),
            schema_version: 0,
            value,
            dependencies: change.dependencies.clone(),
            status,
            create_before_destroy: change.create_before_destroy,
            prevent_destroy: change.prevent_destroy,
        }
    }

    async fn change(
        &self,
        request: &InstanceRequest<'_>,
        change: &ResourceChange,
        prior: Option<Value>,
    ) -> Result<Value, ChangeError> {
        let provider = self
            .providers
            .get(&request.provider.name)
            .ok_or("its provider is not registered")?;
        let ty = request.addr.resource.resource.ty.clone();
        let timeout = self.settings.timeout;
        let replace = change.action.is_replace();
        let started = std::time::Instant::now();
        let base = if replace { None } else { prior.clone() };
        let proposed = propose(request, base.as_ref());
        let plan = provider.plan(PlanRequest {
            type_name: ty.clone(),
            prior: base.clone(),
            config: request.config.clone(),
            proposed,
            cancel: self.cancel.clone(),
        });
        let planned = bounded(timeout, &self.cancel, plan)
            .await
            .map_err(|e| ChangeError::provider("planning failed", &e))?
            .planned;
        let schema = &request.schema.block;
        let planned = carry_marks(schema, planned, &[Some(&request.config)]);
        if let Some(expected) = &change.after {
            let drifted: Vec<String> = changed_paths(expected, &planned)
                .into_iter()
                .filter(|p| value_at(expected, p).is_some_and(Value::is_wholly_known))
                .map(|p| fleetform_sdk::value::path_to_string(&p))
                .collect();
            if !drifted.is_empty() {
                return Err(format!(
                    "the provider produced an inconsistent final plan: {} differ from the saved plan. This is a bug in the provider.",
                    drifted.join(", ")
                )
                .into());
            }
        }
        let addr = &request.addr;
        // Each step is recorded as pending before the provider is asked, so that a run
        // killed during it leaves a record of what may have happened.
        let step = |action: PendingAction, prior: Option<Value>, planned: Option<Value>| {
            let op = operation(change, action, prior.clone(), planned.clone(), None);
            let recorded = self.recorder.start(addr, op);
            let request = ApplyRequest {
                type_name: ty.clone(),
                prior,
                planned,
                config: request.config.clone(),
                cancel: self.cancel.clone(),
                resume: change.resume.clone(),
                checkpoint: self.recorder.checkpoint(addr),
            };
            async move {
                recorded?;
                let started = std::time::Instant::now();
                let response = provider.apply(request).await;
                tracing::debug!(
                    address = %addr,
                    ?action,
                    elapsed = ?started.elapsed(),
                    ok = response.error.is_none(),
                    "applied"
                );
                Ok::<_, String>(response)
            }
        };
        if change.action == Action::DeleteThenCreate {
            let response = step(PendingAction::Delete, prior.clone(), None).await?;
            if let Some(e) = response.error {
                // The old object may still exist: keep it recorded.
                match response.new_state {
                    Some(v) => self.record(
                        addr,
                        Some(self.instance_state(change, v, InstanceStatus::Ready)),
                    )?,
                    None => self.recorder.settle(addr)?,
                }
                return Err(ChangeError::provider(
                    "destroying the object to replace it failed",
                    &e,
                ));
            }
            // The old object is gone, but that is not recorded on its own: the create's
            // pending record replaces the delete's, so that at every moment the address has
            // its object or a pending change (a journal that fails in between leaves the
            // delete pending, which the next plan settles).
            self.progress
                .replacement_step(addr, Action::Delete, started.elapsed());
        }
        let replacing = change.action == Action::DeleteThenCreate;
        let create = change.action != Action::Update;
        let action = if create {
            PendingAction::Create
        } else {
            PendingAction::Update
        };
        let mut response = step(
            action,
            if create { None } else { prior.clone() },
            Some(planned),
        )
        .await
        .map_err(|e| {
            if replacing {
                format!("the old object was destroyed, but the replacement was not created: {e}; the destroy stays recorded as pending, and the next plan settles it")
            } else {
                e
            }
        })?;
        response.new_state = response
            .new_state
            .map(|v| carry_marks(schema, v, &[Some(&request.config)]));
        match response.new_state.clone() {
            Some(v) => {
                // A create that failed part way leaves an object that must be replaced
                // next time.
                let status = if response.error.is_some() && create {
                    InstanceStatus::Incomplete
                } else {
                    InstanceStatus::Ready
                };
                self.record(addr, Some(self.instance_state(change, v, status)))?;
            }
            // A replacement's old object is gone either way.
            None if response.error.is_none() || replacing => self.record(addr, None)?,
            None => self.recorder.settle(addr)?,
        }
        if let Some(e) = response.error {
            return Err(ChangeError::provider("", &e));
        }
        let value = response.new_state.unwrap_or(Value::Null);
        if change.action == Action::CreateThenDelete {
            self.progress
                .replacement_step(addr, Action::Create, started.elapsed());
            // The old object is no longer at the address: its delete is recorded as such.
            let mut op = operation(change, PendingAction::Delete, prior.clone(), None, None);
            op.deposed = true;
            self.recorder.start(addr, op)?;
            let old = provider
                .apply(ApplyRequest {
                    type_name: ty.clone(),
                    prior,
                    planned: None,
                    config: request.config.clone(),
                    cancel: self.cancel.clone(),
                    resume: None,
                    checkpoint: Default::default(),
                })
                .await;
            self.recorder.settle(addr)?;
            if let Some(e) = old.error {
                return Err(format!(
                    "the replacement was created, but destroying the old object failed: {e}. The old object may still exist and is no longer tracked."
                )
                .into());
            }
        }
        Ok(value)
    }
}

fn value_at<'v>(value: &'v Value, path: &[fleetform_sdk::PathStep]) -> Option<&'v Value> {
    let mut current = value;
    for step in path {
        current = match (current.unmark().0, step) {
            (
                Value::Object(m),
                fleetform_sdk::PathStep::Attr(k) | fleetform_sdk::PathStep::Key(k),
            ) => m.get(k)?,
            (Value::List(l), fleetform_sdk::PathStep::Index(i)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}
