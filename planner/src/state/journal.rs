//! The journal: a write-ahead log of instance and output changes made since the state was
//! last written, so that each applied instance is persisted in O(1) (one appended line)
//! instead of by rewriting the whole state.
//!
//! A journal file is JSON lines. The first line binds it to the state it extends (lineage and
//! serial; serial 0 means "no state written yet"); each further line is one
//! [`JournalEntry`], appended with a single `write` so that a process killed at any instant
//! leaves whole lines and at most one truncated last line. Reading a state replays a journal
//! bound to it, ignoring a truncated last line; a journal bound to another state (older: it
//! was compacted into a later write) is ignored. Replaying is idempotent: every entry sets
//! or removes one address.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::backend::StateError;
use super::backend::codec::Codec;
use super::backend::local::{io_error, private, sync_dir};
use super::format::{self, Header};
use super::{InstanceState, OutputState, State};
use crate::addrs::AbsResourceInstance;

/// Records changes as they happen; obtained from [`super::StateStore::journal`].
pub trait Journal: Send {
    /// Appends one entry. When this returns, the entry survives the death of this process
    /// (it is in the operating system's hands); [`Journal::sync`] makes it survive a power
    /// loss too.
    fn record(&mut self, entry: &JournalEntry) -> Result<(), StateError>;
    /// Forces recorded entries to stable storage (fsync).
    fn sync(&mut self) -> Result<(), StateError>;
}

/// One change to a state.
#[derive(Debug, Clone, PartialEq)]
pub enum JournalEntry {
    /// The instance at `addr` is now `state`, or is gone (`None`).
    Instance {
        /// The instance.
        addr: AbsResourceInstance,
        /// Its new state, or `None` when it was destroyed or forgotten.
        state: Option<InstanceState>,
    },
    /// A change of the instance at `addr` starts (`Some`), saved progress (`Some` again,
    /// with its checkpoint), or was given up (`None`). Recording the instance ends it too.
    Pending {
        /// The instance.
        addr: AbsResourceInstance,
        /// The operation, or `None` when it no longer is pending.
        op: Option<super::PendingOperation>,
    },
    /// The root output `name` is now `state`, or is gone (`None`).
    Output {
        /// The output's name.
        name: String,
        /// Its new value, or `None` when it was removed.
        state: Option<OutputState>,
    },
    /// The change of the instance at `addr` is deferred (its object was unreachable), or
    /// no longer is (`None`). Recording the instance ends a deferral too.
    Deferred {
        /// The instance.
        addr: AbsResourceInstance,
        /// The deferred change.
        change: Option<super::DeferredChange>,
    },
    /// How far the rollout `name` got, or `None` when it was removed.
    Rollout {
        /// The rollout's name.
        name: String,
        /// Its progress.
        progress: Option<super::RolloutProgress>,
    },
}

/// Whether a journal bound to `journal` extends the state `on_disk` (`None`: no state file).
pub(crate) fn extends(journal: &Header, on_disk: Option<&Header>) -> bool {
    match on_disk {
        Some(state) => journal == state,
        None => journal.serial == 0,
    }
}

/// A journal file's first line, when it is whole, and where the entries start.
/// Whether the journal file `bytes` (read from `path`) holds records extending `persisted`
/// (the stored state's header; `None`: nothing stored, so a journal of serial 0 extends it).
pub(crate) fn has_records(
    bytes: &[u8],
    path: &Path,
    persisted: Option<&Header>,
) -> Result<bool, StateError> {
    let Some((header, start)) = read_header(bytes, path)? else {
        return Ok(false);
    };
    let extends_stored = match persisted {
        Some(p) => header == *p,
        None => header.serial == 0,
    };
    Ok(extends_stored && bytes[start..].iter().any(|b| !b.is_ascii_whitespace()))
}

fn read_header(bytes: &[u8], path: &Path) -> Result<Option<(Header, usize)>, StateError> {
    let Some(end) = bytes.iter().position(|b| *b == b'\n') else {
        // Killed while writing the header: no entry can follow it.
        return Ok(None);
    };
    match format::decode_journal_header(&bytes[..end]) {
        Ok(header) => Ok(Some((header, end + 1))),
        Err(format::DecodeError::NewerFormat { version }) => Err(StateError::NewerFormat {
            path: path.display().to_string(),
            version,
        }),
        Err(e) => Err(corrupt(path, 1, &e)),
    }
}

fn corrupt(path: &Path, line: usize, error: &format::DecodeError) -> StateError {
    StateError::Corrupt {
        path: path.display().to_string(),
        message: format!("line {line}: {error}"),
    }
}

/// The entries after the header.
struct Entries {
    entries: Vec<JournalEntry>,
    /// Length of the file up to the end of the last whole entry.
    valid_len: usize,
    /// The last entry is whole but its newline is missing (killed between the two).
    needs_newline: bool,
}

fn read_entries(
    bytes: &[u8],
    start: usize,
    path: &Path,
    codec: &Codec,
) -> Result<Entries, StateError> {
    let mut out = Entries {
        entries: Vec::new(),
        valid_len: start,
        needs_newline: false,
    };
    let mut pos = start;
    let mut line_no = 1;
    while pos < bytes.len() {
        line_no += 1;
        let rest = &bytes[pos..];
        match rest.iter().position(|b| *b == b'\n') {
            Some(len) => {
                let line = &rest[..len];
                if !line.iter().all(u8::is_ascii_whitespace) {
                    let entry = codec
                        .decode_record(line, &path.display().to_string())
                        .map_err(|e| at_line(e, line_no))?;
                    out.entries.push(entry);
                }
                pos += len + 1;
                out.valid_len = pos;
            }
            None => {
                // The last line, cut short by a crash unless only its newline is missing. A
                // whole record that does not decrypt is an error, never cut off.
                match codec.decode_record(rest, &path.display().to_string()) {
                    Ok(entry) => {
                        out.entries.push(entry);
                        out.valid_len = bytes.len();
                        out.needs_newline = true;
                    }
                    Err(e @ StateError::Encryption { .. }) => return Err(e),
                    Err(_) => {}
                }
                break;
            }
        }
    }
    Ok(out)
}

/// Names the line of a record that failed to decode.
fn at_line(e: StateError, line: usize) -> StateError {
    match e {
        StateError::Corrupt { path, message } => StateError::Corrupt {
            path,
            message: format!("line {line}: {message}"),
        },
        e => e,
    }
}

/// Applies the journal in `bytes` to `state` when it extends it; returns the state to use.
pub(crate) fn replay(
    bytes: &[u8],
    path: &Path,
    state: Option<State>,
    codec: &Codec,
) -> Result<Option<State>, StateError> {
    let Some((header, start)) = read_header(bytes, path)? else {
        return Ok(state);
    };
    let on_disk = state.as_ref().map(Header::of);
    if !extends(&header, on_disk.as_ref()) {
        tracing::debug!(
            journal = %path.display(),
            "ignoring a journal already compacted into the state"
        );
        return Ok(state);
    }
    let entries = read_entries(bytes, start, path, codec)?;
    let mut state = state.unwrap_or_else(|| State {
        lineage: header.lineage,
        serial: header.serial,
        resources: Default::default(),
        outputs: Default::default(),
        pending: Default::default(),
        last_apply: None,
        rollouts: Default::default(),
        deferred: Default::default(),
    });
    tracing::debug!(
        journal = %path.display(),
        entries = entries.entries.len(),
        "replaying the journal of an interrupted run"
    );
    for entry in entries.entries {
        state.apply(entry);
    }
    Ok(Some(state))
}

/// A journal in a local file.
pub(crate) struct FileJournal {
    file: File,
    path: PathBuf,
    /// Bytes known to hold whole lines; a failed append is cut back to it.
    len: u64,
    /// Set after a failed append: the entry may or may not be on disk.
    failed: bool,
    /// The store's journal generation; a state write or a newer journal moves it on, and
    /// this journal may no longer be appended to.
    generation: Arc<AtomicU64>,
    opened_at: u64,
    codec: Codec,
}

impl FileJournal {
    /// Opens the journal at `path` for a run extending `base`, whose persisted form is
    /// `on_disk` (the caller has checked they agree). An existing journal bound to `base`
    /// is continued (after cutting off a truncated last line); any other is replaced,
    /// unless it holds changes the state on disk does not include.
    pub(crate) fn open(
        path: &Path,
        base: &Header,
        on_disk: Option<&Header>,
        generation: Arc<AtomicU64>,
        codec: Codec,
    ) -> Result<FileJournal, StateError> {
        let err = io_error(path);
        let mut file = private(OpenOptions::new().read(true).append(true).create(true))
            .open(path)
            .map_err(&err)?;
        restrict(&file).map_err(&err)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(&err)?;
        let len = match read_header(&bytes, path)? {
            Some((header, start)) if header == *base => {
                let entries = read_entries(&bytes, start, path, &codec)?;
                if entries.needs_newline {
                    file.write_all(b"\n").map_err(&err)?;
                    bytes.len() + 1
                } else {
                    if entries.valid_len < bytes.len() {
                        file.set_len(entries.valid_len as u64).map_err(&err)?;
                    }
                    entries.valid_len
                }
            }
            Some((header, _)) if extends(&header, on_disk) => {
                return Err(StateError::Conflict {
                    path: path.display().to_string(),
                    message: format!(
                        "it holds changes of an interrupted run (lineage {}, serial {}) that \
                         the state being extended (lineage {}, serial {}) does not include; \
                         read the state (which replays them) and start from that",
                        header.lineage, header.serial, base.lineage, base.serial
                    ),
                });
            }
            _ => {
                let mut line = format::encode_journal_header(base);
                line.push(b'\n');
                file.set_len(0).map_err(&err)?;
                file.write_all(&line).map_err(&err)?;
                file.sync_all().map_err(&err)?;
                if let Some(dir) = path.parent() {
                    sync_dir(dir)?;
                }
                line.len()
            }
        };
        let opened_at = generation.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(FileJournal {
            file,
            path: path.to_owned(),
            len: len as u64,
            failed: false,
            generation,
            opened_at,
            codec,
        })
    }
}

#[cfg(unix)]
fn restrict(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict(_file: &File) -> std::io::Result<()> {
    Ok(())
}

impl Journal for FileJournal {
    fn record(&mut self, entry: &JournalEntry) -> Result<(), StateError> {
        if self.generation.load(Ordering::SeqCst) != self.opened_at {
            return Err(StateError::JournalClosed {
                path: self.path.display().to_string(),
                reason: "the state was written (or another journal opened) since it was \
                         opened; open a journal from the written state"
                    .into(),
            });
        }
        if self.failed {
            return Err(StateError::JournalClosed {
                path: self.path.display().to_string(),
                reason: "an earlier append failed; write the state instead".into(),
            });
        }
        let mut line = self
            .codec
            .encode_record(entry, &self.path.display().to_string())?;
        line.push(b'\n');
        // One write of the whole line (the file is unbuffered and in append mode).
        match self.file.write_all(&line) {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut off a partial line so that later reads see whole lines only.
                self.failed = true;
                let _ = self.file.set_len(self.len);
                Err(io_error(&self.path)(e))
            }
        }
    }

    fn sync(&mut self) -> Result<(), StateError> {
        self.file.sync_data().map_err(io_error(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addrs::parse_abs_resource_instance;
    use crate::state::InstanceStatus;
    use fleetform_sdk::Value;

    fn entry(addr: &str, id: &str) -> JournalEntry {
        JournalEntry::Instance {
            addr: parse_abs_resource_instance(addr).unwrap(),
            state: Some(InstanceState {
                provider: "provider.host".into(),
                schema_version: 1,
                value: Value::object([
                    ("id", Value::from(id)),
                    ("secret", Value::from("s3cr3t").into_sensitive()),
                ]),
                dependencies: vec![],
                status: InstanceStatus::Ready,
                create_before_destroy: false,
                prevent_destroy: false,
            }),
        }
    }

    fn journal_bytes(base: &Header, entries: &[JournalEntry]) -> Vec<u8> {
        let mut bytes = format::encode_journal_header(base);
        bytes.push(b'\n');
        for e in entries {
            bytes.extend(format::encode_journal_entry(e));
            bytes.push(b'\n');
        }
        bytes
    }

    #[test]
    fn every_entry_kind_round_trips_through_a_line() {
        let entries = [
            entry(r#"module.a["x"].host.web[2]"#, "i-1"),
            JournalEntry::Instance {
                addr: parse_abs_resource_instance("data.host_facts.f").unwrap(),
                state: None,
            },
            JournalEntry::Output {
                name: "ip".into(),
                state: Some(OutputState {
                    value: Value::from("10.0.0.1").into_sensitive(),
                    sensitive: true,
                }),
            },
            JournalEntry::Output {
                name: "gone".into(),
                state: None,
            },
        ];
        for e in entries {
            let line = format::encode_journal_entry(&e);
            assert!(!line.contains(&b'\n'));
            assert_eq!(format::decode_journal_entry(&line).unwrap(), e);
        }
    }

    #[test]
    fn replay_is_idempotent_and_keeps_order() {
        let base = State::new();
        let header = Header::of(&base);
        let bytes = journal_bytes(
            &header,
            &[
                entry("host.a", "1"),
                entry("host.a", "2"),
                entry("host.b", "3"),
                JournalEntry::Instance {
                    addr: parse_abs_resource_instance("host.b").unwrap(),
                    state: None,
                },
            ],
        );
        let path = Path::new("j");
        let codec = Codec::default();
        let once = replay(&bytes, path, Some(base.clone()), &codec)
            .unwrap()
            .unwrap();
        let twice = replay(&bytes, path, Some(once.clone()), &codec)
            .unwrap()
            .unwrap();
        assert_eq!(once, twice);
        assert_eq!(once.resources.len(), 1);
        let a = &once.resources[&parse_abs_resource_instance("host.a").unwrap()];
        assert_eq!(a.value.as_object().unwrap()["id"], Value::from("2"));
    }

    #[test]
    fn a_corrupt_whole_line_is_an_error_naming_the_line() {
        let base = State::new();
        let mut bytes = journal_bytes(&Header::of(&base), &[entry("host.a", "1")]);
        bytes.extend(b"{\"set\": 3}\n");
        bytes.extend(format::encode_journal_entry(&entry("host.b", "2")));
        bytes.push(b'\n');
        let err = replay(
            &bytes,
            Path::new("fleet.state.journal"),
            Some(base),
            &Codec::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read state fleet.state.journal: line 3: at set: invalid type: integer `3`, \
             expected a resource object at line 1 column 9"
        );
    }
}
