//! The fleetform engine: it reads a fleet's `*.hcl` files, evaluates and expands them, and
//! builds the dependency graph that plans and applies walk.
//!
//! Data flows one way: [`config`] (files to blocks, unevaluated) -> [`expand`] (blocks to
//! instances, evaluated with [`lang`]) -> [`graph`] (instances to a dependency graph).
//! [`ops`] is the facade the CLI calls.
//!
//! Architecture invariant: the engine knows no concrete provider. It sees providers only
//! through `fleetform_sdk::Provider`, registered by name in [`providers::Providers`]; it
//! never prints, and problems in user files are diagnostics, never panics.

pub mod addrs;
pub mod apply;
pub mod config;
pub mod encryption;
pub mod expand;
pub mod graph;
pub mod inputs;
pub mod lang;
pub mod ops;
pub mod plan;
pub mod providers;
pub mod state;
