//! An addon's health gate, for rollouts: `addons_ready` holds when every object in the
//! addon's inventory is ready as `kubectl rollout status` reads it (Deployments available,
//! DaemonSets scheduled, CRDs Established ...: [`crate::apply::ready`]). Read once per call;
//! the engine polls until it passes or the rollout's `gate_timeout` ends.

use fleetform_sdk::{GateStatus, ProviderError, Value};

use super::{Context, provider_error, records_of, spec_of};
use crate::apply::{self, Cluster, ObjectId};

/// The gates an addon reports.
pub const GATES: &[&str] = &["addons_ready"];

/// Checks `gates` on the addon recorded in `current`.
pub async fn check(
    ctx: &Context<'_>,
    current: &Value,
    gates: &[String],
) -> Result<Vec<GateStatus>, ProviderError> {
    if !gates.iter().any(|g| g == "addons_ready") {
        return Ok(Vec::new());
    }
    let spec = spec_of(current)?
        .ok_or_else(|| ProviderError::permanent("the recorded addon is incomplete"))?;
    let target = ctx
        .target(&spec)?
        .ok_or_else(|| ProviderError::permanent("the addon's cluster has no kubeconfig yet"))?;
    let cluster = Cluster::connect(&target).await.map_err(provider_error)?;
    let ids: Vec<ObjectId> = records_of(current).into_iter().map(|r| r.id).collect();
    let waiting = apply::not_ready(&cluster, &ids)
        .await
        .map_err(provider_error)?;
    let total = ids.len();
    let ready = total - waiting.len();
    Ok(vec![GateStatus {
        gate: "addons_ready".to_owned(),
        passed: waiting.is_empty(),
        detail: if waiting.is_empty() {
            format!("{}: {ready} of {total} objects ready", spec.name)
        } else {
            format!(
                "{}: {ready} of {total} objects ready; not ready: {}",
                spec.name,
                waiting.join(", ")
            )
        },
    }])
}
