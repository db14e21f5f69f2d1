//! Types and traits shared by the fleetform engine and its providers.
//!
//! Like kube-core, this crate does no I/O: it holds the [`Value`] model (HCL values plus the
//! unknown and sensitive marks), [`Type`] constraints with Terraform's conversion rules,
//! provider [`schema`]s, [`Diagnostic`]s, the [`Provider`] trait, and [`secrets`]: what
//! keeps sensitive values out of what providers build. The engine
//! (fleetform-planner) and every provider crate depend on it; it depends on neither.

#![deny(missing_docs)]

pub mod diag;
pub mod duration;
pub mod health;
pub mod number;
pub mod provider;
pub mod schema;
pub mod secrets;
pub mod testing;
pub mod types;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Label, Pos, Severity, SourceFile, SourceRange};
pub use duration::parse_duration;
pub use health::Health;
pub use provider::{
    ApplyRequest, ApplyResponse, CancellationToken, Checkpoint, ConfigureRequest, ErrorKind,
    GateRequest, GateStatus, ImportRequest, InitRequest, InitResponse, PendingAction, PlanRequest,
    PlanResponse, Provider, ProviderError, ReadDataRequest, ReadRequest, Resume, ResumeRequest,
    ValidateRequest,
};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Presence, ProviderSchema, Schema};
pub use secrets::Secrets;
pub use types::{ConversionError, ObjectAttribute, Type};
pub use value::{Object, Path, PathStep, Value};
