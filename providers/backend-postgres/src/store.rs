//! The backend, its stores, journals and locks. Every write is conditional (the row's
//! lineage must match and its serial be below the new one, checked under `FOR UPDATE` in
//! the transaction that also clears the journal), so a writer that lost its lock cannot
//! overwrite a newer state; every journal record is one committed `INSERT`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fleetform_planner::state::backend::codec::{self, Codec, StateHeader};
use fleetform_planner::state::backend::partitioned::PartitionedStore;
use fleetform_planner::state::backend::registry::BackendConfigError;
use fleetform_planner::state::backend::remote::{self, Worker};
use fleetform_planner::state::backend::{
    Backend, DEFAULT_WORKSPACE, LockGuard, LockInfo, StateError, StateStore,
};
use fleetform_planner::state::partition;
use fleetform_planner::state::{Journal, JournalEntry, State};

use crate::client::{Db, Opaque, RecordInsert};
use crate::config::Settings;
use crate::schema::{self, WHOLE};

/// How often a waiting `lock` tries again.
pub(crate) const LOCK_RETRY: Duration = Duration::from_millis(100);
/// How long past its timeout `lock` keeps trying while the lock changes hands.
pub(crate) const HANDOVER: Duration = Duration::from_secs(2);

/// States in a PostgreSQL schema.
pub struct PostgresBackend {
    worker: Arc<Worker>,
    settings: Settings,
    db: Arc<Db>,
    codec: Codec,
    target: String,
}

impl PostgresBackend {
    /// Connects, and creates the schema, tables and index unless told not to.
    pub fn connect(
        settings: Settings,
        codec: Codec,
    ) -> Result<PostgresBackend, BackendConfigError> {
        let worker = Arc::new(
            Worker::start("fleetform-postgres")
                .map_err(|e| BackendConfigError::general(format!("cannot start a thread: {e}")))?,
        );
        let db = Db::connect(worker.clone(), &settings).map_err(BackendConfigError::general)?;
        let mut sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({});",
            schema::setup_key(&settings.schema)
        );
        if !settings.skip_schema_creation {
            sql.push_str(&schema::create_schema(&settings.schema));
            sql.push(';');
        }
        if !settings.skip_table_creation {
            sql.push_str(&schema::create_tables(&settings.schema));
        }
        if !settings.skip_index_creation {
            sql.push_str(&schema::create_indexes(&settings.schema));
            sql.push(';');
        }
        sql.push_str("COMMIT;");
        db.run(move |c| Box::pin(async move { c.batch_execute(&sql).await }))
            .map_err(|e| {
                BackendConfigError::general(format!(
                    "cannot prepare schema {}: {e}",
                    settings.schema
                ))
            })?;
        let target = target(&settings);
        Ok(PostgresBackend {
            worker,
            settings,
            db: Arc::new(db),
            codec,
            target,
        })
    }

    fn remote(&self, message: String) -> StateError {
        StateError::Remote {
            path: self.target.clone(),
            message,
        }
    }

    fn open_store(&self, workspace: &str) -> Result<PostgresStore, StateError> {
        if workspace.is_empty() {
            return Err(StateError::InvalidWorkspace {
                name: workspace.to_owned(),
                reason: "it is empty".into(),
            });
        }
        let place = format!("{}, workspace {workspace:?}", self.target);
        let db = Db::connect(self.worker.clone(), &self.settings).map_err(|message| {
            StateError::Remote {
                path: place.clone(),
                message,
            }
        })?;
        Ok(PostgresStore {
            db: Arc::new(db),
            tables: Tables::new(&self.settings.schema),
            key: schema::lock_key(&self.settings.schema, workspace, WHOLE),
            schema: self.settings.schema.clone(),
            workspace: workspace.to_owned(),
            codec: self.codec.clone(),
            place,
            generation: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// `postgres://HOST:PORT/DB schema S`, without user or password.
fn target(settings: &Settings) -> String {
    let parsed: Result<tokio_postgres::Config, _> = settings.conn_str.parse();
    let (host, port, db) = match &parsed {
        Ok(c) => (
            c.get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(name) => name.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .unwrap_or_else(|| "localhost".into()),
            c.get_ports().first().copied().unwrap_or(5432),
            c.get_dbname().unwrap_or("postgres").to_owned(),
        ),
        Err(_) => ("?".into(), 0, "?".into()),
    };
    format!("postgres://{host}:{port}/{db} schema {}", settings.schema)
}

impl Backend for PostgresBackend {
    fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let sql = format!(
            "SELECT workspace FROM {} UNION SELECT workspace FROM {} ORDER BY 1",
            Tables::new(&self.settings.schema).states,
            Tables::new(&self.settings.schema).journal
        );
        let rows = self
            .db
            .run(move |c| Box::pin(async move { c.query(&sql, &[]).await }))
            .map_err(|e| self.remote(e))?;
        let mut names: Vec<String> = rows
            .iter()
            .map(|r| r.get::<_, String>(0))
            .filter(|n| n != DEFAULT_WORKSPACE)
            .collect();
        names.insert(0, DEFAULT_WORKSPACE.to_owned());
        Ok(names)
    }

    fn delete_workspace(&self, name: &str) -> Result<(), StateError> {
        remote::check_deletable(&self.workspaces()?, name)?;
        let store = self.open_store(name)?;
        let _guard = store.lock(LockInfo::new("workspace delete"), Duration::ZERO)?;
        let t = store.tables.clone();
        let ws = name.to_owned();
        store
            .db
            .run(move |mut c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    for table in [&t.states, &t.journal] {
                        tx.execute(&format!("DELETE FROM {table} WHERE workspace = $1"), &[&ws])
                            .await?;
                    }
                    tx.commit().await
                })
            })
            .map_err(|e| store.remote(e))
    }

    fn store(&self, workspace: &str) -> Result<Box<dyn StateStore>, StateError> {
        Ok(Box::new(self.open_store(workspace)?))
    }
}

/// Quoted table names of a schema.
#[derive(Clone)]
pub(crate) struct Tables {
    pub(crate) states: String,
    pub(crate) journal: String,
    pub(crate) locks: String,
}

impl Tables {
    fn new(schema: &str) -> Tables {
        Tables {
            states: format!("\"{schema}\".states"),
            journal: format!("\"{schema}\".journal"),
            locks: format!("\"{schema}\".locks"),
        }
    }
}

/// One workspace's state (its whole-state partition), over a connection of its own: the
/// session whose advisory lock is the state's lock.
pub struct PostgresStore {
    pub(crate) db: Arc<Db>,
    pub(crate) tables: Tables,
    pub(crate) key: i64,
    pub(crate) schema: String,
    pub(crate) workspace: String,
    pub(crate) codec: Codec,
    pub(crate) place: String,
    /// Moves on at every write and journal opened (see the local backend).
    generation: Arc<AtomicU64>,
}

type Row = (String, i64, Vec<u8>);

impl PostgresStore {
    pub(crate) fn remote(&self, message: String) -> StateError {
        StateError::Remote {
            path: self.place.clone(),
            message,
        }
    }

    pub(crate) fn conflict(&self, message: String) -> StateError {
        StateError::Conflict {
            path: self.place.clone(),
            message,
        }
    }

    /// The persisted state's lineage and serial.
    fn persisted(&self) -> Result<Option<StateHeader>, StateError> {
        let sql = format!(
            "SELECT lineage, serial FROM {} WHERE workspace = $1 AND partition = $2",
            self.tables.states
        );
        let ws = self.workspace.clone();
        let row = self
            .db
            .run(move |c| Box::pin(async move { c.query_opt(&sql, &[&ws, &WHOLE]).await }))
            .map_err(|e| self.remote(e))?;
        Ok(row.map(|r| StateHeader {
            lineage: r.get(0),
            serial: r.get::<_, i64>(1) as u64,
        }))
    }

    /// The server process holding the advisory lock, if any.
    fn holder_pid(&self) -> Result<Option<i32>, StateError> {
        let key = self.key as u64;
        let (hi, lo) = ((key >> 32) as i64, (key & 0xffff_ffff) as i64);
        let row = self
            .db
            .run(move |c| {
                Box::pin(async move {
                    c.query_opt(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1 \
                         AND objid::bigint = $2 AND objsubid = 1 AND granted LIMIT 1",
                        &[&hi, &lo],
                    )
                    .await
                })
            })
            .map_err(|e| self.remote(e))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// The stored information of the lock, retried briefly (written just after the lock is
    /// taken).
    pub(crate) fn holder(&self) -> LockInfo {
        for _ in 0..5 {
            if let Ok(Some((info, _))) = self.lock_row() {
                return info;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        LockInfo {
            path: self.place.clone(),
            ..LockInfo::default()
        }
    }

    pub(crate) fn lock_row(&self) -> Result<Option<(LockInfo, i32)>, StateError> {
        let sql = format!(
            "SELECT info, backend_pid FROM {} WHERE workspace = $1 AND partition = $2",
            self.tables.locks
        );
        let ws = self.workspace.clone();
        let row = self
            .db
            .run(move |c| Box::pin(async move { c.query_opt(&sql, &[&ws, &WHOLE]).await }))
            .map_err(|e| self.remote(e))?;
        Ok(row.and_then(|r| {
            let text: String = r.get(0);
            codec::decode_lock_info(text.as_bytes()).map(|i| (i, r.get(1)))
        }))
    }
}

impl StateStore for PostgresStore {
    fn read(&self) -> Result<Option<State>, StateError> {
        let state_sql = format!(
            "SELECT lineage, serial, data FROM {} WHERE workspace = $1 AND partition = $2",
            self.tables.states
        );
        let journal_sql = format!(
            "SELECT lineage, base_serial, record FROM {} WHERE workspace = $1 AND partition = $2 ORDER BY seq",
            self.tables.journal
        );
        let ws = self.workspace.clone();
        let (state_row, records): (Option<Row>, Vec<Row>) = self
            .db
            .run(move |mut c| {
                Box::pin(async move {
                    // One snapshot: the state and the journal as they were together.
                    let tx = c
                        .build_transaction()
                        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()
                        .await?;
                    let row = tx.query_opt(&state_sql, &[&ws, &WHOLE]).await?;
                    let recs = tx.query(&journal_sql, &[&ws, &WHOLE]).await?;
                    tx.commit().await?;
                    let take = |r: &tokio_postgres::Row| (r.get(0), r.get(1), r.get(2));
                    Ok((row.as_ref().map(take), recs.iter().map(take).collect()))
                })
            })
            .map_err(|e| self.remote(e))?;
        if state_row.is_none() && records.is_empty() {
            // A workspace kept in partitions reads as one document of them all.
            let parts = self.read_partitions(None)?;
            let lineage = parts.values().next().map(|first| first.lineage.clone());
            return Ok(lineage.map(|l| partition::merge(&l, parts.into_values())));
        }
        let state = match &state_row {
            Some((lineage, serial, data)) => {
                let state = self.codec.decode_state(data, &self.place)?;
                if state.lineage != *lineage || state.serial != *serial as u64 {
                    return Err(StateError::Corrupt {
                        path: self.place.clone(),
                        message: format!(
                            "the row says lineage {lineage}, serial {serial}, but the state inside says lineage {}, serial {}",
                            state.lineage, state.serial
                        ),
                    });
                }
                Some(state)
            }
            None => None,
        };
        // The journal that extends what is stored: records on top of its serial (serial 0,
        // of the first run's lineage, when nothing is stored yet).
        let header = match &state {
            Some(s) => Some(StateHeader::of(s)),
            None => records
                .iter()
                .find(|(_, base, _)| *base == 0)
                .map(|(lineage, _, _)| StateHeader {
                    lineage: lineage.clone(),
                    serial: 0,
                }),
        };
        let Some(header) = header else {
            return Ok(state);
        };
        let matching = records
            .into_iter()
            .filter(|(lineage, base, _)| {
                *lineage == header.lineage && *base as u64 == header.serial
            })
            .map(|(_, _, record)| record);
        remote::replay(state, Some(&header), matching, &self.codec, &self.place)
    }

    fn write(&self, state: &State) -> Result<(), StateError> {
        if let Some(message) = remote::write_conflict(None, state).filter(|_| state.serial == 0) {
            return Err(self.conflict(message));
        }
        let data = Opaque(self.codec.encode_state(state, &self.place)?);
        let t = self.tables.clone();
        let ws = self.workspace.clone();
        let lineage = state.lineage.clone();
        let serial = state.serial as i64;
        let outcome: Result<(), String> = self
            .db
            .run(move |mut c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    // Journal records are committed without waiting for the WAL flush (see
                    // `journal`); the state itself waits for it, and so flushes them too.
                    tx.batch_execute("SET LOCAL synchronous_commit = on").await?;
                    let current = tx
                        .query_opt(
                            &format!("SELECT lineage, serial FROM {} WHERE workspace = $1 AND partition = $2 FOR UPDATE", t.states),
                            &[&ws, &WHOLE],
                        )
                        .await?;
                    let parted = tx
                        .query_opt(
                            &format!("SELECT partition FROM {} WHERE workspace = $1 AND partition <> $2 LIMIT 1", t.states),
                            &[&ws, &WHOLE],
                        )
                        .await?;
                    if let Some(row) = parted {
                        let p: String = row.get(0);
                        return Ok(Err(format!("it is stored in partitions (such as {p}); write it through its partitions")));
                    }
                    let written = match current {
                        Some(row) => {
                            let (l, s): (String, i64) = (row.get(0), row.get(1));
                            if l != lineage {
                                return Ok(Err(format!("it holds lineage {l}, not {lineage}: it is another state")));
                            }
                            if serial <= s {
                                return Ok(Err(format!("it is at serial {s}; writing serial {serial} would not advance it")));
                            }
                            tx.execute(
                                &format!("UPDATE {} SET backup = data, data = $3, serial = $4, updated_at = now() \
                                          WHERE workspace = $1 AND partition = $2 AND lineage = $5 AND serial < $4", t.states),
                                &[&ws, &WHOLE, &data, &serial, &lineage],
                            )
                            .await?
                        }
                        None => {
                            tx.execute(
                                &format!("INSERT INTO {} (workspace, partition, lineage, serial, data) VALUES ($1, $2, $3, $4, $5) \
                                          ON CONFLICT DO NOTHING", t.states),
                                &[&ws, &WHOLE, &lineage, &serial, &data],
                            )
                            .await?
                        }
                    };
                    if written != 1 {
                        return Ok(Err("another run wrote it at the same moment".to_owned()));
                    }
                    // Compaction: the state now holds every record.
                    tx.execute(
                        &format!("DELETE FROM {} WHERE workspace = $1 AND partition = $2", t.journal),
                        &[&ws, &WHOLE],
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(Ok(()))
                })
            })
            .map_err(|e| self.remote(e))?;
        outcome.map_err(|m| self.conflict(m))?;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn journal(&self, base: &State) -> Result<Box<dyn Journal>, StateError> {
        let base = StateHeader::of(base);
        if let Some(message) = remote::journal_conflict(self.persisted()?.as_ref(), &base) {
            return Err(self.conflict(message));
        }
        let t = self.tables.clone();
        let ws = self.workspace.clone();
        let (lineage, serial) = (base.lineage.clone(), base.serial as i64);
        let others: Vec<String> = self
            .db
            .run(move |mut c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    let rows = tx
                        .query(
                            &format!("SELECT DISTINCT lineage FROM {} WHERE workspace = $1 AND partition = $2 \
                                      AND base_serial = $3 AND lineage <> $4", t.journal),
                            &[&ws, &WHOLE, &serial, &lineage],
                        )
                        .await?;
                    let others: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                    if others.is_empty() {
                        // Records of older serials were compacted into the state: drop them.
                        tx.execute(
                            &format!("DELETE FROM {} WHERE workspace = $1 AND partition = $2 AND base_serial <> $3", t.journal),
                            &[&ws, &WHOLE, &serial],
                        )
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(others)
                })
            })
            .map_err(|e| self.remote(e))?;
        if let Some(other) = others.first() {
            return Err(self.conflict(format!(
                "it holds changes of an interrupted run (lineage {other}, serial {}) that the state being extended (lineage {}, serial {}) does not include; read the state (which replays them) and start from that",
                base.serial, base.lineage, base.serial
            )));
        }
        // A record is committed when `record` returns, so it survives the death of this
        // process; like the local journal's appends (in the operating system's hands until
        // `sync`), it need not wait for the server's disk: `sync` waits for that. This makes
        // a record cost a round trip instead of a disk flush.
        self.db
            .run(|c| Box::pin(async move { c.batch_execute("SET synchronous_commit = off").await }))
            .map_err(|e| self.remote(e))?;
        let opened_at = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Box::new(PostgresJournal {
            db: self.db.clone(),
            insert: RecordInsert::new(&self.tables.journal),
            workspace: self.workspace.clone(),
            base,
            codec: self.codec.clone(),
            place: self.place.clone(),
            generation: self.generation.clone(),
            opened_at,
            failed: false,
        }))
    }

    fn has_journal(&self) -> Result<bool, StateError> {
        // Records on top of the stored state's serial (0 when nothing is stored); older
        // ones were compacted into it.
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {j} WHERE workspace = $1 AND partition = $2 AND base_serial = \
             COALESCE((SELECT serial FROM {s} WHERE workspace = $1 AND partition = $2), 0))",
            j = self.tables.journal,
            s = self.tables.states
        );
        let ws = self.workspace.clone();
        let row = self
            .db
            .run(move |c| Box::pin(async move { c.query_one(&sql, &[&ws, &WHOLE]).await }))
            .map_err(|e| self.remote(e))?;
        Ok(row.get(0))
    }

    fn lock(
        &self,
        mut info: LockInfo,
        timeout: Duration,
    ) -> Result<Box<dyn LockGuard>, StateError> {
        if info.path.is_empty() {
            info.path = self.place.clone();
        }
        let start = Instant::now();
        let key = self.key;
        loop {
            let got: bool = self
                .db
                .run(move |c| {
                    Box::pin(async move {
                        c.query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                            .await
                            .map(|r| r.get(0))
                    })
                })
                .map_err(|e| self.remote(e))?;
            if got {
                break;
            }
            let waited = start.elapsed();
            if waited >= timeout {
                // A holder writes its information just after taking the lock and removes it
                // just before releasing it: with none found, the lock is changing hands, so
                // try again for a moment rather than name nobody.
                if let Some((holder, _)) = self.lock_row()? {
                    return Err(StateError::Locked {
                        info: Box::new(holder),
                    });
                }
                if waited < timeout + HANDOVER {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                return Err(StateError::Locked {
                    info: Box::new(self.holder()),
                });
            }
            std::thread::sleep(LOCK_RETRY.min(timeout - waited));
        }
        let text = String::from_utf8_lossy(&codec::encode_lock_info(&info)).into_owned();
        let sql = format!(
            "INSERT INTO {} (workspace, partition, lock_id, info, backend_pid, acquired_at) \
             VALUES ($1, $2, $3, $4, pg_backend_pid(), now()) ON CONFLICT (workspace, partition) \
             DO UPDATE SET lock_id = $3, info = $4, backend_pid = pg_backend_pid(), acquired_at = now()",
            self.tables.locks
        );
        let (ws, id) = (self.workspace.clone(), info.id.clone());
        let stored = self.db.run(move |c| {
            Box::pin(async move { c.execute(&sql, &[&ws, &WHOLE, &id, &text]).await })
        });
        let guard = PostgresLock {
            db: self.db.clone(),
            key,
            unlock_sql: format!(
                "DELETE FROM {} WHERE workspace = $1 AND partition = $2 AND lock_id = $3",
                self.tables.locks
            ),
            workspace: self.workspace.clone(),
            info,
        };
        stored.map_err(|e| self.remote(e))?;
        Ok(Box::new(guard))
    }

    fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let row = self.lock_row()?;
        let pid = self.holder_pid()?;
        match (row, pid) {
            (None, None) => Err(StateError::NotLocked {
                path: self.place.clone(),
            }),
            (None, Some(_)) => Err(StateError::LockHeld {
                info: Box::new(self.holder()),
            }),
            (Some((info, _)), _) if info.id != id => Err(StateError::LockMismatch {
                id: id.to_owned(),
                info: Box::new(info),
            }),
            // The database releases a session's advisory locks when it ends; a live holder
            // is still running (a database administrator may end it: pg_terminate_backend).
            (Some((info, _)), Some(_)) => Err(StateError::LockHeld {
                info: Box::new(info),
            }),
            (Some(_), None) => {
                let sql = format!(
                    "DELETE FROM {} WHERE workspace = $1 AND partition = $2 AND lock_id = $3",
                    self.tables.locks
                );
                let (ws, id) = (self.workspace.clone(), id.to_owned());
                self.db
                    .run(move |c| {
                        Box::pin(async move { c.execute(&sql, &[&ws, &WHOLE, &id]).await })
                    })
                    .map(|_| ())
                    .map_err(|e| self.remote(e))
            }
        }
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let Some(pid) = self.holder_pid()? else {
            return Ok(None);
        };
        Ok(Some(match self.lock_row()? {
            Some((info, stored_pid)) if stored_pid == pid => info,
            _ => self.holder(),
        }))
    }

    fn describe(&self) -> String {
        self.place.clone()
    }

    fn partitioned(&self) -> Option<&dyn PartitionedStore> {
        Some(self)
    }
}

/// A held advisory lock; dropping it unlocks (and a dead process's session unlocks too).
struct PostgresLock {
    db: Arc<Db>,
    key: i64,
    unlock_sql: String,
    workspace: String,
    info: LockInfo,
}

impl LockGuard for PostgresLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for PostgresLock {
    fn drop(&mut self) {
        let (key, sql, ws, id) = (
            self.key,
            self.unlock_sql.clone(),
            self.workspace.clone(),
            self.info.id.clone(),
        );
        let result = self.db.run(move |c| {
            Box::pin(async move {
                c.execute(&sql, &[&ws, &WHOLE, &id]).await?;
                c.query_one("SELECT pg_advisory_unlock($1)", &[&key]).await
            })
        });
        if let Err(e) = result {
            tracing::warn!("cannot release the state lock (it ends with the connection): {e}");
        }
    }
}

/// Journal records as rows.
struct PostgresJournal {
    db: Arc<Db>,
    insert: RecordInsert,
    workspace: String,
    base: StateHeader,
    codec: Codec,
    place: String,
    generation: Arc<AtomicU64>,
    opened_at: u64,
    failed: bool,
}

impl Journal for PostgresJournal {
    fn record(&mut self, entry: &JournalEntry) -> Result<(), StateError> {
        if self.generation.load(Ordering::SeqCst) != self.opened_at {
            return Err(remote::journal_superseded(&self.place));
        }
        if self.failed {
            return Err(StateError::JournalClosed {
                path: self.place.clone(),
                reason: "an earlier record failed; write the state instead".into(),
            });
        }
        let record = Opaque(self.codec.encode_record(entry, &self.place)?);
        let result = self.insert.run(
            &self.db,
            self.workspace.clone(),
            WHOLE.to_owned(),
            self.base.lineage.clone(),
            self.base.serial as i64,
            record,
        );
        match result {
            Ok(_) => Ok(()),
            Err(message) => {
                // The insert may or may not have committed: record nothing more.
                self.failed = true;
                Err(StateError::Remote {
                    path: self.place.clone(),
                    message,
                })
            }
        }
    }

    fn sync(&mut self) -> Result<(), StateError> {
        // A transaction that commits with synchronous_commit on waits for the WAL to be
        // flushed up to its commit, which includes every record committed before it.
        self.db
            .run(|c| {
                Box::pin(async move {
                    c.batch_execute(
                        "BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT",
                    )
                    .await
                })
            })
            .map_err(|message| StateError::Remote {
                path: self.place.clone(),
                message,
            })
    }
}
