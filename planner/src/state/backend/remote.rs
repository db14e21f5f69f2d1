//! Parts every backend that stores state over the network shares, whatever the store:
//! a [`Worker`] that runs the backend's async client on a thread of its own, so that the
//! engine's synchronous [`super::StateStore`] calls work from any context (including from
//! inside the apply's async tasks, where blocking on another runtime would panic), and
//! [`replay`], which applies stored journal records to a stored state.

use std::future::Future;

use super::StateError;
use super::codec::{Codec, StateHeader};
use crate::state::State;

/// A single-threaded async runtime on its own thread. Backends run their client's calls on
/// it with [`Worker::run`] and their background tasks (lease renewal) with
/// [`Worker::spawn`]; dropping it stops them.
pub struct Worker {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Worker {
    /// Starts a worker whose thread is named `name`.
    pub fn start(name: &str) -> std::io::Result<Worker> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Worker {
            runtime: Some(runtime),
        })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("the runtime lives until the worker is dropped")
            .handle()
    }

    /// Runs `future` on the worker and waits for it; `None` when the worker stopped first.
    /// Blocks the calling thread (as a file write would), never a runtime of the caller's.
    pub fn run<F, T>(&self, future: F) -> Option<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle().spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().ok()
    }

    /// Starts `future` in the background; it stops with the worker at the latest.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle().spawn(future)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Never blocks, so a store may be dropped anywhere (even inside another runtime).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The state a backend's stored pieces make: `state` (`None`: none stored) with the
/// journal `records` applied in order when they extend it (they were written on top of
/// `journal`, the header of the state they extend). Records that extend another state
/// (an older serial, compacted since) are ignored.
pub fn replay(
    state: Option<State>,
    journal: Option<&StateHeader>,
    records: impl IntoIterator<Item = Vec<u8>>,
    codec: &Codec,
    place: &str,
) -> Result<Option<State>, StateError> {
    let Some(journal) = journal else {
        return Ok(state);
    };
    let extends = match &state {
        Some(s) => StateHeader::of(s) == *journal,
        None => journal.serial == 0,
    };
    if !extends {
        tracing::debug!(
            state = place,
            "ignoring journal records already compacted into the state"
        );
        return Ok(state);
    }
    let mut state = state.unwrap_or_else(|| State {
        lineage: journal.lineage.clone(),
        serial: 0,
        resources: Default::default(),
        outputs: Default::default(),
        pending: Default::default(),
        last_apply: None,
        rollouts: Default::default(),
        deferred: Default::default(),
    });
    let mut count = 0usize;
    for record in records {
        state.apply(codec.decode_record(&record, place)?);
        count += 1;
    }
    if count > 0 {
        tracing::debug!(
            state = place,
            records = count,
            "replayed the journal of an interrupted run"
        );
    }
    Ok(Some(state))
}

/// Refuses deleting `name` unless it is one of `existing` and not the default workspace.
pub fn check_deletable(existing: &[String], name: &str) -> Result<(), StateError> {
    if name == super::DEFAULT_WORKSPACE {
        return Err(StateError::DeleteDefault);
    }
    if !existing.iter().any(|w| w == name) {
        return Err(StateError::NoSuchWorkspace {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Why writing `state` over the persisted state (`None`: none) would be wrong, if it would:
/// another lineage, a serial that does not advance, or a first write at serial 0.
pub fn write_conflict(persisted: Option<&StateHeader>, state: &State) -> Option<String> {
    match persisted {
        Some(p) if p.lineage != state.lineage => Some(format!(
            "it holds lineage {}, not {}: it is another state",
            p.lineage, state.lineage
        )),
        Some(p) if state.serial <= p.serial => Some(format!(
            "it is at serial {}; writing serial {} would not advance it",
            p.serial, state.serial
        )),
        None if state.serial == 0 => {
            Some("a written state has serial 1 or more; increment it before writing".into())
        }
        _ => None,
    }
}

/// Why a journal extending `base` may not be opened over the persisted state, if it may not.
pub fn journal_conflict(persisted: Option<&StateHeader>, base: &StateHeader) -> Option<String> {
    match persisted {
        Some(p) if p != base => Some(format!(
            "a journal must extend the persisted state (lineage {}, serial {}), not lineage {}, serial {}",
            p.lineage, p.serial, base.lineage, base.serial
        )),
        None if base.serial != 0 => Some(format!(
            "there is no persisted state, so a journal extends a new state (serial 0), not serial {}",
            base.serial
        )),
        _ => None,
    }
}

/// A journal that may not record any more: the state was written since it was opened.
pub fn journal_superseded(place: &str) -> StateError {
    StateError::JournalClosed {
        path: place.to_owned(),
        reason: "the state was written (or another journal opened) since it was opened; open a journal from the written state".into(),
    }
}
