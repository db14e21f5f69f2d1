//! What a backend offers to store a workspace's state in partitions (see
//! [`crate::state::partition`]): each partition with its own serial, journal and lock,
//! locks shared (a run that only reads a partition) or exclusive (a run that writes it),
//! and a fleet lock that every partitioned run holds shared and a fleet-wide run (or a
//! change of layout) holds exclusive. Backends without it keep one lock and one state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::codec::StateHeader;
use super::{LockGuard, LockInfo, StateError};
use crate::state::{JournalEntry, State};

/// How a workspace's state is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Nothing is stored yet.
    Empty,
    /// One state with one lock.
    Whole,
    /// Partitions, each with its own serial and lock.
    Partitioned,
}

/// How a partition (or the fleet) is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    /// Read: others may read too; nobody writes.
    Shared,
    /// Write: nobody else reads or writes.
    Exclusive,
}

/// A workspace's state kept in partitions.
pub trait PartitionedStore: Send + Sync {
    /// How the workspace's state is stored now.
    fn layout(&self) -> Result<Layout, StateError>;
    /// Every stored partition's state (or only those `only` names), with the journal of an
    /// interrupted run replayed onto it, all as of one moment.
    fn read_partitions(
        &self,
        only: Option<&BTreeSet<String>>,
    ) -> Result<BTreeMap<String, State>, StateError>;
    /// Each stored partition's serial, and whether journal records wait to be replayed
    /// onto it: what tells a reader which partitions changed since it read them.
    fn partition_serials(&self) -> Result<BTreeMap<String, (u64, bool)>, StateError>;
    /// Locks the fleet in mode `fleet` and each partition in its mode, all or none,
    /// retrying for up to `timeout`; `Locked` naming a holder (and the partition in its
    /// `path`) after that. The guard releases them all when dropped.
    fn lock_partitions(
        &self,
        fleet: LockMode,
        partitions: &[(String, LockMode)],
        info: LockInfo,
        timeout: Duration,
    ) -> Result<Box<dyn LockGuard>, StateError>;
    /// Writes these partitions in one transaction, each conditionally (its lineage must
    /// match and its serial advance), clearing their journals: all are written or none.
    /// `reads` (the partitions the writing run read values from, with their serials then)
    /// is kept with each, for later plans to tell when those values changed.
    fn write_partitions(
        &self,
        states: &[(&str, &State)],
        reads: &BTreeMap<String, u64>,
    ) -> Result<(), StateError>;
    /// What each stored partition was last written with: the partitions its run read,
    /// with their serials then.
    fn partition_reads(&self) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StateError>;
    /// A journal whose records go to the partition named with each, extending the given
    /// persisted headers (serial 0 for a partition not stored yet).
    fn journal_partitions(
        &self,
        bases: &BTreeMap<String, StateHeader>,
    ) -> Result<Box<dyn PartitionJournal>, StateError>;
    /// Replaces whatever is stored for the workspace, in one transaction, with `whole`
    /// (one state) or with `partitions`. The caller holds the fleet lock exclusively.
    fn replace_layout(
        &self,
        whole: Option<&State>,
        partitions: &BTreeMap<String, State>,
    ) -> Result<(), StateError>;
    /// Who holds each exclusively locked partition now.
    fn partition_holders(&self) -> Result<BTreeMap<String, LockInfo>, StateError>;
}

/// Journal records addressed to partitions.
pub trait PartitionJournal: Send {
    /// Appends `entry` to `partition`'s journal; when this returns it survives the death
    /// of this process.
    fn record(&mut self, partition: &str, entry: &JournalEntry) -> Result<(), StateError>;
    /// Forces recorded entries to stable storage.
    fn sync(&mut self) -> Result<(), StateError>;
}
