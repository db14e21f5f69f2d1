//! A cluster's health gates, for rollouts: `api_ready` (every control-plane member's API
//! server answers /readyz) and `nodes_ready` (every registered node, node pools' included,
//! is Ready). Read once per call; the engine polls until they pass or its timeout ends.

use std::time::Duration;

use fleetform_provider_host::fleet::Fleet;
use fleetform_sdk::{GateStatus, ProviderError, Value};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::ListParams;

use super::ClusterSpec;
use crate::api::{Reach, is_ready, readyz};
use crate::pki::Endpoint;
use crate::remote::ClusterHost;

/// The gates a cluster reports.
pub const GATES: &[&str] = &["api_ready", "nodes_ready"];

/// How long one member may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks `gates` on the cluster recorded in `current`.
pub async fn check(
    fleet: &Fleet,
    current: &Value,
    gates: &[String],
) -> Result<Vec<GateStatus>, ProviderError> {
    let spec = ClusterSpec::read(current)
        .map_err(|_| ProviderError::permanent("the recorded cluster is unreadable"))?;
    let kubeconfig = current
        .get("admin_kubeconfig")
        .as_str()
        .ok_or_else(|| ProviderError::permanent("the cluster has no admin kubeconfig yet"))?;
    let names = current.get("node_names").strings();
    let mut ready_members = Vec::new();
    let mut not_ready = Vec::new();
    let mut client = None;
    // A member behind a jump host is reached through port forwards its `Reach` holds open:
    // each is kept until the gates are read.
    let mut reaches = Vec::new();
    for (id, name) in spec.control_plane_hosts.iter().zip(&names) {
        let host = ClusterHost::find(fleet, id)?;
        let reach = Reach::for_host(&host);
        let asked = tokio::time::timeout(ASK_TIMEOUT, async {
            let address = host.address().await.map_err(|e| e.to_string())?;
            let server = Endpoint {
                host: address.to_string(),
                port: spec.endpoint_port,
            };
            let c = reach
                .client(kubeconfig, Some(&server))
                .await
                .map_err(|e| e.to_string())?;
            readyz(&c).await.map(|()| c)
        })
        .await;
        reaches.push(reach);
        match asked {
            Ok(Ok(c)) => {
                ready_members.push(name.clone());
                client.get_or_insert(c);
            }
            Ok(Err(why)) => not_ready.push(format!("{name}: {why}")),
            Err(_) => not_ready.push(format!(
                "{name}: no answer within {}s",
                ASK_TIMEOUT.as_secs()
            )),
        }
    }
    let members = spec.control_plane_hosts.len();
    let mut statuses = Vec::new();
    for gate in gates {
        let status = match gate.as_str() {
            "api_ready" => GateStatus {
                gate: gate.clone(),
                passed: not_ready.is_empty(),
                detail: if not_ready.is_empty() {
                    format!("{members} of {members} API servers ready")
                } else {
                    format!(
                        "{} of {members} API servers ready; {}",
                        ready_members.len(),
                        not_ready.join("; ")
                    )
                },
            },
            "nodes_ready" => nodes_ready(client.as_ref(), gate).await,
            _ => continue,
        };
        statuses.push(status);
    }
    Ok(statuses)
}

async fn nodes_ready(client: Option<&kube::Client>, gate: &str) -> GateStatus {
    let failed = |detail: String| GateStatus {
        gate: gate.to_owned(),
        passed: false,
        detail,
    };
    let Some(client) = client else {
        return failed("no API server answered".into());
    };
    let listed = tokio::time::timeout(
        ASK_TIMEOUT,
        Api::<Node>::all(client.clone()).list(&ListParams::default()),
    )
    .await;
    let nodes = match listed {
        Ok(Ok(list)) => list.items,
        Ok(Err(e)) => return failed(format!("listing nodes failed: {e}")),
        Err(_) => return failed("listing nodes took too long".into()),
    };
    let not_ready: Vec<String> = nodes
        .iter()
        .filter(|n| !is_ready(n))
        .map(|n| n.metadata.name.clone().unwrap_or_default())
        .collect();
    let total = nodes.len();
    let ready = total - not_ready.len();
    GateStatus {
        gate: gate.to_owned(),
        passed: total > 0 && not_ready.is_empty(),
        detail: if not_ready.is_empty() {
            format!("{ready} of {total} nodes Ready")
        } else {
            format!(
                "{ready} of {total} nodes Ready; not Ready: {}",
                not_ready.join(", ")
            )
        },
    }
}
