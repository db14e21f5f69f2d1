//! The behaviour every state backend must have, checked against a real server by each
//! backend's tests: reads and conditional writes, the journal (replay, compaction, a
//! journal before the first write), locks (waiting, the holder named, force-unlock), and
//! workspaces. Each check uses workspaces of its own, so backends may share a server.

use std::time::Duration;

use fleetform_planner::addrs::parse_abs_resource_instance;
use fleetform_planner::state::backend::{Backend, LockInfo, StateError};
use fleetform_planner::state::{InstanceState, InstanceStatus, JournalEntry, State};
use fleetform_sdk::Value;

/// How a backend's force-unlock treats a lock whose holder is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveLock {
    /// Refused: the holder's lock ends with it (local files, PostgreSQL sessions).
    Refused,
    /// Broken: the holder's later writes fail (Azure blob leases).
    Broken,
}

/// An instance entry for `addr` with a sensitive attribute holding `secret`.
pub fn entry(addr: &str, id: &str, secret: &str) -> JournalEntry {
    JournalEntry::Instance {
        addr: parse_abs_resource_instance(addr).expect("address"),
        state: Some(InstanceState {
            provider: "provider.fleetform".into(),
            schema_version: 0,
            value: Value::object([
                ("id", Value::from(id)),
                ("password", Value::from(secret).into_sensitive()),
            ]),
            dependencies: Vec::new(),
            status: InstanceStatus::Ready,
            create_before_destroy: false,
            prevent_destroy: false,
        }),
    }
}

fn fails<T>(r: Result<T, StateError>) -> StateError {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

/// Runs every check on `backend`, in workspaces named `{prefix}-…`.
pub fn check(backend: &dyn Backend, prefix: &str, live: LiveLock) {
    reads_writes_and_conditions(backend, &format!("{prefix}-rw"));
    journal_replay_and_compaction(backend, &format!("{prefix}-journal"));
    journal_before_first_write(backend, &format!("{prefix}-first"));
    locks(backend, &format!("{prefix}-lock"), live);
    workspaces(backend, &format!("{prefix}-ws"));
}

fn reads_writes_and_conditions(backend: &dyn Backend, ws: &str) {
    let store = backend.store(ws).expect("store");
    assert_eq!(store.read().expect("read"), None, "nothing stored yet");
    let mut state = State::new();
    assert!(
        matches!(store.write(&state), Err(StateError::Conflict { .. })),
        "serial 0 is refused"
    );
    state.serial = 1;
    state.apply(entry("fleetform_data.a", "a", "s"));
    store.write(&state).expect("first write");
    assert_eq!(
        backend.store(ws).unwrap().read().unwrap(),
        Some(state.clone())
    );
    // Not advancing, or another lineage: refused, and nothing changes.
    let err = fails(store.write(&state));
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    let other = State {
        serial: 5,
        ..State::new()
    };
    let err = fails(store.write(&other));
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("lineage"), "{err}");
    // A writer that read serial 1 loses to one that wrote serial 2 first.
    let (mut first, mut second) = (state.clone(), state.clone());
    first.serial = 2;
    second.serial = 2;
    second.apply(entry("fleetform_data.b", "b", "s"));
    backend
        .store(ws)
        .unwrap()
        .write(&first)
        .expect("first writer");
    let err = fails(store.write(&second));
    assert!(matches!(err, StateError::Conflict { .. }), "{err}");
    assert_eq!(store.read().unwrap(), Some(first));
}

fn journal_replay_and_compaction(backend: &dyn Backend, ws: &str) {
    let store = backend.store(ws).expect("store");
    let mut state = State {
        serial: 1,
        ..State::new()
    };
    store.write(&state).unwrap();
    let mut journal = store.journal(&state).expect("journal");
    for i in 0..3 {
        let e = entry(&format!("fleetform_data.n[{i}]"), &i.to_string(), "s");
        journal.record(&e).expect("record");
        state.apply(e);
    }
    journal.sync().unwrap();
    // Another process reading now (the run was killed) sees every record.
    let read = backend.store(ws).unwrap().read().unwrap().expect("state");
    assert_eq!(read.resources.len(), 3);
    assert_eq!(read.serial, 1);
    // A second journal continues the first (the run resumed from the replayed state).
    let mut journal = store.journal(&read).expect("journal continues");
    let e = entry("fleetform_data.n[3]", "3", "s");
    journal.record(&e).unwrap();
    state.apply(e);
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 4);
    // Writing compacts; the journal is then closed.
    state.serial = 2;
    store.write(&state).unwrap();
    assert_eq!(store.read().unwrap(), Some(state.clone()));
    let err = fails(journal.record(&entry("fleetform_data.z", "z", "s")));
    assert!(matches!(err, StateError::JournalClosed { .. }), "{err}");
    // A journal must extend what is stored.
    let mut ahead = state.clone();
    ahead.serial = 7;
    assert!(matches!(
        fails(store.journal(&ahead)),
        StateError::Conflict { .. }
    ));
}

fn journal_before_first_write(backend: &dyn Backend, ws: &str) {
    let store = backend.store(ws).expect("store");
    let state = State::new();
    let mut journal = store.journal(&state).expect("journal at serial 0");
    journal
        .record(&entry("fleetform_data.a", "a", "s"))
        .unwrap();
    drop(journal);
    let read = store.read().unwrap().expect("replayed");
    assert_eq!(
        (read.lineage.clone(), read.serial, read.resources.len()),
        (state.lineage.clone(), 0, 1)
    );
    // A new state that ignored it may not journal over it.
    assert!(matches!(
        fails(store.journal(&State::new())),
        StateError::Conflict { .. }
    ));
    let mut read = read;
    read.serial = 1;
    store.write(&read).unwrap();
    assert_eq!(store.read().unwrap().unwrap().resources.len(), 1);
}

fn locks(backend: &dyn Backend, ws: &str, live: LiveLock) {
    let first = backend.store(ws).expect("store");
    let second = backend.store(ws).expect("store");
    assert_eq!(first.lock_holder().unwrap(), None);
    assert!(matches!(
        first.force_unlock("x"),
        Err(StateError::NotLocked { .. })
    ));
    let info = LockInfo::new("apply");
    let guard = first.lock(info.clone(), Duration::ZERO).expect("lock");
    let err = fails(second.lock(LockInfo::new("plan"), Duration::from_millis(300)));
    match &err {
        StateError::Locked { info: holder } => {
            assert_eq!(holder.id, info.id);
            assert_eq!(holder.operation, "apply");
            assert_eq!(holder.created, info.created);
        }
        other => panic!("{other}"),
    }
    let seen = second.lock_holder().unwrap().expect("a holder");
    assert_eq!(
        (seen.id.as_str(), seen.who.as_str()),
        (info.id.as_str(), info.who.as_str())
    );
    assert!(matches!(
        second.force_unlock("wrong"),
        Err(StateError::LockMismatch { .. })
    ));
    match live {
        LiveLock::Refused => {
            assert!(matches!(
                second.force_unlock(&info.id),
                Err(StateError::LockHeld { .. })
            ));
            // A waiter gets the lock once it is released.
            let waiter = std::thread::spawn(move || {
                second
                    .lock(LockInfo::new("plan"), Duration::from_secs(20))
                    .map(|g| g.info().operation.clone())
            });
            std::thread::sleep(Duration::from_millis(300));
            drop(guard);
            assert_eq!(waiter.join().unwrap().unwrap(), "plan");
        }
        LiveLock::Broken => {
            second
                .force_unlock(&info.id)
                .expect("force-unlock breaks the lease");
            let taken = second
                .lock(LockInfo::new("plan"), Duration::from_secs(5))
                .expect("lock after break");
            assert_eq!(taken.info().operation, "plan");
            // The first holder's writes are refused now.
            let state = State {
                serial: 1,
                ..State::new()
            };
            assert!(
                first.write(&state).is_err(),
                "a writer whose lock was broken cannot write"
            );
            drop(guard);
            drop(taken);
        }
    }
}

fn workspaces(backend: &dyn Backend, prefix: &str) {
    let a = format!("{prefix}-a");
    let b = format!("{prefix}-b");
    for name in [&a, &b] {
        backend
            .store(name)
            .unwrap()
            .write(&State {
                serial: 1,
                ..State::new()
            })
            .unwrap();
    }
    let names = backend.workspaces().unwrap();
    assert_eq!(names[0], "default");
    assert!(names.contains(&a) && names.contains(&b), "{names:?}");
    assert!(matches!(
        backend.delete_workspace("default"),
        Err(StateError::DeleteDefault)
    ));
    let store = backend.store(&a).unwrap();
    let guard = store.lock(LockInfo::new("apply"), Duration::ZERO).unwrap();
    assert!(matches!(
        backend.delete_workspace(&a),
        Err(StateError::Locked { .. })
    ));
    drop(guard);
    backend.delete_workspace(&a).unwrap();
    let names = backend.workspaces().unwrap();
    assert!(!names.contains(&a) && names.contains(&b), "{names:?}");
    assert_eq!(backend.store(&a).unwrap().read().unwrap(), None);
    assert!(matches!(
        backend.delete_workspace(&a),
        Err(StateError::NoSuchWorkspace { .. })
    ));
}
