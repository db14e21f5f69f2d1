//! A connected cluster's health gate, for rollouts: `arc_connected` holds when Azure
//! reports the cluster's agents Connected (`connectivityStatus`), read from ARM each time
//! it is asked; the engine polls until it passes or the rollout's `gate_timeout` ends.

use fleetform_sdk::{CancellationToken, GateStatus, ProviderError, Value};

use crate::connected_cluster;
use crate::session::Session;

/// The gates a connected cluster reports.
pub const GATES: &[&str] = &["arc_connected"];

/// Checks `gates` on the connected cluster recorded in `current`.
pub async fn check(
    session: &Session,
    current: &Value,
    gates: &[String],
    cancel: &CancellationToken,
) -> Result<Vec<GateStatus>, ProviderError> {
    if !gates.iter().any(|g| g == "arc_connected") {
        return Ok(Vec::new());
    }
    let name = current.get("name").as_str().unwrap_or_default().to_owned();
    let now = connected_cluster::read(session, current, cancel).await?;
    let status = now
        .as_ref()
        .and_then(|v| v.get("connectivity_status").as_str().map(str::to_owned));
    let (passed, detail) = match (&now, status.as_deref()) {
        (None, _) => (false, format!("{name} no longer exists in Azure")),
        (Some(_), Some("Connected")) => (true, format!("{name} is Connected")),
        (Some(now), status) => {
            let last = now
                .get("last_connectivity_time")
                .as_str()
                .map(|t| format!(", last heard from at {t}"))
                .unwrap_or_default();
            (
                false,
                format!("{name} is {}{last}", status.unwrap_or("Unknown")),
            )
        }
    };
    Ok(vec![GateStatus {
        gate: "arc_connected".to_owned(),
        passed,
        detail,
    }])
}
