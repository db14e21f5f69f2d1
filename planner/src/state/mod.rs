//! State: what fleetform has created, keyed by instance address.
//!
//! This file is the model, plain data with no I/O and no serde: [`format`] is the on-disk
//! mirror (versioned JSON), [`backend`] stores it (the local file backend, with locking and
//! atomic replacement), and [`journal`] is the write-ahead log that records each instance as
//! soon as it is applied, so that a run killed at any instant forgets nothing.
//!
//! A run goes: `lock` -> `read` (replays the journal of an interrupted run) -> `journal(&state)`
//! -> `record` each change (and `apply` it to the in-memory state) -> `sync` now and then ->
//! `serial += 1` and `write` (compacts: the journal is removed) -> drop the lock guard.

pub mod backend;
pub mod format;
pub mod journal;
pub mod partition;

use std::collections::{BTreeMap, BTreeSet};

pub use fleetform_sdk::PendingAction;
use fleetform_sdk::Value;

use crate::addrs::{AbsResource, AbsResourceInstance, InstanceKey};

pub use backend::local::LocalBackend;
pub use backend::{Backend, LockGuard, LockInfo, StateError, StateStore};
pub use journal::{Journal, JournalEntry};

/// A fleet's state: every resource instance fleetform manages, and the root outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Identifies this state's history (a UUID v4), fixed when the state is created; a store
    /// refuses to overwrite a state of another lineage.
    pub lineage: String,
    /// Increases by one on every persisted write; 0 means "never written".
    pub serial: u64,
    /// Resource instances (managed and data), by address.
    pub resources: BTreeMap<AbsResourceInstance, InstanceState>,
    /// Root module outputs, by name.
    pub outputs: BTreeMap<String, OutputState>,
    /// Changes a run started and never saw finish (it was killed), by address.
    pub pending: BTreeMap<AbsResourceInstance, PendingOperation>,
    /// The last apply (or destroy, or refresh) that reached its end, written with the
    /// state it left; `None` before the first. In a partitioned state it lives in the
    /// rest of the fleet's partition, [`partition::REST`], so runs that do not hold that
    /// partition leave it as it was.
    pub last_apply: Option<LastApply>,
    /// How far each `rollout` got, by name.
    pub rollouts: BTreeMap<String, RolloutProgress>,
    /// Changes an apply could not make because their object was unreachable (a site off
    /// the network), by address: every plan shows them until an apply makes them.
    pub deferred: BTreeMap<AbsResourceInstance, DeferredChange>,
}

/// A change deferred because its object could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredChange {
    /// What was to be done: `create`, `update`, `replace` or `delete`.
    pub action: String,
    /// When it was first deferred, RFC 3339.
    pub since: String,
    /// What the provider said, last time.
    pub reason: String,
}

/// How far a rollout got: the next plan shows it, and an apply after a halt starts with the
/// sites that failed (their health gates are checked again) and then goes on where it
/// stopped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RolloutProgress {
    /// Where it is.
    pub status: RolloutStatus,
    /// The stage it is in, halted in, or finished with.
    pub stage: String,
    /// The batch of that stage, from 1.
    pub batch: usize,
    /// Sites whose changes were made and whose gates passed, since the rollout started.
    pub done: BTreeSet<String>,
    /// Sites that failed (a change failed, or a gate did not pass in time), with why.
    pub failed: BTreeMap<String, String>,
    /// Why it halted.
    pub halted: Option<String>,
    /// When this was recorded, RFC 3339.
    pub updated: String,
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RolloutStatus {
    /// An apply is taking it through its stages (or was killed doing so).
    #[default]
    Running,
    /// More sites failed than its failure budget allows: the sites it had not reached
    /// were left as they were.
    Halted,
    /// Every site with changes went through.
    Completed,
}

impl RolloutStatus {
    /// How state files and JSON outputs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutStatus::Running => "running",
            RolloutStatus::Halted => "halted",
            RolloutStatus::Completed => "completed",
        }
    }
}

/// How the last apply went: what `fleetform status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastApply {
    /// What it was: `apply`, `destroy` or `refresh`.
    pub operation: String,
    /// When it started, RFC 3339.
    pub started: String,
    /// When it finished, RFC 3339.
    pub finished: String,
    /// How it ended.
    pub outcome: ApplyOutcome,
    /// Changes it made.
    pub changes: u64,
    /// Changes that failed.
    pub failed: u64,
    /// The fleetform version that ran it.
    pub version: String,
}

/// How an apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Every change was made.
    Succeeded,
    /// Some change failed (or the state could not take it).
    Failed,
    /// It was interrupted (Ctrl-C, SIGTERM) and stopped early; what it made is recorded.
    Interrupted,
}

impl ApplyOutcome {
    /// The word for people and JSON: `succeeded`, `failed`, `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyOutcome::Succeeded => "succeeded",
            ApplyOutcome::Failed => "failed",
            ApplyOutcome::Interrupted => "interrupted",
        }
    }
}

/// A change a run started on an instance and did not see finish: recorded before the
/// provider is asked to make it, cleared when its outcome is recorded. One left behind by a
/// killed run is shown by the next plan, and the provider decides whether it can be made
/// again ([`fleetform_sdk::Provider::resume`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOperation {
    /// What was being done.
    pub action: PendingAction,
    /// When it started, RFC 3339.
    pub started: String,
    /// The provider configuration address, as in [`InstanceState::provider`].
    pub provider: String,
    /// The object before the change (`None` for a create).
    pub prior: Option<Value>,
    /// The object the change was making, unknown where only the provider could tell
    /// (`None` for a delete).
    pub planned: Option<Value>,
    /// What the provider saved to continue from ([`fleetform_sdk::Checkpoint`]).
    pub checkpoint: Option<Value>,
    /// Recorded with the object if the change turns out to have finished.
    pub dependencies: Vec<AbsResource>,
    /// As in [`InstanceState`].
    pub create_before_destroy: bool,
    /// As in [`InstanceState`].
    pub prevent_destroy: bool,
    /// A delete of the old object of a create-before-destroy replacement, which is no
    /// longer at the address (its replacement is).
    pub deposed: bool,
}

/// The recorded state of one resource instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceState {
    /// The provider configuration address, e.g. `provider.fleetform` or
    /// `module.a.provider.host.west`.
    pub provider: String,
    /// The version of the resource type's schema the value was written with.
    pub schema_version: u64,
    /// The instance's attributes: an object, with sensitive marks inside it; never unknown.
    pub value: Value,
    /// The resources this one depended on when it was last applied (destroy order when its
    /// block is gone from the files). Resources, not instances, so that the state of a fleet
    /// grows with its size, not with its square.
    pub dependencies: Vec<AbsResource>,
    /// Ready, or tainted (to be replaced).
    pub status: InstanceStatus,
    /// Whether it is replaced create-before-destroy.
    pub create_before_destroy: bool,
    /// Recorded so a destroy is refused even after the block is deleted from the files.
    pub prevent_destroy: bool,
}

/// Whether an instance is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceStatus {
    /// Created or updated successfully.
    #[default]
    Ready,
    /// Marked for replacement (`taint`): the next plan replaces it.
    Tainted,
    /// Its creation failed part way: the next plan replaces it. It never was the object
    /// the configuration describes, so `prevent_destroy` does not keep it.
    Incomplete,
}

impl InstanceStatus {
    /// True when the next plan replaces the object (Terraform's "tainted").
    pub fn is_tainted(self) -> bool {
        self != InstanceStatus::Ready
    }
}

/// The recorded value of one root output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputState {
    /// The value, stored in full (state is where secrets live).
    pub value: Value,
    /// Declared `sensitive`: redacted everywhere except in state.
    pub sensitive: bool,
}

impl PendingOperation {
    /// The object to record if the change turns out to have finished with `value`.
    pub fn instance(&self, value: Value) -> InstanceState {
        InstanceState {
            provider: self.provider.clone(),
            schema_version: 0,
            value,
            dependencies: self.dependencies.clone(),
            status: InstanceStatus::Ready,
            create_before_destroy: self.create_before_destroy,
            prevent_destroy: self.prevent_destroy,
        }
    }
}

impl State {
    /// The serial the next write of this state takes; an error once the serial is the
    /// largest there is, since no later state could then be written.
    pub fn next_serial(&self) -> Result<u64, String> {
        self.serial.checked_add(1).ok_or_else(|| {
            format!(
                "the state's serial is {}, the largest there is, so no later state can be written: save it with `fleetform state pull > FILE`, lower the serial in FILE, remove the stored state (the local fleet.state file, or the workspace of a remote backend) and push FILE with `fleetform state push FILE`",
                self.serial
            )
        })
    }

    /// A new, empty state with a fresh lineage and serial 0.
    pub fn new() -> State {
        State {
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: BTreeMap::new(),
            last_apply: None,
            rollouts: BTreeMap::new(),
            deferred: BTreeMap::new(),
        }
    }

    /// The recorded instances of `resource`, in key order.
    pub fn instances_of<'a>(
        &'a self,
        resource: &'a AbsResource,
    ) -> impl Iterator<Item = (&'a AbsResourceInstance, &'a InstanceState)> + 'a {
        // Keys sort after `InstanceKey::None`, so the instances of one resource are the run
        // starting there.
        let first = AbsResourceInstance {
            module: resource.module.clone(),
            resource: resource.resource.instance(InstanceKey::None),
        };
        self.resources.range(first..).take_while(move |(addr, _)| {
            addr.module == resource.module && addr.resource.resource == resource.resource
        })
    }

    /// Records `instance` at `addr`, returning what was there.
    pub fn set(
        &mut self,
        addr: AbsResourceInstance,
        instance: InstanceState,
    ) -> Option<InstanceState> {
        self.resources.insert(addr, instance)
    }

    /// Forgets the instance at `addr`, returning it.
    pub fn remove(&mut self, addr: &AbsResourceInstance) -> Option<InstanceState> {
        self.resources.remove(addr)
    }

    /// Applies one journal entry (what [`journal::Journal::record`] persisted) to this state.
    /// Applying the same entry twice is the same as applying it once. Recording an
    /// instance's outcome ends the operation pending on it.
    pub fn apply(&mut self, entry: JournalEntry) {
        match entry {
            JournalEntry::Instance {
                addr,
                state: Some(instance),
            } => {
                self.pending.remove(&addr);
                self.deferred.remove(&addr);
                self.resources.insert(addr, instance);
            }
            JournalEntry::Instance { addr, state: None } => {
                self.pending.remove(&addr);
                self.deferred.remove(&addr);
                self.resources.remove(&addr);
            }
            JournalEntry::Deferred {
                addr,
                change: Some(change),
            } => {
                self.deferred.insert(addr, change);
            }
            JournalEntry::Deferred { addr, change: None } => {
                self.deferred.remove(&addr);
            }
            JournalEntry::Pending { addr, op: Some(op) } => {
                self.pending.insert(addr, op);
            }
            JournalEntry::Pending { addr, op: None } => {
                self.pending.remove(&addr);
            }
            JournalEntry::Output {
                name,
                state: Some(output),
            } => {
                self.outputs.insert(name, output);
            }
            JournalEntry::Output { name, state: None } => {
                self.outputs.remove(&name);
            }
            JournalEntry::Rollout {
                name,
                progress: Some(progress),
            } => {
                self.rollouts.insert(name, progress);
            }
            JournalEntry::Rollout {
                name,
                progress: None,
            } => {
                self.rollouts.remove(&name);
            }
        }
    }
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addrs::{ModuleInstance, Resource};

    fn instance(id: &str) -> InstanceState {
        InstanceState {
            provider: "provider.host".into(),
            schema_version: 0,
            value: Value::object([("id", Value::from(id))]),
            dependencies: Vec::new(),
            status: InstanceStatus::Ready,
            create_before_destroy: false,
            prevent_destroy: false,
        }
    }

    #[test]
    fn the_largest_serial_cannot_advance_and_says_how_to_get_out() {
        let mut state = State::new();
        state.serial = u64::MAX - 1;
        assert_eq!(state.next_serial(), Ok(u64::MAX));
        state.serial = u64::MAX;
        let e = state.next_serial().unwrap_err();
        assert!(
            e.contains("18446744073709551615") && e.contains("state push"),
            "{e}"
        );
    }

    #[test]
    fn instances_of_finds_exactly_one_resources_instances() {
        let mut state = State::new();
        let web = AbsResource {
            module: ModuleInstance::root(),
            resource: Resource::managed("host", "web"),
        };
        let other = Resource::managed("host", "webs");
        for key in [InstanceKey::Int(0), InstanceKey::Int(1), InstanceKey::None] {
            state.set(
                AbsResourceInstance {
                    module: ModuleInstance::root(),
                    resource: web.resource.instance(key),
                },
                instance("w"),
            );
        }
        state.set(
            AbsResourceInstance {
                module: ModuleInstance::root(),
                resource: other.instance(InstanceKey::None),
            },
            instance("o"),
        );
        state.set(
            AbsResourceInstance {
                module: ModuleInstance::root().child("a", InstanceKey::None),
                resource: web.resource.instance(InstanceKey::None),
            },
            instance("m"),
        );
        let found: Vec<String> = state
            .instances_of(&web)
            .map(|(a, _)| a.to_string())
            .collect();
        assert_eq!(found, ["host.web", "host.web[0]", "host.web[1]"]);
        assert_ne!(State::new().lineage, State::new().lineage);
    }
}
