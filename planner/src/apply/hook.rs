//! The apply hook: for each resource block's instances, make the planned change. Each
//! change is planned again with its now-known configuration and checked against the saved
//! plan, applied, and recorded in the state journal at once.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use fleetform_sdk::{
    ApplyRequest, CancellationToken, Diagnostic, Diagnostics, PlanRequest, ReadDataRequest, Value,
};
use futures::StreamExt;

use super::progress::Progress;
use crate::addrs::{AbsResourceInstance, ResourceMode};
use crate::config::Config;
use crate::expand::hook::unknown_computed;
use crate::expand::{Hook, InstanceRequest};
use crate::plan::diff::changed_paths;
use crate::plan::hook::{Settings, bounded, propose};
use crate::plan::{Action, ResourceChange};
use crate::providers::Providers;
use crate::state::{InstanceState, InstanceStatus, Journal, JournalEntry, State};

/// Applies each batch of instances.
pub struct ApplyHook<'a> {
    pub config: &'a Config,
    pub providers: &'a Providers,
    pub runtime: &'a tokio::runtime::Handle,
    pub settings: &'a Settings,
    /// The planned changes by address.
    pub changes: &'a HashMap<AbsResourceInstance, ResourceChange>,
    /// The state, updated as changes complete.
    pub state: &'a Mutex<State>,
    /// Where each completed change is recorded at once.
    pub journal: &'a Mutex<Box<dyn Journal>>,
    pub progress: &'a dyn Progress,
    /// Set on the first interrupt: start nothing new.
    pub stopping: &'a AtomicBool,
    /// Cancelled on the second interrupt: ask providers to abort.
    pub cancel: CancellationToken,
    /// Instances that failed or were skipped; their dependents are skipped.
    pub failed: Mutex<HashSet<AbsResourceInstance>>,
    /// Provider configurations already configured.
    pub configured: HashSet<crate::expand::ProviderConfigAddr>,
}

impl Hook for ApplyHook<'_> {
    fn instances(
        &mut self,
        batch: Vec<InstanceRequest<'_>>,
        diags: &mut Diagnostics,
    ) -> Vec<Value> {
        crate::plan::hook::configure(
            &batch,
            &mut self.configured,
            self.providers,
            self.runtime,
            self.settings,
            &self.cancel,
            diags,
        );
        let this = &*self;
        let outcomes: Vec<(Value, Option<Diagnostic>)> = this.runtime.block_on(
            futures::stream::iter(batch.iter().map(|r| this.apply_one(r)))
                .buffered(this.settings.parallelism.max(1))
                .collect(),
        );
        let mut values = Vec::with_capacity(outcomes.len());
        for (value, diag) in outcomes {
            diags.extend(diag);
            values.push(value);
        }
        values
    }
}

impl ApplyHook<'_> {
    fn prior(&self, addr: &AbsResourceInstance) -> Option<Value> {
        self.state
            .lock()
            .ok()?
            .resources
            .get(addr)
            .map(|i| i.value.clone())
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

    /// Records an instance's new object (or its absence) in state and journal.
    fn record(
        &self,
        addr: &AbsResourceInstance,
        instance: Option<InstanceState>,
    ) -> Result<(), String> {
        let entry = JournalEntry::Instance {
            addr: addr.clone(),
            state: instance.clone(),
        };
        let mut journal = self
            .journal
            .lock()
            .map_err(|_| "state journal lock poisoned".to_owned())?;
        journal
            .record(&entry)
            .map_err(|e| format!("could not record the change in state: {e}"))?;
        drop(journal);
        let mut state = self
            .state
            .lock()
            .map_err(|_| "state lock poisoned".to_owned())?;
        match instance {
            Some(i) => state.resources.insert(addr.clone(), i),
            None => state.resources.remove(addr),
        };
        Ok(())
    }

    async fn apply_one(&self, request: &InstanceRequest<'_>) -> (Value, Option<Diagnostic>) {
        let addr = &request.addr;
        let prior = self.prior(addr);
        let fallback = || {
            prior.clone().unwrap_or_else(|| {
                unknown_computed(request.config.clone(), &request.schema.block, false)
            })
        };
        let Some(provider) = self.providers.get(&request.provider.name) else {
            return (fallback(), None);
        };
        if addr.resource.resource.mode == ResourceMode::Data {
            if !request.config.is_wholly_known() {
                return (
                    unknown_computed(request.config.clone(), &request.schema.block, true),
                    None,
                );
            }
            let read = provider.read_data(ReadDataRequest {
                type_name: addr.resource.resource.ty.clone(),
                config: request.config.clone(),
                cancel: self.cancel.clone(),
            });
            return match bounded(self.settings.timeout, &self.cancel, read).await {
                Ok(v) => (v, None),
                Err(e) => {
                    self.fail(addr);
                    (
                        Value::Unknown,
                        Some(self.error(request, "Error reading data source", &format!("{e}."))),
                    )
                }
            };
        }
        let Some(change) = self.changes.get(addr) else {
            return (fallback(), None);
        };
        let action = change.action;
        if matches!(action, Action::NoOp | Action::Read | Action::Delete) {
            return (fallback(), None);
        }
        let blocked = self
            .failed
            .lock()
            .map(|f| change.dependencies.iter().find(|d| f.contains(*d)).cloned())
            .unwrap_or(None);
        if let Some(dep) = blocked {
            self.fail(addr);
            self.progress
                .skipped(addr, action, &format!("{dep} failed"));
            return (fallback(), None);
        }
        if self.stopping.load(Ordering::SeqCst) {
            self.fail(addr);
            self.progress
                .skipped(addr, action, "the run was interrupted");
            return (fallback(), None);
        }
        if !request.config.is_wholly_known() {
            self.fail(addr);
            let message = "its configuration is still not known at apply time; this is a bug in the plan's dependency order.";
            return (
                fallback(),
                Some(self.error(request, "Configuration unknown at apply", message)),
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
                (value, None)
            }
            Err(message) => {
                self.fail(addr);
                self.progress.errored(addr, action, &message);
                (
                    self.prior(addr).unwrap_or(Value::Unknown),
                    Some(self.error(request, "Error applying change", &message)),
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
    ) -> Result<Value, String> {
        let provider = self
            .providers
            .get(&request.provider.name)
            .ok_or("its provider is not registered")?;
        let ty = request.addr.resource.resource.ty.clone();
        let timeout = self.settings.timeout;
        let replace = change.action.is_replace();
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
            .map_err(|e| format!("planning failed: {e}."))?
            .planned;
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
                ));
            }
        }
        let apply = |prior: Option<Value>, planned: Option<Value>| {
            provider.apply(ApplyRequest {
                type_name: ty.clone(),
                prior,
                planned,
                config: request.config.clone(),
                cancel: self.cancel.clone(),
            })
        };
        if change.action == Action::DeleteThenCreate {
            let response = apply(prior.clone(), None).await;
            if let Some(e) = response.error {
                // The old object may still exist: keep it recorded.
                if let Some(v) = response.new_state {
                    self.record(
                        &request.addr,
                        Some(self.instance_state(change, v, InstanceStatus::Ready)),
                    )?;
                }
                return Err(format!("destroying the object to replace it failed: {e}."));
            }
            self.record(&request.addr, None)?;
        }
        let create = change.action != Action::Update;
        let response = apply(if create { None } else { prior.clone() }, Some(planned)).await;
        if let Some(v) = response.new_state.clone() {
            // A create that failed part way leaves an object that must be replaced next time.
            let status = if response.error.is_some() && create {
                InstanceStatus::Tainted
            } else {
                InstanceStatus::Ready
            };
            self.record(&request.addr, Some(self.instance_state(change, v, status)))?;
        } else if response.error.is_none() {
            self.record(&request.addr, None)?;
        }
        if let Some(e) = response.error {
            return Err(format!("{e}."));
        }
        let value = response.new_state.unwrap_or(Value::Null);
        if change.action == Action::CreateThenDelete {
            let old = apply(prior, None).await;
            if let Some(e) = old.error {
                return Err(format!(
                    "the replacement was created, but destroying the old object failed: {e}. The old object may still exist and is no longer tracked."
                ));
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
