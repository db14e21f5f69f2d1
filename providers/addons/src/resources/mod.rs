//! Managed resource types of the `addons` provider, one per file.

pub mod addon;
