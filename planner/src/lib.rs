//! The fleetform engine.
pub mod addrs;
pub mod config;
pub mod lang;
