//! Partitions of a fleet's state: the instances of each instance of a declared module call
//! (by default each instance of a root module call with `for_each`, such as
//! `module.clinic["north"]`) form one partition, and the rest of the fleet ([`REST`]) one
//! more. A backend that stores partitions apart ([`super::backend::PartitionedStore`])
//! gives each its own serial, lock and journal, so runs on disjoint partitions proceed at
//! the same time; every backend accepts partitions in `-target`/`-exclude` and
//! `-partitions=K/N`, which choose instances by partition.
//!
//! Plain data and pure functions: splitting a [`State`] into partitions, merging them back
//! into the one document `show` and `state pull` print, and choosing a runner's share.

use std::collections::{BTreeMap, BTreeSet};

use crate::addrs::ModuleInstance;
use crate::config::Config;

use super::State;

/// The partition of everything outside the keyed module instances (root resources, root
/// outputs, modules called without `for_each`).
pub const REST: &str = "root";

/// The prefix of a partition in `-target`/`-exclude`: `partition:module.clinic["north"]`.
pub const SELECTOR_PREFIX: &str = "partition:";

/// The partitions a run works on: the module instances of every other partition keep what
/// their partitions last committed, and a walk does not evaluate them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub key: PartitionKey,
    pub partitions: BTreeSet<String>,
}

impl Chosen {
    /// Whether `module`'s resources are outside the chosen partitions.
    pub fn leaves_out(&self, module: &ModuleInstance) -> bool {
        !self.partitions.contains(&self.key.partition_of(module))
    }
}

/// Which module instances are partitions: the instances of these module calls, each given
/// as the names of its calls from the root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionKey {
    calls: Vec<Vec<String>>,
}

impl PartitionKey {
    /// The key the fleet declares (`fleet { partitions { by = [...] } }`), else the default:
    /// every root module call with `for_each`.
    pub fn of(config: &Config) -> PartitionKey {
        let declared = config
            .root()
            .and_then(|r| r.fleet.as_ref())
            .and_then(|f| f.partitions.as_ref())
            .and_then(|p| p.by.as_ref());
        if let Some(by) = declared {
            return PartitionKey {
                calls: by.iter().map(|(path, _)| path.clone()).collect(),
            };
        }
        let calls = config
            .root()
            .map(|root| {
                root.module_calls
                    .values()
                    .filter(|c| c.for_each.is_some())
                    .map(|c| vec![c.name.clone()])
                    .collect()
            })
            .unwrap_or_default();
        PartitionKey { calls }
    }

    /// The module calls whose instances are partitions, each as the names of its calls
    /// from the root.
    pub fn calls(&self) -> &[Vec<String>] {
        &self.calls
    }

    /// A key of exactly these module call paths.
    pub fn new(calls: Vec<Vec<String>>) -> PartitionKey {
        PartitionKey { calls }
    }

    /// Whether the fleet block asks for the state to be stored in partitions.
    pub fn stored_apart(config: &Config) -> bool {
        config
            .root()
            .and_then(|r| r.fleet.as_ref())
            .is_some_and(|f| f.partitions.is_some())
    }

    /// The partition holding what lives in `module`.
    pub fn partition_of(&self, module: &ModuleInstance) -> String {
        for call in &self.calls {
            if module.0.len() >= call.len()
                && module
                    .0
                    .iter()
                    .zip(call)
                    .all(|(step, name)| step.name == *name)
            {
                return ModuleInstance(module.0[..call.len()].to_vec()).to_string();
            }
        }
        REST.to_owned()
    }

    /// `state` as partitions: resources, pending operations and deferred changes by the
    /// partition of their module; outputs, rollouts and the last apply in [`REST`] (always
    /// present). Each part keeps `state`'s lineage; its serial is 0 (the caller sets the
    /// stored one).
    pub fn split(&self, state: &State) -> BTreeMap<String, State> {
        self.split_where(state, |_| true)
    }

    /// [`PartitionKey::split`] keeping only the partitions `keep` names: a run over a few
    /// partitions copies only those.
    pub fn split_where(
        &self,
        state: &State,
        keep: impl Fn(&str) -> bool,
    ) -> BTreeMap<String, State> {
        let empty = || State {
            lineage: state.lineage.clone(),
            serial: 0,
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: BTreeMap::new(),
            last_apply: None,
            rollouts: BTreeMap::new(),
            deferred: BTreeMap::new(),
        };
        let mut parts: BTreeMap<String, State> = BTreeMap::new();
        if keep(REST) {
            parts.insert(REST.to_owned(), empty());
        }
        // Addresses come sorted, so a module's instances come together.
        let mut last: Option<(&ModuleInstance, String, bool)> = None;
        let mut part_of = |module| match &last {
            Some((m, p, kept)) if *m == module => kept.then(|| p.clone()),
            _ => {
                let p = self.partition_of(module);
                let kept = keep(&p);
                last = Some((module, p.clone(), kept));
                kept.then_some(p)
            }
        };
        for (addr, instance) in &state.resources {
            if let Some(p) = part_of(&addr.module) {
                parts
                    .entry(p)
                    .or_insert_with(empty)
                    .resources
                    .insert(addr.clone(), instance.clone());
            }
        }
        for (addr, op) in &state.pending {
            if let Some(p) = part_of(&addr.module) {
                parts
                    .entry(p)
                    .or_insert_with(empty)
                    .pending
                    .insert(addr.clone(), op.clone());
            }
        }
        for (addr, change) in &state.deferred {
            if let Some(p) = part_of(&addr.module) {
                parts
                    .entry(p)
                    .or_insert_with(empty)
                    .deferred
                    .insert(addr.clone(), change.clone());
            }
        }
        if let Some(rest) = parts.get_mut(REST) {
            rest.outputs = state.outputs.clone();
            rest.last_apply = state.last_apply.clone();
            rest.rollouts = state.rollouts.clone();
        }
        parts
    }
}

/// Whether two partitions hold the same objects (their serials aside).
pub fn same_content(a: &State, b: &State) -> bool {
    a.resources == b.resources
        && a.outputs == b.outputs
        && a.pending == b.pending
        && a.last_apply == b.last_apply
        && a.rollouts == b.rollouts
        && a.deferred == b.deferred
}

/// One document of every partition: the union of their objects, the lineage they share
/// (`lineage` when there is no partition), and as serial the sum of theirs, which grows
/// with every write of any of them.
pub fn merge(lineage: &str, parts: impl IntoIterator<Item = State>) -> State {
    let mut merged = State {
        lineage: lineage.to_owned(),
        serial: 0,
        resources: BTreeMap::new(),
        outputs: BTreeMap::new(),
        pending: BTreeMap::new(),
        last_apply: None,
        rollouts: BTreeMap::new(),
        deferred: BTreeMap::new(),
    };
    for part in parts {
        merged.lineage = part.lineage;
        merged.serial += part.serial;
        merged.resources.extend(part.resources);
        merged.pending.extend(part.pending);
        merged.outputs.extend(part.outputs);
        if part.last_apply.is_some() {
            merged.last_apply = part.last_apply;
        }
        merged.rollouts.extend(part.rollouts);
        merged.deferred.extend(part.deferred);
    }
    merged
}

/// `-partitions=K/N`: the K-th (from 1) of N shares of a fleet's partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Which share, from 1.
    pub index: usize,
    /// How many shares.
    pub count: usize,
}

impl Share {
    /// Reads `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Share, String> {
        let bad = || format!("{text:?} is not a share: write K/N with 1 <= K <= N, such as 3/20");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Share { index, count })
    }

    /// This share of `partitions`: the keyed partitions in order, dealt round robin, so
    /// that every partition is in exactly one share of N and shares differ in size by at
    /// most one. The rest of the fleet ([`REST`]) is in no share: a run without
    /// `-partitions` (or with `-target=partition:root`) plans it, before the shares run.
    pub fn select<'a>(&self, partitions: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
        partitions
            .into_iter()
            .filter(|p| p.as_str() != REST)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addrs::{AbsResourceInstance, InstanceKey, Resource};
    use crate::state::{InstanceState, InstanceStatus, OutputState};
    use fleetform_sdk::Value;

    fn instance() -> InstanceState {
        InstanceState {
            provider: "provider.fleetform".into(),
            schema_version: 0,
            value: Value::object([("id", Value::from("x"))]),
            dependencies: Vec::new(),
            status: InstanceStatus::Ready,
            create_before_destroy: false,
            prevent_destroy: false,
        }
    }

    fn at(module: ModuleInstance, name: &str) -> AbsResourceInstance {
        AbsResourceInstance {
            module,
            resource: Resource::managed("fleetform_data", name).instance(InstanceKey::None),
        }
    }

    #[test]
    fn instances_fall_into_their_module_instances_partition() {
        let key = PartitionKey::new(vec![vec!["site".into()], vec!["dc".into(), "rack".into()]]);
        let north = ModuleInstance::root().child("site", InstanceKey::Str("north".into()));
        assert_eq!(key.partition_of(&north), "module.site[\"north\"]");
        assert_eq!(
            key.partition_of(&north.child("inner", InstanceKey::None)),
            "module.site[\"north\"]"
        );
        let rack = ModuleInstance::root()
            .child("dc", InstanceKey::None)
            .child("rack", InstanceKey::Int(2));
        assert_eq!(key.partition_of(&rack), "module.dc.module.rack[2]");
        assert_eq!(key.partition_of(&ModuleInstance::root()), REST);
        assert_eq!(
            key.partition_of(&ModuleInstance::root().child("dc", InstanceKey::None)),
            REST
        );
    }

    #[test]
    fn split_then_merge_gives_the_state_back() {
        let key = PartitionKey::new(vec![vec!["site".into()]]);
        let mut state = State::new();
        state.serial = 0;
        let a = ModuleInstance::root().child("site", InstanceKey::Str("a".into()));
        let b = ModuleInstance::root().child("site", InstanceKey::Str("b".into()));
        state.set(at(a.clone(), "x"), instance());
        state.set(at(b.clone(), "x"), instance());
        state.set(at(ModuleInstance::root(), "core"), instance());
        state.outputs.insert(
            "o".into(),
            OutputState {
                value: Value::from("v"),
                sensitive: false,
            },
        );
        state.last_apply = Some(crate::state::LastApply {
            operation: "apply".into(),
            started: "2026-12-07T10:00:00Z".into(),
            finished: "2026-12-07T10:01:00Z".into(),
            outcome: crate::state::ApplyOutcome::Succeeded,
            changes: 3,
            failed: 0,
            version: "0.1.0".into(),
        });
        let mut parts = key.split(&state);
        assert_eq!(
            parts.keys().collect::<Vec<_>>(),
            ["module.site[\"a\"]", "module.site[\"b\"]", REST]
        );
        assert_eq!(parts[REST].outputs.len(), 1);
        assert_eq!(
            parts[REST].last_apply, state.last_apply,
            "the last apply lives in root"
        );
        assert_eq!(parts["module.site[\"a\"]"].last_apply, None);
        assert_eq!(parts["module.site[\"a\"]"].resources.len(), 1);
        for (i, p) in parts.values_mut().enumerate() {
            p.serial = i as u64 + 1;
        }
        let merged = merge(&state.lineage, parts.values().cloned());
        assert_eq!(merged.serial, 1 + 2 + 3);
        assert!(same_content(&merged, &state));
    }

    #[test]
    fn shares_cover_every_keyed_partition_once() {
        let names: Vec<String> = (0..10)
            .map(|i| format!("module.site[\"{i}\"]"))
            .chain([REST.to_owned()])
            .collect();
        let mut seen = BTreeSet::new();
        for k in 1..=3 {
            let share = Share::parse(&format!("{k}/3")).unwrap();
            let mine = share.select(&names);
            assert!(mine.len() == 3 || mine.len() == 4, "{mine:?}");
            for p in mine {
                assert!(seen.insert(p), "in two shares");
            }
        }
        assert_eq!(seen.len(), 10);
        assert!(!seen.contains(REST));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(Share::parse(bad).is_err(), "{bad}");
        }
    }
}
