//! Data sources of the `kubernetes` provider, one per file.

pub mod cluster_kubeconfig;
