//! `init -migrate-state` on a backend that keeps partitions: splitting a workspace's state
//! into partitions or joining them into one, and rewriting them (a change of encryption).

use std::collections::BTreeMap;
use std::time::Duration;

use super::read;
use crate::state::State;
use crate::state::backend::partitioned::{Layout, LockMode};
use crate::state::backend::{LockInfo, StateError, StateStore};
use crate::state::partition::{PartitionKey, REST};

/// `init -migrate-state`: moves a workspace's state between one state and partitions, as
/// the fleet block says (`apart`), under the fleet lock. Says what it did, if anything.
pub(in crate::ops) fn relayout(
    store: &dyn StateStore,
    key: &PartitionKey,
    apart: bool,
    timeout: Duration,
) -> Result<Option<String>, StateError> {
    let Some(ps) = store.partitioned() else {
        return Ok(None);
    };
    let wanted = if apart {
        Layout::Partitioned
    } else {
        Layout::Whole
    };
    let layout = ps.layout()?;
    if layout == Layout::Empty || layout == wanted {
        return Ok(None);
    }
    let _fleet = ps.lock_partitions(
        LockMode::Exclusive,
        &[],
        LockInfo::new("OperationTypeInit"),
        timeout,
    )?;
    match ps.layout()? {
        Layout::Whole if apart => {
            let Some(state) = store.read()? else {
                return Ok(None);
            };
            let mut parts = key.split(&state);
            for p in parts.values_mut() {
                p.serial = 1;
            }
            // The merged serial keeps growing: the rest of the fleet carries the old one.
            if let Some(rest) = parts.get_mut(REST) {
                rest.serial = state.serial + 1;
            }
            ps.replace_layout(None, &parts)?;
            Ok(Some(format!("was split into {} partitions", parts.len())))
        }
        Layout::Partitioned if !apart => {
            let (mut whole, _) = read(ps, None)?;
            whole.serial += 1;
            ps.replace_layout(Some(&whole), &BTreeMap::new())?;
            Ok(Some(format!(
                "was joined from its partitions into one state (serial {})",
                whole.serial
            )))
        }
        _ => Ok(None),
    }
}

/// `init -migrate-state` on the same backend (a change of encryption): rewrites every
/// partition twice (so that its backup is rewritten too). `None` when the workspace is not
/// kept in partitions.
pub(in crate::ops) fn rewrite_partitions(
    store: &dyn StateStore,
    timeout: Duration,
) -> Result<Option<u64>, StateError> {
    let Some(ps) = store.partitioned() else {
        return Ok(None);
    };
    if ps.layout()? != Layout::Partitioned {
        return Ok(None);
    }
    let _fleet = ps.lock_partitions(
        LockMode::Exclusive,
        &[],
        LockInfo::new("OperationTypeInit"),
        timeout,
    )?;
    let mut parts = ps.read_partitions(None)?;
    for _ in 0..2 {
        for p in parts.values_mut() {
            p.serial += 1;
        }
        let refs: Vec<(&str, &State)> = parts.iter().map(|(k, v)| (k.as_str(), v)).collect();
        ps.write_partitions(&refs, &BTreeMap::new())?;
    }
    Ok(Some(parts.values().map(|p| p.serial).sum()))
}
