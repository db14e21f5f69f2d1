//! `fleet { backend "postgres" {} }`: state in a PostgreSQL database, with Terraform's `pg`
//! backend settings (`conn_str`/`PG_CONN_STR`, `schema_name`/`PG_SCHEMA_NAME`,
//! `skip_schema_creation`, `skip_table_creation`, `skip_index_creation`).
//!
//! - `config.rs`: the settings.
//! - `schema.rs`: the tables. A row per workspace (and partition: see there), a row per
//!   journal record, a row per held lock's information.
//! - `client.rs`: the only file that talks to the database.
//! - `store.rs`: the backend, its stores, journals and locks.
//!
//! Locks are session advisory locks: the database releases them the moment the holder's
//! connection ends, killed or not, so a lock never outlives its run.

mod client;
mod config;
mod partitions;
mod schema;
mod store;

use fleetform_planner::state::backend::Backend;
use fleetform_planner::state::backend::registry::{
    BackendConfigError, BackendKind, BackendRequest,
};

pub use config::Settings;
pub use store::PostgresBackend;

/// The backend kind's name in `backend "postgres"`.
pub const NAME: &str = "postgres";

/// The `postgres` backend kind, registered by the CLI.
pub struct PostgresKind;

impl BackendKind for PostgresKind {
    fn attributes(&self) -> &'static [&'static str] {
        config::ATTRIBUTES
    }

    fn secret_attributes(&self) -> &'static [&'static str] {
        &["conn_str"]
    }

    fn configure(
        &self,
        request: &BackendRequest<'_>,
    ) -> Result<Box<dyn Backend>, BackendConfigError> {
        let settings = Settings::from_request(request)?;
        let backend = PostgresBackend::connect(settings, request.codec.clone())?;
        Ok(Box::new(backend))
    }
}
