//! The `backend "postgres"` settings, named as Terraform's `pg` backend names them, each
//! also read from its environment variable when not set.

use fleetform_planner::state::backend::registry::{BackendConfigError, BackendRequest};

pub(crate) const ATTRIBUTES: &[&str] = &[
    "conn_str",
    "schema_name",
    "skip_schema_creation",
    "skip_table_creation",
    "skip_index_creation",
];

/// The schema when `schema_name` is not set.
pub const DEFAULT_SCHEMA: &str = "fleetform_remote_state";

/// Where and how states are kept.
#[derive(Clone)]
pub struct Settings {
    /// A libpq-style connection string: `postgres://user@host/db` or `host=... dbname=...`.
    pub conn_str: String,
    /// The schema holding fleetform's tables.
    pub schema: String,
    /// Do not create the schema (it exists, and the role may not create schemas).
    pub skip_schema_creation: bool,
    /// Do not create the tables.
    pub skip_table_creation: bool,
    /// Do not create the journal's index.
    pub skip_index_creation: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password.
        f.debug_struct("Settings")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads the settings (and `PG_*` environment variables).
    pub fn from_request(r: &BackendRequest<'_>) -> Result<Settings, BackendConfigError> {
        let conn_str = r.string("conn_str", &["PG_CONN_STR"])?.ok_or_else(|| {
            BackendConfigError::at(
                "conn_str",
                "a connection string is required: set conn_str, pass -backend-config=conn_str=..., or set PG_CONN_STR",
            )
        })?;
        let schema = r
            .string("schema_name", &["PG_SCHEMA_NAME"])?
            .unwrap_or_else(|| DEFAULT_SCHEMA.to_owned());
        if schema.is_empty()
            || schema.len() > 63
            || !schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || schema.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(BackendConfigError::at(
                "schema_name",
                format!(
                    "{schema:?} is not a usable schema name: use up to 63 letters, digits and underscores, not starting with a digit"
                ),
            ));
        }
        Ok(Settings {
            conn_str,
            schema,
            skip_schema_creation: r.bool(
                "skip_schema_creation",
                &["PG_SKIP_SCHEMA_CREATION"],
                false,
            )?,
            skip_table_creation: r.bool(
                "skip_table_creation",
                &["PG_SKIP_TABLE_CREATION"],
                false,
            )?,
            skip_index_creation: r.bool(
                "skip_index_creation",
                &["PG_SKIP_INDEX_CREATION"],
                false,
            )?,
        })
    }
}
