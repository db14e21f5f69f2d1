//! Progress events of an apply, for the CLI to render. The engine never prints; it reports
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
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
