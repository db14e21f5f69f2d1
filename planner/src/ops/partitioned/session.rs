//! The session over a partitioned state: which partitions a run selects (and refuses
//! selections that read partitions never applied), the locks before a plan or a saved
//! plan's apply, writes of state edits, and `fleetform partitions`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{Selection, all_partitions, reread};
use crate::addrs::AbsResource;
use crate::plan::Plan;
use crate::state::State;
use crate::state::backend::{LockInfo, StateError};
use crate::state::partition::{self, Chosen, REST};

/// One partition as `fleetform partitions` lists it.
#[derive(Debug, Clone)]
pub struct PartitionInfo {
    /// Its name: a module instance address, or [`REST`].
    pub name: String,
    /// Instances of the configuration and the state in it.
    pub instances: usize,
    /// Instances the state records in it.
    pub recorded: usize,
    /// Its stored serial, on a state kept in partitions (`None`: not stored apart).
    pub serial: Option<u64>,
    /// Who holds it exclusively now, if anyone.
    pub holder: Option<LockInfo>,
}

impl crate::ops::Session {
    /// The partitions `-target=partition:…`, `-exclude=partition:…` and `-partitions=K/N`
    /// select, with the dependencies they were worked out from (also computed for plain
    /// `-target`/`-exclude`, which need them). `None` when a selection names no partition
    /// of the fleet; the diagnostics say why.
    pub(in crate::ops) fn selection(
        &mut self,
        providers: &crate::providers::Providers,
        options: &crate::ops::RunOptions,
    ) -> Option<(Option<crate::ops::run::Dependencies>, Option<Selection>)> {
        let prefix = partition::SELECTOR_PREFIX;
        let pick: Vec<String> = options
            .targets
            .iter()
            .filter_map(|t| t.strip_prefix(prefix).map(str::to_owned))
            .collect();
        let leave: Vec<String> = options
            .excludes
            .iter()
            .filter_map(|t| t.strip_prefix(prefix).map(str::to_owned))
            .collect();
        let plain = options
            .targets
            .iter()
            .chain(&options.excludes)
            .any(|t| !t.starts_with(prefix));
        // A run over partitions of a sealed fleet reads the rest of the fleet and what it
        // selects; any other run reads every partition.
        let partitions_only = options.selects_partitions() && !plain;
        let reads_some = partitions_only && super::sealed(&self.config, &self.key);
        if !reads_some && !self.read_partitions(None) {
            return None;
        }
        if options.selects_nothing() {
            return Some((None, None));
        }
        if pick.is_empty() && leave.is_empty() && options.share.is_none() {
            return Some((Some(self.dependencies(providers, None, false)?), None));
        }
        // Partitions alone are selected: which exist needs no partition evaluated, and the
        // dependencies that matter are the chosen partitions' own.
        let deps = if plain {
            self.dependencies(providers, None, false)?
        } else {
            self.keys_only(providers, true)?
        };
        let all = self.all_partitions(&deps);
        let mut selected = BTreeSet::new();
        let mut failed = false;
        for name in &pick {
            match self.known_partition("-target", name, &all) {
                Some(p) => {
                    selected.insert(p);
                }
                None => failed = true,
            }
        }
        if let Some(share) = options.share {
            selected.extend(share.select(&all));
        }
        if pick.is_empty() && options.share.is_none() {
            selected = all.clone();
        }
        for name in &leave {
            match self.known_partition("-exclude", name, &all) {
                Some(p) => {
                    selected.remove(&p);
                }
                None => failed = true,
            }
        }
        if failed {
            return None;
        }
        // What the chosen partitions recorded (orphans, dependencies) before their walk.
        let mut wanted = selected.clone();
        wanted.insert(REST.to_owned());
        if !self.read_partitions(Some(&wanted)) {
            return None;
        }
        let deps = if plain {
            deps
        } else {
            let chosen = Chosen {
                key: self.key.clone(),
                partitions: selected.clone(),
            };
            self.dependencies(providers, Some(&|m| chosen.leaves_out(m)), true)?
        };
        let selection = Selection::new(&self.key, selected, &deps.of);
        if !self.read_partitions(Some(&selection.reads)) || !self.reads_recorded(&selection, &deps)
        {
            return None;
        }
        tracing::debug!(
            selected = selection.selected.len(),
            reads = ?selection.reads,
            "partitions selected"
        );
        Some((Some(deps), Some(selection)))
    }

    /// Reads what the run has not read yet: every partition (`None`), or those of `wanted`
    /// (from then on the run reads only those it has read). False, with the reason, when
    /// the backend failed.
    pub(in crate::ops) fn read_partitions(&mut self, wanted: Option<&BTreeSet<String>>) -> bool {
        let (Some(run), Some(ps)) = (self.partitioned.as_mut(), self.store.partitioned()) else {
            return true;
        };
        let Some(only) = run.only.as_mut() else {
            return true;
        };
        let read = match wanted {
            None => super::read(ps, None).map(|(state, serials)| {
                tracing::debug!(partitions = serials.len(), "read every partition");
                self.state = state;
                run.serials = serials;
                run.only = None;
            }),
            Some(wanted) => {
                let missing: BTreeSet<String> = wanted.difference(only).cloned().collect();
                if missing.is_empty() {
                    return true;
                }
                tracing::debug!(
                    "read partitions {}",
                    missing
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                super::read(ps, Some(&missing)).map(|(state, serials)| {
                    only.extend(missing);
                    run.serials.extend(serials);
                    let lineage = self.state.lineage.clone();
                    let current = std::mem::take(&mut self.state);
                    // The state read so far last: its lineage is the fleet's.
                    self.state = partition::merge(&lineage, [state, current]);
                })
            }
        };
        if let Err(e) = read {
            self.diagnostics.push(fleetform_sdk::Diagnostic::error(
                "Failed to read state",
                e.to_string(),
            ));
            return false;
        }
        true
    }

    /// Every instance of the configuration and the state, without evaluating any keyed
    /// partition's instances: their dependencies are only those the state recorded. With
    /// `omit_unread`, keyed module instances nothing else reads are not even expanded
    /// (only their names count, see [`crate::expand::WalkOptions::omit_unread`]).
    fn keys_only(
        &mut self,
        providers: &crate::providers::Providers,
        omit_unread: bool,
    ) -> Option<crate::ops::run::Dependencies> {
        let key = self.key.clone();
        self.dependencies(
            providers,
            Some(&|m| key.partition_of(m) != REST),
            omit_unread,
        )
    }

    /// Every partition: of the configuration, of the state, and every stored one (a
    /// partition emptied by a run keeps its row), so that runners computing their shares at
    /// different moments agree.
    fn all_partitions(&self, deps: &crate::ops::run::Dependencies) -> BTreeSet<String> {
        let mut all = all_partitions(&self.key, deps.instances(), &self.state);
        all.extend(deps.omitted.iter().map(|m| self.key.partition_of(m)));
        if let Some(run) = &self.partitioned {
            all.extend(run.serials.keys().cloned());
            all.extend(run.listed.iter().cloned());
        }
        all
    }

    /// Refuses a selection whose instances read resources of other partitions that were
    /// never applied (they have instances in the configuration and none in the state):
    /// their values would stay unknown through the apply.
    fn reads_recorded(
        &mut self,
        selection: &Selection,
        deps: &crate::ops::run::Dependencies,
    ) -> bool {
        let configured: HashSet<AbsResource> = deps.instances().map(|a| a.abs_resource()).collect();
        let mut missing: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (addr, list) in &deps.of {
            if !selection
                .selected
                .contains(&self.key.partition_of(&addr.module))
            {
                continue;
            }
            for dep in list {
                let p = self.key.partition_of(&dep.module);
                if selection.selected.contains(&p)
                    || !configured.contains(dep)
                    || self.state.instances_of(dep).next().is_some()
                {
                    continue;
                }
                missing
                    .entry(p)
                    .or_insert_with(|| (addr.to_string(), dep.to_string()));
            }
        }
        for (p, (reader, read)) in &missing {
            self.diagnostics.push(
                fleetform_sdk::Diagnostic::error(
                    "Partition read before it was applied",
                    format!(
                        "{reader} reads {read} of partition {p}, which has never been applied, so its values are not known. Apply that partition first (-target=partition:{p}), or select it too."
                    ),
                )
                .address(reader.clone()),
            );
        }
        missing.is_empty()
    }

    fn known_partition(
        &mut self,
        flag: &str,
        name: &str,
        all: &BTreeSet<String>,
    ) -> Option<String> {
        let normalized = if name == REST {
            Some(REST.to_owned())
        } else {
            crate::addrs::parse_module_instance(name)
                .ok()
                .map(|m| m.to_string())
        };
        if let Some(p) = normalized.filter(|p| all.contains(p)) {
            return Some(p);
        }
        let some: Vec<&str> = all.iter().take(5).map(String::as_str).collect();
        self.diagnostics.push(
            fleetform_sdk::Diagnostic::error(
                format!("Invalid {flag} partition"),
                format!(
                    "{name:?} is not a partition of this fleet. Its partitions are module instances of the partition key and {REST:?} (the rest of the fleet), such as {}.",
                    some.join(", ")
                ),
            )
            .help("`fleetform partitions` lists them"),
        );
        None
    }

    /// Takes the locks a plan needs on a partitioned state and reads the state again
    /// under them. False when a lock cannot be had; the diagnostics say why.
    pub(in crate::ops) fn lock_partitions(&mut self, selection: Option<&Selection>) -> bool {
        let (Some(run), Some(ps)) = (self.partitioned.as_mut(), self.store.partitioned()) else {
            return true;
        };
        if run.guard.is_some() || run.lock_timeout.is_none() {
            return true;
        }
        if let Err(e) = run.lock(ps, selection) {
            self.diagnostics.push(lock_error(&e));
            return false;
        }
        match reread(ps, &run.key, &self.state, &run.serials, run.only.as_ref()) {
            Ok(Some((state, serials))) => {
                self.state = state;
                run.serials = serials;
                true
            }
            Ok(None) => true,
            Err(e) => {
                self.diagnostics.push(fleetform_sdk::Diagnostic::error(
                    "Failed to read state",
                    e.to_string(),
                ));
                false
            }
        }
    }

    /// A saved plan on a partitioned state: locks what it writes and reads, and refuses it
    /// when one of those partitions was written since the plan was made.
    pub(in crate::ops) fn check_saved_partitions(
        &mut self,
        plan: &Plan,
        config_hash: &str,
    ) -> bool {
        use fleetform_sdk::Diagnostic;
        if plan.lineage != self.state.lineage && self.state.serial > 0 {
            self.diagnostics.push(Diagnostic::error("Saved plan does not match the state", format!("The plan was made for a state with lineage {:?}, but the current state has lineage {:?}: it belongs to another state, perhaps another workspace. Create a new plan.", plan.lineage, self.state.lineage)));
            return false;
        }
        if !self.check_config_hash(config_hash) {
            return false;
        }
        // A plan over some partitions of a sealed fleet needs only what it wrote and read.
        let wanted: BTreeSet<String> = plan.partitions.keys().cloned().collect();
        let some = !plan.complete && super::sealed(&self.config, &self.key);
        if !self.read_partitions(some.then_some(&wanted)) {
            return false;
        }
        let (Some(run), Some(ps)) = (self.partitioned.as_mut(), self.store.partitioned()) else {
            return true;
        };
        if run.lock_timeout.is_some() {
            if let Err(e) = run.lock_saved(ps, plan) {
                self.diagnostics.push(lock_error(&e));
                return false;
            }
            match reread(ps, &run.key, &self.state, &run.serials, run.only.as_ref()) {
                Ok(Some((state, serials))) => {
                    self.state = state;
                    run.serials = serials;
                }
                Ok(None) => {}
                Err(e) => {
                    self.diagnostics
                        .push(Diagnostic::error("Failed to read state", e.to_string()));
                    return false;
                }
            }
        }
        run.reads = plan
            .partitions
            .iter()
            .filter(|(_, u)| !u.written)
            .map(|(p, _)| p.clone())
            .collect();
        let moved = run.moved(plan);
        for (p, then, now) in &moved {
            let how = if plan.partitions.get(p).is_some_and(|u| u.written) {
                "it changes"
            } else {
                "it reads values from"
            };
            self.diagnostics.push(Diagnostic::error(
                "Saved plan is stale",
                format!("The plan was made when partition {p} (which {how}) was at serial {then}; another run has written it since (serial {now}), so the values the plan used may have changed. Create a new plan."),
            ));
        }
        moved.is_empty()
    }

    /// Writes what an apply changed into its partitions.
    pub(in crate::ops) fn finish_partitioned(&mut self, after: State) -> bool {
        let (Some(run), Some(ps)) = (self.partitioned.as_mut(), self.store.partitioned()) else {
            return false;
        };
        let mut after = after;
        match run.write(ps, &self.state, &mut after) {
            Ok(()) => self.state = after,
            Err(e) => {
                self.state = after;
                self.diagnostics.push(fleetform_sdk::Diagnostic::error("Failed to persist state", format!("{e}. Every completed change is kept in its partition's journal and is recovered by the next run.")));
                return false;
            }
        }
        self.diagnostics.sort_and_dedup();
        !self.diagnostics.has_errors()
    }

    /// Replaces the state with `next` (a state command's edit, an import): on a
    /// partitioned state the partitions that changed, else the whole state, at the next
    /// serial.
    pub fn write_state(&mut self, next: State) -> Result<(), StateError> {
        match (self.partitioned.as_mut(), self.store.partitioned()) {
            (Some(run), Some(ps)) => {
                let mut next = next;
                run.write(ps, &self.state, &mut next)?;
                self.state = next;
            }
            _ => {
                let mut next = next;
                let after = self
                    .state
                    .next_serial()
                    .map_err(|message| StateError::Conflict {
                        path: self.store.describe(),
                        message,
                    })?;
                next.serial = next.serial.max(after);
                self.store.write(&next)?;
                self.state = next;
            }
        }
        Ok(())
    }

    /// Whether the state is stored in partitions.
    pub fn is_partitioned(&self) -> bool {
        self.partitioned.is_some()
    }

    /// The fleet's partitions: from the configuration and the state, with what each holds,
    /// its serial and its holder. `None` when the configuration cannot be expanded.
    pub fn partitions(
        &mut self,
        providers: &crate::providers::Providers,
    ) -> Option<Vec<PartitionInfo>> {
        let deps = self.keys_only(providers, false)?;
        let all = self.all_partitions(&deps);
        let mut cache: HashMap<&crate::addrs::ModuleInstance, String> = HashMap::new();
        let mut partition_of = |m| {
            cache
                .entry(m)
                .or_insert_with(|| self.key.partition_of(m))
                .clone()
        };
        let mut instances: BTreeMap<String, usize> = BTreeMap::new();
        let mut recorded: BTreeMap<String, usize> = BTreeMap::new();
        for addr in deps.instances() {
            *instances.entry(partition_of(&addr.module)).or_default() += 1;
        }
        for addr in self.state.resources.keys() {
            *recorded.entry(partition_of(&addr.module)).or_default() += 1;
        }
        let holders = match (&self.partitioned, self.store.partitioned()) {
            (Some(_), Some(ps)) => ps.partition_holders().unwrap_or_default(),
            _ => BTreeMap::new(),
        };
        Some(
            all.iter()
                .map(|p| PartitionInfo {
                    name: p.clone(),
                    instances: instances.get(p).copied().unwrap_or(0),
                    recorded: recorded.get(p).copied().unwrap_or(0),
                    serial: self
                        .partitioned
                        .as_ref()
                        .map(|r| r.serials.get(p).copied().unwrap_or(0)),
                    holder: holders.get(p).cloned(),
                })
                .collect(),
        )
    }
}

fn lock_error(e: &StateError) -> fleetform_sdk::Diagnostic {
    fleetform_sdk::Diagnostic::error("Error acquiring the state lock", e.to_string()).help(
        "fleetform locks the partitions a run writes (and shares those it reads) so that runs on other partitions go on at the same time; wait for the other run, or raise -lock-timeout",
    )
}
