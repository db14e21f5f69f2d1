//! Managed resource types of the `arc` provider, one per file.

pub mod arc_connected_cluster;
pub mod arc_extension;
pub mod gitops_configuration;
