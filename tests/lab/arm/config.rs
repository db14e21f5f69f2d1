//! What the lab's Azure knows (tenant, subscriptions, applications and their credentials,
//! managed identities, pipelines' OIDC issuers) and what its control API exchanges with
//! tests: the request log and fault rules.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::spec::Issue;

/// The lab's directory and subscriptions, written as JSON for `fleetform-lab-arm --config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabConfig {
    /// The Entra ID tenant.
    pub tenant_id: String,
    /// Subscriptions that exist.
    pub subscriptions: Vec<String>,
    /// Registered applications (service principals).
    #[serde(default)]
    pub applications: Vec<Application>,
    /// Managed identities on "this machine".
    #[serde(default)]
    pub managed_identities: Vec<ManagedIdentity>,
    /// A GitHub Actions job's OIDC token request.
    #[serde(default)]
    pub github: Option<PipelineIssuer>,
    /// An Azure Pipelines job's OIDC token request.
    #[serde(default)]
    pub azure_pipelines: Option<PipelineIssuer>,
    /// How long long-running operations take.
    #[serde(default = "default_delay")]
    pub operation_delay_ms: u64,
    /// Access token lifetime.
    #[serde(default = "default_lifetime")]
    pub token_lifetime_secs: u64,
    /// The folder of Azure REST specs (../shared/specs/azure).
    pub specs: PathBuf,
}

fn default_delay() -> u64 {
    300
}

fn default_lifetime() -> u64 {
    3600
}

/// An application registration with its credentials.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Application {
    /// The application (client) id.
    pub client_id: String,
    /// Client secrets.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Certificates (PEM) whose keys may sign client assertions.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Federated identity credentials.
    #[serde(default)]
    pub federated: Vec<FederatedCredential>,
}

/// A federated identity credential: tokens from `issuer` about `subject` for `audience`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// The issuer; `None` for the lab's own OIDC issuer.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The token's `sub`.
    pub subject: String,
    /// The token's `aud`.
    #[serde(default = "exchange_audience")]
    pub audience: String,
}

fn exchange_audience() -> String {
    super::entra::EXCHANGE_AUDIENCE.to_owned()
}

/// A managed identity: system-assigned (`client_id: None`) or user-assigned.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ManagedIdentity {
    /// The user-assigned identity's client id.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// A pipeline's token request: the bearer it must present, the subject of the tokens it
/// gets, and (Azure Pipelines) the service connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineIssuer {
    /// The request token (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`, `SYSTEM_ACCESSTOKEN`).
    pub request_token: String,
    /// The federated token's subject.
    pub subject: String,
    /// Azure Pipelines' service connection id.
    #[serde(default)]
    pub service_connection_id: Option<String>,
}

/// One request the lab answered, for tests to assert on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Order of arrival.
    pub seq: u64,
    /// Milliseconds since the lab started, at arrival.
    pub at_ms: u64,
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The status answered (0 when the connection was reset).
    pub status: u16,
    /// `arm`, `operation`, `token`, `managed_identity`, `oidc`, `metadata`.
    pub kind: String,
    /// The spec operation, e.g. `Extensions_Create`.
    pub operation: Option<String>,
    /// Problems the spec validation found in the body.
    pub issues: Vec<Issue>,
    /// The authenticated client, or the client asking for a token.
    pub client_id: Option<String>,
    /// How a token was asked for (`client_secret`, `client_certificate`, `federated`,
    /// `managed_identity`).
    pub grant: Option<String>,
    /// The injected fault that answered, if any.
    pub fault: Option<String>,
    /// The ARM error code answered, if any.
    pub error_code: Option<String>,
}

/// A fault to inject into the next `count` requests that match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Only requests with this method.
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path contains this (case-insensitive).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// How many requests it answers.
    #[serde(default = "one")]
    pub count: u32,
    /// What happens.
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

/// What an injected fault does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// 429 with `Retry-After`.
    Throttle {
        /// Seconds asked to wait.
        retry_after_secs: u64,
    },
    /// A 5xx answer with ARM's body.
    ServerError {
        /// The status, e.g. 500 or 503.
        status: u16,
    },
    /// Answer normally after a delay.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Close the connection without an answer.
    Reset,
    /// Stop accepting connections for a while (connections are refused).
    Refuse {
        /// Milliseconds.
        ms: u64,
    },
    /// Answer a long-running operation with a `Location` to poll only (no
    /// `Azure-AsyncOperation`), as some ARM operations do.
    LocationOnly,
    /// Accept the request, but let its long-running operation end Failed.
    FailOperation {
        /// ARM's code.
        code: String,
        /// ARM's message.
        message: String,
    },
}
