//! Where state lives: a [`Backend`] (one per `fleet { backend "…" {} }`, the local file by
//! default) hands out a [`StateStore`] per workspace, which reads, writes, journals and locks
//! that workspace's state.

pub mod codec;
pub mod local;
pub mod partitioned;
pub mod registry;
pub mod remote;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::State;
use super::journal::Journal;

/// The workspace every backend has.
pub const DEFAULT_WORKSPACE: &str = "default";

/// A place that stores the states of a fleet's workspaces.
pub trait Backend: Send + Sync {
    /// The workspaces with a state (or a place for one); always includes `"default"`.
    fn workspaces(&self) -> Result<Vec<String>, StateError>;
    /// Deletes a workspace's state and everything kept beside it; refuses `"default"` and a
    /// workspace that is locked.
    fn delete_workspace(&self, name: &str) -> Result<(), StateError>;
    /// The store of one workspace's state (which need not exist yet).
    fn store(&self, workspace: &str) -> Result<Box<dyn StateStore>, StateError>;
}

/// One workspace's state.
pub trait StateStore: Send + Sync {
    /// The persisted state, with the journal of an interrupted run replayed onto it; `None`
    /// when nothing was ever written.
    fn read(&self) -> Result<Option<State>, StateError>;
    /// Replaces the state atomically, keeping the previous copy as a backup, and clears the
    /// journal (the state written must include its entries: this is compaction). The caller
    /// increments `serial` first: it must be above the persisted state's, whose lineage it
    /// must share. Journals opened before become unusable.
    fn write(&self, state: &State) -> Result<(), StateError>;
    /// A journal extending `base`, which must be the persisted state (as [`StateStore::read`]
    /// returned it, or a new state with serial 0 when there is none).
    fn journal(&self, base: &State) -> Result<Box<dyn Journal>, StateError>;
    /// Whether a journal is stored beside the state: changes of a run that ended before it
    /// wrote the state whole. [`StateStore::read`] replays them; an apply writes the state
    /// first, so that runs killed one after another never grow one journal without bound.
    fn has_journal(&self) -> Result<bool, StateError>;
    /// Takes the state's lock, retrying for up to `timeout`; `Locked` with the holder's
    /// information after that. The guard unlocks when dropped.
    fn lock(&self, info: LockInfo, timeout: Duration) -> Result<Box<dyn LockGuard>, StateError>;
    /// Clears a stale lock whose information has `id`; refuses another id.
    fn force_unlock(&self, id: &str) -> Result<(), StateError>;
    /// Who holds the lock now and since when; `None` when nobody does.
    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError>;
    /// Where the state is, for messages (the local backend: its path).
    fn describe(&self) -> String;
    /// The same workspace stored in partitions, when the backend can.
    fn partitioned(&self) -> Option<&dyn partitioned::PartitionedStore> {
        None
    }
}

/// A held lock; dropping it unlocks.
pub trait LockGuard: Send {
    /// The information stored with the lock.
    fn info(&self) -> &LockInfo;
}

/// Who holds a lock and why, stored with the lock and shown to whoever waits for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockInfo {
    /// A unique id (UUID v4), what `force-unlock` takes.
    pub id: String,
    /// The command: `apply`, `plan`...
    pub operation: String,
    /// `user@host`.
    pub who: String,
    /// The fleetform version.
    pub version: String,
    /// When the lock was taken, RFC 3339.
    pub created: String,
    /// The locked state ([`StateStore::describe`]); filled in by `lock` when empty.
    pub path: String,
}

impl LockInfo {
    /// Information for a lock taken now by this process for `operation`.
    pub fn new(operation: &str) -> LockInfo {
        let created = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            who: who(),
            version: super::format::TOOL_VERSION.to_owned(),
            created,
            path: String::new(),
        }
    }
}

/// `user@host`, from the environment.
fn who() -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{host}")
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |s: &str| {
            if s.is_empty() {
                "unknown".to_owned()
            } else {
                s.to_owned()
            }
        };
        write!(
            f,
            "ID {}, operation {}, by {}, fleetform {}, since {}",
            show(&self.id),
            show(&self.operation),
            show(&self.who),
            show(&self.version),
            show(&self.created)
        )
    }
}

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The stored state (or journal) is not one this fleetform can read.
    #[error("cannot read state {path}: {message}")]
    Corrupt {
        /// Where it is.
        path: String,
        /// What is wrong and where inside it.
        message: String,
    },
    /// The stored state was written by a newer fleetform.
    #[error(
        "state {path} was written by a newer fleetform (format version {version}); fleetform \
         {tool_version} reads format version {supported} and older: upgrade fleetform",
        tool_version = super::format::TOOL_VERSION,
        supported = super::format::FORMAT_VERSION
    )]
    NewerFormat {
        /// Where it is.
        path: String,
        /// The version found.
        version: u64,
    },
    /// Writing or journaling would not follow the persisted state: another lineage, a serial
    /// that does not advance, or a journal of an interrupted run not replayed.
    #[error("refusing to change state {path}: {message}")]
    Conflict {
        /// Where it is.
        path: String,
        /// What does not match.
        message: String,
    },
    /// Someone else holds the lock.
    #[error(
        "the state {} is locked by another run (lock {info}); wait for it to finish, or, if it \
         was killed and its lock survived, use force-unlock with its ID",
        info.path
    )]
    Locked {
        /// The holder's information.
        info: Box<LockInfo>,
    },
    /// `force_unlock` was given another lock's id.
    #[error("lock ID {id:?} does not match the lock on {}, whose ID is {:?}", info.path, info.id)]
    LockMismatch {
        /// The id given.
        id: String,
        /// The existing lock.
        info: Box<LockInfo>,
    },
    /// `force_unlock` of a lock held by a live process, which the operating system keeps
    /// until that process exits.
    #[error(
        "the lock on {} is held by a running process (lock {info}); stop that process: its \
         lock is released when it exits",
        info.path
    )]
    LockHeld {
        /// The holder's information.
        info: Box<LockInfo>,
    },
    /// `force_unlock` found no lock.
    #[error("the state {path} is not locked")]
    NotLocked {
        /// Where it is.
        path: String,
    },
    /// A journal may no longer be appended to.
    #[error("journal {path} is closed: {reason}")]
    JournalClosed {
        /// Where it is.
        path: String,
        /// Why.
        reason: String,
    },
    /// Sealed data that the configured encryption cannot open (or plain data it refuses).
    #[error("cannot read state {path}: {source}")]
    Encryption {
        /// Where it is.
        path: String,
        /// What is wrong.
        #[source]
        source: crate::encryption::EncryptionError,
    },
    /// The backend's store could not be reached or answered with an error.
    #[error("state {path}: {message}")]
    Remote {
        /// The state's place ([`StateStore::describe`]).
        path: String,
        /// What failed, as the backend says it.
        message: String,
    },
    /// A workspace name that cannot be used.
    #[error("invalid workspace name {name:?}: {reason}")]
    InvalidWorkspace {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Deleting a workspace that does not exist.
    #[error("workspace {name:?} does not exist")]
    NoSuchWorkspace {
        /// The name.
        name: String,
    },
    /// Deleting the default workspace.
    #[error("the default workspace cannot be deleted")]
    DeleteDefault,
}
