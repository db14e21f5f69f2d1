//! The plan hook: for each resource block's instances, refresh the prior object, propose
//! the new one, ask the provider, and decide the action. Provider calls of one batch run
//! concurrently, bounded by the parallelism setting.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use fleetform_sdk::{
    CancellationToken, Diagnostic, Diagnostics, ErrorKind, Path, PathStep, PlanRequest,
    ProviderError, ReadDataRequest, ReadRequest, ValidateRequest, Value,
};
use futures::StreamExt;

use super::diff::{changed_paths, keep_prior, proposed_new, values_equal};
use super::{Action, Mode, Reason, ResourceChange};
use crate::addrs::{AbsResourceInstance, ResourceMode};
use crate::config::{Config, IgnoreChanges};
use crate::expand::hook::unknown_computed;
use crate::expand::{Hook, InstanceRequest, Subject, subject};
use crate::providers::Providers;
use crate::state::{InstanceStatus, State};

/// What a plan is asked to do.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Normal, destroy or refresh-only.
    pub mode: Mode,
    /// Read every object before planning (`-refresh=false` turns it off).
    pub refresh: bool,
    /// `-replace=ADDR` instances.
    pub replace: HashSet<AbsResourceInstance>,
    /// When set, only these instances are planned (`-target`, `-exclude`, with what the
    /// targets depend on).
    pub only: Option<HashSet<AbsResourceInstance>>,
    /// Provider operations at once.
    pub parallelism: usize,
    /// The longest one provider operation may take.
    pub timeout: Duration,
}

/// Plans each batch of instances.
pub struct PlanHook<'a> {
    pub config: &'a Config,
    pub providers: &'a Providers,
    pub runtime: &'a tokio::runtime::Handle,
    pub prior: &'a State,
    pub settings: &'a Settings,
    pub cancel: CancellationToken,
    /// Changes found so far, by address.
    pub changes: HashMap<AbsResourceInstance, ResourceChange>,
    /// Changes made outside fleetform.
    pub drift: Vec<ResourceChange>,
    /// Refreshed objects, by address (`None`: gone).
    pub refreshed: HashMap<AbsResourceInstance, Option<Value>>,
    /// Provider configurations already configured.
    pub configured: std::collections::HashSet<crate::expand::ProviderConfigAddr>,
}

struct Outcome {
    value: Value,
    change: Option<ResourceChange>,
    drift: Option<ResourceChange>,
    refreshed: Option<Option<Value>>,
    diags: Vec<Diagnostic>,
}

impl Hook for PlanHook<'_> {
    fn instances(
        &mut self,
        batch: Vec<InstanceRequest<'_>>,
        diags: &mut Diagnostics,
    ) -> Vec<Value> {
        configure(
            &batch,
            &mut self.configured,
            self.providers,
            self.runtime,
            self.settings,
            &self.cancel,
            diags,
        );
        let this = &*self;
        let outcomes: Vec<Outcome> = this.runtime.block_on(
            futures::stream::iter(batch.iter().map(|r| this.plan_one(r)))
                .buffered(this.settings.parallelism.max(1))
                .collect(),
        );
        let mut values = Vec::with_capacity(outcomes.len());
        for (request, outcome) in batch.iter().zip(outcomes) {
            for d in outcome.diags {
                diags.push(d);
            }
            if let Some(d) = outcome.drift {
                self.drift.push(d);
            }
            if let Some(r) = outcome.refreshed {
                self.refreshed.insert(request.addr.clone(), r);
            }
            if let Some(c) = outcome.change {
                self.changes.insert(request.addr.clone(), c);
            }
            values.push(outcome.value);
        }
        values
    }
}

/// Configures each provider configuration a batch uses, once per run, before its first
/// operation. `configured` remembers which are done.
pub fn configure(
    batch: &[InstanceRequest<'_>],
    configured: &mut std::collections::HashSet<crate::expand::ProviderConfigAddr>,
    providers: &Providers,
    runtime: &tokio::runtime::Handle,
    settings: &Settings,
    cancel: &CancellationToken,
    diags: &mut Diagnostics,
) {
    for request in batch {
        if !configured.insert(request.provider.clone()) {
            continue;
        }
        let Some(provider) = providers.get(&request.provider.name) else {
            continue;
        };
        let config = (*request.provider_config).clone();
        let call = provider.configure(fleetform_sdk::ConfigureRequest { config });
        if let Err(e) = runtime.block_on(bounded(settings.timeout, cancel, call)) {
            diags.push(Diagnostic::error(
                "Failed to configure provider",
                format!("{}: {e}.", request.provider),
            ));
        }
    }
}

/// Runs a provider operation under the run's timeout and cancellation.
pub async fn bounded<T>(
    timeout: Duration,
    cancel: &CancellationToken,
    op: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::select! {
        r = tokio::time::timeout(timeout, op) => r.unwrap_or_else(|_| Err(ProviderError::permanent(format!("timed out after {}s", timeout.as_secs())))),
        () = cancel.cancelled() => Err(ProviderError::cancelled()),
    }
}

impl PlanHook<'_> {
    fn error(&self, request: &InstanceRequest<'_>, summary: &str, e: &ProviderError) -> Diagnostic {
        Diagnostic::error(summary, format!("{}: {e}.", request.addr))
            .at(Some(self.config.range(&request.block.loc)))
            .address(request.addr.to_string())
    }

    fn unreachable(&self, request: &InstanceRequest<'_>, e: &ProviderError) -> Diagnostic {
        Diagnostic::warning(
            "Object unreachable; planned from the recorded state",
            format!("{}: {e}. Its changes will fail at apply while it stays unreachable; the rest of the plan is unaffected.", request.addr),
        )
        .at(Some(self.config.range(&request.block.loc)))
        .address(request.addr.to_string())
    }

    fn warnings<'a>(
        &'a self,
        request: &'a InstanceRequest<'_>,
        warnings: &'a [String],
    ) -> impl Iterator<Item = Diagnostic> + 'a {
        warnings.iter().map(|w| {
            Diagnostic::warning("Provider warning", format!("{}: {w}.", request.addr))
                .at(Some(self.config.range(&request.block.loc)))
                .address(request.addr.to_string())
        })
    }

    async fn plan_one(&self, request: &InstanceRequest<'_>) -> Outcome {
        let addr = &request.addr;
        let schema = &request.schema.block;
        let mut outcome = Outcome {
            value: Value::Unknown,
            change: None,
            drift: None,
            refreshed: None,
            diags: Vec::new(),
        };
        let Some(provider) = self.providers.get(&request.provider.name) else {
            return outcome;
        };
        let timeout = self.settings.timeout;
        if addr.resource.resource.mode == ResourceMode::Data {
            if self.settings.mode == Mode::Destroy || !request.config.is_wholly_known() {
                outcome.value = unknown_computed(request.config.clone(), schema, true);
                if self.settings.mode != Mode::Destroy {
                    outcome.change = Some(self.change(
                        request,
                        Action::Read,
                        None,
                        Some(outcome.value.clone()),
                        Some(Reason::ReadBecauseConfigUnknown),
                    ));
                }
                return outcome;
            }
            let read = provider.read_data(ReadDataRequest {
                type_name: addr.resource.resource.ty.clone(),
                config: request.config.clone(),
                cancel: self.cancel.clone(),
            });
            match bounded(timeout, &self.cancel, read).await {
                Ok(v) => outcome.value = v,
                Err(e) => outcome
                    .diags
                    .push(self.error(request, "Error reading data source", &e)),
            }
            return outcome;
        }
        let prior_state = self.prior.resources.get(addr);
        let problems = provider.validate_resource(&ValidateRequest {
            type_name: addr.resource.resource.ty.clone(),
            config: request.config.clone(),
        });
        if !problems.is_empty() {
            let failed = problems.has_errors();
            outcome.diags.extend(
                problems
                    .into_vec()
                    .into_iter()
                    .map(|d| crate::expand::hook::locate(self.config, request, d)),
            );
            if failed {
                outcome.value = prior_state.map_or(Value::Unknown, |s| s.value.clone());
                return outcome;
            }
        }
        // The refreshed object is compared with the recorded one by reference: a no-change
        // refresh costs one copy, the one the provider reads.
        let mut before = None;
        let refreshing = self.settings.refresh && prior_state.is_some();
        if !refreshing {
            before = prior_state.map(|s| s.value.clone());
        }
        if let Some(recorded) = prior_state.filter(|_| refreshing) {
            let current = &recorded.value;
            let read = provider.read(ReadRequest {
                type_name: addr.resource.resource.ty.clone(),
                current: current.clone(),
                cancel: self.cancel.clone(),
            });
            match bounded(timeout, &self.cancel, read).await {
                Ok(now) => {
                    let changed = match &now {
                        Some(v) => !values_equal(current, v),
                        None => true,
                    };
                    if changed {
                        let action = if now.is_some() {
                            Action::Update
                        } else {
                            Action::Delete
                        };
                        outcome.drift = Some(self.change(
                            request,
                            action,
                            Some(current.clone()),
                            now.clone(),
                            None,
                        ));
                        outcome.refreshed = Some(now.clone());
                    }
                    before = now;
                }
                Err(e) if e.kind == ErrorKind::Unreachable => {
                    // One site's outage must not stop the fleet's plan: plan from what was
                    // recorded; the object's own changes fail at apply if it is still down.
                    outcome.diags.push(self.unreachable(request, &e));
                    before = Some(current.clone());
                }
                Err(e) => {
                    outcome
                        .diags
                        .push(self.error(request, "Error refreshing state", &e));
                    outcome.value = current.clone();
                    return outcome;
                }
            }
        }
        let targeted = self
            .settings
            .only
            .as_ref()
            .is_none_or(|only| only.contains(addr));
        if matches!(self.settings.mode, Mode::RefreshOnly | Mode::Destroy) || !targeted {
            outcome.value =
                before.unwrap_or_else(|| unknown_computed(request.config.clone(), schema, false));
            return outcome;
        }
        let proposed = propose(request, before.as_ref());
        let plan = |prior: Option<Value>, proposed: Value| {
            provider.plan(PlanRequest {
                type_name: addr.resource.resource.ty.clone(),
                prior,
                config: request.config.clone(),
                proposed,
                cancel: self.cancel.clone(),
            })
        };
        let response = match bounded(timeout, &self.cancel, plan(before.clone(), proposed)).await {
            Ok(r) => {
                outcome.diags.extend(self.warnings(request, &r.warnings));
                r
            }
            Err(e) => {
                outcome
                    .diags
                    .push(self.error(request, "Error planning resource", &e));
                outcome.value = before.unwrap_or(Value::Unknown);
                return outcome;
            }
        };
        let Some(prior) = before.clone() else {
            outcome.value = response.planned.clone();
            outcome.change =
                Some(self.change(request, Action::Create, None, Some(response.planned), None));
            return outcome;
        };
        let changed = changed_paths(&prior, &response.planned);
        let forced: Vec<Path> = changed
            .iter()
            .filter(|p| {
                forces_replacement(schema, p)
                    || response
                        .requires_replace
                        .iter()
                        .any(|r| p.starts_with(r) || r.starts_with(p))
            })
            .cloned()
            .collect();
        let tainted = prior_state.is_some_and(|s| s.status == InstanceStatus::Tainted);
        let trigger = self.triggered_by(request);
        let reason = if self.settings.replace.contains(addr) {
            Some(Reason::ReplaceByRequest)
        } else if tainted {
            Some(Reason::ReplaceBecauseTainted)
        } else if let Some(t) = trigger {
            Some(Reason::ReplaceByTriggers(t))
        } else if !forced.is_empty() {
            Some(Reason::ReplaceBecauseCannotUpdate)
        } else {
            None
        };
        if reason.is_none() {
            if changed.is_empty() {
                outcome.value = prior.clone();
                outcome.change = Some(self.change(
                    request,
                    Action::NoOp,
                    Some(prior.clone()),
                    Some(prior),
                    None,
                ));
            } else {
                outcome.value = response.planned.clone();
                outcome.change = Some(self.change(
                    request,
                    Action::Update,
                    Some(prior),
                    Some(response.planned),
                    None,
                ));
            }
            return outcome;
        }
        // A replacement is planned as a create, so everything the provider computes is new.
        let fresh = proposed_new(schema, None, &request.config);
        let planned = match bounded(timeout, &self.cancel, plan(None, fresh)).await {
            Ok(r) => {
                outcome.diags.extend(self.warnings(request, &r.warnings));
                r.planned
            }
            Err(e) => {
                outcome
                    .diags
                    .push(self.error(request, "Error planning resource", &e));
                outcome.value = prior;
                return outcome;
            }
        };
        let lifecycle = &request.block.lifecycle;
        let action = if lifecycle.create_before_destroy {
            Action::CreateThenDelete
        } else {
            Action::DeleteThenCreate
        };
        if lifecycle.prevent_destroy || prior_state.is_some_and(|s| s.prevent_destroy) {
            outcome
                .diags
                .push(prevent_destroy_error(self.config, request, action));
        }
        let mut change = self.change(request, action, Some(prior), Some(planned.clone()), reason);
        change.replace_paths = forced;
        outcome.value = planned;
        outcome.change = Some(change);
        outcome
    }

    fn change(
        &self,
        request: &InstanceRequest<'_>,
        action: Action,
        before: Option<Value>,
        after: Option<Value>,
        reason: Option<Reason>,
    ) -> ResourceChange {
        let lifecycle = &request.block.lifecycle;
        ResourceChange {
            addr: request.addr.clone(),
            previous_addr: None,
            provider: request.provider.to_string(),
            action,
            reason,
            before,
            after,
            replace_paths: Vec::new(),
            importing: None,
            dependencies: Vec::new(),
            create_before_destroy: lifecycle.create_before_destroy,
            prevent_destroy: lifecycle.prevent_destroy,
        }
    }

    /// The first `replace_triggered_by` reference whose instance changes in this plan.
    /// The first `replace_triggered_by` reference that changes in this plan: a whole
    /// resource when it is created, updated or replaced; an attribute (`x.id`) only when
    /// that attribute's value changes.
    fn triggered_by(&self, request: &InstanceRequest<'_>) -> Option<String> {
        use crate::lang::refs::Step;
        for expr in &request.block.lifecycle.replace_triggered_by {
            for r in crate::lang::references(&expr.expr) {
                let Ok(Subject::Resource(res, key)) = subject(&r) else {
                    continue;
                };
                // Steps after TYPE.NAME (and DATA's extra step, and the key) are an attribute path.
                let skip =
                    1 + usize::from(res.mode == ResourceMode::Data) + usize::from(key.is_some());
                let path: Path = r
                    .steps
                    .iter()
                    .skip(skip)
                    .filter_map(|s| match s {
                        Step::Attr(a) => Some(PathStep::Attr(a.clone())),
                        Step::Key(crate::addrs::InstanceKey::Str(k)) => {
                            Some(PathStep::Key(k.clone()))
                        }
                        Step::Key(crate::addrs::InstanceKey::Int(i)) => {
                            usize::try_from(*i).ok().map(PathStep::Index)
                        }
                        Step::Key(crate::addrs::InstanceKey::None) => None,
                    })
                    .collect();
                let changed = self.changes.values().find(|c| {
                    c.addr.module == request.addr.module
                        && c.addr.resource.resource == res
                        && key.as_ref().is_none_or(|k| *k == c.addr.resource.key)
                        && !matches!(c.action, Action::NoOp | Action::Read)
                        && (path.is_empty() || attribute_changes(c, &path))
                });
                if let Some(c) = changed {
                    return Some(c.addr.to_string());
                }
            }
        }
        None
    }
}

/// True when the attribute at `path` differs between the change's before and after (or is
/// unknown after).
fn attribute_changes(change: &ResourceChange, path: &[PathStep]) -> bool {
    let at = |v: &Option<Value>| -> Option<Value> {
        let mut current = v.as_ref()?;
        for step in path {
            current = match (current.unmark().0, step) {
                (Value::Object(m), PathStep::Attr(k) | PathStep::Key(k)) => m.get(k)?,
                (Value::List(l), PathStep::Index(i)) => l.get(*i)?,
                _ => return None,
            };
        }
        Some(current.clone())
    };
    match (at(&change.before), at(&change.after)) {
        (Some(b), Some(a)) => !a.is_wholly_known() || !values_equal(&b, &a),
        (None, None) => false,
        _ => true,
    }
}

/// The engine's proposal for an instance: its configuration over the prior object, with
/// `ignore_changes` attributes kept as they were.
pub fn propose(request: &InstanceRequest<'_>, before: Option<&Value>) -> Value {
    let mut proposed = proposed_new(&request.schema.block, before, &request.config);
    if let Some(prior) = before {
        match &request.block.lifecycle.ignore_changes {
            IgnoreChanges::All => proposed = keep_settable(proposed, prior),
            IgnoreChanges::Attributes(list) => {
                for expr in list {
                    if let Some(path) = attribute_path(&expr.expr) {
                        keep_prior(&mut proposed, prior, &path);
                    }
                }
            }
            IgnoreChanges::None => {}
        }
    }
    proposed
}

/// The error for a plan that would destroy an instance with `prevent_destroy`.
pub fn prevent_destroy_error(
    config: &Config,
    request: &InstanceRequest<'_>,
    action: Action,
) -> Diagnostic {
    let what = if action.is_replace() {
        "replaced"
    } else {
        "destroyed"
    };
    Diagnostic::error(
        "Instance cannot be destroyed",
        format!("Resource {} has lifecycle.prevent_destroy set, but the plan calls for this resource to be {what}. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target option.", request.addr),
    )
    .at(Some(config.range(&request.block.loc)))
    .address(request.addr.to_string())
}

/// True when the first attribute of `path` forces replacement.
fn forces_replacement(schema: &fleetform_sdk::Block, path: &Path) -> bool {
    match path.first() {
        Some(PathStep::Attr(name)) => schema.attributes.get(name).is_some_and(|a| a.force_new),
        _ => false,
    }
}

/// `ignore_changes = all`: every attribute the user sets keeps its prior value.
fn keep_settable(proposed: Value, prior: &Value) -> Value {
    let (Value::Object(mut p), Some(before)) = (proposed, prior.as_object()) else {
        return prior.clone();
    };
    for (k, v) in before {
        p.insert(k.clone(), v.clone());
    }
    Value::Object(p)
}

/// `labels["site"]` in `ignore_changes` as a path.
fn attribute_path(expr: &hcl::edit::expr::Expression) -> Option<Path> {
    let r = crate::lang::references(expr).into_iter().next()?;
    let mut path = vec![PathStep::Attr(r.root)];
    for s in r.steps {
        path.push(match s {
            crate::lang::refs::Step::Attr(a) => PathStep::Attr(a),
            crate::lang::refs::Step::Key(crate::addrs::InstanceKey::Str(k)) => PathStep::Key(k),
            crate::lang::refs::Step::Key(crate::addrs::InstanceKey::Int(i)) => {
                PathStep::Index(usize::try_from(i).ok()?)
            }
            crate::lang::refs::Step::Key(crate::addrs::InstanceKey::None) => return None,
        });
    }
    Some(path)
}
