//! The expression language: evaluation of hcl-edit expressions to values in a
//! `Scope`, type constraint syntax, reference extraction, and the function library.
//!
//! hcl-edit parses; this module gives the result Terraform's meaning: scopes with
//! Terraform's reference roots, unknown ("known after apply") and sensitive values, lazy
//! `try`/`can`, cty's numbers, operators and type unification, real sets, and errors that
//! point at the exact sub-expression, templates included. hcl-rs still runs the function
//! families written as its `FuncDef`s.

mod eval;
pub mod functions;
pub mod limits;
pub(crate) mod ops;
pub(crate) mod refs;
pub mod syntax;
mod template;
mod typeexpr;
mod unify;

pub use eval::{EvalError, Scope, eval, eval_const, now_rfc3339};
pub use refs::{Reference, Step, references, references_in_body};
pub use typeexpr::type_constraint;
pub use unify::friendly as friendly_type_name;

#[cfg(test)]
mod tests;
