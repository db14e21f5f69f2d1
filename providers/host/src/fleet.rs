//! The hosts a run knows and their connections: one SSH connection per host, opened on
//! first use and reused by every resource on that host; operations on one host run one at
//! a time over it (libssh2 serialises a connection's channels anyway), hosts in parallel
//! up to the provider's `parallelism`. A host that cannot be reached fails fast for the
//! rest of the run instead of making each of its resources wait out the timeout again.
//!
//! Other providers (the cluster provider) work on hosts through the same `Fleet`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use fleetform_sdk::ProviderError;
use tokio::sync::Semaphore;

use crate::shell::Shell;
use crate::ssh::{self, ConnectError, Connection, SessionError, Target};

/// How long a failed connection is remembered before it is tried again.
const FAILURE_MEMORY: Duration = Duration::from_secs(60);
/// Delays before the second and third connection attempts.
const BACKOFF: [Duration; 2] = [Duration::from_millis(300), Duration::from_millis(1200)];

/// The hosts of a run and their connections.
pub struct Fleet {
    targets: RwLock<HashMap<String, (Target, Shell)>>,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    permits: Arc<Semaphore>,
    parallelism: Mutex<usize>,
}

#[derive(Default)]
struct Slot {
    connection: Option<(Target, Connection)>,
    failure: Option<(Target, ConnectError, Instant)>,
}

/// Why an operation on a host did not run or did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error(
        "host {0:?} is not known to this run: refer to a `host` resource's id (e.g. host.node1.id)"
    )]
    Unknown(String),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("on {host}: {source}")]
    Session { host: String, source: SessionError },
}

impl HostError {
    /// Whether the host could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, HostError::Connect(c) if c.is_unreachable())
    }
}

impl From<HostError> for ProviderError {
    fn from(e: HostError) -> ProviderError {
        match &e {
            _ if e.is_unreachable() => ProviderError::unreachable(e.to_string()),
            _ => ProviderError::permanent(e.to_string()),
        }
    }
}

/// Whether an operation may safely run again after the connection broke under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// Reads, and writes that land atomically: run again on a fresh connection.
    Safe,
    /// Commands with effects: never run twice behind the user's back.
    Never,
}

const DEFAULT_PARALLELISM: usize = 32;

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            targets: RwLock::default(),
            slots: Mutex::default(),
            permits: Arc::new(Semaphore::new(DEFAULT_PARALLELISM)),
            parallelism: Mutex::new(DEFAULT_PARALLELISM),
        }
    }
}

impl Fleet {
    /// An empty fleet.
    pub fn new() -> Arc<Fleet> {
        Arc::new(Fleet::default())
    }

    /// Sets how many hosts are worked on at once.
    pub fn set_parallelism(&self, n: usize) {
        let n = n.max(1);
        let mut current = self.parallelism.lock().expect("parallelism lock");
        if n > *current {
            self.permits.add_permits(n - *current);
        } else {
            self.permits.forget_permits(*current - n);
        }
        *current = n;
    }

    /// Records how to reach the host with `id` and which shell it speaks; a changed
    /// target takes effect on the next operation.
    pub fn register(&self, id: &str, target: Target, shell: Shell) {
        let mut targets = self.targets.write().expect("targets lock");
        let entry = (target, shell);
        if targets.get(id) != Some(&entry) {
            targets.insert(id.to_owned(), entry);
        }
    }

    /// How to reach the host with `id` and its shell.
    pub fn host(&self, id: &str) -> Result<(Target, Shell), HostError> {
        self.targets
            .read()
            .expect("targets lock")
            .get(id)
            .cloned()
            .ok_or_else(|| HostError::Unknown(id.to_owned()))
    }

    /// Runs `op` on `target`, which need not be registered (the `host` resource before it
    /// exists).
    pub async fn run_on<T: Send + 'static>(
        &self,
        target: Target,
        rerun: Rerun,
        op: impl Fn(&mut Connection) -> Result<T, SessionError> + Send + 'static,
    ) -> Result<T, HostError> {
        let key = target.describe();
        let slot = {
            let mut slots = self.slots.lock().expect("slots lock");
            slots.entry(key.clone()).or_default().clone()
        };
        let mut slot = slot.lock_owned().await;
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        // Log lines of the operation (each command's program and exit status) name the host.
        let span = tracing::debug_span!("host", host = %key);
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let (connection, reused) = slot.connect(&target)?;
            match op(connection) {
                Ok(v) => Ok(v),
                Err(e) if e.poisons_connection() => {
                    slot.connection = None;
                    let broken = matches!(e, SessionError::Broken(_));
                    if reused && broken && rerun == Rerun::Safe {
                        // The kept connection had died (sshd restarted, link dropped):
                        // one fresh try.
                        let (connection, _) = slot.connect(&target)?;
                        return op(connection).map_err(|source| HostError::Session {
                            host: key.clone(),
                            source,
                        });
                    }
                    Err(HostError::Session {
                        host: key,
                        source: e,
                    })
                }
                Err(source) => Err(HostError::Session { host: key, source }),
            }
        })
        .await
        .unwrap_or_else(|e| {
            Err(HostError::Session {
                host: String::new(),
                source: SessionError::Broken(format!("the operation panicked: {e}")),
            })
        })
    }
}

impl Slot {
    /// The open connection for `target` (and whether it was already open), connecting
    /// with retries and backoff when there is none.
    fn connect(&mut self, target: &Target) -> Result<(&mut Connection, bool), HostError> {
        let current = matches!(&self.connection, Some((t, _)) if t == target);
        if current {
            let (_, c) = self.connection.as_mut().expect("checked above");
            return Ok((c, true));
        }
        if let Some((failed, error, at)) = &self.failure
            && failed == target
            && at.elapsed() < FAILURE_MEMORY
        {
            return Err(error.clone().into());
        }
        let mut attempt = 0;
        let connection = loop {
            match ssh::connect(target) {
                Ok(c) => break c,
                Err(e) if e.is_retryable() && attempt < BACKOFF.len() => {
                    tracing::debug!(host = %target.describe(), error = %e, "connect failed; retrying");
                    std::thread::sleep(BACKOFF[attempt]);
                    attempt += 1;
                }
                Err(e) => {
                    self.failure = Some((target.clone(), e.clone(), Instant::now()));
                    return Err(e.into());
                }
            }
        };
        self.failure = None;
        self.connection = Some((target.clone(), connection));
        let (_, c) = self.connection.as_mut().expect("set above");
        Ok((c, false))
    }
}
