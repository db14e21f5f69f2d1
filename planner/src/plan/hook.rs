//! The plan hook: for each resource block's instances, refresh the prior object, propose
//! the new one, ask the provider, and decide the action. Provider calls of one batch run
//! concurrently, bounded by the parallelism setting.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use fleetform_sdk::{
    CancellationToken, Diagnostic, ErrorKind, Path, PathStep, PlanRequest, ProviderError,
    ReadDataRequest, ReadRequest, Resume, ResumeRequest, Secrets, ValidateRequest, Value,
};
use futures::FutureExt;
use futures::future::LocalBoxFuture;

use super::configure::ProviderSetup;
use super::diff::{carry_marks, changed_paths, keep_prior, proposed_new, values_equal};
use super::{Action, Interrupted, Mode, Reason, Resolution, ResourceChange};
use crate::addrs::{AbsResourceInstance, ResourceMode};
use crate::config::{Config, IgnoreChanges};
use crate::expand::hook::unknown_computed;
use crate::expand::{Hook, InstanceRequest, Outcome, Subject, subject};
use crate::providers::Providers;
use crate::state::{InstanceStatus, PendingOperation, State};

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
    /// Refresh instances left out by `only` too (false when partitions were selected: the
    /// others' values are read as their partitions recorded them).
    pub refresh_untargeted: bool,
    /// Set when the run works on some partitions only: the instances of the others are not
    /// evaluated, their values are what their partitions recorded.
    pub partitions: Option<crate::state::partition::Chosen>,
}

/// Plans each instance.
pub struct PlanHook<'a> {
    pub config: &'a Config,
    pub providers: &'a Providers,
    pub prior: &'a State,
    pub settings: &'a Settings,
    pub cancel: CancellationToken,
    /// Receives refresh events.
    pub progress: &'a dyn crate::apply::progress::Progress,
    pub setup: ProviderSetup<'a>,
    /// What the plan found so far.
    pub found: Mutex<Found>,
}

/// What planning found.
#[derive(Default)]
pub struct Found {
    /// Changes, in the order the walk planned them (one per instance).
    pub changes: Vec<ResourceChange>,
    /// Changes made outside fleetform.
    pub drift: Vec<ResourceChange>,
    /// Refreshed objects, by address (`None`: gone).
    pub refreshed: HashMap<AbsResourceInstance, Option<Value>>,
    /// Interrupted changes settled so far.
    pub interrupted: Vec<Interrupted>,
    /// Problems settling them.
    pub problems: Vec<Diagnostic>,
    /// Objects refresh could not reach, with what their provider said: planned from the
    /// recorded state, reported once per site.
    pub unreachable: Vec<(AbsResourceInstance, String)>,
}

struct Planned {
    value: Value,
    change: Option<ResourceChange>,
    /// Progress an interrupted attempt saved, for the change to continue from.
    resume: Option<Value>,
    drift: Option<ResourceChange>,
    refreshed: Option<Option<Value>>,
    unreachable: Option<String>,
    diags: Vec<Diagnostic>,
}

impl Hook for PlanHook<'_> {
    fn instance<'a>(&'a self, request: InstanceRequest<'a>) -> LocalBoxFuture<'a, Outcome> {
        async move {
            let mut diags = Vec::new();
            diags.extend(
                self.setup
                    .ensure(&request.provider, &request.provider_config)
                    .await,
            );
            let started = std::time::Instant::now();
            let planned = self.plan_one(&request).await;
            tracing::debug!(address = %request.addr, elapsed = ?started.elapsed(), "planned");
            diags.extend(planned.diags);
            let failed = diags.iter().any(Diagnostic::is_error);
            let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(d) = planned.drift {
                found.drift.push(d);
            }
            if let Some(r) = planned.refreshed {
                found.refreshed.insert(request.addr.clone(), r);
            }
            if let Some(why) = planned.unreachable {
                found.unreachable.push((request.addr.clone(), why));
            }
            if let Some(mut c) = planned.change {
                c.dependencies = request.dependencies;
                c.resume = planned.resume;
                found.changes.push(c);
            }
            Outcome {
                value: planned.value,
                diags,
                failed,
            }
        }
        .boxed_local()
    }

    fn recorded(&self, addr: &AbsResourceInstance) -> Value {
        self.prior
            .resources
            .get(addr)
            .map_or(Value::Unknown, |i| i.value.clone())
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
    /// The secrets a provider's messages about this instance must not quote: those of its
    /// configuration and of its recorded object.
    fn secrets(&self, request: &InstanceRequest<'_>) -> Secrets {
        let mut secrets = Secrets::of(&request.config);
        if let Some(recorded) = self.prior.resources.get(&request.addr) {
            secrets.add(&recorded.value);
        }
        secrets
    }

    fn error(&self, request: &InstanceRequest<'_>, summary: &str, e: &ProviderError) -> Diagnostic {
        let e = e.clone().redact(&self.secrets(request));
        Diagnostic::error(summary, format!("{}: {e}.", request.addr))
            .at(Some(self.config.range(&request.block.loc)))
            .address(request.addr.to_string())
    }

    fn warnings<'a>(
        &'a self,
        request: &'a InstanceRequest<'_>,
        warnings: &'a [String],
    ) -> impl Iterator<Item = Diagnostic> + 'a {
        let secrets = self.secrets(request);
        warnings.iter().map(move |w| {
            let w = secrets.redact(w);
            Diagnostic::warning("Provider warning", format!("{}: {w}.", request.addr))
                .at(Some(self.config.range(&request.block.loc)))
                .address(request.addr.to_string())
        })
    }

    async fn plan_one(&self, request: &InstanceRequest<'_>) -> Planned {
        let addr = &request.addr;
        let schema = &request.schema.block;
        let mut outcome = Planned {
            value: Value::Unknown,
            change: None,
            resume: None,
            drift: None,
            refreshed: None,
            unreachable: None,
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
                Ok(v) => outcome.value = carry_marks(schema, v, &[Some(&request.config)]),
                Err(e) => outcome
                    .diags
                    .push(self.error(request, "Error reading data source", &e)),
            }
            return outcome;
        }
        // A change a killed run left unfinished is settled first: what the provider finds
        // done becomes the prior object; what it can make again is planned again.
        let mut adopted = None;
        let mut resume = None;
        if let Some(op) = self.prior.pending.get(addr).filter(|op| !op.deposed) {
            match self.interrupted(request, provider.as_ref(), op).await {
                Ok(Resolution::Finished(found)) => adopted = Some(found.map(|v| op.instance(v))),
                Ok(Resolution::Continue) => resume = op.checkpoint.clone(),
                Ok(Resolution::Ask(_)) | Err(()) => {}
            }
        }
        let prior_state = match &adopted {
            Some(found) => found.as_ref(),
            None => self.prior.resources.get(addr),
        };
        outcome.resume = resume;
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
        let targeted = self
            .settings
            .only
            .as_ref()
            .is_none_or(|only| only.contains(addr));
        let refreshing = self.settings.refresh
            && prior_state.is_some()
            && (targeted || self.settings.refresh_untargeted);
        if !refreshing {
            before = prior_state.map(|s| s.value.clone());
        }
        if let Some(recorded) = prior_state.filter(|_| refreshing) {
            let current = &recorded.value;
            self.progress.refresh_start(addr);
            let read = provider.read(ReadRequest {
                type_name: addr.resource.resource.ty.clone(),
                current: current.clone(),
                cancel: self.cancel.clone(),
            });
            match bounded(timeout, &self.cancel, read).await {
                Ok(now) => {
                    let now = now.map(|v| carry_marks(schema, v, &[Some(current)]));
                    let id = now
                        .as_ref()
                        .and_then(Value::as_object)
                        .and_then(|m| m.get("id"))
                        .filter(|v| !matches!(v, Value::Sensitive(_)))
                        .and_then(Value::as_str);
                    self.progress.refresh_complete(addr, id);
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
                    // What refresh found as recorded is kept as the recorded copy, which
                    // the state shares (see `Object`); the provider's copy is dropped.
                    before = match now {
                        Some(v) if v == *current => Some(current.clone()),
                        other => other,
                    };
                }
                Err(e) if e.kind == ErrorKind::Unreachable => {
                    // One site's outage must not stop the fleet's plan: plan from what was
                    // recorded; the object's own changes fail at apply if it is still down.
                    let e = e.clone().redact(&self.secrets(request));
                    outcome.unreachable = Some(e.to_string());
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
            Ok(mut r) => {
                outcome.diags.extend(self.warnings(request, &r.warnings));
                r.planned = carry_marks(schema, r.planned, &[Some(&request.config)]);
                r
            }
            Err(e) if e.kind == ErrorKind::Unreachable => {
                // Planning needs the object's site (a server-side dry run), which is off the
                // network: it is reported with the site, and what it holds stays as
                // recorded until it can be planned; a new object is planned as configured.
                let e = e.redact(&self.secrets(request));
                outcome.unreachable.get_or_insert_with(|| e.to_string());
                match before {
                    Some(prior) => {
                        outcome.value = prior;
                        return outcome;
                    }
                    None => fleetform_sdk::PlanResponse::new(unknown_computed(
                        request.config.clone(),
                        schema,
                        false,
                    )),
                }
            }
            Err(e) => {
                outcome
                    .diags
                    .push(self.error(request, "Error planning resource", &e));
                outcome.value = before.unwrap_or(Value::Unknown);
                return outcome;
            }
        };
        let Some(prior) = before else {
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
        let tainted = prior_state.is_some_and(|s| s.status.is_tainted());
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
                // Nothing changed: the after side is the provider's planned value, which
                // is the prior object itself (shared) unless only marks or the spelling
                // of a number differ.
                let after = if response.planned == prior {
                    prior.clone()
                } else {
                    response.planned
                };
                outcome.value = prior.clone();
                outcome.change =
                    Some(self.change(request, Action::NoOp, Some(prior), Some(after), None));
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
                carry_marks(schema, r.planned, &[Some(&request.config)])
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
        // An object whose creation failed part way never was what the configuration
        // describes: replacing it is finishing its creation, not destroying what is kept.
        let incomplete = prior_state.is_some_and(|s| s.status == InstanceStatus::Incomplete);
        let protected = lifecycle.prevent_destroy || prior_state.is_some_and(|s| s.prevent_destroy);
        if protected && !incomplete {
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
            resume: None,
            deposed: false,
        }
    }

    /// Asks the provider what to do about a change a killed run left unfinished on this
    /// instance, records the answer for the plan, and reports what needs the user.
    async fn interrupted(
        &self,
        request: &InstanceRequest<'_>,
        provider: &dyn fleetform_sdk::Provider,
        op: &PendingOperation,
    ) -> Result<Resolution, ()> {
        let addr = &request.addr;
        let asked = provider.resume(ResumeRequest {
            type_name: addr.resource.resource.ty.clone(),
            action: op.action,
            prior: op.prior.clone(),
            planned: op.planned.clone(),
            checkpoint: op.checkpoint.clone(),
            cancel: self.cancel.clone(),
        });
        let resolution = match bounded(self.settings.timeout, &self.cancel, asked).await {
            Ok(Resume::Continue) => Resolution::Continue,
            Ok(Resume::Finished(v)) => Resolution::Finished(v),
            // Asked to make it again with -replace: the user decided.
            Ok(Resume::Ask(_)) if self.settings.replace.contains(addr) => Resolution::Continue,
            Ok(Resume::Ask(why)) => Resolution::Ask(why),
            Err(e) => {
                let diag = Diagnostic::error(
                    "Cannot settle an interrupted change",
                    format!(
                        "{addr}: a run was killed while it was being {}d (started {}), and checking what happened failed: {e}.",
                        op.action.as_str(),
                        op.started
                    ),
                )
                .at(Some(self.config.range(&request.block.loc)))
                .address(addr.to_string());
                self.found
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .problems
                    .push(diag);
                return Err(());
            }
        };
        if let Resolution::Ask(why) = &resolution {
            let diag = Diagnostic::error(
                "Interrupted change needs a decision",
                format!(
                    "{addr}: a run was killed while it was being {}d (started {}). {why} To make the change again, plan with -replace={addr}; if it did complete, record it with `fleetform state pending done {addr}`.",
                    op.action.as_str(),
                    op.started
                ),
            )
            .at(Some(self.config.range(&request.block.loc)))
            .address(addr.to_string());
            self.found
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .problems
                .push(diag);
        }
        self.found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .interrupted
            .push(Interrupted {
                addr: addr.clone(),
                op: op.clone(),
                resolution: resolution.clone(),
            });
        Ok(resolution)
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
                let found = self.found.lock().unwrap_or_else(|p| p.into_inner());
                let changed = found.changes.iter().find(|c| {
                    c.addr.module == request.addr.module
                        && c.addr.resource.resource == res
                        && key.as_ref().is_none_or(|k| *k == c.addr.resource.key)
                        && !matches!(c.action, Action::NoOp | Action::Read)
                        && (path.is_empty() || attribute_changes(c, &path))
                });
                if let Some(c) = changed {
                    return Some(c.addr.to_string());
                }
                drop(found);
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
