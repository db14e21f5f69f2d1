//! The state backends. This is the one place that knows every backend crate, as
//! `providers.rs` is for providers; `local` is built into the planner.

use std::sync::Arc;

use fleetform_planner::state::backend::registry::Backends;

/// Every backend kind a `fleet { backend "KIND" {} }` block may name.
pub fn builtin() -> Backends {
    let mut backends = Backends::new();
    backends.register(
        fleetform_backend_postgres::NAME,
        Arc::new(fleetform_backend_postgres::PostgresKind),
    );
    backends.register(
        fleetform_backend_azurerm::NAME,
        Arc::new(fleetform_backend_azurerm::AzurermKind),
    );
    backends
}
