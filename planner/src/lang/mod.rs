//! The expression language: evaluation of hcl-edit expressions to values in a
//! `Scope`, type constraint syntax, reference extraction, and the function library.
//!
//! hcl-rs parses and supplies the semantics of literals, operators, templates and every
//! function; this module adds what it lacks: scopes with Terraform's reference roots,
//! unknown ("known after apply") and sensitive values, lazy `try`/`can`, and errors that
//! point at the exact sub-expression.

mod eval;
pub mod functions;
pub(crate) mod refs;
mod typeexpr;

pub use eval::{EvalError, Scope, eval, eval_const};
pub use refs::{Reference, references, references_in_body};
pub use typeexpr::type_constraint;

#[cfg(test)]
mod tests;
