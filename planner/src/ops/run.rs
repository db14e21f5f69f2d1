//! Plan, apply, destroy and refresh: a [`Session`] holds the configuration, the inputs and
//! the locked state of one run.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use fleetform_sdk::{CancellationToken, Diagnostic, Diagnostics};
use indexmap::IndexMap;

use super::LoadOptions;
use crate::addrs::{
    AbsResource, AbsResourceInstance, ModuleInstance, Selector, parse_abs_resource_instance,
};
use crate::apply::progress::Progress;
use crate::config::{self, Config};
use crate::encryption::Encryption;
use crate::expand::{self, Options};
use crate::inputs::{self, InputValue};
use crate::plan::hook::Settings;
use crate::plan::{Mode, Plan};
use crate::providers::Providers;
use crate::state::State;
use crate::state::backend::codec::Codec;
use crate::state::partition::{self, Chosen, PartitionKey, REST, Share};

use super::partitioned::{self, PartitionedRun, Selection};

/// Every instance of the configuration and the state: each one evaluated or recorded with
/// the resources it depends on, and those of frozen module instances (see
/// [`expand::WalkOptions::frozen`]) that the state does not hold, without; and the module
/// instances the walk left out altogether (`omitted`), by name.
#[derive(Debug, Default)]
pub(super) struct Dependencies {
    pub of: HashMap<AbsResourceInstance, Vec<AbsResource>>,
    pub unevaluated: Vec<AbsResourceInstance>,
    pub omitted: Vec<ModuleInstance>,
}

impl Dependencies {
    /// Every instance, once.
    pub fn instances(&self) -> impl Iterator<Item = &AbsResourceInstance> {
        self.of.keys().chain(&self.unevaluated)
    }
}
use crate::state::backend::{Backend, LockGuard, LockInfo, StateStore};

/// How a plan or apply runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Normal, destroy or refresh-only.
    pub mode: Mode,
    /// Refresh before planning.
    pub refresh: bool,
    /// `-target` addresses.
    pub targets: Vec<String>,
    /// `-exclude` addresses.
    pub excludes: Vec<String>,
    /// `-replace` addresses.
    pub replace: Vec<String>,
    /// Provider operations at once.
    pub parallelism: usize,
    /// The longest one provider operation may take.
    pub timeout: Duration,
    /// `-partitions=K/N`: plan only this share of the fleet's partitions.
    pub share: Option<Share>,
}

impl RunOptions {
    /// Whether the run selects no part of the fleet (no `-target`, `-exclude` or
    /// `-partitions`).
    pub fn selects_nothing(&self) -> bool {
        self.targets.is_empty() && self.excludes.is_empty() && self.share.is_none()
    }

    /// Whether the run selects partitions (`-partitions`, `-target=partition:…`,
    /// `-exclude=partition:…`): it may read only those (see [`open_selecting`]).
    pub fn selects_partitions(&self) -> bool {
        self.share.is_some()
            || self
                .targets
                .iter()
                .chain(&self.excludes)
                .any(|t| t.starts_with(partition::SELECTOR_PREFIX))
    }
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            mode: Mode::Normal,
            refresh: true,
            targets: Vec::new(),
            excludes: Vec::new(),
            replace: Vec::new(),
            parallelism: 10,
            timeout: Duration::from_secs(30 * 60),
            share: None,
        }
    }
}

/// How an apply reports and is interrupted.
pub struct Control<'a> {
    /// Receives progress events.
    pub progress: &'a dyn Progress,
    /// Set on the first interrupt: start nothing new.
    pub stopping: &'a AtomicBool,
    /// Cancelled on the second interrupt.
    pub cancel: CancellationToken,
}

/// One run: the configuration, its inputs, and the state, locked.
pub struct Session {
    /// The configuration.
    pub config: Config,
    /// Problems found so far.
    pub diagnostics: Diagnostics,
    /// The state as read at the start.
    pub state: State,
    /// The workspace.
    pub workspace: String,
    /// How state and saved plans are encrypted.
    pub encryption: Encryption,
    /// Which partition each instance belongs to.
    pub key: PartitionKey,
    pub(super) inputs: IndexMap<String, InputValue>,
    // Dropped in this order: the locks before the store and backend they belong to.
    pub(super) partitioned: Option<PartitionedRun>,
    _lock: Option<Box<dyn LockGuard>>,
    pub(super) store: Box<dyn StateStore>,
    backend: Box<dyn Backend>,
}

/// The operations that lock a partitioned state themselves, once they know which
/// partitions they write and read.
const LOCK_BY_PARTITION: &[&str] = &[
    "OperationTypePlan",
    "OperationTypeApply",
    "OperationTypeDestroy",
    "OperationTypeRefresh",
];

/// The operations that only read, and take no lock even on a partitioned state, so that
/// they work while a run holds it (like `terraform show`).
const READ_ONLY: &[&str] = &["OperationTypeStatus"];

/// Loads the configuration and its inputs, opens the state backend, and (when `lock`)
/// locks the workspace's state for `operation`. On failure the diagnostics say why, with
/// the configuration's sources for rendering.
pub fn open(
    options: &LoadOptions,
    operation: &str,
    lock: Option<Duration>,
) -> Result<Session, Box<(Config, Diagnostics)>> {
    open_reading(options, operation, lock, false)
}

/// Like [`open`], for a plan or apply that selects partitions (`-partitions`,
/// `-target=partition:…`) or applies a saved plan: on a state kept in partitions, it reads
/// only [`REST`] at first, and the run reads the partitions it selects once it knows them
/// (all of them when the fleet is not sealed, see `partitioned::sealed`).
pub fn open_selecting(
    options: &LoadOptions,
    operation: &str,
    lock: Option<Duration>,
) -> Result<Session, Box<(Config, Diagnostics)>> {
    open_reading(options, operation, lock, true)
}

fn open_reading(
    options: &LoadOptions,
    operation: &str,
    lock: Option<Duration>,
    selecting: bool,
) -> Result<Session, Box<(Config, Diagnostics)>> {
    let (mut config, mut diagnostics) = config::load(&options.dir);
    if diagnostics.has_errors() {
        diagnostics.sort_and_dedup();
        return Err(Box::new((config, diagnostics)));
    }
    let (inputs, input_diags) =
        inputs::gather(&mut config, &options.dir, &options.vars, &options.env);
    diagnostics.extend(input_diags);
    if diagnostics.has_errors() {
        return Err(Box::new((config, diagnostics)));
    }
    let encryption = match crate::encryption::configure(&config, &inputs, &options.env) {
        Ok(e) => e,
        Err(d) => {
            diagnostics.extend(d);
            return Err(Box::new((config, diagnostics)));
        }
    };
    let opened = super::backend::for_run(&config, &options.dir).and_then(|settings| {
        super::backend::open_backend(
            &config,
            &options.backends,
            &settings,
            &options.dir,
            &options.env,
            Codec::new(encryption.state.clone()),
        )
    });
    let backend = match opened {
        Ok(b) => b,
        Err(d) => {
            diagnostics.push(*d);
            return Err(Box::new((config, diagnostics)));
        }
    };
    let workspace = if options.workspace.is_empty() {
        "default".to_owned()
    } else {
        options.workspace.clone()
    };
    let store = match backend.store(&workspace) {
        Ok(s) => s,
        Err(e) => {
            diagnostics.push(Diagnostic::error("Failed to open state", e.to_string()));
            return Err(Box::new((config, diagnostics)));
        }
    };
    let key = PartitionKey::of(&config);
    let apart = PartitionKey::stored_apart(&config);
    match partitioned::uses_partitions(store.as_ref(), apart) {
        Ok(true) => {
            let partial = selecting && LOCK_BY_PARTITION.contains(&operation);
            let opened = open_partitioned(store.as_ref(), key.clone(), operation, lock, partial);
            return match opened {
                Ok((run, state)) => Ok(Session {
                    config,
                    diagnostics,
                    state,
                    workspace,
                    encryption,
                    key,
                    inputs,
                    partitioned: Some(run),
                    store,
                    backend,
                    _lock: None,
                }),
                Err(d) => {
                    diagnostics.push(*d);
                    Err(Box::new((config, diagnostics)))
                }
            };
        }
        Ok(false) => {}
        Err(message) => {
            diagnostics.push(Diagnostic::error(
                "State layout does not match the configuration",
                message,
            ));
            return Err(Box::new((config, diagnostics)));
        }
    }
    let guard = match lock {
        Some(timeout) => match store.lock(LockInfo::new(operation), timeout) {
            Ok(g) => Some(g),
            Err(e) => {
                diagnostics.push(lock_error(&e));
                return Err(Box::new((config, diagnostics)));
            }
        },
        None => None,
    };
    let state = match store.read() {
        Ok(s) => s.unwrap_or_else(State::new),
        Err(e) => {
            diagnostics.push(Diagnostic::error("Failed to read state", e.to_string()));
            return Err(Box::new((config, diagnostics)));
        }
    };
    Ok(Session {
        config,
        diagnostics,
        state,
        workspace,
        encryption,
        key,
        inputs,
        partitioned: None,
        store,
        backend,
        _lock: guard,
    })
}

/// The plan's note that values some changed partitions read were written since they were.
fn reads_moved_warning(moved: &[(String, String, u64, u64)]) -> Diagnostic {
    let mut lines: Vec<String> = moved
        .iter()
        .take(10)
        .map(|(p, r, then, now)| {
            format!("  {p} was last applied with values of partition {r} at serial {then}; {r} is now at serial {now}")
        })
        .collect();
    if moved.len() > 10 {
        lines.push(format!("  ... and {} more", moved.len() - 10));
    }
    Diagnostic::warning(
        "Values read from other partitions changed",
        format!(
            "Other runs wrote partitions whose values this plan reads since the partitions it changes were last applied; the plan uses their values as committed now:\n{}",
            lines.join("\n")
        ),
    )
}

fn lock_error(e: &crate::state::StateError) -> Diagnostic {
    Diagnostic::error("Error acquiring the state lock", e.to_string()).help(
        "fleetform acquires a state lock to protect the state from being written by multiple users at the same time; wait for the other run, raise -lock-timeout, or, if no run is active, use `fleetform force-unlock ID`",
    )
}

/// Opens a state kept in partitions: a new one gets its first partition; a run that is not
/// a plan or apply locks the whole fleet at once; every partition is read (only [`REST`]
/// when `partial`: the run reads the others it needs later).
fn open_partitioned(
    store: &dyn StateStore,
    key: PartitionKey,
    operation: &str,
    lock: Option<Duration>,
    partial: bool,
) -> Result<(PartitionedRun, State), Box<Diagnostic>> {
    let Some(ps) = store.partitioned() else {
        return Err(Box::new(Diagnostic::error(
            "Failed to open state",
            "the backend does not keep partitions",
        )));
    };
    let read_error = |e: crate::state::StateError| {
        Box::new(Diagnostic::error("Failed to read state", e.to_string()))
    };
    if let Some(timeout) = lock {
        partitioned::ensure_created(ps, timeout).map_err(|e| Box::new(lock_error(&e)))?;
    }
    let mut run = PartitionedRun {
        key,
        serials: Default::default(),
        lock_timeout: lock,
        guard: None,
        writable: None,
        operation: operation.to_owned(),
        reads: Default::default(),
        only: None,
        listed: Default::default(),
    };
    if !LOCK_BY_PARTITION.contains(&operation) && !READ_ONLY.contains(&operation) {
        run.lock(ps, None).map_err(|e| Box::new(lock_error(&e)))?;
    }
    let only = partial.then(|| BTreeSet::from([REST.to_owned()]));
    if only.is_some() {
        run.listed = ps
            .partition_serials()
            .map_err(read_error)?
            .into_keys()
            .collect();
    }
    let (state, serials) = partitioned::read(ps, only.as_ref()).map_err(read_error)?;
    run.serials = serials;
    run.only = only;
    Ok((run, state))
}

impl Session {
    /// The state store, for state commands.
    pub fn store(&self) -> &dyn StateStore {
        self.store.as_ref()
    }

    /// The backend, for workspace commands.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// Saves `plan` to `path` (0600, atomically), encrypted when the fleet's `plan`
    /// encryption says so.
    pub fn write_plan(&self, path: &Path, plan: &Plan) -> Result<(), String> {
        let bytes = crate::plan::file::encode(plan, &crate::plan::file::config_hash(&self.config));
        let sealed = self
            .encryption
            .plan
            .seal(crate::encryption::Purpose::Plan, &bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        crate::plan::file::write_bytes(path, &sealed).map_err(|e| e.to_string())
    }

    /// Reads a plan saved by [`Session::write_plan`]: the plan and its configuration hash.
    pub fn read_plan(&self, path: &Path) -> Result<(Plan, String), String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let plain = self
            .encryption
            .plan
            .open(crate::encryption::Purpose::Plan, &bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        crate::plan::file::decode(&plain, &path.display().to_string()).map_err(|e| e.to_string())
    }

    /// Makes a plan. `None` when errors prevent one; the diagnostics say why.
    pub fn plan(
        &mut self,
        providers: &Providers,
        options: &RunOptions,
        runtime: &tokio::runtime::Handle,
        cancel: CancellationToken,
        progress: &dyn Progress,
    ) -> Option<Plan> {
        let (deps, selection) = self.selection(providers, options)?;
        if !self.lock_partitions(selection.as_ref()) {
            return None;
        }
        let settings = self.settings(options, deps, selection.as_ref())?;
        let inputs = crate::plan::build::Inputs {
            config: &self.config,
            providers,
            variables: &self.inputs,
            workspace: &self.workspace,
            prior: &self.state,
            settings: &settings,
            runtime,
            cancel,
            progress,
        };
        let mut plan = crate::plan::build::plan(&inputs, &mut self.diagnostics);
        if let (Some(plan), Some(run)) = (plan.as_mut(), &self.partitioned) {
            if !run.may_write(REST) {
                // The root outputs live in the rest of the fleet, which this run does not
                // hold: they are left as recorded.
                plan.outputs.clear();
            }
            let reads = selection.map(|s| s.reads).unwrap_or_default();
            plan.partitions = run.stamp(plan, &reads);
            if let Some(ps) = self.store.partitioned() {
                match run.reads_moved(ps, plan) {
                    Ok(moved) if !moved.is_empty() => {
                        self.diagnostics.push(reads_moved_warning(&moved));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!("cannot read what partitions were written with: {e}"),
                }
            }
        }
        if !self.encryption.state.encrypts() && holds_secrets(&self.state) {
            self.diagnostics.push(Diagnostic::warning(
                "State holds sensitive values unencrypted",
                format!(
                    "The state at {} holds sensitive values (keys, passwords, tokens) in plain text. Configure encryption in the fleet block (encryption {{ key_provider, method \"aes_gcm\", state {{ method = ... }} }}) and run `fleetform init -migrate-state` to encrypt it.",
                    self.store.describe()
                ),
            ));
        }
        self.diagnostics.sort_and_dedup();
        plan.filter(|_| !self.diagnostics.has_errors())
    }

    /// Refuses a saved plan made from another state or configuration.
    pub fn check_saved(&mut self, plan: &Plan, config_hash: &str) -> bool {
        if self.partitioned.is_some() {
            return self.check_saved_partitions(plan, config_hash);
        }
        // The serial first: a plan made before any state existed is stale once one does.
        if plan.serial != self.state.serial {
            self.diagnostics.push(Diagnostic::error("Saved plan is stale", format!("The plan was made from state serial {}, but the state has changed since (serial {}). Create a new plan from the current state.", plan.serial, self.state.serial)));
            return false;
        }
        if self.state.serial > 0 && plan.lineage != self.state.lineage {
            self.diagnostics.push(Diagnostic::error("Saved plan does not match the state", format!("The plan was made for a state with lineage {:?}, but the current state has lineage {:?}: it belongs to another state, perhaps another workspace. Create a new plan.", plan.lineage, self.state.lineage)));
            return false;
        }
        self.check_config_hash(config_hash)
    }

    pub(super) fn check_config_hash(&mut self, config_hash: &str) -> bool {
        if config_hash != crate::plan::file::config_hash(&self.config) {
            self.diagnostics.push(Diagnostic::error(
                "Saved plan does not match the configuration",
                "The configuration files changed after the plan was created. Create a new plan.",
            ));
            return false;
        }
        true
    }

    /// Applies `plan`, persisting each change as it completes and compacting the state at
    /// the end. Returns false when anything failed.
    pub fn apply(
        &mut self,
        providers: &Providers,
        plan: &Plan,
        options: &RunOptions,
        runtime: &tokio::runtime::Handle,
        control: Control<'_>,
    ) -> bool {
        let Control {
            progress,
            stopping,
            cancel,
        } = control;
        // Apply makes the plan's changes: what -target/-exclude chose is in the plan.
        let Some(mut settings) = self.settings(options, None, None) else {
            return false;
        };
        // A plan over some partitions is applied over the partitions it writes: the others
        // keep what they recorded and are not evaluated.
        if self.partitioned.is_some() && !plan.complete {
            settings.partitions = Some(Chosen {
                key: self.key.clone(),
                partitions: plan
                    .partitions
                    .iter()
                    .filter(|(_, u)| u.written)
                    .map(|(p, _)| p.clone())
                    .collect(),
            });
        }
        // Refused before anything changes: changes that could never be written are lost.
        if let Err(e) = self.state.next_serial() {
            self.diagnostics
                .push(Diagnostic::error("State cannot advance", format!("{e}.")));
            return false;
        }
        if self.partitioned.is_none() && !self.compact_interrupted() {
            return false;
        }
        if let Some(run) = self.partitioned.as_mut() {
            run.reads = plan
                .partitions
                .iter()
                .filter(|(_, u)| !u.written)
                .map(|(p, _)| p.clone())
                .collect();
        }
        let opened = match (&self.partitioned, self.store.partitioned()) {
            (Some(run), Some(ps)) => run.journal(ps, &self.state, plan),
            _ => self.store.journal(&self.state),
        };
        let journal = match opened {
            Ok(j) => j,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    "Failed to open the state journal",
                    e.to_string(),
                ));
                return false;
            }
        };
        let holds_rest = self.partitioned.as_ref().is_none_or(|r| r.may_write(REST));
        let tally = super::last_apply::Tally::new(progress);
        let inputs = crate::apply::Inputs {
            config: &self.config,
            providers,
            plan,
            workspace: &self.workspace,
            settings: &settings,
            runtime,
            progress: &tally,
            stopping,
            cancel: cancel.clone(),
            record_outputs: holds_rest,
        };
        // A partitioned run keeps only what it may write to compare with; others, all of it.
        let prior = match &self.partitioned {
            Some(run) => {
                let kept = run.writable_part(&self.state);
                std::mem::replace(&mut self.state, kept)
            }
            None => self.state.clone(),
        };
        let mut state = crate::apply::apply(&inputs, prior, journal, &mut self.diagnostics);
        // Written with the state it describes, by the same conditional write; a run that
        // does not hold the partition it lives in leaves it to the runs that do.
        if holds_rest {
            state.last_apply = Some(tally.finish(
                plan.mode,
                self.diagnostics.has_errors(),
                stopping,
                cancel.is_cancelled(),
            ));
        }
        if self.partitioned.is_some() {
            return self.finish_partitioned(state);
        }
        if state.resources != self.state.resources
            || state.outputs != self.state.outputs
            || state.last_apply != self.state.last_apply
            || self.state.serial == 0
        {
            state.serial = self.state.serial.saturating_add(1);
            if let Err(e) = self.store.write(&state) {
                self.diagnostics.push(Diagnostic::error("Failed to persist state", format!("{e}. Every completed change is kept in the state journal next to the state file and is recovered by the next run.")));
                return false;
            }
        }
        self.state = state;
        self.diagnostics.sort_and_dedup();
        !self.diagnostics.has_errors()
    }

    /// Writes the state whole when it was read with a journal of an interrupted run
    /// replayed onto it, so that this run's journal starts empty: otherwise runs killed one
    /// after another would append to one journal without end (an Azure append blob takes
    /// 50,000 blocks at most). Returns false, with the reason, when the write failed.
    fn compact_interrupted(&mut self) -> bool {
        let found = match self.store.has_journal() {
            Ok(found) => found,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    "Failed to read the state journal",
                    e.to_string(),
                ));
                return false;
            }
        };
        if !found {
            return true;
        }
        let mut compacted = self.state.clone();
        compacted.serial = self.state.serial.saturating_add(1);
        if let Err(e) = self.store.write(&compacted) {
            self.diagnostics.push(Diagnostic::error(
                "Failed to persist the recovered state",
                format!(
                    "{e}. Nothing was changed; the interrupted run's changes stay in the journal."
                ),
            ));
            return false;
        }
        tracing::debug!(
            serial = compacted.serial,
            "wrote the state recovered from an interrupted run's journal"
        );
        self.state = compacted;
        true
    }

    fn settings(
        &mut self,
        options: &RunOptions,
        deps: Option<Dependencies>,
        selection: Option<&Selection>,
    ) -> Option<Settings> {
        let mut replace = HashSet::new();
        for text in &options.replace {
            match parse_abs_resource_instance(text) {
                Ok(a) => {
                    replace.insert(a);
                }
                Err(e) => self.diagnostics.push(Diagnostic::error(
                    "Invalid -replace address",
                    format!("{text:?}: {e}."),
                )),
            }
        }
        let only = match deps {
            Some(deps) => self.only(options, deps, selection),
            None => None,
        };
        if self.diagnostics.has_errors() {
            return None;
        }
        Some(Settings {
            mode: options.mode,
            refresh: options.refresh,
            replace,
            only,
            parallelism: options.parallelism,
            timeout: options.timeout,
            refresh_untargeted: selection.is_none(),
            partitions: selection.map(|s| Chosen {
                key: self.key.clone(),
                partitions: s.selected.clone(),
            }),
        })
    }

    /// Every instance of the configuration and the state with the resources it depends on
    /// (those of `frozen` module instances as the state recorded them; with `omit_unread`,
    /// none of the frozen module instances nothing else reads, see
    /// [`expand::WalkOptions::omit_unread`]).
    pub(super) fn dependencies(
        &mut self,
        providers: &Providers,
        frozen: Option<&dyn Fn(&ModuleInstance) -> bool>,
        omit_unread: bool,
    ) -> Option<Dependencies> {
        let mut scratch = Diagnostics::new();
        let options_ = Options {
            workspace: self.workspace.clone(),
            inputs_complete: true,
        };
        let walk = expand::WalkOptions {
            parallelism: 0,
            runtime: None,
            frozen,
            omit_unread,
        };
        let mut exp = expand::expand(
            &self.config,
            providers,
            &self.inputs,
            options_,
            &expand::ValidateHook,
            walk,
            &mut scratch,
        )?;
        let mut of: HashMap<AbsResourceInstance, Vec<AbsResource>> =
            std::mem::take(&mut exp.dependencies).into_iter().collect();
        let mut unevaluated: Vec<AbsResourceInstance> = std::mem::take(&mut exp.resources)
            .into_iter()
            .map(|r| r.addr)
            .filter(|a| !of.contains_key(a))
            .collect();
        let omitted = std::mem::take(&mut exp.omitted);
        exp.discard();
        // Objects only the state knows (or whose module the walk did not evaluate) depend on
        // what the state recorded for them.
        for (addr, instance) in &self.state.resources {
            of.entry(addr.clone())
                .or_default()
                .extend(instance.dependencies.iter().cloned());
        }
        unevaluated.retain(|a| !of.contains_key(a));
        Some(Dependencies {
            of,
            unevaluated,
            omitted,
        })
    }

    /// The instances `-target` and `-exclude` leave in the plan: each target with everything
    /// it depends on, minus each excluded instance with everything that depends on it; only
    /// those of the selected partitions when there is a selection.
    fn only(
        &mut self,
        options: &RunOptions,
        deps: Dependencies,
        selection: Option<&Selection>,
    ) -> Option<HashSet<AbsResourceInstance>> {
        let mut matchers = Vec::new();
        for (flag, list) in [
            ("-target", &options.targets),
            ("-exclude", &options.excludes),
        ] {
            for text in list {
                if text.starts_with(partition::SELECTOR_PREFIX) {
                    continue;
                }
                match Selector::parse(text) {
                    Ok(m) => matchers.push((flag == "-target", m)),
                    Err(e) => self.diagnostics.push(Diagnostic::error(
                        format!("Invalid {flag} address"),
                        format!("{text:?}: {e}"),
                    )),
                }
            }
        }
        let key = &self.key;
        let chosen = |a: &AbsResourceInstance| {
            selection.is_none_or(|s| s.selected.contains(&key.partition_of(&a.module)))
        };
        if matchers.is_empty() {
            return Some(deps.instances().filter(|a| chosen(a)).cloned().collect());
        }
        let closure = DependencyClosure::new(&deps.of);
        // A plan needs what it targets to exist first (dependencies); a destroy must remove
        // what depends on a target first (dependents). Exclusions work the other way round.
        let destroying = options.mode == Mode::Destroy;
        let targets: Vec<&Selector> = matchers
            .iter()
            .filter(|(t, _)| *t)
            .map(|(_, m)| m)
            .collect();
        let mut only: HashSet<AbsResourceInstance> = if targets.is_empty() {
            deps.instances().cloned().collect()
        } else {
            let mut set = HashSet::new();
            let todo: Vec<AbsResourceInstance> = deps
                .instances()
                .filter(|a| targets.iter().any(|m| m.matches(a)))
                .cloned()
                .collect();
            closure.extend(&mut set, todo, !destroying);
            set
        };
        for (_, m) in matchers.iter().filter(|(t, _)| !*t) {
            let excluded: Vec<AbsResourceInstance> =
                only.iter().filter(|a| m.matches(a)).cloned().collect();
            let mut removed = HashSet::new();
            closure.extend(&mut removed, excluded, destroying);
            only.retain(|a| !removed.contains(a));
        }
        only.retain(|a| chosen(a));
        if options
            .targets
            .iter()
            .any(|t| !t.starts_with(partition::SELECTOR_PREFIX))
        {
            self.diagnostics.push(Diagnostic::warning(
                "Resource targeting is in effect",
                "You are creating a plan with the -target option, which means that the result of this plan may not represent all of the changes requested by the current configuration.\n\nThe -target option is not for routine use, and is provided only for exceptional situations such as recovering from errors or mistakes, or when fleetform specifically suggests to use it as part of an error message.",
            ));
        }
        Some(only)
    }
}

/// Whether any recorded value or output is sensitive.
fn holds_secrets(state: &State) -> bool {
    state
        .resources
        .values()
        .any(|i| i.value.contains_sensitive())
        || state
            .outputs
            .values()
            .any(|o| o.sensitive || o.value.contains_sensitive())
}

impl Session {
    /// `fleetform console`: the configuration expanded with the recorded state's values.
    /// `None` when it cannot be expanded; the diagnostics say why.
    pub fn console<'s>(&'s mut self, providers: &'s Providers) -> Option<super::Console<'s>> {
        let options = Options {
            workspace: self.workspace.clone(),
            inputs_complete: true,
        };
        let expansion = expand::expand(
            &self.config,
            providers,
            &self.inputs,
            options,
            &super::console::StateHook { state: &self.state },
            expand::WalkOptions {
                parallelism: 0,
                runtime: None,
                frozen: None,
                omit_unread: false,
            },
            &mut self.diagnostics,
        )?;
        Some(super::Console { expansion })
    }

    /// `fleetform import ADDR ID`: adopts an existing object into state. The configuration
    /// must declare the resource, as in Terraform.
    pub fn import(
        &mut self,
        providers: &Providers,
        address: &str,
        id: &str,
        runtime: &tokio::runtime::Handle,
    ) -> bool {
        use crate::addrs::ResourceMode;
        let addr = match parse_abs_resource_instance(address) {
            Ok(a) => a,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    "Invalid address",
                    format!("{address:?}: {e}."),
                ));
                return false;
            }
        };
        let declared = self
            .config
            .modules
            .get(&addr.module.path())
            .is_some_and(|m| m.resources.contains_key(&addr.resource.resource));
        if !declared || addr.resource.resource.mode != ResourceMode::Managed {
            self.diagnostics.push(Diagnostic::error(
                "Configuration for import target does not exist",
                format!("The configuration for the given import target {addr} does not exist. Before importing this resource, please create its configuration, for example:\n\nresource {:?} {:?} {{\n  # (resource arguments)\n}}", addr.resource.resource.ty, addr.resource.resource.name),
            ));
            return false;
        }
        if self.state.resources.contains_key(&addr) {
            self.diagnostics.push(Diagnostic::error("Resource already managed by fleetform", format!("fleetform is already managing a remote object for {addr}. To import to this address you must first remove the existing object from the state.")));
            return false;
        }
        let Some((provider_name, _)) =
            providers.resource_type(ResourceMode::Managed, &addr.resource.resource.ty)
        else {
            return false;
        };
        let Some(provider) = providers.get(provider_name) else {
            return false;
        };
        for name in providers.names() {
            providers.observe(name, &self.state);
        }
        let request = fleetform_sdk::ImportRequest {
            type_name: addr.resource.resource.ty.clone(),
            id: id.to_owned(),
            cancel: CancellationToken::new(),
        };
        let value = match runtime.block_on(crate::plan::hook::bounded(
            RunOptions::default().timeout,
            &CancellationToken::new(),
            provider.import(request),
        )) {
            Ok(v) => v,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    "Import failed",
                    format!("Importing {addr} with id {id:?} failed: {e}."),
                ));
                return false;
            }
        };
        let mut next = self.state.clone();
        next.resources.insert(
            addr,
            crate::state::InstanceState {
                provider: format!("provider.{provider_name}"),
                schema_version: 0,
                value,
                dependencies: Vec::new(),
                status: crate::state::InstanceStatus::Ready,
                create_before_destroy: false,
                prevent_destroy: false,
            },
        );
        if let Err(e) = self.state.next_serial() {
            self.diagnostics
                .push(Diagnostic::error("State cannot advance", format!("{e}.")));
            return false;
        }
        if let Err(e) = self.write_state(next) {
            self.diagnostics
                .push(Diagnostic::error("Failed to persist state", e.to_string()));
            return false;
        }
        true
    }
}

/// Who depends on whom, for `-target` and `-exclude`: an instance depends on whole
/// resources (as recorded in plans and state), so closures go through resources.
struct DependencyClosure<'a> {
    deps: &'a HashMap<AbsResourceInstance, Vec<AbsResource>>,
    instances: HashMap<AbsResource, Vec<&'a AbsResourceInstance>>,
    dependents: HashMap<AbsResource, Vec<&'a AbsResourceInstance>>,
}

impl<'a> DependencyClosure<'a> {
    fn new(deps: &'a HashMap<AbsResourceInstance, Vec<AbsResource>>) -> DependencyClosure<'a> {
        let mut instances: HashMap<AbsResource, Vec<&AbsResourceInstance>> = HashMap::new();
        let mut dependents: HashMap<AbsResource, Vec<&AbsResourceInstance>> = HashMap::new();
        for (addr, list) in deps {
            instances.entry(addr.abs_resource()).or_default().push(addr);
            for r in list {
                dependents.entry(r.clone()).or_default().push(addr);
            }
        }
        DependencyClosure {
            deps,
            instances,
            dependents,
        }
    }

    /// Adds `start` to `set` with everything it depends on (`dependencies`) or everything
    /// that depends on it (otherwise), transitively.
    fn extend(
        &self,
        set: &mut HashSet<AbsResourceInstance>,
        start: Vec<AbsResourceInstance>,
        dependencies: bool,
    ) {
        let mut seen: HashSet<AbsResource> = HashSet::new();
        let mut todo = start;
        while let Some(a) = todo.pop() {
            if !set.insert(a.clone()) {
                continue;
            }
            if dependencies {
                for r in self.deps.get(&a).into_iter().flatten() {
                    if seen.insert(r.clone()) {
                        todo.extend(
                            self.instances
                                .get(r)
                                .into_iter()
                                .flatten()
                                .map(|i| (*i).clone()),
                        );
                    }
                }
            } else {
                let r = a.abs_resource();
                if seen.insert(r.clone()) {
                    todo.extend(
                        self.dependents
                            .get(&r)
                            .into_iter()
                            .flatten()
                            .map(|i| (*i).clone()),
                    );
                }
            }
        }
    }
}
