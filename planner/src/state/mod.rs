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

use std::collections::BTreeMap;

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
    /// The instances this one depended on when it was last applied (destroy order when its
    /// block is gone from the files).
    pub dependencies: Vec<AbsResourceInstance>,
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
    /// Created but not fully set up (or `taint`ed): the next plan replaces it.
    Tainted,
}

/// The recorded value of one root output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputState {
    /// The value, stored in full (state is where secrets live).
    pub value: Value,
    /// Declared `sensitive`: redacted everywhere except in state.
    pub sensitive: bool,
}

impl State {
    /// A new, empty state with a fresh lineage and serial 0.
    pub fn new() -> State {
        State {
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
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
    /// Applying the same entry twice is the same as applying it once.
    pub fn apply(&mut self, entry: JournalEntry) {
        match entry {
            JournalEntry::Instance {
                addr,
                state: Some(instance),
            } => {
                self.resources.insert(addr, instance);
            }
            JournalEntry::Instance { addr, state: None } => {
                self.resources.remove(&addr);
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
