//! The provider trait: the one interface every provider implements and the engine calls.
//!
//! Every operation takes a request struct and returns a response (or an error), in the
//! spirit of OpenTofu's provider interface. The engine owns state and does the diffing:
//! providers see plain [`Value`]s (objects shaped by their schema) and never touch state,
//! the graph or the terminal. Operations are async and object-safe (`Arc<dyn Provider>`);
//! each receives a cancellation token, and the engine bounds each call with a timeout.

use async_trait::async_trait;
pub use tokio_util::sync::CancellationToken;

use crate::diag::Diagnostics;
use crate::schema::ProviderSchema;
use crate::value::{Path, Value};

/// Why a provider operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// Whether trying again may help.
    pub kind: ErrorKind,
    /// What went wrong, for the user. Never contains a secret.
    pub message: String,
}

/// The kinds of provider failure the engine treats differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Trying again will not help (bad input, refused, not allowed).
    Permanent,
    /// The remote side said it is transient (429, 5xx, connection reset): the engine may
    /// retry with backoff.
    Transient,
    /// The operation stopped because it was cancelled.
    Cancelled,
    /// The remote system could not be reached (host down, site link cut). A plan keeps
    /// the recorded object, warns and goes on, so one unreachable site does not block the
    /// rest of the fleet; the object's own changes fail at apply unless it is back.
    Unreachable,
}

impl ProviderError {
    /// A failure retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::Permanent,
            message: message.into(),
        }
    }

    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::Transient,
            message: message.into(),
        }
    }

    /// The remote system could not be reached.
    pub fn unreachable(message: impl Into<String>) -> ProviderError {
        ProviderError {
            kind: ErrorKind::Unreachable,
            message: message.into(),
        }
    }

    /// The operation was cancelled.
    pub fn cancelled() -> ProviderError {
        ProviderError {
            kind: ErrorKind::Cancelled,
            message: "operation cancelled".into(),
        }
    }
}

/// `configure`: the evaluated `provider "NAME" {}` block.
#[derive(Debug, Clone)]
pub struct ConfigureRequest {
    /// The provider block's value, an object shaped by the provider's config schema.
    pub config: Value,
}

/// `validate_resource`: a resource's configuration, checked before planning.
#[derive(Debug, Clone)]
pub struct ValidateRequest {
    /// The resource type.
    pub type_name: String,
    /// The configuration, possibly with unknown values.
    pub config: Value,
}

/// `plan`: what the object should become.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The resource type.
    pub type_name: String,
    /// The current object, `None` when it is to be created.
    pub prior: Option<Value>,
    /// The configuration as written (evaluated; may hold unknowns).
    pub config: Value,
    /// The engine's proposal: the configuration, with computed attributes the user left
    /// unset taken from `prior` (or unknown when there is no prior object).
    pub proposed: Value,
    /// Cancelled when the run is interrupted.
    pub cancel: CancellationToken,
}

/// The provider's plan for one object.
#[derive(Debug, Clone)]
pub struct PlanResponse {
    /// The planned new object: the proposal, with computed attributes the provider will
    /// set marked unknown.
    pub planned: Value,
    /// Attributes whose change cannot be made in place, beyond the schema's `force_new`.
    pub requires_replace: Vec<Path>,
    /// Things the user should know that do not stop the plan, e.g. checks that could not
    /// run because a host was unreachable.
    pub warnings: Vec<String>,
}

impl PlanResponse {
    /// A plan of `planned` that replaces nothing beyond the schema's rules and warns of
    /// nothing.
    pub fn new(planned: Value) -> PlanResponse {
        PlanResponse {
            planned,
            requires_replace: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// `apply`: make one planned change.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The resource type.
    pub type_name: String,
    /// The current object, `None` for a create.
    pub prior: Option<Value>,
    /// The planned object, `None` for a delete.
    pub planned: Option<Value>,
    /// The configuration, wholly known at apply time.
    pub config: Value,
    /// Cancelled when the run is interrupted a second time.
    pub cancel: CancellationToken,
    /// What an earlier attempt at this change saved with [`Checkpoint::save`] before it
    /// was killed, when this apply continues it (see [`Provider::resume`]).
    pub resume: Option<Value>,
    /// Saves progress that a later run needs to continue this change if this one is
    /// killed part way (a cluster's new CA, before any host receives it).
    pub checkpoint: Checkpoint,
}

/// Records a provider's progress on one change in state before it goes on.
///
/// Before every change, the engine records that it started (a pending operation). A
/// provider whose change creates something it must not create twice, such as a CA, saves it
/// here before it leaves the process; if the run is killed, the next plan hands the saved
/// value back through [`ResumeRequest::checkpoint`] and [`ApplyRequest::resume`].
#[derive(Clone, Default)]
pub struct Checkpoint(Option<std::sync::Arc<SaveProgress>>);

/// What a [`Checkpoint`] calls to record progress.
type SaveProgress = dyn Fn(&Value) -> Result<(), String> + Send + Sync;

impl Checkpoint {
    /// A checkpoint that records with `save`.
    pub fn new(save: impl Fn(&Value) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Checkpoint(Some(std::sync::Arc::new(save)))
    }

    /// Records `progress`; when this returns `Ok`, a run killed afterwards leaves it for
    /// the next. An error means it could not be recorded: go no further.
    pub fn save(&self, progress: &Value) -> Result<(), ProviderError> {
        match &self.0 {
            Some(save) => save(progress).map_err(|e| {
                ProviderError::permanent(format!("could not record progress in state: {e}"))
            }),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Checkpoint(recording)"
        } else {
            "Checkpoint(none)"
        })
    }
}

/// The kind of change a killed run left unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingAction {
    /// Creating the object (also the create half of a replacement).
    Create,
    /// Changing it in place.
    Update,
    /// Destroying it (also the delete half of a replacement).
    Delete,
}

impl PendingAction {
    /// The word for messages: "create", "update", "delete".
    pub fn as_str(self) -> &'static str {
        match self {
            PendingAction::Create => "create",
            PendingAction::Update => "update",
            PendingAction::Delete => "delete",
        }
    }
}

/// `resume`: a change that a killed run started and never finished.
#[derive(Debug, Clone)]
pub struct ResumeRequest {
    /// The resource type.
    pub type_name: String,
    /// What was being done.
    pub action: PendingAction,
    /// The object before the change (`None` for a create).
    pub prior: Option<Value>,
    /// The object the change was making (`None` for a delete).
    pub planned: Option<Value>,
    /// What the provider saved with [`Checkpoint::save`] before the kill, if anything.
    pub checkpoint: Option<Value>,
    /// Cancelled when the run is interrupted.
    pub cancel: CancellationToken,
}

/// What to do about an interrupted change.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    /// Doing it again is safe (it is idempotent, guarded, or continues from the
    /// checkpoint): the plan makes the change again and apply hands the checkpoint back.
    Continue,
    /// The provider found the change done: this is the object now (`None`: it is gone).
    Finished(Option<Value>),
    /// Doing it again could repeat a step that must not happen twice, and the provider
    /// cannot tell whether it happened: the user decides. The message says what is at
    /// stake; the engine adds how to decide.
    Ask(String),
}

/// The outcome of an apply. On failure it still carries the latest known object, so that
/// whatever was created is recorded and not forgotten.
#[derive(Debug, Clone)]
pub struct ApplyResponse {
    /// The object as it now is; `None` when it does not exist.
    pub new_state: Option<Value>,
    /// Set when the change failed (possibly part way).
    pub error: Option<ProviderError>,
}

/// `read`: refresh one object from the real world.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// The resource type.
    pub type_name: String,
    /// The object as recorded in state.
    pub current: Value,
    /// Cancelled when the run is interrupted.
    pub cancel: CancellationToken,
}

/// `import`: adopt an existing remote object by its id.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The resource type.
    pub type_name: String,
    /// The object's id, as the user gave it.
    pub id: String,
    /// Cancelled when the run is interrupted.
    pub cancel: CancellationToken,
}

/// `read_data`: read a data source.
#[derive(Debug, Clone)]
pub struct ReadDataRequest {
    /// The data source type.
    pub type_name: String,
    /// The configuration, wholly known.
    pub config: Value,
    /// Cancelled when the run is interrupted.
    pub cancel: CancellationToken,
}

/// `init_resource`: a resource's configuration as `fleetform init` sees it.
#[derive(Debug, Clone)]
pub struct InitRequest {
    /// The resource type.
    pub type_name: String,
    /// The configuration, possibly with unknown values.
    pub config: Value,
    /// Cancelled when the run is interrupted.
    pub cancel: CancellationToken,
}

/// What `init_resource` did.
#[derive(Debug, Clone, Default)]
pub struct InitResponse {
    /// Lines for the user, e.g. what was fetched.
    pub messages: Vec<String>,
    /// Problems, pointed at attributes like validation's.
    pub diagnostics: Diagnostics,
}

/// `check_gates`: which gates to check on one object a rollout's batch just changed.
#[derive(Debug, Clone)]
pub struct GateRequest {
    /// The resource type.
    pub type_name: String,
    /// The object as recorded after the apply.
    pub state: Value,
    /// The gates the rollout asks for that this type reports ([`Provider::health_gates`]).
    pub gates: Vec<String>,
    /// Cancelled when the run is interrupted.
    pub cancel: CancellationToken,
}

/// One gate's outcome on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateStatus {
    /// The gate's name.
    pub gate: String,
    /// Whether it holds now.
    pub passed: bool,
    /// What was seen, in the user's words ("2 of 3 nodes Ready").
    pub detail: String,
}

/// A provider of resource types and data sources.
#[async_trait]
pub trait Provider: Send + Sync {
    /// What the provider block, resource types and data sources accept. The engine calls
    /// this once per run and validates every block against it before any other call.
    fn schema(&self) -> ProviderSchema;

    /// Checks a resource's configuration beyond its schema (cross-attribute rules). Values
    /// may be unknown. Diagnostics have no source range; the engine adds the block's.
    fn validate_resource(&self, request: &ValidateRequest) -> Diagnostics {
        let _ = request;
        Diagnostics::new()
    }

    /// Shows the provider an object of its types recorded in state, before a plan, apply
    /// or import touches anything. Objects that others act through (a host whose
    /// connection the files on it use) are known this way even when the run leaves them
    /// unchanged. Must not do I/O; most providers ignore it.
    fn observe(&self, type_name: &str, state: &Value) {
        let _ = (type_name, state);
    }

    /// `fleetform init`: prepares in the working directory what later plans of this
    /// resource read (e.g. fetches pinned sources into a cache), so that plans and applies
    /// need nothing from the network but the systems they manage. Called after
    /// `configure`, for each resource instance whose configuration is known enough; must
    /// not change anything remote. Most providers have nothing to prepare.
    async fn init_resource(&self, request: InitRequest) -> InitResponse {
        let _ = request;
        InitResponse::default()
    }

    /// Receives the provider block once, before any other operation of the run.
    async fn configure(&self, request: ConfigureRequest) -> Result<(), ProviderError> {
        let _ = request;
        Ok(())
    }

    /// Plans a create or update. The engine handles deletes without asking.
    async fn plan(&self, request: PlanRequest) -> Result<PlanResponse, ProviderError>;

    /// Makes a planned change.
    async fn apply(&self, request: ApplyRequest) -> ApplyResponse;

    /// Reads the object's current state; `None` when it no longer exists.
    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError>;

    /// Reads an existing object by id into a state value.
    async fn import(&self, request: ImportRequest) -> Result<Value, ProviderError> {
        let _ = request;
        Err(ProviderError::permanent(
            "this resource type does not support import",
        ))
    }

    /// Reads a data source.
    async fn read_data(&self, request: ReadDataRequest) -> Result<Value, ProviderError> {
        Err(ProviderError::permanent(format!(
            "there is no data source named {:?}",
            request.type_name
        )))
    }

    /// Decides what to do about a change a killed run started and never finished. The
    /// default, `Continue`, suits providers whose changes are idempotent.
    async fn resume(&self, request: ResumeRequest) -> Result<Resume, ProviderError> {
        let _ = request;
        Ok(Resume::Continue)
    }

    /// What a recorded object of this provider says about the health of a cluster, for
    /// `fleetform status`; `None` for objects that say nothing about one (the default).
    /// Reads only `value` (already refreshed) and what the provider learned from
    /// `observe`: must not do I/O.
    fn health(&self, type_name: &str, value: &Value) -> Option<crate::health::Health> {
        let _ = (type_name, value);
        None
    }

    /// Warnings about the plan as a whole rather than one object, asked once after every
    /// instance of an untargeted plan was planned (e.g. a cluster being created that no
    /// add-on gives a pod network). Must not do I/O: it reads what this run's plans told
    /// the provider. Most providers have none.
    fn plan_diagnostics(&self) -> Diagnostics {
        Diagnostics::new()
    }

    /// The health gates a resource type reports, for rollouts (`health_gates` in a
    /// `rollout` block): e.g. a cluster reports `api_ready` and `nodes_ready`. Most types
    /// report none.
    fn health_gates(&self, type_name: &str) -> &'static [&'static str] {
        let _ = type_name;
        &[]
    }

    /// Checks the requested gates on one object now, once; the engine polls until they
    /// pass or the rollout's `gate_timeout` ends. An unreachable object is an error.
    async fn check_gates(&self, request: GateRequest) -> Result<Vec<GateStatus>, ProviderError> {
        Err(ProviderError::permanent(format!(
            "{} reports no health gates",
            request.type_name
        )))
    }

    /// Asks in-flight operations to stop soon. Must not block.
    fn stop(&self) {}
}
