//! Managed resource types of the `host` provider, one per file.

pub mod host;
pub mod host_command;
pub mod host_file;
