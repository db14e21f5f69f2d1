//! The provider trait: the one interface every built-in provider implements and the engine
//! calls. Providers are registered by name; the engine maps each resource type to the
//! provider that declares it.
//!
//! This is the trait's schema part. Planning, applying, reading and importing are added by
//! the engine's plan/apply work.

use crate::schema::ProviderSchema;

/// A provider of resource types and data sources.
pub trait Provider: Send + Sync {
    /// What the provider block, resource types and data sources accept. The engine calls
    /// this once per run and validates every block against it before any other call.
    fn schema(&self) -> ProviderSchema;
}
