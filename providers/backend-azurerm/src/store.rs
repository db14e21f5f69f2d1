//! The backend, its stores, journals and leases.
//!
//! Blobs of a workspace: the state (`KEY`, or `KEY` + `env:` + workspace as Terraform names
//! them) and its journal, an append blob beside it (`… .journal`) with one block per
//! recorded change and the state it extends in its metadata. The lock is a lease on the
//! state blob (created empty when missing, as Terraform does), with a finite duration that
//! a background task renews while the run lives, so a killed run's lock ends within the
//! duration; the holder's information is in the state blob's metadata. While locked, the
//! journal blob is leased too, so appends of a run that lost its lock are refused.
//!
//! Writes are conditional: the state is replaced only over the version whose lineage and
//! serial were checked (`If-Match` on its ETag), with the lease when one is held.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use fleetform_planner::state::backend::codec::{self, Codec, StateHeader};
use fleetform_planner::state::backend::registry::BackendConfigError;
use fleetform_planner::state::backend::remote::{self, Worker};
use fleetform_planner::state::backend::{
    Backend, DEFAULT_WORKSPACE, LockGuard, LockInfo, StateError, StateStore,
};
use fleetform_planner::state::{Journal, JournalEntry, State};

use crate::client::{BlobClient, BlobError, Lease, Properties};
use crate::config::Settings;

/// What a state blob's name gets for its journal.
pub(crate) const JOURNAL_SUFFIX: &str = ".journal";
/// Terraform's separator between the key and a workspace's name.
const WORKSPACE_SEPARATOR: &str = "env:";
const META_LOCK: &str = "fleetformlock";
const META_LINEAGE: &str = "fleetformlineage";
const META_SERIAL: &str = "fleetformserial";
/// How often a waiting `lock` tries again.
const LOCK_RETRY: Duration = Duration::from_millis(500);
/// How long past its timeout `lock` keeps trying while the lock changes hands.
const HANDOVER: Duration = Duration::from_secs(3);

/// States in an Azure Blob Storage container.
pub struct AzureBackend {
    worker: Arc<Worker>,
    client: Arc<BlobClient>,
    settings: Settings,
    codec: Codec,
}

impl AzureBackend {
    /// Checks the container exists.
    pub fn connect(settings: Settings, codec: Codec) -> Result<AzureBackend, BackendConfigError> {
        let worker = Arc::new(
            Worker::start("fleetform-azurerm")
                .map_err(|e| BackendConfigError::general(format!("cannot start a thread: {e}")))?,
        );
        let client = Arc::new(BlobClient::new(&settings).map_err(BackendConfigError::general)?);
        let c = client.clone();
        let exists = worker
            .run(async move { c.container_exists().await })
            .ok_or_else(|| BackendConfigError::general("the backend's worker stopped"))?
            .map_err(|e| match e {
                BlobError::Auth(message) => BackendConfigError::general(message),
                e => BackendConfigError::general(format!(
                    "cannot reach the Blob service at {}: {e}",
                    settings.endpoint
                )),
            })?;
        if !exists {
            return Err(BackendConfigError::at(
                "container_name",
                format!(
                    "the container {:?} does not exist in storage account {:?}: create it first",
                    settings.container, settings.account
                ),
            ));
        }
        Ok(AzureBackend {
            worker,
            client,
            settings,
            codec,
        })
    }

    fn blob(&self, workspace: &str) -> String {
        if workspace == DEFAULT_WORKSPACE {
            self.settings.key.clone()
        } else {
            format!("{}{WORKSPACE_SEPARATOR}{workspace}", self.settings.key)
        }
    }

    fn open_store(&self, workspace: &str) -> Result<AzureStore, StateError> {
        if workspace.is_empty() || workspace.contains('/') {
            return Err(StateError::InvalidWorkspace {
                name: workspace.to_owned(),
                reason: "use letters, digits, '-' and '_'".into(),
            });
        }
        let blob = self.blob(workspace);
        Ok(AzureStore {
            worker: self.worker.clone(),
            client: self.client.clone(),
            place: self.client.url_of(&blob),
            journal_blob: format!("{blob}{JOURNAL_SUFFIX}"),
            blob,
            codec: self.codec.clone(),
            lease_seconds: self.settings.lease_duration.as_secs(),
            snapshot: self.settings.snapshot,
            generation: Arc::new(AtomicU64::new(0)),
            lease: Arc::new(Mutex::new(LeaseState::default())),
            cached: Mutex::new(None),
        })
    }

    fn run<T, F>(&self, future: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, BlobError>> + Send + 'static,
    {
        run(&self.worker, future, &self.client.url_of(""))
    }
}

fn run<T, F>(worker: &Worker, future: F, place: &str) -> Result<T, StateError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, BlobError>> + Send + 'static,
{
    worker
        .run(future)
        .ok_or_else(|| StateError::Remote {
            path: place.to_owned(),
            message: "the backend's worker stopped".into(),
        })?
        .map_err(|e| StateError::Remote {
            path: place.to_owned(),
            message: e.to_string(),
        })
}

impl Backend for AzureBackend {
    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let prefix = format!("{}{WORKSPACE_SEPARATOR}", self.settings.key);
        let c = self.client.clone();
        let p = prefix.clone();
        let names = self.run(async move { c.list(&p).await })?;
        let mut out: Vec<String> = names
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix))
            .filter(|n| !n.ends_with(JOURNAL_SUFFIX) && !n.is_empty() && *n != DEFAULT_WORKSPACE)
            .map(str::to_owned)
            .collect();
        out.sort();
        out.dedup();
        out.insert(0, DEFAULT_WORKSPACE.to_owned());
        Ok(out)
    }

    fn delete_workspace(&self, name: &str) -> Result<(), StateError> {
        remote::check_deletable(&self.workspaces()?, name)?;
        let store = self.open_store(name)?;
        let guard = store.lock(LockInfo::new("workspace delete"), Duration::ZERO)?;
        let id = guard.info().id.clone();
        let (c, journal, blob) = (
            self.client.clone(),
            store.journal_blob.clone(),
            store.blob.clone(),
        );
        let deleted = self.run(async move {
            c.delete(&journal, Some(&id)).await?;
            c.delete(&blob, Some(&id)).await
        });
        // The lease went with the blob; releasing it finds nothing, which is fine.
        drop(guard);
        deleted
    }

    fn store(&self, workspace: &str) -> Result<Box<dyn StateStore>, StateError> {
        Ok(Box::new(self.open_store(workspace)?))
    }
}

/// The leases this store holds.
#[derive(Default)]
struct LeaseState {
    /// The state blob's lease (the lock), by id.
    state: Option<String>,
    /// The journal blob's lease, by id.
    journal: Option<String>,
    /// The lock information kept in the state blob's metadata while locked.
    lock_meta: BTreeMap<String, String>,
    /// Why the lease was lost, once renewal failed: every later write is refused.
    lost: Option<String>,
}

/// One workspace's state blob and journal.
pub struct AzureStore {
    worker: Arc<Worker>,
    client: Arc<BlobClient>,
    blob: String,
    journal_blob: String,
    place: String,
    codec: Codec,
    lease_seconds: u64,
    snapshot: bool,
    generation: Arc<AtomicU64>,
    lease: Arc<Mutex<LeaseState>>,
    /// The ETag and header of the state last read or written, to check a write against
    /// without downloading the state again.
    cached: Mutex<Option<(String, StateHeader)>>,
}

impl AzureStore {
    fn run<T, F>(&self, future: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, BlobError>> + Send + 'static,
    {
        run(&self.worker, future, &self.place)
    }

    fn conflict(&self, message: impl Into<String>) -> StateError {
        StateError::Conflict {
            path: self.place.clone(),
            message: message.into(),
        }
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_lease(&self) -> Result<(), StateError> {
        match &self.leases().lost {
            Some(reason) => Err(self.conflict(format!(
                "the state lock was lost ({reason}); another run may hold it now"
            ))),
            None => Ok(()),
        }
    }

    /// The stored state's ETag and header (`None` header: no state yet, or an empty blob
    /// made for a lease); the blob's properties when it exists.
    fn persisted(&self) -> Result<(Option<Properties>, Option<StateHeader>), StateError> {
        let (c, blob) = (self.client.clone(), self.blob.clone());
        let Some(props) = self.run(async move { c.head(&blob).await })? else {
            return Ok((None, None));
        };
        if props.length == 0 {
            return Ok((Some(props), None));
        }
        if let Some((etag, header)) = self
            .cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && *etag == props.etag
        {
            return Ok((Some(props), Some(header.clone())));
        }
        let (c, blob) = (self.client.clone(), self.blob.clone());
        match self.run(async move { c.get(&blob).await })? {
            Some((bytes, props)) if !bytes.is_empty() => {
                let header = self.codec.state_header(&bytes, &self.place)?;
                self.remember(&props.etag, &header);
                Ok((Some(props), Some(header)))
            }
            Some((_, props)) => Ok((Some(props), None)),
            None => Ok((None, None)),
        }
    }

    fn remember(&self, etag: &str, header: &StateHeader) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((etag.to_owned(), header.clone()));
    }

    fn holder(&self) -> LockInfo {
        for _ in 0..5 {
            let (c, blob) = (self.client.clone(), self.blob.clone());
            if let Ok(Some(props)) = self.run(async move { c.head(&blob).await })
                && let Some(info) = lock_info(&props)
            {
                return info;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        LockInfo {
            path: self.place.clone(),
            ..LockInfo::default()
        }
    }

    /// Breaks a lease left on the journal blob by a run that no longer holds the lock.
    fn take_journal_lease(&self, id: &str) -> Result<(), StateError> {
        let (c, blob, id, secs) = (
            self.client.clone(),
            self.journal_blob.clone(),
            id.to_owned(),
            self.lease_seconds,
        );
        self.run(async move {
            match c
                .lease(
                    &blob,
                    Lease::Acquire {
                        id: &id,
                        seconds: secs,
                    },
                )
                .await
            {
                Err(e) if e.status() == Some(409) => {
                    c.lease(&blob, Lease::Break).await?;
                    c.lease(
                        &blob,
                        Lease::Acquire {
                            id: &id,
                            seconds: secs,
                        },
                    )
                    .await
                }
                other => other,
            }
        })
    }
}

fn lock_info(props: &Properties) -> Option<LockInfo> {
    let encoded = props.metadata.get(META_LOCK)?;
    let bytes = B64.decode(encoded).ok()?;
    codec::decode_lock_info(&bytes)
}

fn journal_header(props: &Properties) -> Option<StateHeader> {
    Some(StateHeader {
        lineage: props.metadata.get(META_LINEAGE)?.clone(),
        serial: props.metadata.get(META_SERIAL)?.parse().ok()?,
    })
}

fn lease_lost(e: &StateError) -> bool {
    matches!(e, StateError::Remote { message, .. } if message.contains("Lease"))
}

impl StateStore for AzureStore {
    fn read(&self) -> Result<Option<State>, StateError> {
        let (c, blob, journal) = (
            self.client.clone(),
            self.blob.clone(),
            self.journal_blob.clone(),
        );
        let (state, journal) = self.run(async move {
            let state = c.get(&blob).await?;
            let journal = c.get(&journal).await?;
            Ok((state, journal))
        })?;
        let state = match state {
            Some((bytes, props)) if !bytes.is_empty() => {
                let state = self.codec.decode_state(&bytes, &self.place)?;
                self.remember(&props.etag, &StateHeader::of(&state));
                Some(state)
            }
            _ => None,
        };
        let Some((bytes, props)) = journal else {
            return Ok(state);
        };
        let header = journal_header(&props);
        let records = bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>();
        remote::replay(state, header.as_ref(), records, &self.codec, &self.place)
    }

    fn write(&self, state: &State) -> Result<(), StateError> {
        self.check_lease()?;
        let (props, persisted) = self.persisted()?;
        if let Some(message) = remote::write_conflict(persisted.as_ref(), state) {
            return Err(self.conflict(message));
        }
        let bytes = self.codec.encode_state(state, &self.place)?;
        let (lease, journal_lease, meta) = {
            let l = self.leases();
            (l.state.clone(), l.journal.clone(), l.lock_meta.clone())
        };
        let (c, blob, journal) = (
            self.client.clone(),
            self.blob.clone(),
            self.journal_blob.clone(),
        );
        let if_match = props.as_ref().map(|p| p.etag.clone());
        let snapshot = self.snapshot && persisted.is_some();
        let written = self.run(async move {
            if snapshot {
                c.snapshot(&blob, lease.as_deref()).await?;
            }
            c.put(
                &blob,
                &bytes,
                lease.as_deref(),
                if_match.as_deref(),
                if_match.is_none(),
                &meta,
            )
            .await
        });
        let etag = match written {
            Ok(etag) => etag,
            Err(StateError::Remote { message, .. })
                if message.starts_with("412") || message.starts_with("409") =>
            {
                return Err(self.conflict(format!(
                    "it changed since it was read, or another run holds its lease ({message})"
                )));
            }
            Err(e) => return Err(e),
        };
        self.remember(&etag, &StateHeader::of(state));
        self.generation.fetch_add(1, Ordering::SeqCst);
        // The state now holds every record: drop the journal (and its lease).
        let c = self.client.clone();
        let dropped = self.run(async move { c.delete(&journal, journal_lease.as_deref()).await });
        self.leases().journal = None;
        if let Err(e) = dropped {
            // Harmless: a journal bound to an older serial is ignored.
            tracing::warn!(journal = %self.journal_blob, "cannot delete: {e}");
        }
        Ok(())
    }

    fn journal(&self, base: &State) -> Result<Box<dyn Journal>, StateError> {
        self.check_lease()?;
        let base = StateHeader::of(base);
        let (_, persisted) = self.persisted()?;
        if let Some(message) = remote::journal_conflict(persisted.as_ref(), &base) {
            return Err(self.conflict(message));
        }
        let (c, blob) = (self.client.clone(), self.journal_blob.clone());
        let existing = self.run(async move { c.head(&blob).await })?;
        let held = self.leases().state.clone();
        let continues = existing
            .as_ref()
            .and_then(journal_header)
            .is_some_and(|h| h == base);
        let offset = match &existing {
            Some(p) if continues => p.length,
            Some(p) => {
                let extends_stored = match (&persisted, journal_header(p)) {
                    (Some(s), Some(h)) => h == *s,
                    (None, Some(h)) => h.serial == 0,
                    _ => false,
                };
                if extends_stored {
                    let h = journal_header(p).unwrap_or(base.clone());
                    return Err(self.conflict(format!(
                        "it holds changes of an interrupted run (lineage {}, serial {}) that the state being extended (lineage {}, serial {}) does not include; read the state (which replays them) and start from that",
                        h.lineage, h.serial, base.lineage, base.serial
                    )));
                }
                0
            }
            None => 0,
        };
        if !continues {
            if let (Some(p), Some(_)) = (&existing, &held)
                && p.lease_state == "leased"
            {
                // Left by a run whose lock has ended: ours now.
                let (c, blob) = (self.client.clone(), self.journal_blob.clone());
                self.run(async move { c.lease(&blob, Lease::Break).await })?;
            }
            let mut meta = BTreeMap::new();
            meta.insert(META_LINEAGE.to_owned(), base.lineage.clone());
            meta.insert(META_SERIAL.to_owned(), base.serial.to_string());
            let (c, blob) = (self.client.clone(), self.journal_blob.clone());
            self.run(async move { c.create_append(&blob, None, false, &meta).await })?;
        }
        if let Some(id) = &held {
            self.take_journal_lease(id)?;
            self.leases().journal = Some(id.clone());
        }
        let opened_at = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Box::new(AzureJournal {
            worker: self.worker.clone(),
            client: self.client.clone(),
            blob: self.journal_blob.clone(),
            place: format!("{}{JOURNAL_SUFFIX}", self.place),
            offset,
            codec: self.codec.clone(),
            lease: self.lease.clone(),
            generation: self.generation.clone(),
            opened_at,
            failed: false,
        }))
    }

    fn has_journal(&self) -> Result<bool, StateError> {
        let (c, blob) = (self.client.clone(), self.journal_blob.clone());
        let Some(journal) = self.run(async move { c.head(&blob).await })? else {
            return Ok(false);
        };
        let (_, persisted) = self.persisted()?;
        let extends_stored = match (&persisted, journal_header(&journal)) {
            (Some(s), Some(h)) => h == *s,
            (None, Some(h)) => h.serial == 0,
            _ => false,
        };
        Ok(extends_stored && journal.length > 0)
    }

    fn lock(
        &self,
        mut info: LockInfo,
        timeout: Duration,
    ) -> Result<Box<dyn LockGuard>, StateError> {
        if info.path.is_empty() {
            info.path = self.place.clone();
        }
        // A lease needs a blob: make an empty one if there is none yet.
        let (c, blob) = (self.client.clone(), self.blob.clone());
        let made =
            self.run(async move { c.put(&blob, b"", None, None, true, &BTreeMap::new()).await });
        match made {
            Ok(_) => {}
            Err(StateError::Remote { message, .. })
                if message.starts_with("409") || message.starts_with("412") => {}
            Err(e) => return Err(e),
        }
        let start = Instant::now();
        loop {
            let (c, blob, id, secs) = (
                self.client.clone(),
                self.blob.clone(),
                info.id.clone(),
                self.lease_seconds,
            );
            match self.run(async move {
                c.lease(
                    &blob,
                    Lease::Acquire {
                        id: &id,
                        seconds: secs,
                    },
                )
                .await
            }) {
                Ok(()) => break,
                Err(StateError::Remote { message, .. }) if message.starts_with("409") => {
                    let waited = start.elapsed();
                    if waited >= timeout {
                        // The holder's information is set just after the lease is taken and
                        // cleared just before it is released: with none found, the lock is
                        // changing hands, so try again for a moment rather than name nobody.
                        let (c, blob) = (self.client.clone(), self.blob.clone());
                        let holder = self
                            .run(async move { c.head(&blob).await })?
                            .and_then(|p| lock_info(&p));
                        if let Some(holder) = holder {
                            return Err(StateError::Locked {
                                info: Box::new(holder),
                            });
                        }
                        if waited < timeout + HANDOVER {
                            std::thread::sleep(Duration::from_millis(100));
                            continue;
                        }
                        return Err(StateError::Locked {
                            info: Box::new(self.holder()),
                        });
                    }
                    std::thread::sleep(LOCK_RETRY.min(timeout - waited));
                }
                Err(e) => return Err(e),
            }
        }
        let mut meta = BTreeMap::new();
        meta.insert(
            META_LOCK.to_owned(),
            B64.encode(codec::encode_lock_info(&info)),
        );
        {
            let mut l = self.leases();
            l.state = Some(info.id.clone());
            l.lock_meta = meta.clone();
            l.lost = None;
        }
        let (c, blob, id) = (self.client.clone(), self.blob.clone(), info.id.clone());
        if let Err(e) = self.run(async move { c.set_metadata(&blob, Some(&id), &meta).await }) {
            tracing::warn!(state = %self.place, "cannot record the lock's information: {e}");
        }
        let renewal = self.worker.spawn(renew(
            self.client.clone(),
            self.blob.clone(),
            self.journal_blob.clone(),
            self.lease.clone(),
            Duration::from_secs(self.lease_seconds / 3),
        ));
        Ok(Box::new(AzureLock {
            worker: self.worker.clone(),
            client: self.client.clone(),
            blob: self.blob.clone(),
            journal_blob: self.journal_blob.clone(),
            lease: self.lease.clone(),
            renewal,
            info,
        }))
    }

    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let (c, blob) = (self.client.clone(), self.blob.clone());
        let Some(props) = self.run(async move { c.head(&blob).await })? else {
            return Err(StateError::NotLocked {
                path: self.place.clone(),
            });
        };
        let leased = props.lease_state == "leased";
        match lock_info(&props) {
            None if !leased => Err(StateError::NotLocked {
                path: self.place.clone(),
            }),
            Some(info) if info.id != id => Err(StateError::LockMismatch {
                id: id.to_owned(),
                info: Box::new(info),
            }),
            // A lease without holder information (a run killed between taking the lease and
            // recording itself) shows an empty ID, and is broken with that ID.
            None if !id.is_empty() => Err(StateError::LockMismatch {
                id: id.to_owned(),
                info: Box::new(LockInfo {
                    path: self.place.clone(),
                    ..LockInfo::default()
                }),
            }),
            Some(_) | None => {
                // Breaking a live holder's lease is safe: its later writes and appends are
                // refused for want of the lease.
                let (c, blob, journal) = (
                    self.client.clone(),
                    self.blob.clone(),
                    self.journal_blob.clone(),
                );
                self.run(async move {
                    if leased {
                        c.lease(&blob, Lease::Break).await?;
                    }
                    match c.lease(&journal, Lease::Break).await {
                        Err(e) if matches!(e.status(), Some(404) | Some(409)) => {}
                        other => other?,
                    }
                    c.set_metadata(&blob, None, &BTreeMap::new()).await
                })
            }
        }
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let (c, blob) = (self.client.clone(), self.blob.clone());
        match self.run(async move { c.head(&blob).await })? {
            Some(props) if props.lease_state == "leased" => {
                Ok(Some(lock_info(&props).unwrap_or_else(|| self.holder())))
            }
            _ => Ok(None),
        }
    }

    fn describe(&self) -> String {
        self.place.clone()
    }
}

/// Renews the leases every `every` until the lock is dropped; a refusal marks them lost.
async fn renew(
    client: Arc<BlobClient>,
    blob: String,
    journal: String,
    lease: Arc<Mutex<LeaseState>>,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let (state, journal_lease) = {
            let l = lease.lock().unwrap_or_else(|p| p.into_inner());
            (l.state.clone(), l.journal.clone())
        };
        let Some(id) = state else { return };
        let mut result = client.lease(&blob, Lease::Renew(&id)).await;
        if result.is_ok()
            && let Some(j) = journal_lease
        {
            result = client.lease(&journal, Lease::Renew(&j)).await;
        }
        match result {
            Ok(()) => tracing::trace!(%blob, "renewed the state lease"),
            // The service said no (broken, taken, expired): the lock is gone.
            Err(e @ BlobError::Status { .. }) => {
                tracing::warn!(%blob, "the state lease was lost: {e}");
                lease.lock().unwrap_or_else(|p| p.into_inner()).lost = Some(e.to_string());
                return;
            }
            // Unreachable for now: try again at the next tick, within the lease's duration.
            Err(e) => tracing::debug!(%blob, "cannot renew the state lease yet: {e}"),
        }
    }
}

/// A held lease; dropping it clears the lock's information and releases the leases.
struct AzureLock {
    worker: Arc<Worker>,
    client: Arc<BlobClient>,
    blob: String,
    journal_blob: String,
    lease: Arc<Mutex<LeaseState>>,
    renewal: tokio::task::JoinHandle<()>,
    info: LockInfo,
}

impl LockGuard for AzureLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for AzureLock {
    fn drop(&mut self) {
        self.renewal.abort();
        let (journal_lease, lost) = {
            let mut l = self.lease.lock().unwrap_or_else(|p| p.into_inner());
            let out = (l.journal.take(), l.lost.is_some());
            l.state = None;
            l.lock_meta.clear();
            out
        };
        if lost {
            return;
        }
        let (c, blob, journal, id) = (
            self.client.clone(),
            self.blob.clone(),
            self.journal_blob.clone(),
            self.info.id.clone(),
        );
        let released = self.worker.run(async move {
            if let Some(j) = journal_lease {
                let _ = c.lease(&journal, Lease::Release(&j)).await;
            }
            c.set_metadata(&blob, Some(&id), &BTreeMap::new()).await?;
            c.lease(&blob, Lease::Release(&id)).await
        });
        match released {
            // The blob was deleted under the lock (workspace delete): nothing to release.
            Some(Err(e)) if e.status() == Some(404) => {}
            Some(Err(e)) => tracing::warn!(
                blob = %self.blob,
                "cannot release the state lease (it expires by itself): {e}"
            ),
            _ => {}
        }
    }
}

/// Journal records as blocks of an append blob.
struct AzureJournal {
    worker: Arc<Worker>,
    client: Arc<BlobClient>,
    blob: String,
    place: String,
    offset: u64,
    codec: Codec,
    lease: Arc<Mutex<LeaseState>>,
    generation: Arc<AtomicU64>,
    opened_at: u64,
    failed: bool,
}

impl Journal for AzureJournal {
    fn record(&mut self, entry: &JournalEntry) -> Result<(), StateError> {
        if self.generation.load(Ordering::SeqCst) != self.opened_at {
            return Err(remote::journal_superseded(&self.place));
        }
        let (journal_lease, lost) = {
            let l = self.lease.lock().unwrap_or_else(|p| p.into_inner());
            (l.journal.clone(), l.lost.clone())
        };
        if let Some(reason) = lost {
            return Err(StateError::JournalClosed {
                path: self.place.clone(),
                reason: format!("the state lock was lost ({reason})"),
            });
        }
        if self.failed {
            return Err(StateError::JournalClosed {
                path: self.place.clone(),
                reason: "an earlier append failed; write the state instead".into(),
            });
        }
        let mut line = self.codec.encode_record(entry, &self.place)?;
        line.push(b'\n');
        let len = line.len() as u64;
        let (c, blob, at) = (self.client.clone(), self.blob.clone(), self.offset);
        match run(
            &self.worker,
            async move { c.append(&blob, &line, journal_lease.as_deref(), at).await },
            &self.place,
        ) {
            Ok(()) => {
                self.offset += len;
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                if lease_lost(&e) {
                    self.lease.lock().unwrap_or_else(|p| p.into_inner()).lost = Some(e.to_string());
                }
                Err(e)
            }
        }
    }

    fn sync(&mut self) -> Result<(), StateError> {
        // An append is durable in the service once acknowledged.
        Ok(())
    }
}
