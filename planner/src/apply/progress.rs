//! Progress events of an apply (and of a plan's refresh), for the CLI to render. The engine never prints; it reports
//! to a [`Progress`] implementation (OpenTofu's Hook, in its words).

use std::time::Duration;

use crate::addrs::AbsResourceInstance;
use crate::plan::Action;

/// Receives apply events. Called concurrently from one thread's futures, hence `&self`.
pub trait Progress: Sync {
    /// A change started.
    fn start(&self, addr: &AbsResourceInstance, action: Action) {
        let _ = (addr, action);
    }
    /// A change finished.
    fn complete(
        &self,
        addr: &AbsResourceInstance,
        action: Action,
        elapsed: Duration,
        id: Option<&str>,
    ) {
        let _ = (addr, action, elapsed, id);
    }
    /// A change failed.
    fn errored(&self, addr: &AbsResourceInstance, action: Action, message: &str) {
        let _ = (addr, action, message);
    }
    /// A change was not started: something it depends on failed, or the run was stopped.
    fn skipped(&self, addr: &AbsResourceInstance, action: Action, why: &str) {
        let _ = (addr, action, why);
    }
    /// The first half of a replacement finished after `elapsed`: `Delete` (the old object
    /// is gone, the new one is being created) or `Create` (the new object exists, the old
    /// one is being destroyed). `complete` follows when the second half is done.
    fn replacement_step(&self, addr: &AbsResourceInstance, finished: Action, elapsed: Duration) {
        let _ = (addr, finished, elapsed);
    }
    /// Refresh started reading an object (while planning).
    fn refresh_start(&self, addr: &AbsResourceInstance) {
        let _ = addr;
    }
    /// Refresh read an object; `id` is its id when it has a non-sensitive one.
    fn refresh_complete(&self, addr: &AbsResourceInstance, id: Option<&str>) {
        let _ = (addr, id);
    }
    /// A rollout moved on.
    fn rollout(&self, event: &RolloutEvent<'_>) {
        let _ = event;
    }
}

/// What a rollout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutEvent<'a> {
    /// A batch opened: its sites' changes start.
    Batch {
        rollout: &'a str,
        stage: &'a str,
        /// From 1.
        batch: usize,
        batches: usize,
        sites: Vec<String>,
    },
    /// A site failed: a change failed or its gates did not pass.
    SiteFailed {
        rollout: &'a str,
        site: &'a str,
        why: &'a str,
    },
    /// A site could not be reached: its changes wait for a later apply, and it counts
    /// neither as passed nor as failed.
    SiteDeferred {
        rollout: &'a str,
        site: &'a str,
        why: &'a str,
    },
    /// The stage passed; the next waits this long.
    Soak {
        rollout: &'a str,
        stage: &'a str,
        soak: Duration,
    },
    /// Too many sites failed: nothing more starts.
    Halted { rollout: &'a str, why: &'a str },
    /// Every batch went through.
    Completed { rollout: &'a str },
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
