//! Managed resource types of the `fleetform` provider, one per file, each holding its
//! schema and its plan, apply, read and import logic.

pub mod fleetform_data;
pub mod local_file;
