//! The local backend: state in a file beside the fleet.
//!
//! Files of one state (`fleet.state` in the fleet's directory for the default workspace,
//! `fleet.state.d/<workspace>/fleet.state` for the others): the state, `<state>.backup` (the
//! previous state), `<state>.journal` (changes since the state was written) and
//! `<state>.lock` (an operating system lock, with the holder's information inside). All are
//! created 0600 on Unix: state holds secrets.
//!
//! A write never leaves a moment without a whole state on disk: the new state goes to a
//! temporary file in the same directory and is fsynced; the previous state is hard-linked
//! (or copied) to a temporary backup that is renamed over the old backup; the temporary
//! state is renamed over the state and the directory fsynced; only then is the journal
//! removed. Temporaries are named `.<state>.*.tmp` and `.<state>.backup.*.tmp`: a run
//! killed while writing leaves one behind, and the next run to take the lock (the only
//! writer) removes them, since they hold a whole state and its secrets.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::codec::Codec;
use super::{Backend, DEFAULT_WORKSPACE, LockGuard, LockInfo, StateError, StateStore};
use crate::state::State;
use crate::state::format::{self, Header};
use crate::state::journal::{self, FileJournal, Journal};

/// The default state file's name.
pub const STATE_FILE: &str = "fleet.state";
/// The directory of the non-default workspaces' states.
pub const WORKSPACES_DIR: &str = "fleet.state.d";

/// How often a waiting `lock` tries again.
const LOCK_RETRY: Duration = Duration::from_millis(100);

/// States in local files.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
    path: Option<PathBuf>,
    codec: Codec,
}

impl LocalBackend {
    /// The local backend of the fleet in `root_dir`; `path` (the backend's `path` setting,
    /// relative to `root_dir`) replaces `fleet.state` for the default workspace.
    pub fn new(root_dir: &Path, path: Option<PathBuf>) -> LocalBackend {
        LocalBackend {
            root: root_dir.to_owned(),
            path,
            codec: Codec::default(),
        }
    }

    /// The same backend, storing states and journals through `codec` (encryption).
    pub fn with_codec(mut self, codec: Codec) -> LocalBackend {
        self.codec = codec;
        self
    }

    /// The state file of `workspace`.
    pub fn state_path(&self, workspace: &str) -> Result<PathBuf, StateError> {
        if workspace == DEFAULT_WORKSPACE {
            return Ok(match &self.path {
                Some(p) => self.root.join(p),
                None => self.root.join(STATE_FILE),
            });
        }
        check_workspace_name(workspace)?;
        Ok(self.workspace_dir(workspace).join(STATE_FILE))
    }

    fn workspace_dir(&self, workspace: &str) -> PathBuf {
        self.root.join(WORKSPACES_DIR).join(workspace)
    }
}

/// Workspace names become directory names: letters, digits, `-`, `_` and `.`.
fn check_workspace_name(name: &str) -> Result<(), StateError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("it is a special directory name")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("use letters, digits, '-', '_' and '.'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StateError::InvalidWorkspace {
            name: name.to_owned(),
            reason: reason.to_owned(),
        }),
        None => Ok(()),
    }
}

impl Backend for LocalBackend {
    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let dir = self.root.join(WORKSPACES_DIR);
        let mut names = Vec::new();
        match fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(io_error(&dir))?;
                    let is_dir = entry.file_type().map_err(io_error(&dir))?.is_dir();
                    if let Some(name) = entry.file_name().to_str()
                        && is_dir
                        && name != DEFAULT_WORKSPACE
                        && check_workspace_name(name).is_ok()
                    {
                        names.push(name.to_owned());
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&dir)(e)),
        }
        names.sort();
        names.insert(0, DEFAULT_WORKSPACE.to_owned());
        Ok(names)
    }

    fn delete_workspace(&self, name: &str) -> Result<(), StateError> {
        if name == DEFAULT_WORKSPACE {
            return Err(StateError::DeleteDefault);
        }
        let store = LocalStore::new(self.state_path(name)?).with_codec(self.codec.clone());
        let dir = self.workspace_dir(name);
        if !dir.is_dir() {
            return Err(StateError::NoSuchWorkspace {
                name: name.to_owned(),
            });
        }
        // Hold the lock while deleting, so no run is using the state.
        let _guard = match fs::metadata(&store.lock) {
            Ok(_) => Some(store.lock(LockInfo::new("workspace delete"), Duration::ZERO)?),
            Err(_) => None,
        };
        fs::remove_dir_all(&dir).map_err(io_error(&dir))
    }

    fn store(&self, workspace: &str) -> Result<Box<dyn StateStore>, StateError> {
        Ok(Box::new(
            LocalStore::new(self.state_path(workspace)?).with_codec(self.codec.clone()),
        ))
    }
}

/// One state file and the files beside it.
#[derive(Debug)]
pub struct LocalStore {
    path: PathBuf,
    backup: PathBuf,
    journal: PathBuf,
    lock: PathBuf,
    /// Moves on at every write and journal opened: a journal records only while it is the
    /// latest thing this store did.
    generation: Arc<AtomicU64>,
    codec: Codec,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl LocalStore {
    /// The store of the state file at `path`.
    pub fn new(path: PathBuf) -> LocalStore {
        LocalStore {
            backup: with_suffix(&path, ".backup"),
            journal: with_suffix(&path, ".journal"),
            lock: with_suffix(&path, ".lock"),
            path,
            generation: Arc::new(AtomicU64::new(0)),
            codec: Codec::default(),
        }
    }

    /// The same store, reading and writing through `codec` (encryption).
    pub fn with_codec(mut self, codec: Codec) -> LocalStore {
        self.codec = codec;
        self
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// The lineage and serial of the persisted state.
    fn persisted_header(&self) -> Result<Option<Header>, StateError> {
        match read_if_exists(&self.path)? {
            Some(bytes) => {
                let h = self.codec.state_header(&bytes, &self.describe())?;
                Ok(Some(Header {
                    lineage: h.lineage,
                    serial: h.serial,
                }))
            }
            None => Ok(None),
        }
    }

    fn conflict(&self, message: String) -> StateError {
        StateError::Conflict {
            path: self.describe(),
            message,
        }
    }

    /// Keeps the current state (if any) as the backup, atomically.
    fn keep_backup(&self) -> Result<(), StateError> {
        let temp = self.dir().join(format!(
            ".{}.{}.tmp",
            file_name(&self.backup),
            uuid::Uuid::new_v4().simple()
        ));
        let result = (|| {
            // A hard link shares the old state's inode, which is never written again (states
            // are replaced by rename); copy where links are not supported.
            if fs::hard_link(&self.path, &temp).is_err() {
                fs::copy(&self.path, &temp).map_err(io_error(&temp))?;
                File::open(&temp)
                    .and_then(|f| f.sync_all())
                    .map_err(io_error(&temp))?;
            }
            restrict_path(&temp).map_err(io_error(&temp))?;
            fs::rename(&temp, &self.backup).map_err(io_error(&self.backup))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Removes the temporaries of runs killed while writing this state. Called with the
    /// lock held: no other run is writing them.
    fn remove_leftovers(&self) {
        let prefixes = [
            format!(".{}.", file_name(&self.path)),
            format!(".{}.", file_name(&self.backup)),
        ];
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") && prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => {
                        tracing::debug!(path = %entry.path().display(), "removed a killed run's temporary state")
                    }
                    Err(e) => {
                        tracing::warn!(path = %entry.path().display(), "cannot remove a killed run's temporary state: {e}")
                    }
                }
            }
        }
    }

    /// The holder's information, read from the lock file (written just after the lock is
    /// taken, so retried briefly).
    fn holder(&self) -> LockInfo {
        for _ in 0..5 {
            if let Ok(bytes) = fs::read(&self.lock)
                && let Ok(info) = format::decode_lock_info(&bytes)
            {
                return info;
            }
            thread::sleep(Duration::from_millis(20));
        }
        LockInfo {
            path: self.describe(),
            ..LockInfo::default()
        }
    }

    fn open_lock_file(&self) -> Result<File, StateError> {
        create_dir(self.dir())?;
        private(OpenOptions::new().read(true).write(true).create(true))
            .truncate(false)
            .open(&self.lock)
            .map_err(io_error(&self.lock))
    }
}

impl StateStore for LocalStore {
    fn read(&self) -> Result<Option<State>, StateError> {
        let state = match read_if_exists(&self.path)? {
            Some(bytes) => Some(self.codec.decode_state(&bytes, &self.describe())?),
            None => None,
        };
        match read_if_exists(&self.journal)? {
            Some(bytes) => journal::replay(&bytes, &self.journal, state, &self.codec),
            None => Ok(state),
        }
    }

    fn write(&self, state: &State) -> Result<(), StateError> {
        let previous = self.persisted_header()?;
        match &previous {
            Some(p) if p.lineage != state.lineage => {
                return Err(self.conflict(format!(
                    "it holds lineage {}, not {}: it is another state",
                    p.lineage, state.lineage
                )));
            }
            Some(p) if state.serial <= p.serial => {
                return Err(self.conflict(format!(
                    "it is at serial {}; writing serial {} would not advance it",
                    p.serial, state.serial
                )));
            }
            None if state.serial == 0 => {
                return Err(self.conflict(
                    "a written state has serial 1 or more; increment it before writing".into(),
                ));
            }
            _ => {}
        }
        let dir = self.dir().to_owned();
        create_dir(&dir)?;
        let bytes = self.codec.encode_state(state, &self.describe())?;
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{}.", file_name(&self.path)))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(io_error(&dir))?;
        let temp_path = temp.path().to_owned();
        restrict_path(&temp_path).map_err(io_error(&temp_path))?;
        temp.write_all(&bytes).map_err(io_error(&temp_path))?;
        temp.as_file().sync_all().map_err(io_error(&temp_path))?;
        if previous.is_some() {
            self.keep_backup()?;
        }
        temp.persist(&self.path)
            .map_err(|e| io_error(&self.path)(e.error))?;
        sync_dir(&dir)?;
        // The state now holds everything the journal did.
        self.generation.fetch_add(1, Ordering::SeqCst);
        match fs::remove_file(&self.journal) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Harmless: a journal bound to an older serial is ignored.
            Err(e) => tracing::warn!(journal = %self.journal.display(), "cannot remove: {e}"),
        }
        Ok(())
    }

    fn journal(&self, base: &State) -> Result<Box<dyn Journal>, StateError> {
        let on_disk = self.persisted_header()?;
        let base = Header::of(base);
        match &on_disk {
            Some(p) if *p != base => {
                return Err(self.conflict(format!(
                    "a journal must extend the persisted state (lineage {}, serial {}), not \
                     lineage {}, serial {}",
                    p.lineage, p.serial, base.lineage, base.serial
                )));
            }
            None if base.serial != 0 => {
                return Err(self.conflict(format!(
                    "there is no persisted state, so a journal extends a new state (serial 0), \
                     not serial {}",
                    base.serial
                )));
            }
            _ => {}
        }
        create_dir(self.dir())?;
        let journal = FileJournal::open(
            &self.journal,
            &base,
            on_disk.as_ref(),
            self.generation.clone(),
            self.codec.clone(),
        )?;
        Ok(Box::new(journal))
    }

    fn has_journal(&self) -> Result<bool, StateError> {
        match read_if_exists(&self.journal)? {
            Some(bytes) => {
                journal::has_records(&bytes, &self.journal, self.persisted_header()?.as_ref())
            }
            None => Ok(false),
        }
    }

    fn lock(
        &self,
        mut info: LockInfo,
        timeout: Duration,
    ) -> Result<Box<dyn LockGuard>, StateError> {
        if info.path.is_empty() {
            info.path = self.describe();
        }
        let mut file = self.open_lock_file()?;
        let start = Instant::now();
        loop {
            match try_lock(&file) {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    let waited = start.elapsed();
                    if waited >= timeout {
                        return Err(StateError::Locked {
                            info: Box::new(self.holder()),
                        });
                    }
                    thread::sleep(LOCK_RETRY.min(timeout - waited));
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_error(&self.lock)(e)),
            }
        }
        let written = (|| {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&format::encode_lock_info(&info))
        })();
        if let Err(e) = written {
            unlock(&file);
            return Err(io_error(&self.lock)(e));
        }
        self.remove_leftovers();
        Ok(Box::new(LocalLock { file, info }))
    }

    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let file = match OpenOptions::new().read(true).write(true).open(&self.lock) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotLocked {
                    path: self.describe(),
                });
            }
            Err(e) => return Err(io_error(&self.lock)(e)),
        };
        let held = match try_lock(&file) {
            Ok(()) => false,
            Err(fs::TryLockError::WouldBlock) => true,
            Err(fs::TryLockError::Error(e)) => return Err(io_error(&self.lock)(e)),
        };
        let bytes = fs::read(&self.lock).map_err(io_error(&self.lock))?;
        let info = if bytes.is_empty() {
            None
        } else {
            format::decode_lock_info(&bytes).ok()
        };
        let result = match info {
            None if !held => Err(StateError::NotLocked {
                path: self.describe(),
            }),
            None => Err(StateError::LockHeld {
                info: Box::new(self.holder()),
            }),
            Some(info) if info.id != id => Err(StateError::LockMismatch {
                id: id.to_owned(),
                info: Box::new(info),
            }),
            Some(info) if held => Err(StateError::LockHeld {
                info: Box::new(info),
            }),
            // The holder is gone (the operating system released its lock): clear its record.
            Some(_) => file.set_len(0).map_err(io_error(&self.lock)),
        };
        if !held {
            unlock(&file);
        }
        result
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let file = match OpenOptions::new().read(true).write(true).open(&self.lock) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&self.lock)(e)),
        };
        match try_lock(&file) {
            Ok(()) => {
                unlock(&file);
                Ok(None)
            }
            Err(fs::TryLockError::WouldBlock) => Ok(Some(self.holder())),
            Err(fs::TryLockError::Error(e)) => Err(io_error(&self.lock)(e)),
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// A held lock on a local state.
struct LocalLock {
    file: File,
    info: LockInfo,
}

impl LockGuard for LocalLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        // The file itself stays: deleting it could let two processes lock two different
        // files of the same name.
        let _ = self.file.set_len(0);
        unlock(&self.file);
    }
}

// ---- file helpers ----

// `File::try_lock`/`unlock` (flock on Unix, LockFileEx on Windows) are stable since Rust 1.89,
// above the workspace's declared rust-version; the lock is released by the operating system
// when the process dies, even by SIGKILL.
#[allow(clippy::incompatible_msrv)]
fn try_lock(file: &File) -> Result<(), fs::TryLockError> {
    file.try_lock()
}

#[allow(clippy::incompatible_msrv)]
fn unlock(file: &File) {
    let _ = file.unlock();
}

/// Maps an I/O error to [`StateError::Io`] for `path`.
pub(crate) fn io_error(path: &Path) -> impl Fn(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Files created with these options are readable by their owner only (on Unix).
pub(crate) fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Sets a file's permissions to 0600 (on Unix).
fn restrict_path(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Makes a directory's entries (renames, new files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates a directory and its parents (the new ones 0700 on Unix).
fn create_dir(dir: &Path) -> Result<(), StateError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_error(dir))
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| STATE_FILE.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use fleetform_sdk::Value;

    use super::*;
    use crate::addrs::parse_abs_resource_instance;
    use crate::state::format::tests::sample;
    use crate::state::journal::JournalEntry;
    use crate::state::{InstanceState, InstanceStatus};

    fn store(dir: &Path) -> LocalStore {
        LocalStore::new(dir.join(STATE_FILE))
    }

    fn names(dir: &Path) -> BTreeSet<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn taking_the_lock_removes_temporaries_of_killed_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let leftovers = [".fleet.state.a1B2c3.tmp", ".fleet.state.backup.0f0f.tmp"];
        for name in leftovers {
            fs::write(dir.path().join(name), "secret").unwrap();
        }
        fs::write(dir.path().join(".other.tmp"), "not ours").unwrap();
        let _guard = store.lock(LockInfo::new("apply"), Duration::ZERO).unwrap();
        let left = names(dir.path());
        for name in leftovers {
            assert!(!left.contains(name), "{name} is left: {left:?}");
        }
        assert!(left.contains(".other.tmp"), "{left:?}");
    }

    fn entry(addr: &str, id: &str) -> JournalEntry {
        JournalEntry::Instance {
            addr: parse_abs_resource_instance(addr).unwrap(),
            state: Some(InstanceState {
                provider: "provider.host".into(),
                schema_version: 0,
                value: Value::object([
                    ("id", Value::from(id)),
                    ("password", Value::from("pw").into_sensitive()),
                ]),
                dependencies: vec![],
                status: InstanceStatus::Ready,
                create_before_destroy: false,
                prevent_destroy: false,
            }),
        }
    }

    fn fails<T>(result: Result<T, StateError>) -> StateError {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    /// Writes `state` with the next serial, as the engine does.
    fn persist(store: &LocalStore, state: &mut State) {
        state.serial += 1;
        store.write(state).unwrap();
    }

    #[test]
    fn write_then_read_round_trips_and_keeps_the_previous_state_as_backup() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        assert_eq!(store.read().unwrap(), None);
        let mut state = sample();
        state.serial = 0;
        persist(&store, &mut state);
        assert_eq!(store.read().unwrap().as_ref(), Some(&state));
        assert_eq!(names(dir.path()), BTreeSet::from([STATE_FILE.to_owned()]));

        let first = state.clone();
        state.remove(&parse_abs_resource_instance("host.x[0]").unwrap());
        persist(&store, &mut state);
        assert_eq!(store.read().unwrap().as_ref(), Some(&state));
        let backup = format::decode(&fs::read(&store.backup).unwrap()).unwrap();
        assert_eq!(backup, first);
        // No temporary files are left behind.
        assert_eq!(
            names(dir.path()),
            BTreeSet::from([STATE_FILE.to_owned(), format!("{STATE_FILE}.backup")])
        );

        let third = {
            let mut s = state.clone();
            persist(&store, &mut s);
            s
        };
        let backup = format::decode(&fs::read(&store.backup).unwrap()).unwrap();
        assert_eq!(backup, state);
        assert_eq!(store.read().unwrap(), Some(third));
    }

    #[cfg(unix)]
    #[test]
    fn every_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = State::new();
        persist(&store, &mut state);
        persist(&store, &mut state);
        let mut journal = store.journal(&state).unwrap();
        journal.record(&entry("host.a", "1")).unwrap();
        let _guard = store.lock(LockInfo::new("apply"), Duration::ZERO).unwrap();
        for path in [&store.path, &store.backup, &store.journal, &store.lock] {
            let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }

    #[test]
    fn writes_must_advance_the_same_lineage() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = State::new();
        let err = store.write(&state).unwrap_err();
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        persist(&store, &mut state);
        let err = store.write(&state).unwrap_err().to_string();
        assert!(err.contains("it is at serial 1; writing serial 1"), "{err}");
        let mut other = State::new();
        other.serial = 5;
        let err = store.write(&other).unwrap_err().to_string();
        assert!(err.contains("it is another state"), "{err}");
        assert_eq!(store.read().unwrap(), Some(state));
    }

    #[test]
    fn has_journal_only_while_records_extend_the_stored_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        assert!(!store.has_journal().unwrap(), "nothing stored");
        let mut state = State::new();
        persist(&store, &mut state);
        let journal = store.journal(&state).unwrap();
        drop(journal);
        assert!(!store.has_journal().unwrap(), "a journal without records");
        let mut journal = store.journal(&state).unwrap();
        journal.record(&entry("host.a", "1")).unwrap();
        drop(journal);
        assert!(store.has_journal().unwrap(), "a killed run's record");
        let mut recovered = store.read().unwrap().unwrap();
        persist(&store, &mut recovered);
        assert!(!store.has_journal().unwrap(), "compacted into the state");
    }

    #[test]
    fn a_journal_left_by_a_killed_run_is_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = State::new();
        persist(&store, &mut state);
        let mut journal = store.journal(&state).unwrap();
        for (i, addr) in ["host.a", "host.b[0]", r#"module.m["k"].host.c"#]
            .into_iter()
            .enumerate()
        {
            journal.record(&entry(addr, &i.to_string())).unwrap();
        }
        // Killed: no sync, no compaction.
        drop(journal);
        let read = store.read().unwrap().unwrap();
        assert_eq!(read.resources.len(), 3);
        assert_eq!(read.serial, state.serial);
        assert_eq!(
            read.resources[&parse_abs_resource_instance("host.b[0]").unwrap()].value,
            Value::object([
                ("id", Value::from("1")),
                ("password", Value::from("pw").into_sensitive()),
            ])
        );

        // The next run continues the same journal, then compacts it.
        let mut journal = store.journal(&read).unwrap();
        journal.record(&entry("host.d", "3")).unwrap();
        let mut latest = store.read().unwrap().unwrap();
        assert_eq!(latest.resources.len(), 4);
        persist(&store, &mut latest);
        assert!(!store.journal.exists());
        assert_eq!(store.read().unwrap(), Some(latest));
        let err = journal.record(&entry("host.e", "4")).unwrap_err();
        assert!(matches!(err, StateError::JournalClosed { .. }), "{err}");
    }

    #[test]
    fn a_journal_before_the_first_write_is_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let state = State::new();
        let mut journal = store.journal(&state).unwrap();
        journal.record(&entry("host.a", "1")).unwrap();
        drop(journal);
        let read = store.read().unwrap().unwrap();
        assert_eq!(read.lineage, state.lineage);
        assert_eq!(read.serial, 0);
        assert_eq!(read.resources.len(), 1);
        // A new state that ignored it may not journal over it.
        let err = fails(store.journal(&State::new()));
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        // The replayed one can, and its first write includes everything.
        let mut read = read;
        store.journal(&read).unwrap();
        persist(&store, &mut read);
        assert_eq!(store.read().unwrap().unwrap().resources.len(), 1);
    }

    #[test]
    fn a_truncated_last_line_is_ignored_and_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = State::new();
        persist(&store, &mut state);
        let mut journal = store.journal(&state).unwrap();
        journal.record(&entry("host.a", "1")).unwrap();
        journal.record(&entry("host.b", "2")).unwrap();
        drop(journal);
        // Killed in the middle of writing a third line.
        let line = format::encode_journal_entry(&entry("host.c", "3"));
        let mut file = OpenOptions::new()
            .append(true)
            .open(&store.journal)
            .unwrap();
        file.write_all(&line[..line.len() / 2]).unwrap();
        drop(file);
        let read = store.read().unwrap().unwrap();
        assert_eq!(read.resources.len(), 2);

        let mut journal = store.journal(&read).unwrap();
        journal.record(&entry("host.d", "4")).unwrap();
        let read = store.read().unwrap().unwrap();
        let addrs: Vec<String> = read.resources.keys().map(ToString::to_string).collect();
        assert_eq!(addrs, ["host.a", "host.b", "host.d"]);

        // A whole last line whose newline was lost still counts.
        let mut file = OpenOptions::new()
            .append(true)
            .open(&store.journal)
            .unwrap();
        file.write_all(&format::encode_journal_entry(&entry("host.e", "5")))
            .unwrap();
        drop(file);
        let read = store.read().unwrap().unwrap();
        assert_eq!(read.resources.len(), 4);
        let mut journal = store.journal(&read).unwrap();
        journal.record(&entry("host.f", "6")).unwrap();
        assert_eq!(store.read().unwrap().unwrap().resources.len(), 5);
    }

    #[test]
    fn a_stale_journal_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = State::new();
        persist(&store, &mut state);
        let mut journal = store.journal(&state).unwrap();
        journal.record(&entry("host.a", "1")).unwrap();
        drop(journal);
        let old_journal = fs::read(&store.journal).unwrap();
        // Compacted into serial 2 (without host.a, say it was destroyed since), but the
        // journal's removal did not reach the disk.
        persist(&store, &mut state);
        fs::write(&store.journal, &old_journal).unwrap();
        let read = store.read().unwrap().unwrap();
        assert_eq!(read, state);
        // A journal for the new serial replaces it.
        let mut journal = store.journal(&read).unwrap();
        journal.record(&entry("host.b", "2")).unwrap();
        let addrs: Vec<String> = store
            .read()
            .unwrap()
            .unwrap()
            .resources
            .keys()
            .map(ToString::to_string)
            .collect();
        assert_eq!(addrs, ["host.b"]);
    }

    #[test]
    fn a_journal_must_extend_the_persisted_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = State::new();
        persist(&store, &mut state);
        let mut ahead = state.clone();
        ahead.serial += 1;
        let err = fails(store.journal(&ahead));
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    }

    #[test]
    fn a_corrupt_state_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        fs::write(
            &store.path,
            "{\"format_version\": 1, \"serial\": 1, \"lineage\": \"x\", \"resources\": 3}",
        )
        .unwrap();
        let err = store.read().unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot read state {}: at resources: invalid type: integer `3`, expected a \
                 sequence at line 1 column 65",
                store.path.display()
            )
        );
        fs::write(&store.path, "{\"format_version\": 99}").unwrap();
        let err = store.read().unwrap_err();
        assert!(
            matches!(err, StateError::NewerFormat { version: 99, .. }),
            "{err}"
        );
        // Nothing is written over a state that cannot be read.
        assert!(
            store
                .write(&State {
                    serial: 9,
                    ..State::new()
                })
                .is_err()
        );
    }

    #[test]
    fn a_second_store_waits_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let first = store(dir.path());
        let second = store(dir.path());
        let info = LockInfo::new("apply");
        let guard = first.lock(info.clone(), Duration::ZERO).unwrap();
        assert_eq!(guard.info().path, first.describe());

        let err = fails(second.lock(LockInfo::new("plan"), Duration::from_millis(250)));
        match &err {
            StateError::Locked { info: holder } => {
                assert_eq!(holder.id, info.id);
                assert_eq!(holder.operation, "apply");
                assert_eq!(holder.path, first.describe());
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains(&info.id), "{err}");

        let waiter = thread::spawn(move || {
            second
                .lock(LockInfo::new("plan"), Duration::from_secs(10))
                .map(|g| g.info().operation.clone())
        });
        thread::sleep(Duration::from_millis(300));
        drop(guard);
        assert_eq!(waiter.join().unwrap().unwrap(), "plan");
    }

    #[test]
    fn force_unlock_clears_only_a_stale_lock_with_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        assert!(matches!(
            store.force_unlock("x"),
            Err(StateError::NotLocked { .. })
        ));
        let info = LockInfo::new("apply");
        let guard = store.lock(info.clone(), Duration::ZERO).unwrap();
        assert!(matches!(
            store.force_unlock("wrong"),
            Err(StateError::LockMismatch { .. })
        ));
        assert!(matches!(
            store.force_unlock(&info.id),
            Err(StateError::LockHeld { .. })
        ));
        drop(guard);
        // A run killed by SIGKILL leaves its information but not its OS lock.
        fs::write(&store.lock, format::encode_lock_info(&info)).unwrap();
        assert!(matches!(
            store.force_unlock("wrong"),
            Err(StateError::LockMismatch { .. })
        ));
        store.force_unlock(&info.id).unwrap();
        assert_eq!(fs::read(&store.lock).unwrap(), b"");
        // And the lock can be taken regardless of leftover information.
        fs::write(&store.lock, format::encode_lock_info(&info)).unwrap();
        store.lock(LockInfo::new("plan"), Duration::ZERO).unwrap();
    }

    #[test]
    fn workspaces_live_in_their_own_directories() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path(), None);
        assert_eq!(backend.workspaces().unwrap(), ["default"]);
        let mut state = State::new();
        state.serial = 1;
        backend.store("staging").unwrap().write(&state).unwrap();
        backend.store("prod").unwrap().write(&state).unwrap();
        assert!(dir.path().join("fleet.state.d/prod/fleet.state").is_file());
        assert_eq!(
            backend.workspaces().unwrap(),
            ["default", "prod", "staging"]
        );
        assert_eq!(
            backend.store("default").unwrap().describe(),
            dir.path().join("fleet.state").display().to_string()
        );
        for bad in ["", "..", "a/b", "a\\b", "x y"] {
            assert!(
                matches!(backend.store(bad), Err(StateError::InvalidWorkspace { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            backend.delete_workspace("default"),
            Err(StateError::DeleteDefault)
        ));
        let prod = backend.store("prod").unwrap();
        let guard = prod.lock(LockInfo::new("apply"), Duration::ZERO).unwrap();
        assert!(matches!(
            backend.delete_workspace("prod"),
            Err(StateError::Locked { .. })
        ));
        drop(guard);
        backend.delete_workspace("prod").unwrap();
        assert_eq!(backend.workspaces().unwrap(), ["default", "staging"]);
        assert!(matches!(
            backend.delete_workspace("prod"),
            Err(StateError::NoSuchWorkspace { .. })
        ));

        let custom = LocalBackend::new(dir.path(), Some("states/main.json".into()));
        assert_eq!(
            custom.store("default").unwrap().describe(),
            dir.path().join("states/main.json").display().to_string()
        );
    }

    const CRASH_CHILD: &str = "FLEETFORM_STATE_CRASH_CHILD";

    /// The child of `state_survives_sigkill_at_any_instant` (does nothing in a normal run):
    /// records `host.n[i]` for ever, compacting every 100 entries, printing each record.
    #[test]
    fn crash_child() {
        let Ok(dir) = std::env::var(CRASH_CHILD) else {
            return;
        };
        let store = store(Path::new(&dir));
        let mut state = store.read().unwrap().unwrap_or_default();
        let mut journal = store.journal(&state).unwrap();
        let mut out = io::stdout();
        for i in state.resources.len().. {
            let e = entry(&format!("host.n[{i}]"), &i.to_string());
            journal.record(&e).unwrap();
            state.apply(e);
            writeln!(out, "recorded {i}").unwrap();
            out.flush().unwrap();
            if i % 100 == 99 {
                persist(&store, &mut state);
                journal = store.journal(&state).unwrap();
            }
        }
    }

    /// Kills a process that records and compacts with SIGKILL at arbitrary instants: every
    /// acknowledged record is in the state read afterwards, with no gap and no corruption.
    #[cfg(unix)]
    #[test]
    fn state_survives_sigkill_at_any_instant() {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        for round in 0..8u32 {
            let mut child = Command::new(&exe)
                .args([
                    "--exact",
                    "state::backend::local::tests::crash_child",
                    "--nocapture",
                ])
                .arg("--test-threads=1")
                .env(CRASH_CHILD, dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let wanted = 40 + round * 53;
            let mut acked = None;
            for line in io::BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if let Some(i) = line.strip_prefix("recorded ") {
                    let i: u32 = i.parse().unwrap();
                    acked = Some(i);
                    if i >= wanted + round * 60 {
                        break;
                    }
                }
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            let acked = acked.expect("the child recorded nothing");
            let state = store(dir.path()).read().unwrap().unwrap();
            let count = state.resources.len() as u32;
            println!(
                "round {round}: acked {acked}, state has {count} (serial {})",
                state.serial
            );
            assert!(
                count > acked,
                "round {round}: {count} instances, {acked} acknowledged"
            );
            for i in 0..count {
                let addr = parse_abs_resource_instance(&format!("host.n[{i}]")).unwrap();
                assert!(
                    state.resources.contains_key(&addr),
                    "round {round}: gap at {i}"
                );
            }
        }
    }

    #[test]
    fn recording_ten_thousand_entries() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut state = State::new();
        persist(&store, &mut state);
        let entries: Vec<JournalEntry> = (0..10_000)
            .map(|i| {
                entry(
                    &format!(r#"module.site["s{}"].host.web[{}]"#, i % 100, i),
                    "i-0123456789",
                )
            })
            .collect();
        let mut journal = store.journal(&state).unwrap();
        let start = Instant::now();
        for e in &entries {
            journal.record(e).unwrap();
        }
        let recorded = start.elapsed();
        journal.sync().unwrap();
        let synced = start.elapsed();
        let size = fs::metadata(&store.journal).unwrap().len();
        let start = Instant::now();
        let read = store.read().unwrap().unwrap();
        let replayed = start.elapsed();
        assert_eq!(read.resources.len(), 10_000);
        let start = Instant::now();
        let mut read = read;
        persist(&store, &mut read);
        let compacted = start.elapsed();
        println!(
            "journal: 10,000 records in {recorded:?} ({:.1} µs each), + fsync {:?}, {} KiB; \
             replay {replayed:?}; compacting write {compacted:?}",
            recorded.as_secs_f64() * 1e6 / 10_000.0,
            synced - recorded,
            size / 1024
        );
    }
}
