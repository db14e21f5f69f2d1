//! What can go wrong talking to Azure, and how the engine should take it.

use fleetform_sdk::ProviderError;

/// A failure of an Azure call. Messages carry ARM's error code and message, resource ids
/// and endpoints, never a secret or a token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AzureError {
    /// ARM answered with an error body (`{"error": {"code", "message"}}`).
    #[error("{0}")]
    Arm(Box<ArmFailure>),
    /// A long-running operation ended Failed or Canceled.
    #[error("{what}: the operation ended {status}: {code}: {message}")]
    OperationFailed {
        /// What the operation was for (`PUT <id>`).
        what: String,
        /// `Failed` or `Canceled`.
        status: String,
        /// ARM's error code.
        code: String,
        /// ARM's error message.
        message: String,
    },
    /// Still failing after every retry the policy allows: 429, 5xx or a reset connection.
    #[error("{what}: gave up after {attempts} attempts over {waited_secs}s: {last}")]
    RetriesExhausted {
        /// The request.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// Seconds spent waiting between them.
        waited_secs: u64,
        /// The last failure.
        last: String,
    },
    /// Nothing answered at the endpoint (refused, timed out, DNS).
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable {
        /// The URL without its query.
        endpoint: String,
        /// Why, from the transport.
        reason: String,
    },
    /// Getting a token failed.
    #[error("authentication failed ({credential}): {message}")]
    Auth {
        /// Which credential, e.g. "client secret".
        credential: String,
        /// Entra ID's or the credential's message.
        message: String,
    },
    /// The configuration cannot work (no credential, bad URL, unknown cloud).
    #[error("{0}")]
    Config(String),
    /// An answer could not be read.
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// A long-running operation took longer than allowed.
    #[error("{what}: still running after {secs}s")]
    TimedOut {
        /// The request.
        what: String,
        /// Seconds waited.
        secs: u64,
    },
    /// The run was interrupted.
    #[error("operation cancelled")]
    Cancelled,
}

/// An error answer of Resource Manager.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{method} {path}: {status} {code}: {message}{}", request_id.as_ref().map(|id| format!(" (request id {id})")).unwrap_or_default())]
pub struct ArmFailure {
    /// The HTTP method.
    pub method: String,
    /// The resource path (an ARM id, not a secret).
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// ARM's error code, e.g. `ResourceNotFound`.
    pub code: String,
    /// ARM's error message.
    pub message: String,
    /// `x-ms-request-id`, for Azure support.
    pub request_id: Option<String>,
}

impl AzureError {
    /// ARM's error code, when ARM gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AzureError::Arm(failure) => Some(&failure.code),
            AzureError::OperationFailed { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status ARM answered with, when it did.
    pub fn status(&self) -> Option<u16> {
        match self {
            AzureError::Arm(failure) => Some(failure.status),
            _ => None,
        }
    }
}

impl From<AzureError> for ProviderError {
    fn from(e: AzureError) -> ProviderError {
        let message = e.to_string();
        match e {
            AzureError::Unreachable { .. } => ProviderError::unreachable(message),
            AzureError::Cancelled => ProviderError::cancelled(),
            AzureError::RetriesExhausted { .. } | AzureError::TimedOut { .. } => {
                ProviderError::transient(message)
            }
            AzureError::Arm(failure) if failure.status == 429 || failure.status >= 500 => {
                ProviderError::transient(message)
            }
            _ => ProviderError::permanent(message),
        }
    }
}
