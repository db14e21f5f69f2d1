//! A failed apply that still knows what exists, so that nothing created is forgotten.

use fleetform_sdk::{ApplyResponse, ProviderError, Value};

/// What exists after a failed change (`None`: as before), and why it failed.
pub struct Failure(pub Option<Value>, pub ProviderError);

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Failure {
        Failure(None, e)
    }
}

impl From<fleetform_azure::AzureError> for Failure {
    fn from(e: fleetform_azure::AzureError) -> Failure {
        Failure(None, e.into())
    }
}

/// The engine's answer for a change's outcome; a failure without a known object keeps
/// `prior`.
pub fn respond(outcome: Result<Option<Value>, Failure>, prior: Option<Value>) -> ApplyResponse {
    match outcome {
        Ok(state) => ApplyResponse {
            new_state: state,
            error: None,
        },
        Err(Failure(state, error)) => ApplyResponse {
            new_state: state.or(prior),
            error: Some(error),
        },
    }
}
