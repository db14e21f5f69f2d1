//! `fleetform console`: expressions evaluated against the configuration and the recorded
//! state, as Terraform's console evaluates them. Resources read their recorded values (what
//! the last apply left); resources not in the state have their configuration, with what
//! only apply can tell unknown. Nothing is refreshed, planned or written.

use fleetform_sdk::Value;
use futures::FutureExt;
use futures::future::LocalBoxFuture;

use crate::addrs::ResourceMode;
use crate::expand::hook::{Outcome, unknown_computed};
use crate::expand::{Expansion, Hook, InstanceRequest};
use crate::lang::EvalError;
use crate::state::State;

/// The expanded configuration a console evaluates in.
pub struct Console<'c> {
    pub(super) expansion: Expansion<'c>,
}

impl Console<'_> {
    /// Evaluates one expression (its text) in the root module.
    pub fn evaluate(&self, text: &str) -> Result<Value, String> {
        let expr = crate::lang::syntax::parse_expr(text).map_err(|e| {
            let message = e.to_string();
            message.lines().last().unwrap_or(&message).trim().to_owned()
        })?;
        self.expansion
            .evaluate_in_root(&expr)
            .map_err(|e: EvalError| format!("{}: {}", e.summary, e.detail))
    }
}

/// Gives each resource instance its recorded value.
pub(super) struct StateHook<'s> {
    pub state: &'s State,
}

impl Hook for StateHook<'_> {
    fn instance<'a>(&'a self, request: InstanceRequest<'a>) -> LocalBoxFuture<'a, Outcome> {
        let value = match self.state.resources.get(&request.addr) {
            Some(recorded) => recorded.value.clone(),
            None => {
                let data = request.addr.resource.resource.mode == ResourceMode::Data;
                unknown_computed(request.config, &request.schema.block, data)
            }
        };
        futures::future::ready(Outcome::value(value)).boxed_local()
    }
}
