//! The fleetform command line: argument handling, the built-in provider registry, the
//! subcommands and the renderers. `main.rs` is a thin wrapper; tests and benchmarks use
//! [`providers::builtin`] and [`backends::builtin`] to run the engine in-process with every
//! provider and state backend registered.

mod args;
pub mod backends;
pub mod commands;
pub mod providers;
pub mod render;
mod web;

pub use args::terraform_style;

/// How a command ended, for the exit code.
pub enum Outcome {
    /// Everything worked (exit 0).
    Success,
    /// Problems were reported (exit 1).
    Failure,
    /// `plan -detailed-exitcode` found changes (exit 2).
    Changes,
    /// `fmt -check` found files that are not formatted (exit 3, as `terraform fmt`).
    NeedsFormatting,
}
