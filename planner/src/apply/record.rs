//! Where apply records what it does: every entry goes to the journal first (so that it
//! survives a kill) and then to the state in memory. Before a provider is asked to change
//! anything, the change is recorded as pending; recording the instance's outcome ends it.
//! A run killed in between leaves the pending operation for the next plan to show and
//! resolve, so nothing that must not run twice is silently run again.
//!
//! Once the journal refuses an entry (a full disk), the recorder remembers what it could
//! not record and says it is broken: apply starts nothing new, and reports exactly what
//! was left unrecorded.

use std::sync::{Arc, Mutex};

use fleetform_sdk::{Checkpoint, PendingAction, Value};

use crate::addrs::AbsResourceInstance;
use crate::plan::ResourceChange;
use crate::state::{InstanceState, Journal, JournalEntry, PendingOperation, State};

/// The state and journal of one apply, shared with the providers' checkpoints.
#[derive(Clone)]
pub struct Recorder {
    state: Arc<Mutex<State>>,
    journal: Arc<Mutex<Box<dyn Journal>>>,
    failure: Arc<Mutex<Option<JournalFailure>>>,
}

/// What the journal refused.
#[derive(Debug, Clone, Default)]
pub struct JournalFailure {
    /// The first error.
    pub error: String,
    /// Each entry that was not recorded, in words, in order.
    pub unrecorded: Vec<String>,
}

impl Recorder {
    pub fn new(state: State, journal: Box<dyn Journal>) -> Recorder {
        Recorder {
            state: Arc::new(Mutex::new(state)),
            journal: Arc::new(Mutex::new(journal)),
            failure: Arc::default(),
        }
    }

    /// True once the journal refused an entry: start nothing new.
    pub fn broken(&self) -> bool {
        self.failure().is_some()
    }

    /// What the journal refused, if it did.
    pub fn failure(&self) -> Option<JournalFailure> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The state as it is now.
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the state and journal back at the end of the run.
    pub fn into_parts(self) -> (State, Box<dyn Journal>) {
        let state = Arc::try_unwrap(self.state)
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .unwrap_or_else(|shared| shared.lock().unwrap_or_else(|p| p.into_inner()).clone());
        let journal = match Arc::try_unwrap(self.journal) {
            Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
            // A provider kept a checkpoint past the run: nothing more can be recorded.
            Err(_) => Box::new(Closed),
        };
        (state, journal)
    }

    /// Records one entry: in the journal, then in memory. Nothing is changed in memory
    /// when the journal refuses it.
    pub fn record(&self, entry: JournalEntry) -> Result<(), String> {
        let recorded = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(&entry);
        if let Err(e) = recorded {
            let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            let failure = failure.get_or_insert_with(|| JournalFailure {
                error: e.to_string(),
                unrecorded: Vec::new(),
            });
            failure.unrecorded.push(describe(&entry));
            return Err(format!("could not record the change in state: {e}"));
        }
        self.state().apply(entry);
        Ok(())
    }

    /// Records an instance's new object (or its absence); ends its pending operation.
    pub fn instance(
        &self,
        addr: &AbsResourceInstance,
        instance: Option<InstanceState>,
    ) -> Result<(), String> {
        self.record(JournalEntry::Instance {
            addr: addr.clone(),
            state: instance,
        })
    }

    /// Records that a change of `addr` starts. The caller must not ask the provider to
    /// make it unless this succeeded.
    pub fn start(&self, addr: &AbsResourceInstance, op: PendingOperation) -> Result<(), String> {
        self.record(JournalEntry::Pending {
            addr: addr.clone(),
            op: Some(op),
        })
    }

    /// Ends the pending operation of `addr` without recording an object (a change that
    /// failed before it made anything).
    pub fn settle(&self, addr: &AbsResourceInstance) -> Result<(), String> {
        self.record(JournalEntry::Pending {
            addr: addr.clone(),
            op: None,
        })
    }

    /// The checkpoint a provider saves its progress on `addr` with: it updates the pending
    /// operation with what was saved.
    pub fn checkpoint(&self, addr: &AbsResourceInstance) -> Checkpoint {
        let recorder = self.clone();
        let addr = addr.clone();
        Checkpoint::new(move |progress: &Value| {
            let current = recorder.state().pending.get(&addr).cloned();
            let Some(mut op) = current else {
                return Err(format!(
                    "{addr} has no change in progress to record progress of"
                ));
            };
            op.checkpoint = Some(progress.clone());
            recorder.start(&addr, op)
        })
    }
}

/// An entry the journal refused, in words for the user.
fn describe(entry: &JournalEntry) -> String {
    match entry {
        JournalEntry::Instance {
            addr,
            state: Some(_),
        } => format!("{addr}: its object after the change (the change was made)"),
        JournalEntry::Instance { addr, state: None } => {
            format!("{addr}: that its object is gone (it was destroyed)")
        }
        JournalEntry::Pending { addr, op: Some(op) } if op.checkpoint.is_some() => {
            format!("{addr}: the progress of its {}", op.action.as_str())
        }
        JournalEntry::Pending { addr, op: Some(op) } => format!(
            "{addr}: that its {} starts (so it was not started)",
            op.action.as_str()
        ),
        JournalEntry::Pending { addr, op: None } => {
            format!("{addr}: that its change ended without a new object")
        }
        JournalEntry::Output { name, .. } => format!("output {name}"),
        JournalEntry::Rollout { name, .. } => format!("the progress of rollout {name}"),
        JournalEntry::Deferred { addr, .. } => format!("{addr}: that its change is deferred"),
    }
}

/// The pending operation of one step of a planned change.
pub fn operation(
    change: &ResourceChange,
    action: PendingAction,
    prior: Option<Value>,
    planned: Option<Value>,
    checkpoint: Option<Value>,
) -> PendingOperation {
    PendingOperation {
        action,
        started: now_rfc3339(),
        provider: change.provider.clone(),
        prior,
        planned,
        checkpoint,
        dependencies: change.dependencies.clone(),
        create_before_destroy: change.create_before_destroy,
        prevent_destroy: change.prevent_destroy,
        deposed: false,
    }
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A journal that refuses everything.
struct Closed;

impl Journal for Closed {
    fn record(&mut self, _entry: &JournalEntry) -> Result<(), crate::state::StateError> {
        Err(crate::state::StateError::JournalClosed {
            path: String::new(),
            reason: "the run has ended".into(),
        })
    }

    fn sync(&mut self) -> Result<(), crate::state::StateError> {
        Ok(())
    }
}
