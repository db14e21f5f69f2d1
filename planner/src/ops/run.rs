//! Plan, apply, destroy and refresh: a [`Session`] holds the configuration, the inputs and
//! the locked state of one run.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use fleetform_sdk::{CancellationToken, Diagnostic, Diagnostics};
use indexmap::IndexMap;

use super::LoadOptions;
use crate::addrs::{AbsResourceInstance, Selector, parse_abs_resource_instance};
use crate::apply::progress::Progress;
use crate::config::{self, Config};
use crate::expand::{self, Options};
use crate::graph::Graph;
use crate::inputs::{self, InputValue};
use crate::plan::hook::Settings;
use crate::plan::{Mode, Plan};
use crate::providers::Providers;
use crate::state::State;
use crate::state::backend::local::LocalBackend;
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
    inputs: IndexMap<String, InputValue>,
    store: Box<dyn StateStore>,
    backend: Box<dyn Backend>,
    _lock: Option<Box<dyn LockGuard>>,
}

/// Loads the configuration and its inputs, opens the state backend, and (when `lock`)
/// locks the workspace's state for `operation`. On failure the diagnostics say why, with
/// the configuration's sources for rendering.
pub fn open(
    options: &LoadOptions,
    operation: &str,
    lock: Option<Duration>,
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
    let backend = match backend(&config, &options.dir) {
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
    let guard = match lock {
        Some(timeout) => match store.lock(LockInfo::new(operation), timeout) {
            Ok(g) => Some(g),
            Err(e) => {
                diagnostics.push(Diagnostic::error("Error acquiring the state lock", e.to_string()).help(
                    "fleetform acquires a state lock to protect the state from being written by multiple users at the same time; wait for the other run, raise -lock-timeout, or, if no run is active, use `fleetform force-unlock ID`",
                ));
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
        inputs,
        store,
        backend,
        _lock: guard,
    })
}

/// The backend the `fleet { backend "..." {} }` block names; local by default.
fn backend(config: &Config, dir: &Path) -> Result<Box<dyn Backend>, Box<Diagnostic>> {
    let Some(block) = config
        .root()
        .and_then(|r| r.fleet.as_ref())
        .and_then(|f| f.backend.as_ref())
    else {
        return Ok(Box::new(LocalBackend::new(dir, None)));
    };
    match block.kind.as_str() {
        "local" => {
            let path = block.settings.get("path").and_then(|v| v.as_str()).map(|p| dir.join(p));
            Ok(Box::new(LocalBackend::new(dir, path)))
        }
        other => Err(Box::new(Diagnostic::error(
            "Backend not available",
            format!("The {other:?} state backend is not available in this version of fleetform; use \"local\"."),
        )
        .at(Some(config.range(&block.loc))))),
    }
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

    /// Makes a plan. `None` when errors prevent one; the diagnostics say why.
    pub fn plan(
        &mut self,
        providers: &Providers,
        options: &RunOptions,
        runtime: &tokio::runtime::Handle,
        cancel: CancellationToken,
    ) -> Option<Plan> {
        let settings = self.settings(providers, options)?;
        providers.observe(&self.state);
        let inputs = crate::plan::build::Inputs {
            config: &self.config,
            providers,
            variables: &self.inputs,
            workspace: &self.workspace,
            prior: &self.state,
            settings: &settings,
            runtime,
            cancel,
        };
        let plan = crate::plan::build::plan(&inputs, &mut self.diagnostics);
        self.diagnostics.sort_and_dedup();
        plan.filter(|_| !self.diagnostics.has_errors())
    }

    /// Refuses a saved plan made from another state or configuration.
    pub fn check_saved(&mut self, plan: &Plan, config_hash: &str) -> bool {
        // The serial first: a plan made before any state existed is stale once one does.
        if plan.serial != self.state.serial {
            self.diagnostics.push(Diagnostic::error("Saved plan is stale", format!("The plan was made from state serial {}, but the state has changed since (serial {}). Create a new plan from the current state.", plan.serial, self.state.serial)));
            return false;
        }
        if self.state.serial > 0 && plan.lineage != self.state.lineage {
            self.diagnostics.push(Diagnostic::error("Saved plan does not match the state", format!("The plan was made for a state with lineage {:?}, but the current state has lineage {:?}: it belongs to another state, perhaps another workspace. Create a new plan.", plan.lineage, self.state.lineage)));
            return false;
        }
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
        let Some(settings) = self.settings(providers, options) else {
            return false;
        };
        providers.observe(&self.state);
        let journal = match self.store.journal(&self.state) {
            Ok(j) => j,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    "Failed to open the state journal",
                    e.to_string(),
                ));
                return false;
            }
        };
        let inputs = crate::apply::Inputs {
            config: &self.config,
            providers,
            plan,
            workspace: &self.workspace,
            settings: &settings,
            runtime,
            progress,
            stopping,
            cancel,
        };
        let mut state =
            crate::apply::apply(&inputs, self.state.clone(), journal, &mut self.diagnostics);
        if state.resources != self.state.resources
            || state.outputs != self.state.outputs
            || self.state.serial == 0
        {
            state.serial = self.state.serial + 1;
            if let Err(e) = self.store.write(&state) {
                self.diagnostics.push(Diagnostic::error("Failed to persist state", format!("{e}. Every completed change is kept in the state journal next to the state file and is recovered by the next run.")));
                return false;
            }
        }
        self.state = state;
        self.diagnostics.sort_and_dedup();
        !self.diagnostics.has_errors()
    }

    fn settings(&mut self, providers: &Providers, options: &RunOptions) -> Option<Settings> {
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
        let only = if options.targets.is_empty() && options.excludes.is_empty() {
            None
        } else {
            self.only(providers, options)
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
        })
    }

    /// The instances `-target` and `-exclude` leave in the plan: each target with everything
    /// it depends on, minus each excluded instance with everything that depends on it.
    fn only(
        &mut self,
        providers: &Providers,
        options: &RunOptions,
    ) -> Option<HashSet<AbsResourceInstance>> {
        let mut matchers = Vec::new();
        for (flag, list) in [
            ("-target", &options.targets),
            ("-exclude", &options.excludes),
        ] {
            for text in list {
                match Selector::parse(text) {
                    Ok(m) => matchers.push((flag == "-target", m)),
                    Err(e) => self.diagnostics.push(Diagnostic::error(
                        format!("Invalid {flag} address"),
                        format!("{text:?}: {e}"),
                    )),
                }
            }
        }
        let mut scratch = Diagnostics::new();
        let options_ = Options {
            workspace: self.workspace.clone(),
            inputs_complete: true,
        };
        let exp = expand::expand(
            &self.config,
            providers,
            &self.inputs,
            options_,
            &mut expand::ValidateHook,
            &mut scratch,
        )?;
        let mut deps = Graph::build(&exp).resource_dependencies();
        // Objects only the state knows depend on what the state recorded for them.
        for (addr, instance) in &self.state.resources {
            deps.entry(addr.clone())
                .or_default()
                .extend(instance.dependencies.iter().cloned());
        }
        let mut dependents: std::collections::HashMap<
            AbsResourceInstance,
            Vec<AbsResourceInstance>,
        > = Default::default();
        for (addr, list) in &deps {
            for d in list {
                dependents.entry(d.clone()).or_default().push(addr.clone());
            }
        }
        // A plan needs what it targets to exist first (dependencies); a destroy must remove
        // what depends on a target first (dependents). Exclusions work the other way round.
        let destroying = options.mode == Mode::Destroy;
        let (toward_targets, toward_excludes) = if destroying {
            (&dependents, &deps)
        } else {
            (&deps, &dependents)
        };
        let mut all: Vec<AbsResourceInstance> = deps.keys().cloned().collect();
        all.extend(self.state.resources.keys().cloned());
        let targets: Vec<&Selector> = matchers
            .iter()
            .filter(|(t, _)| *t)
            .map(|(_, m)| m)
            .collect();
        let mut only: HashSet<AbsResourceInstance> = if targets.is_empty() {
            all.iter().cloned().collect()
        } else {
            let mut set = HashSet::new();
            let mut todo: Vec<AbsResourceInstance> = all
                .iter()
                .filter(|a| targets.iter().any(|m| m.matches(a)))
                .cloned()
                .collect();
            while let Some(a) = todo.pop() {
                if set.insert(a.clone()) {
                    todo.extend(toward_targets.get(&a).into_iter().flatten().cloned());
                }
            }
            set
        };
        for (_, m) in matchers.iter().filter(|(t, _)| !*t) {
            let excluded: Vec<AbsResourceInstance> =
                only.iter().filter(|a| m.matches(a)).cloned().collect();
            let mut todo = excluded;
            while let Some(a) = todo.pop() {
                if only.remove(&a) {
                    todo.extend(toward_excludes.get(&a).into_iter().flatten().cloned());
                }
            }
        }
        if !options.targets.is_empty() {
            self.diagnostics.push(Diagnostic::warning(
                "Resource targeting is in effect",
                "You are creating a plan with the -target option, which means that the result of this plan may not represent all of the changes requested by the current configuration.\n\nThe -target option is not for routine use, and is provided only for exceptional situations such as recovering from errors or mistakes, or when fleetform specifically suggests to use it as part of an error message.",
            ));
        }
        Some(only)
    }
}

impl Session {
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
        providers.observe(&self.state);
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
        next.serial = self.state.serial + 1;
        if let Err(e) = self.store.write(&next) {
            self.diagnostics
                .push(Diagnostic::error("Failed to persist state", e.to_string()));
            return false;
        }
        self.state = next;
        true
    }
}
