//! Types and traits shared by the fleetform engine and its providers.
//!
//! Like kube-core, this crate does no I/O: it holds the [`Value`] model (HCL values plus the
//! unknown and sensitive marks), [`Type`] constraints with Terraform's conversion rules,
//! provider [`schema`]s, [`Diagnostic`]s, and the [`Provider`] trait. The engine
//! (fleetform-planner) and every provider crate depend on it; it depends on neither.

#![deny(missing_docs)]

pub mod diag;
pub mod duration;
pub mod provider;
pub mod schema;
pub mod testing;
pub mod types;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Label, Pos, Severity, SourceFile, SourceRange};
pub use duration::parse_duration;
pub use provider::{
    ApplyRequest, ApplyResponse, CancellationToken, ConfigureRequest, ErrorKind, ImportRequest,
    PlanRequest, PlanResponse, Provider, ProviderError, ReadDataRequest, ReadRequest,
    ValidateRequest,
};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Presence, ProviderSchema, Schema};
pub use types::{ConversionError, ObjectAttribute, Type};
pub use value::{Path, PathStep, Value};
