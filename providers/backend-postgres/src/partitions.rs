//! A workspace stored in partitions (see `fleetform_planner::state::partition`): a `states`
//! row, journal rows and an advisory lock per partition, all in the tables of the whole
//! state. The fleet lock is the whole state's lock: partitioned runs hold it shared, a
//! fleet-wide run (and a run of the whole layout) exclusive, so the two layouts never mix.
//! Several partitions are locked all at once or not at all, so runs never wait holding
//! half of what they need and cannot deadlock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetform_planner::state::backend::codec::{self, StateHeader};
use fleetform_planner::state::backend::partitioned::{
    Layout, LockMode, PartitionJournal, PartitionedStore,
};
use fleetform_planner::state::backend::remote;
use fleetform_planner::state::backend::{LockGuard, LockInfo, StateError};
use fleetform_planner::state::{JournalEntry, State};

use crate::client::{Db, Opaque, RecordInsert};
use crate::schema::{self, WHOLE};
use crate::store::{HANDOVER, LOCK_RETRY, PostgresStore};

/// A state row or journal row of a partition: partition, lineage, serial, bytes.
type PartRow = (String, String, i64, Vec<u8>);

impl PostgresStore {
    fn partition_key(&self, partition: &str) -> i64 {
        schema::lock_key(&self.schema, &self.workspace, partition)
    }

    fn partition_place(&self, partition: &str) -> String {
        format!("{}, partition {partition}", self.place)
    }

    /// Tries every lock at once; on failure releases those taken and returns the first
    /// key that could not be taken.
    fn try_lock_all(&self, keys: &[(i64, bool)]) -> Result<Option<i64>, StateError> {
        let (ks, shared): (Vec<i64>, Vec<bool>) = keys.iter().copied().unzip();
        self.db
            .run(move |c| {
                Box::pin(async move {
                    let rows = c
                        .query(
                            "SELECT k, s, CASE WHEN s THEN pg_try_advisory_lock_shared(k) ELSE pg_try_advisory_lock(k) END \
                             FROM unnest($1::bigint[], $2::bool[]) WITH ORDINALITY AS t(k, s, n) ORDER BY n",
                            &[&ks, &shared],
                        )
                        .await?;
                    let mut taken: (Vec<i64>, Vec<bool>) = (Vec::new(), Vec::new());
                    let mut refused = None;
                    for r in &rows {
                        let (k, s, got): (i64, bool, bool) = (r.get(0), r.get(1), r.get(2));
                        if got {
                            taken.0.push(k);
                            taken.1.push(s);
                        } else if refused.is_none() {
                            refused = Some(k);
                        }
                    }
                    if refused.is_some() && !taken.0.is_empty() {
                        c.query(UNLOCK_ALL, &[&taken.0, &taken.1]).await?;
                    }
                    Ok(refused)
                })
            })
            .map_err(|e| self.remote(e))
    }

    /// Who holds `partition` (`WHOLE`: the fleet) in a way that refused us; `None` when
    /// an exclusive holder has not stored its information yet (it does just after taking
    /// the lock) or nobody holds it any more: the lock is changing hands.
    fn partition_holder(&self, partition: &str, key: i64) -> Option<LockInfo> {
        let place = if partition == WHOLE {
            format!("{} (the whole fleet)", self.place)
        } else {
            self.partition_place(partition)
        };
        let sql = format!(
            "SELECT info FROM {} WHERE workspace = $1 AND partition = $2 \
             AND backend_pid IN (SELECT pid FROM pg_stat_activity)",
            self.tables.locks
        );
        let k = key as u64;
        let (hi, lo) = ((k >> 32) as i64, (k & 0xffff_ffff) as i64);
        let (ws, p) = (self.workspace.clone(), partition.to_owned());
        let (stored, holders): (Option<String>, Vec<(i32, String)>) = self
            .db
            .run(move |c| {
                Box::pin(async move {
                    let stored = c.query_opt(&sql, &[&ws, &p]).await?.map(|r| r.get(0));
                    let holders = c
                        .query(
                            "SELECT pid, mode FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = $1 \
                             AND objid::bigint = $2 AND objsubid = 1 AND granted",
                            &[&hi, &lo],
                        )
                        .await?
                        .iter()
                        .map(|r| (r.get(0), r.get(1)))
                        .collect();
                    Ok((stored, holders))
                })
            })
            .ok()?;
        let exclusive = holders.iter().any(|(_, mode)| mode == "ExclusiveLock");
        if exclusive {
            let mut info = stored.and_then(|t| codec::decode_lock_info(t.as_bytes()))?;
            info.path = place;
            return Some(info);
        }
        // Held shared (read by other runs), which stores no information: name their
        // database sessions.
        let (pid, _) = holders.first()?;
        Some(LockInfo {
            operation: format!("reading it (shared by {} run(s))", holders.len()),
            who: format!("database session {pid}"),
            path: place,
            ..LockInfo::default()
        })
    }
}

const UNLOCK_ALL: &str = "SELECT CASE WHEN s THEN pg_advisory_unlock_shared(k) ELSE pg_advisory_unlock(k) END \
                          FROM unnest($1::bigint[], $2::bool[]) AS t(k, s)";

impl PartitionedStore for PostgresStore {
    fn layout(&self) -> Result<Layout, StateError> {
        let sql = format!(
            "SELECT coalesce(bool_or(partition = ''), false), coalesce(bool_or(partition <> ''), false) FROM \
             (SELECT partition FROM {} WHERE workspace = $1 UNION ALL SELECT partition FROM {} WHERE workspace = $1) p",
            self.tables.states, self.tables.journal
        );
        let ws = self.workspace.clone();
        let (whole, parted): (bool, bool) = self
            .db
            .run(move |c| {
                Box::pin(async move {
                    c.query_one(&sql, &[&ws])
                        .await
                        .map(|r| (r.get(0), r.get(1)))
                })
            })
            .map_err(|e| self.remote(e))?;
        Ok(match (whole, parted) {
            (true, _) => Layout::Whole,
            (false, true) => Layout::Partitioned,
            (false, false) => Layout::Empty,
        })
    }

    fn read_partitions(
        &self,
        only: Option<&BTreeSet<String>>,
    ) -> Result<BTreeMap<String, State>, StateError> {
        let state_sql = format!(
            "SELECT partition, lineage, serial, data FROM {} WHERE workspace = $1 AND partition <> '' \
             AND ($2::text[] IS NULL OR partition = ANY($2))",
            self.tables.states
        );
        let journal_sql = format!(
            "SELECT partition, lineage, base_serial, record FROM {} WHERE workspace = $1 AND partition <> '' \
             AND ($2::text[] IS NULL OR partition = ANY($2)) ORDER BY seq",
            self.tables.journal
        );
        let ws = self.workspace.clone();
        let names: Option<Vec<String>> = only.map(|o| o.iter().cloned().collect());
        let (states, records): (Vec<PartRow>, Vec<PartRow>) = self
            .db
            .run(move |mut c| {
                Box::pin(async move {
                    let tx = c
                        .build_transaction()
                        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()
                        .await?;
                    let rows = tx.query(&state_sql, &[&ws, &names]).await?;
                    let recs = tx.query(&journal_sql, &[&ws, &names]).await?;
                    tx.commit().await?;
                    let take = |r: &tokio_postgres::Row| (r.get(0), r.get(1), r.get(2), r.get(3));
                    Ok((
                        rows.iter().map(take).collect(),
                        recs.iter().map(take).collect(),
                    ))
                })
            })
            .map_err(|e| self.remote(e))?;
        let mut journals: BTreeMap<String, Vec<(String, i64, Vec<u8>)>> = BTreeMap::new();
        for (p, lineage, base, record) in records {
            journals.entry(p).or_default().push((lineage, base, record));
        }
        let mut out = BTreeMap::new();
        let mut stored: BTreeMap<String, (String, i64, Vec<u8>)> = states
            .into_iter()
            .map(|(p, l, s, d)| (p, (l, s, d)))
            .collect();
        let names: Vec<String> = stored.keys().chain(journals.keys()).cloned().collect();
        for name in names {
            if out.contains_key(&name) {
                continue;
            }
            let place = self.partition_place(&name);
            let state = match stored.remove(&name) {
                Some((lineage, serial, data)) => {
                    let state = self.codec.decode_state(&data, &place)?;
                    if state.lineage != lineage || state.serial != serial as u64 {
                        return Err(StateError::Corrupt {
                            path: place,
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
            let records = journals.remove(&name).unwrap_or_default();
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
            let replayed = match header {
                Some(header) => {
                    let matching = records
                        .into_iter()
                        .filter(|(l, b, _)| *l == header.lineage && *b as u64 == header.serial)
                        .map(|(_, _, r)| r);
                    remote::replay(state, Some(&header), matching, &self.codec, &place)?
                }
                None => state,
            };
            if let Some(s) = replayed {
                out.insert(name, s);
            }
        }
        Ok(out)
    }

    fn partition_reads(&self) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StateError> {
        let sql = format!(
            "SELECT partition, reads FROM {} WHERE workspace = $1 AND partition <> '' AND reads IS NOT NULL",
            self.tables.states
        );
        let ws = self.workspace.clone();
        let rows: Vec<(String, String)> = self
            .db
            .run(move |c| {
                Box::pin(async move {
                    c.query(&sql, &[&ws])
                        .await
                        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
                })
            })
            .map_err(|e| self.remote(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(p, text)| serde_json::from_str(&text).ok().map(|r| (p, r)))
            .collect())
    }

    fn partition_serials(&self) -> Result<BTreeMap<String, (u64, bool)>, StateError> {
        let sql = format!(
            "SELECT s.partition, s.serial, EXISTS (SELECT 1 FROM {j} j WHERE j.workspace = s.workspace AND j.partition = s.partition) \
             FROM {s} s WHERE s.workspace = $1 AND s.partition <> '' \
             UNION ALL SELECT DISTINCT j.partition, 0, true FROM {j} j WHERE j.workspace = $1 AND j.partition <> '' \
             AND NOT EXISTS (SELECT 1 FROM {s} s WHERE s.workspace = j.workspace AND s.partition = j.partition)",
            s = self.tables.states,
            j = self.tables.journal
        );
        let ws = self.workspace.clone();
        let rows: Vec<(String, i64, bool)> = self
            .db
            .run(move |c| {
                Box::pin(async move {
                    c.query(&sql, &[&ws]).await.map(|rows| {
                        rows.iter()
                            .map(|r| (r.get(0), r.get(1), r.get(2)))
                            .collect()
                    })
                })
            })
            .map_err(|e| self.remote(e))?;
        Ok(rows
            .into_iter()
            .map(|(p, serial, journal)| (p, (serial as u64, journal)))
            .collect())
    }

    fn lock_partitions(
        &self,
        fleet: LockMode,
        partitions: &[(String, LockMode)],
        mut info: LockInfo,
        timeout: Duration,
    ) -> Result<Box<dyn LockGuard>, StateError> {
        if info.path.is_empty() {
            info.path = self.place.clone();
        }
        let mut wanted: BTreeMap<String, LockMode> = BTreeMap::new();
        for (p, m) in partitions {
            let e = wanted.entry(p.clone()).or_insert(*m);
            *e = (*e).max(*m);
        }
        let mut keys: Vec<(i64, bool, String)> =
            vec![(self.key, fleet == LockMode::Shared, WHOLE.to_owned())];
        for (p, m) in &wanted {
            keys.push((self.partition_key(p), *m == LockMode::Shared, p.clone()));
        }
        let pairs: Vec<(i64, bool)> = keys.iter().map(|(k, s, _)| (*k, *s)).collect();
        let start = Instant::now();
        while let Some(refused) = self.try_lock_all(&pairs)? {
            let waited = start.elapsed();
            if waited >= timeout {
                let partition = keys
                    .iter()
                    .find(|(k, _, _)| *k == refused)
                    .map(|(_, _, p)| p.clone())
                    .unwrap_or_default();
                match self.partition_holder(&partition, refused) {
                    Some(holder) => {
                        return Err(StateError::Locked {
                            info: Box::new(holder),
                        });
                    }
                    // Changing hands: try again for a moment rather than name nobody.
                    None if waited < timeout + HANDOVER => {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    None => {
                        return Err(StateError::Locked {
                            info: Box::new(LockInfo {
                                path: self.partition_place(&partition),
                                ..LockInfo::default()
                            }),
                        });
                    }
                }
            }
            // Spread the retries of runs that collided, so one of them gets everything.
            let jitter = Duration::from_millis(fastrand_millis(50));
            std::thread::sleep((LOCK_RETRY + jitter).min(timeout - waited));
        }
        let exclusive: Vec<String> = keys
            .iter()
            .filter(|(_, shared, _)| !shared)
            .map(|(_, _, p)| p.clone())
            .collect();
        let text = String::from_utf8_lossy(&codec::encode_lock_info(&info)).into_owned();
        let sql = format!(
            "INSERT INTO {} (workspace, partition, lock_id, info, backend_pid, acquired_at) \
             SELECT $1, p, $2, $3, pg_backend_pid(), now() FROM unnest($4::text[]) p \
             ON CONFLICT (workspace, partition) \
             DO UPDATE SET lock_id = $2, info = $3, backend_pid = pg_backend_pid(), acquired_at = now()",
            self.tables.locks
        );
        let (ws, id) = (self.workspace.clone(), info.id.clone());
        let stored = self.db.run(move |c| {
            Box::pin(async move { c.execute(&sql, &[&ws, &id, &text, &exclusive]).await })
        });
        let guard = PartitionLocks {
            db: self.db.clone(),
            keys: pairs,
            unlock_sql: format!(
                "DELETE FROM {} WHERE workspace = $1 AND lock_id = $2",
                self.tables.locks
            ),
            workspace: self.workspace.clone(),
            info,
        };
        stored.map_err(|e| self.remote(e))?;
        tracing::debug!(
            state = %self.place,
            partitions = wanted.len(),
            waited = ?start.elapsed(),
            "locked partitions"
        );
        Ok(Box::new(guard))
    }

    fn write_partitions(
        &self,
        states: &[(&str, &State)],
        reads: &BTreeMap<String, u64>,
    ) -> Result<(), StateError> {
        let reads = serde_json::to_string(reads).unwrap_or_default();
        let mut rows = Vec::new();
        for (name, state) in states {
            if state.serial == 0 {
                return Err(StateError::Conflict {
                    path: self.partition_place(name),
                    message: "a written state has serial 1 or more; increment it before writing"
                        .into(),
                });
            }
            let data = self
                .codec
                .encode_state(state, &self.partition_place(name))?;
            rows.push((
                name.to_string(),
                state.lineage.clone(),
                state.serial as i64,
                Opaque(data),
            ));
        }
        let t = self.tables.clone();
        let ws = self.workspace.clone();
        let outcome: Result<(), (String, String)> = self
            .db
            .run(move |mut c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    tx.batch_execute("SET LOCAL synchronous_commit = on").await?;
                    let select = format!("SELECT lineage, serial FROM {} WHERE workspace = $1 AND partition = $2 FOR UPDATE", t.states);
                    let update = format!("UPDATE {} SET backup = data, data = $3, serial = $4, reads = $6, updated_at = now() \
                                          WHERE workspace = $1 AND partition = $2 AND lineage = $5 AND serial < $4", t.states);
                    let insert = format!("INSERT INTO {} (workspace, partition, lineage, serial, data, reads) VALUES ($1, $2, $3, $4, $5, $6) \
                                          ON CONFLICT DO NOTHING", t.states);
                    for (p, lineage, serial, data) in &rows {
                        let current = tx.query_opt(&select, &[&ws, p]).await?;
                        let written = match current {
                            Some(row) => {
                                let (l, s): (String, i64) = (row.get(0), row.get(1));
                                if l != *lineage {
                                    return Ok(Err((p.clone(), format!("it holds lineage {l}, not {lineage}: it is another state"))));
                                }
                                if *serial <= s {
                                    return Ok(Err((p.clone(), format!("it is at serial {s}; writing serial {serial} would not advance it"))));
                                }
                                tx.execute(&update, &[&ws, p, data, serial, lineage, &reads]).await?
                            }
                            None => tx.execute(&insert, &[&ws, p, lineage, serial, data, &reads]).await?,
                        };
                        if written != 1 {
                            return Ok(Err((p.clone(), "another run wrote it at the same moment".to_owned())));
                        }
                    }
                    let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
                    tx.execute(
                        &format!("DELETE FROM {} WHERE workspace = $1 AND partition = ANY($2)", t.journal),
                        &[&ws, &names],
                    )
                    .await?;
                    tx.commit().await?;
                    Ok(Ok(()))
                })
            })
            .map_err(|e| self.remote(e))?;
        outcome.map_err(|(p, message)| StateError::Conflict {
            path: self.partition_place(&p),
            message,
        })
    }

    fn journal_partitions(
        &self,
        bases: &BTreeMap<String, StateHeader>,
    ) -> Result<Box<dyn PartitionJournal>, StateError> {
        // As for the whole state's journal: a record is committed when `record` returns,
        // without waiting for the server's disk (`sync` does).
        self.db
            .run(|c| Box::pin(async move { c.batch_execute("SET synchronous_commit = off").await }))
            .map_err(|e| self.remote(e))?;
        Ok(Box::new(PostgresPartitionJournal {
            db: self.db.clone(),
            insert: RecordInsert::new(&self.tables.journal),
            workspace: self.workspace.clone(),
            bases: bases.clone(),
            codec: self.codec.clone(),
            place: self.place.clone(),
            failed: false,
        }))
    }

    fn replace_layout(
        &self,
        whole: Option<&State>,
        partitions: &BTreeMap<String, State>,
    ) -> Result<(), StateError> {
        let mut rows = Vec::new();
        if let Some(state) = whole {
            let data = self.codec.encode_state(state, &self.place)?;
            rows.push((
                WHOLE.to_owned(),
                state.lineage.clone(),
                state.serial as i64,
                Opaque(data),
            ));
        }
        for (name, state) in partitions {
            let data = self
                .codec
                .encode_state(state, &self.partition_place(name))?;
            rows.push((
                name.clone(),
                state.lineage.clone(),
                state.serial as i64,
                Opaque(data),
            ));
        }
        let t = self.tables.clone();
        let ws = self.workspace.clone();
        self.db
            .run(move |mut c| {
                Box::pin(async move {
                    let tx = c.transaction().await?;
                    tx.batch_execute("SET LOCAL synchronous_commit = on").await?;
                    for table in [&t.states, &t.journal] {
                        tx.execute(&format!("DELETE FROM {table} WHERE workspace = $1"), &[&ws])
                            .await?;
                    }
                    let insert = format!(
                        "INSERT INTO {} (workspace, partition, lineage, serial, data) VALUES ($1, $2, $3, $4, $5)",
                        t.states
                    );
                    for (p, lineage, serial, data) in &rows {
                        tx.execute(&insert, &[&ws, p, lineage, serial, data]).await?;
                    }
                    tx.commit().await
                })
            })
            .map_err(|e| self.remote(e))
    }

    fn partition_holders(&self) -> Result<BTreeMap<String, LockInfo>, StateError> {
        let sql = format!(
            "SELECT partition, info FROM {} WHERE workspace = $1 AND partition <> '' \
             AND backend_pid IN (SELECT pid FROM pg_stat_activity)",
            self.tables.locks
        );
        let ws = self.workspace.clone();
        let rows: Vec<(String, String)> = self
            .db
            .run(move |c| {
                Box::pin(async move {
                    c.query(&sql, &[&ws])
                        .await
                        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
                })
            })
            .map_err(|e| self.remote(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(p, text)| codec::decode_lock_info(text.as_bytes()).map(|i| (p, i)))
            .collect())
    }
}

/// A few milliseconds, different in each process and call.
fn fastrand_millis(max: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ u64::from(std::process::id())) % max.max(1)
}

/// Held partition locks; dropping them unlocks (and a dead process's session unlocks too).
struct PartitionLocks {
    db: Arc<Db>,
    keys: Vec<(i64, bool)>,
    unlock_sql: String,
    workspace: String,
    info: LockInfo,
}

impl LockGuard for PartitionLocks {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for PartitionLocks {
    fn drop(&mut self) {
        let (ks, shared): (Vec<i64>, Vec<bool>) = self.keys.iter().copied().unzip();
        let (sql, ws, id) = (
            self.unlock_sql.clone(),
            self.workspace.clone(),
            self.info.id.clone(),
        );
        let result = self.db.run(move |c| {
            Box::pin(async move {
                c.execute(&sql, &[&ws, &id]).await?;
                c.query(UNLOCK_ALL, &[&ks, &shared]).await
            })
        });
        if let Err(e) = result {
            tracing::warn!(
                "cannot release the partition locks (they end with the connection): {e}"
            );
        }
    }
}

/// Journal records of partitions, as rows.
struct PostgresPartitionJournal {
    db: Arc<Db>,
    insert: RecordInsert,
    workspace: String,
    bases: BTreeMap<String, StateHeader>,
    codec: codec::Codec,
    place: String,
    failed: bool,
}

impl PartitionJournal for PostgresPartitionJournal {
    fn record(&mut self, partition: &str, entry: &JournalEntry) -> Result<(), StateError> {
        let place = format!("{}, partition {partition}", self.place);
        let Some(base) = self.bases.get(partition) else {
            return Err(StateError::JournalClosed {
                path: place,
                reason: "this run does not hold the partition's lock to write it".into(),
            });
        };
        if self.failed {
            return Err(StateError::JournalClosed {
                path: place,
                reason: "an earlier record failed; write the state instead".into(),
            });
        }
        let record = Opaque(self.codec.encode_record(entry, &place)?);
        let result = self.insert.run(
            &self.db,
            self.workspace.clone(),
            partition.to_owned(),
            base.lineage.clone(),
            base.serial as i64,
            record,
        );
        match result {
            Ok(_) => Ok(()),
            Err(message) => {
                self.failed = true;
                Err(StateError::Remote {
                    path: place,
                    message,
                })
            }
        }
    }

    fn sync(&mut self) -> Result<(), StateError> {
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
