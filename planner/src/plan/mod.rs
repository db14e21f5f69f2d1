//! Plans: what `plan` found and `apply` will do, as plain data. A plan records each
//! resource instance's action with the values before and after (unknown parts marked),
//! changes made outside fleetform that refresh found, output changes, and the state it was
//! made from, so a saved plan can refuse to apply to any other state.

pub mod build;
pub mod configure;
pub mod diff;
pub mod file;
pub mod hook;
pub mod rollout;
pub mod sites;

use std::collections::BTreeMap;

use fleetform_sdk::{Path, Value};

use crate::addrs::{AbsResource, AbsResourceInstance, ModuleInstance};

/// What apply does to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nothing.
    NoOp,
    /// Create it.
    Create,
    /// Read a data source during apply (its configuration is not known before).
    Read,
    /// Change it in place.
    Update,
    /// Destroy it, then create its replacement.
    DeleteThenCreate,
    /// Create the replacement first, then destroy the old object (`create_before_destroy`).
    CreateThenDelete,
    /// Destroy it.
    Delete,
}

impl Action {
    /// Terraform's `change.actions` list.
    pub fn terraform_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Delete => &["delete"],
        }
    }

    /// True for both orders of replacement.
    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    /// True when the object is destroyed (alone or as part of a replacement).
    pub fn destroys(self) -> bool {
        self.is_replace() || self == Action::Delete
    }
}

/// Why an action was chosen, where it is not obvious.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `-replace=ADDR`.
    ReplaceByRequest,
    /// An attribute that cannot change in place changed; the paths are in the change.
    ReplaceBecauseCannotUpdate,
    /// The object is tainted (a create failed part way).
    ReplaceBecauseTainted,
    /// `lifecycle { replace_triggered_by }` named something that changes.
    ReplaceByTriggers(String),
    /// The resource block is gone from the configuration.
    DeleteBecauseNoResourceConfig,
    /// The module instance that held it is gone.
    DeleteBecauseNoModule,
    /// The instance key is not produced by count/for_each any more.
    DeleteBecauseNoInstance,
    /// `plan -destroy`.
    DeleteBecauseDestroyMode,
    /// A data source whose configuration is only known at apply.
    ReadBecauseConfigUnknown,
    /// The old object of a create-before-destroy replacement whose delete a killed run
    /// left unfinished.
    DeleteBecauseDeposed,
}

/// The planned change of one resource instance.
#[derive(Debug, Clone)]
pub struct ResourceChange {
    /// The instance.
    pub addr: AbsResourceInstance,
    /// Its address before a `moved` block renamed it.
    pub previous_addr: Option<AbsResourceInstance>,
    /// The provider configuration that manages it.
    pub provider: String,
    /// What apply does.
    pub action: Action,
    /// Why, where it matters.
    pub reason: Option<Reason>,
    /// The object now (after refresh); `None` when it does not exist.
    pub before: Option<Value>,
    /// The planned object, unknown where only apply can tell; `None` when it will not exist.
    pub after: Option<Value>,
    /// Attributes that force the replacement.
    pub replace_paths: Vec<Path>,
    /// Set when the object is imported by this plan: its id.
    pub importing: Option<String>,
    /// The resources it depends on, recorded in state for ordering later destroys.
    pub dependencies: Vec<AbsResource>,
    /// `create_before_destroy`, recorded in state.
    pub create_before_destroy: bool,
    /// `prevent_destroy`, recorded in state.
    pub prevent_destroy: bool,
    /// What an interrupted earlier attempt at this change saved, handed back to the
    /// provider so it continues from there (see [`Interrupted`]).
    pub resume: Option<Value>,
    /// The delete of a create-before-destroy replacement's old object, no longer at the
    /// address, that a killed run left unfinished.
    pub deposed: bool,
}

impl ResourceChange {
    /// A change with nothing but its address, provider and action: no values, no reason,
    /// no dependencies, every flag off. Callers set the rest with struct update syntax.
    pub fn new(addr: AbsResourceInstance, provider: String, action: Action) -> ResourceChange {
        ResourceChange {
            addr,
            previous_addr: None,
            provider,
            action,
            reason: None,
            before: None,
            after: None,
            replace_paths: Vec::new(),
            importing: None,
            dependencies: Vec::new(),
            create_before_destroy: false,
            prevent_destroy: false,
            resume: None,
            deposed: false,
        }
    }
}

/// A change a killed run left unfinished, and what this plan does about it.
#[derive(Debug, Clone)]
pub struct Interrupted {
    /// The instance.
    pub addr: AbsResourceInstance,
    /// What was left unfinished.
    pub op: crate::state::PendingOperation,
    /// What this plan does about it.
    pub resolution: Resolution,
}

/// What a plan does about an interrupted change.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The provider can make it again safely: the plan includes it (with the progress
    /// saved, if any), or nothing is left to do.
    Continue,
    /// The provider found it done: this is the object now (`None`: gone).
    Finished(Option<Value>),
    /// The user decides (the plan fails with the provider's reason and the choices):
    /// `-replace=ADDR` makes it again; `fleetform state pending done ADDR` records it as
    /// done.
    Ask(String),
}

/// A change of a root module output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputChange {
    /// The value now, `None` when the output does not exist yet.
    pub before: Option<Value>,
    /// The planned value, `None` when the output is removed.
    pub after: Option<Value>,
    /// Declared `sensitive`.
    pub sensitive: bool,
}

/// Which kind of plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Converge to the configuration.
    Normal,
    /// Destroy everything (`-destroy`, `destroy`).
    Destroy,
    /// Only record what refresh found (`-refresh-only`, `refresh`).
    RefreshOnly,
}

/// What a condition (`validation`, `precondition`, `postcondition`) was checked on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Checked {
    /// A resource or data instance's pre- or postcondition.
    Resource(AbsResourceInstance),
    /// An input variable's validation, in a module instance.
    Variable(ModuleInstance, String),
    /// An output's precondition, in a module instance.
    Output(ModuleInstance, String),
}

/// The outcome of one condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckStatus {
    /// True.
    Pass,
    /// Depends on values known only after apply.
    Unknown,
    /// The condition could not be evaluated or did not return a bool.
    Error,
    /// False.
    Fail,
}

/// One condition checked while planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// What it was checked on.
    pub object: Checked,
    /// How it came out.
    pub status: CheckStatus,
}

/// A complete plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Which kind.
    pub mode: Mode,
    /// The changes, sorted by address; no-ops included (renderers skip them).
    pub changes: Vec<ResourceChange>,
    /// Changes made outside fleetform, found by refresh.
    pub drift: Vec<ResourceChange>,
    /// Root output changes.
    pub outputs: BTreeMap<String, OutputChange>,
    /// The lineage of the state the plan was made from.
    pub lineage: String,
    /// The serial of that state; applying to any other serial is refused.
    pub serial: u64,
    /// The root variable values the plan was made with, so applying a saved plan
    /// evaluates the configuration exactly as planned.
    pub variables: BTreeMap<String, Value>,
    /// Changes a killed run left unfinished, and what this plan does about each.
    pub interrupted: Vec<Interrupted>,
    /// Deletes of create-before-destroy replacements' old objects that a killed run left
    /// unfinished; apply finishes them.
    pub deposed: Vec<ResourceChange>,
    /// When the plan was made.
    pub timestamp: std::time::SystemTime,
    /// False when `-target` or `-exclude` left parts of the configuration out.
    pub complete: bool,
    /// Every condition checked while planning, in evaluation order.
    pub checks: Vec<CheckResult>,
    /// On a state kept in partitions: each partition the plan writes or reads, with its
    /// serial when planned; applying is refused when one has moved since.
    pub partitions: BTreeMap<String, PartitionUse>,
    /// The fleet's rollouts: the stages and batches apply takes the sites' changes in.
    pub rollouts: Vec<rollout::RolloutPlan>,
    /// Changes earlier applies deferred because their objects were unreachable (from the
    /// state the plan was made from), by site.
    pub deferred: BTreeMap<String, Vec<(AbsResourceInstance, crate::state::DeferredChange)>>,
}

/// A partition a plan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionUse {
    /// Its serial when the plan was made (0: not stored yet).
    pub serial: u64,
    /// Whether the plan changes it (else it only reads values recorded in it).
    pub written: bool,
}

impl Plan {
    /// True when applying would change nothing: no resource change, move or import, and no
    /// output change.
    pub fn is_empty(&self) -> bool {
        let changes_nothing = |c: &ResourceChange| {
            c.action == Action::NoOp && c.previous_addr.is_none() && c.importing.is_none()
        };
        // A refresh-only plan changes the state by recording what refresh found.
        let records_drift = self.mode == Mode::RefreshOnly && !self.drift.is_empty();
        // Settling an interrupted change changes the state too.
        // A site a halted rollout recorded as failed has its gates checked again.
        let rechecks = self.rollouts.iter().any(|r| r.sites().any(|s| s.recheck));
        !records_drift
            && !rechecks
            && self.interrupted.is_empty()
            && self.deposed.is_empty()
            && self.changes.iter().all(changes_nothing)
            && self.outputs.values().all(|o| match (&o.before, &o.after) {
                (Some(b), Some(a)) => diff::values_equal(b, a) && a.is_wholly_known(),
                (None, None) => true,
                _ => false,
            })
    }

    /// Counts of (to add, to change, to destroy), as the summary line shows them.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut add = 0;
        let mut change = 0;
        let mut destroy = 0;
        for c in &self.changes {
            match c.action {
                Action::Create => add += 1,
                Action::Update => change += 1,
                Action::Delete => destroy += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    add += 1;
                    destroy += 1;
                }
                Action::NoOp | Action::Read => {}
            }
        }
        (add, change, destroy)
    }
}

#[cfg(test)]
mod tests;
