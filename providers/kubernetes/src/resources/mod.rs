//! Managed resource types of the `kubernetes` provider, one per file.

pub mod cluster;
pub mod node_pool;
