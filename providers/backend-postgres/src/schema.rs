//! The tables, in the configured schema. Every key is `(workspace, partition)`: today each
//! workspace has one partition, `''` (the whole state); per-site partitions (each with its
//! own serial, lock and journal) are rows with other partition names, so they need no
//! change of schema. Lock keys are derived from the same pair.
//!
//! - `states`: one row per workspace and partition: lineage, serial, the encoded (perhaps
//!   encrypted) state, and the previous one as `backup`; for a partition, `reads` (JSON:
//!   the partitions the run that wrote it read values from, with their serials then).
//! - `journal`: one row per recorded change, bound to the lineage and serial it extends;
//!   deleted in the transaction that writes the state they were compacted into.
//! - `locks`: the information of held locks (the lock itself is an advisory lock, which
//!   holds no data), with the holder's server process id to tell a live holder from a row
//!   left by a killed one.

use sha2::{Digest, Sha256};

/// The partition of a whole workspace's state.
pub(crate) const WHOLE: &str = "";

/// Statements creating the schema (when not skipped).
pub(crate) fn create_schema(schema: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")
}

/// Statements creating the tables (when not skipped).
pub(crate) fn create_tables(schema: &str) -> String {
    format!(
        r#"
CREATE TABLE IF NOT EXISTS "{schema}".states (
    workspace  text        NOT NULL,
    partition  text        NOT NULL DEFAULT '',
    lineage    text        NOT NULL,
    serial     bigint      NOT NULL,
    data       bytea       NOT NULL,
    backup     bytea,
    updated_at timestamptz NOT NULL DEFAULT now(),
    reads      text,
    PRIMARY KEY (workspace, partition)
);
ALTER TABLE "{schema}".states ADD COLUMN IF NOT EXISTS reads text;
CREATE TABLE IF NOT EXISTS "{schema}".journal (
    workspace   text      NOT NULL,
    partition   text      NOT NULL DEFAULT '',
    seq         bigserial NOT NULL,
    lineage     text      NOT NULL,
    base_serial bigint    NOT NULL,
    record      bytea     NOT NULL,
    PRIMARY KEY (workspace, partition, seq)
);
CREATE TABLE IF NOT EXISTS "{schema}".locks (
    workspace   text        NOT NULL,
    partition   text        NOT NULL DEFAULT '',
    lock_id     text        NOT NULL,
    info        text        NOT NULL,
    backend_pid integer     NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, partition)
);
"#
    )
}

/// The index replay and compaction use (when not skipped).
pub(crate) fn create_indexes(schema: &str) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS journal_by_base ON \"{schema}\".journal (workspace, partition, lineage, base_serial)"
    )
}

/// The advisory lock key of a workspace's partition: 64 bits of a hash naming fleetform,
/// the schema, the workspace and the partition (other applications' keys are unlikely to
/// collide).
pub(crate) fn lock_key(schema: &str, workspace: &str, partition: &str) -> i64 {
    let mut h = Sha256::new();
    for part in ["fleetform state lock", schema, workspace, partition] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// The key that serialises schema creation among concurrent first runs.
pub(crate) fn setup_key(schema: &str) -> i64 {
    lock_key(schema, "", "schema setup")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_differ_by_schema_workspace_and_partition() {
        let a = lock_key("s", "default", WHOLE);
        assert_eq!(a, lock_key("s", "default", WHOLE));
        assert_ne!(a, lock_key("t", "default", WHOLE));
        assert_ne!(a, lock_key("s", "prod", WHOLE));
        assert_ne!(a, lock_key("s", "default", "module.clinic[\"north\"]"));
        assert_ne!(a, setup_key("s"));
    }
}
