//! A run over a state stored in partitions ([`PartitionedStore`]): which partitions a run
//! selects, reads and writes, the locks that follow (the fleet shared, written partitions
//! exclusive, partitions only read shared; or the whole fleet exclusive for a run that
//! selects no partition), journals routed to each instance's partition, and writes of only
//! the partitions that changed. See [`crate::state::partition`] for what a partition is.
//! `session.rs` holds the [`super::Session`] side (selection, locking, saved plans,
//! writes, the listing); `migrate.rs` the changes of layout `init -migrate-state` makes.

mod migrate;
mod session;

pub(super) use migrate::{relayout, rewrite_partitions};
pub use session::PartitionInfo;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::addrs::{AbsResource, AbsResourceInstance};
use crate::plan::{Action, Mode, PartitionUse, Plan};
use crate::state::backend::codec::StateHeader;
use crate::state::backend::partitioned::{Layout, LockMode, PartitionJournal, PartitionedStore};
use crate::state::backend::{LockGuard, LockInfo, StateError, StateStore};
use crate::state::partition::{self, PartitionKey, REST};
use crate::state::{Journal, JournalEntry, State};

/// What a run that selected partitions plans: `selected` (written, locked exclusively)
/// and `reads` (partitions the selected instances depend on, locked shared).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The partitions the run may change.
    pub selected: BTreeSet<String>,
    /// Partitions outside `selected` whose recorded values the selected instances read.
    pub reads: BTreeSet<String>,
}

impl Selection {
    /// The selection of `selected` in a fleet whose instances depend on `deps`.
    pub fn new(
        key: &PartitionKey,
        selected: BTreeSet<String>,
        deps: &HashMap<AbsResourceInstance, Vec<AbsResource>>,
    ) -> Selection {
        let mut reads = BTreeSet::new();
        for (addr, list) in deps {
            if !selected.contains(&key.partition_of(&addr.module)) {
                continue;
            }
            for dep in list {
                let p = key.partition_of(&dep.module);
                if !selected.contains(&p) {
                    reads.insert(p);
                }
            }
        }
        Selection { selected, reads }
    }
}

/// The partitioned side of a session: the stored serial of each partition read, and the
/// locks held.
pub(super) struct PartitionedRun {
    pub key: PartitionKey,
    /// Each stored partition's serial when it was read.
    pub serials: BTreeMap<String, u64>,
    /// Set when the session locks (`-lock=false` leaves it unset).
    pub lock_timeout: Option<Duration>,
    /// The run's locks, once taken.
    pub guard: Option<Box<dyn LockGuard>>,
    /// The partitions this run may write; `None`: every one (the fleet is locked
    /// exclusively, or nothing is locked).
    pub writable: Option<BTreeSet<String>>,
    /// The operation, for lock information.
    pub operation: String,
    /// The partitions whose values the run reads without writing them (recorded with
    /// what it writes, so that later plans can tell when those values changed).
    pub reads: BTreeSet<String>,
    /// The partitions this run reads, when not every one: a run over a few partitions of
    /// a sealed fleet ([`sealed`]) reads [`REST`] and those it selects.
    pub only: Option<BTreeSet<String>>,
    /// Every stored partition when the run began, read or not.
    pub listed: BTreeSet<String>,
}

/// Whether no partition of the fleet is read from outside it: no expression outside a
/// partition's module call refers to it (its outputs, or the call in `depends_on`). Then
/// the instances of a partition depend only on their own and on [`REST`], and a run over
/// some partitions needs no other partition's state.
pub(super) fn sealed(config: &crate::config::Config, key: &PartitionKey) -> bool {
    let mut scratch = fleetform_sdk::Diagnostics::new();
    let Some(order) = crate::expand::order(config, &mut scratch) else {
        return false;
    };
    let read = crate::expand::read_from_outside(&order);
    key.calls()
        .iter()
        .all(|call| !read.contains(&crate::addrs::ModulePath(call.clone())))
}

/// Why a partitioned store cannot be used as the configuration says.
pub(super) fn layout_mismatch(apart: bool, layout: Layout) -> Option<String> {
    match (apart, layout) {
        (true, Layout::Whole) => Some(
            "The fleet block declares partitions, but this workspace's state is stored whole. Run `fleetform init -migrate-state` to split it into partitions.".into(),
        ),
        (false, Layout::Partitioned) => Some(
            "This workspace's state is stored in partitions, but the fleet block declares none. Put the `partitions {}` block back, or run `fleetform init -migrate-state` to join the partitions into one state.".into(),
        ),
        _ => None,
    }
}

/// Makes sure a new partitioned workspace has its first partition, so that every
/// partition written later shares its lineage: the first run creates [`REST`] (at serial
/// 1, empty) under the fleet lock; runs starting at the same moment see it appear.
pub(super) fn ensure_created(
    store: &dyn PartitionedStore,
    timeout: Duration,
) -> Result<(), StateError> {
    let start = Instant::now();
    loop {
        if store.layout()? != Layout::Empty {
            return Ok(());
        }
        match store.lock_partitions(
            LockMode::Exclusive,
            &[],
            LockInfo::new("create partitions"),
            Duration::ZERO,
        ) {
            Ok(_guard) => {
                if store.layout()? == Layout::Empty {
                    let mut first = State::new();
                    first.serial = 1;
                    let parts = BTreeMap::from([(REST.to_owned(), first)]);
                    store.replace_layout(None, &parts)?;
                }
                return Ok(());
            }
            Err(e @ StateError::Locked { .. }) => {
                if start.elapsed() >= timeout.max(Duration::from_secs(10)) {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A merged state and the serial of each partition it was read from.
pub(super) type Read = (State, BTreeMap<String, u64>);

/// Brings `state` (read when partitions had `serials`) up to date: reads again only the
/// partitions written since (or holding journal records of an interrupted run), of those
/// in `only` when given.
pub(super) fn reread(
    store: &dyn PartitionedStore,
    key: &PartitionKey,
    state: &State,
    serials: &BTreeMap<String, u64>,
    only: Option<&BTreeSet<String>>,
) -> Result<Option<Read>, StateError> {
    let now = store.partition_serials()?;
    let mut changed: BTreeSet<String> = now
        .iter()
        .filter(|(p, _)| only.is_none_or(|o| o.contains(*p)))
        .filter(|(p, (serial, journal))| *journal || serials.get(*p) != Some(serial))
        .map(|(p, _)| p.clone())
        .collect();
    changed.extend(serials.keys().filter(|p| !now.contains_key(*p)).cloned());
    if changed.is_empty() {
        return Ok(None);
    }
    let fresh = store.read_partitions(Some(&changed))?;
    let mut parts = key.split(state);
    for (p, s) in parts.iter_mut() {
        s.serial = serials.get(p).copied().unwrap_or(0);
    }
    parts.retain(|p, _| !changed.contains(p));
    parts.extend(fresh);
    let serials = parts.iter().map(|(k, s)| (k.clone(), s.serial)).collect();
    let lineage = parts
        .get(REST)
        .map_or_else(|| state.lineage.clone(), |s| s.lineage.clone());
    tracing::debug!(
        partitions = changed.len(),
        "read again the partitions written since"
    );
    Ok(Some((
        partition::merge(&lineage, parts.into_values()),
        serials,
    )))
}

/// Reads every partition (or only those `only` names): the merged state and each
/// partition's serial.
pub(super) fn read(
    store: &dyn PartitionedStore,
    only: Option<&BTreeSet<String>>,
) -> Result<Read, StateError> {
    let parts = store.read_partitions(only)?;
    let serials = parts.iter().map(|(k, s)| (k.clone(), s.serial)).collect();
    let lineage = parts
        .get(REST)
        .or_else(|| parts.values().next())
        .map(|s| s.lineage.clone())
        .unwrap_or_else(|| State::new().lineage);
    Ok((partition::merge(&lineage, parts.into_values()), serials))
}

impl PartitionedRun {
    /// Locks what a plan needs: with a selection, the fleet shared, the selected partitions
    /// exclusive and those it reads shared; without one, the fleet exclusive.
    pub fn lock(
        &mut self,
        store: &dyn PartitionedStore,
        selection: Option<&Selection>,
    ) -> Result<(), StateError> {
        let Some(timeout) = self.lock_timeout else {
            return Ok(());
        };
        let info = LockInfo::new(&self.operation);
        let guard = match selection {
            None => {
                self.writable = None;
                store.lock_partitions(LockMode::Exclusive, &[], info, timeout)?
            }
            Some(s) => {
                let mut locks: Vec<(String, LockMode)> = s
                    .selected
                    .iter()
                    .map(|p| (p.clone(), LockMode::Exclusive))
                    .collect();
                locks.extend(s.reads.iter().map(|p| (p.clone(), LockMode::Shared)));
                self.writable = Some(s.selected.clone());
                store.lock_partitions(LockMode::Shared, &locks, info, timeout)?
            }
        };
        self.guard = Some(guard);
        Ok(())
    }

    /// What `plan` writes and reads, with their serials now: written are the partitions of
    /// its changes (and [`REST`] when outputs change), read those in `reads`.
    pub fn stamp(&self, plan: &Plan, reads: &BTreeSet<String>) -> BTreeMap<String, PartitionUse> {
        let mut written = BTreeSet::new();
        let records = |c: &crate::plan::ResourceChange| {
            c.action != Action::NoOp || c.previous_addr.is_some() || c.importing.is_some()
        };
        for c in plan.changes.iter().filter(|c| records(c)) {
            written.insert(self.key.partition_of(&c.addr.module));
        }
        for c in &plan.deposed {
            written.insert(self.key.partition_of(&c.addr.module));
        }
        for i in &plan.interrupted {
            written.insert(self.key.partition_of(&i.addr.module));
        }
        if plan.mode == Mode::RefreshOnly {
            for c in &plan.drift {
                written.insert(self.key.partition_of(&c.addr.module));
            }
        }
        if !plan.outputs.is_empty() {
            written.insert(REST.to_owned());
        }
        let serial = |p: &String| self.serials.get(p).copied().unwrap_or(0);
        let used = |p: &String, written| PartitionUse {
            serial: serial(p),
            written,
        };
        let mut out: BTreeMap<String, PartitionUse> =
            written.iter().map(|p| (p.clone(), used(p, true))).collect();
        for p in reads {
            out.entry(p.clone()).or_insert_with(|| used(p, false));
        }
        out
    }

    /// Locks what a saved plan needs: its written partitions exclusive, those it read
    /// shared.
    pub fn lock_saved(
        &mut self,
        store: &dyn PartitionedStore,
        plan: &Plan,
    ) -> Result<(), StateError> {
        let (written, read): (Vec<_>, Vec<_>) =
            plan.partitions.iter().partition(|(_, u)| u.written);
        let selection = Selection {
            selected: written.into_iter().map(|(p, _)| p.clone()).collect(),
            reads: read.into_iter().map(|(p, _)| p.clone()).collect(),
        };
        self.lock(store, Some(&selection))
    }

    /// The partitions that moved: their serial now differs from what `plan` recorded.
    pub fn moved(&self, plan: &Plan) -> Vec<(String, u64, u64)> {
        plan.partitions
            .iter()
            .filter_map(|(p, used)| {
                let now = self.serials.get(p).copied().unwrap_or(0);
                (now != used.serial).then(|| (p.clone(), used.serial, now))
            })
            .collect()
    }

    /// The partitions `plan` changes whose last writer read values from a partition that
    /// has been written since: (partition, partition read, its serial then, now).
    pub fn reads_moved(
        &self,
        store: &dyn PartitionedStore,
        plan: &Plan,
    ) -> Result<Vec<(String, String, u64, u64)>, StateError> {
        if !plan.partitions.values().any(|u| u.written) {
            return Ok(Vec::new());
        }
        let recorded = store.partition_reads()?;
        let mut out = Vec::new();
        for (p, _) in plan.partitions.iter().filter(|(_, u)| u.written) {
            for (r, then) in recorded.get(p).into_iter().flatten() {
                let now = self.serials.get(r).copied().unwrap_or(0);
                if now > *then {
                    out.push((p.clone(), r.clone(), *then, now));
                }
            }
        }
        Ok(out)
    }

    /// Whether this run may write `partition`.
    pub fn may_write(&self, partition: &str) -> bool {
        self.writable.as_ref().is_none_or(|w| w.contains(partition))
    }

    /// A journal recording each entry in its partition's journal, for the partitions this
    /// run may write, extending what `base` holds of each.
    pub fn journal(
        &self,
        store: &dyn PartitionedStore,
        base: &State,
        plan: &Plan,
    ) -> Result<Box<dyn Journal>, StateError> {
        let mut names: BTreeSet<String> = match &self.writable {
            Some(w) => w.clone(),
            None => {
                let mut all: BTreeSet<String> = self.serials.keys().cloned().collect();
                all.insert(REST.to_owned());
                all.extend(
                    plan.changes
                        .iter()
                        .map(|c| self.key.partition_of(&c.addr.module)),
                );
                all
            }
        };
        names.insert(REST.to_owned());
        names.retain(|p| self.may_write(p));
        let bases = names
            .into_iter()
            .map(|p| {
                let serial = self.serials.get(&p).copied().unwrap_or(0);
                let header = StateHeader {
                    lineage: base.lineage.clone(),
                    serial,
                };
                (p, header)
            })
            .collect();
        Ok(Box::new(Routed {
            key: self.key.clone(),
            inner: store.journal_partitions(&bases)?,
        }))
    }

    /// What this run may write of `state`, as one state: all that [`PartitionedRun::write`]
    /// compares the applied state with, so the apply can take `state` itself.
    pub fn writable_part(&self, state: &State) -> State {
        if self.writable.is_none() {
            return state.clone();
        }
        let parts = self.key.split_where(state, |p| self.may_write(p));
        let mut part = partition::merge(&state.lineage, parts.into_values());
        part.serial = state.serial;
        part
    }

    /// Writes the partitions this run may write whose objects differ between `before`
    /// and `after` (or whose journal holds a killed run's records), each at its next serial;
    /// `after` becomes the merged state with the new serials.
    pub fn write(
        &mut self,
        store: &dyn PartitionedStore,
        before: &State,
        after: &mut State,
    ) -> Result<(), StateError> {
        let old = self.key.split_where(before, |p| self.may_write(p));
        let mut new = self.key.split_where(after, |p| self.may_write(p));
        // A partition whose journal still holds records of a killed run is written even
        // when this run changed nothing in it: the write compacts them away.
        let journaled: BTreeSet<String> = store
            .partition_serials()?
            .into_iter()
            .filter(|(_, (_, journal))| *journal)
            .map(|(p, _)| p)
            .collect();
        let mut changed: Vec<(String, State)> = Vec::new();
        let names: BTreeSet<String> = old.keys().chain(new.keys()).cloned().collect();
        let empty = State {
            lineage: before.lineage.clone(),
            ..State::default()
        };
        for name in names {
            let o = old.get(&name).unwrap_or(&empty);
            let mut part = new.remove(&name).unwrap_or_else(|| empty.clone());
            let unchanged = partition::same_content(o, &part) && !journaled.contains(name.as_str());
            // Only partitions this run may write were split.
            if unchanged {
                continue;
            }
            part.lineage.clone_from(&before.lineage);
            part.serial = self.serials.get(&name).copied().unwrap_or(0) + 1;
            changed.push((name, part));
        }
        if !changed.is_empty() {
            let refs: Vec<(&str, &State)> = changed.iter().map(|(p, s)| (p.as_str(), s)).collect();
            let reads: BTreeMap<String, u64> = self
                .reads
                .iter()
                .map(|p| (p.clone(), self.serials.get(p).copied().unwrap_or(0)))
                .collect();
            store.write_partitions(&refs, &reads)?;
            tracing::debug!(partitions = changed.len(), "wrote partitions");
        }
        for (p, s) in &changed {
            self.serials.insert(p.clone(), s.serial);
        }
        after.lineage.clone_from(&before.lineage);
        after.serial = self.serials.values().sum();
        Ok(())
    }
}

/// Entries to the journal of their instance's partition ([`REST`] for outputs).
struct Routed {
    key: PartitionKey,
    inner: Box<dyn PartitionJournal>,
}

impl Journal for Routed {
    fn record(&mut self, entry: &JournalEntry) -> Result<(), StateError> {
        let partition = match entry {
            JournalEntry::Instance { addr, .. }
            | JournalEntry::Pending { addr, .. }
            | JournalEntry::Deferred { addr, .. } => self.key.partition_of(&addr.module),
            JournalEntry::Output { .. } | JournalEntry::Rollout { .. } => REST.to_owned(),
        };
        self.inner.record(&partition, entry)
    }

    fn sync(&mut self) -> Result<(), StateError> {
        self.inner.sync()
    }
}

/// The partitions of a fleet: those of its configuration's instances, those stored, and
/// the rest of the fleet.
pub fn all_partitions<'a>(
    key: &PartitionKey,
    instances: impl IntoIterator<Item = &'a AbsResourceInstance>,
    state: &'a State,
) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = BTreeSet::from([REST.to_owned()]);
    let mut seen = HashSet::new();
    for addr in instances.into_iter().chain(state.resources.keys()) {
        if seen.insert(&addr.module) {
            out.insert(key.partition_of(&addr.module));
        }
    }
    out
}

/// Whether `store` holds its state in partitions now, checking that the configuration
/// agrees; the error is the message to show.
pub(super) fn uses_partitions(store: &dyn StateStore, apart: bool) -> Result<bool, String> {
    let Some(ps) = store.partitioned() else {
        return Ok(false);
    };
    let layout = ps.layout().map_err(|e| e.to_string())?;
    if let Some(message) = layout_mismatch(apart, layout) {
        return Err(message);
    }
    Ok(apart)
}
