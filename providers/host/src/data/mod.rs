//! Data sources of the `host` provider, one per file.

pub mod host_facts;
