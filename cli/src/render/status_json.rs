//! `fleetform status -json` and the `/status.json` the status page reads: one document,
//! format `1.0`, with field names that stay (README's "Status JSON" documents them). New
//! fields may be added; none is renamed or removed without a new major format version.

use fleetform_planner::ops::status::{
    CertificateStatus, ClusterStatus, FleetStatus, Refresh, SiteStatus,
};
use fleetform_planner::state::LastApply;
use fleetform_sdk::health::NodeCount;
use serde_json::{Value as Json, json};

/// The version of this document's format.
pub const FORMAT_VERSION: &str = "1.0";

/// The document for `status`; `refresh_interval` is the page's polling period, when served.
pub fn document(status: &FleetStatus, refresh_interval: Option<u64>) -> Json {
    let mut doc = json!({
        "format_version": FORMAT_VERSION,
        "fleetform_version": env!("CARGO_PKG_VERSION"),
        "workspace": status.workspace,
        "gathered_at": status.gathered_at,
        "refreshed": status.refreshed,
        "site_timeout_seconds": status.site_timeout.as_secs_f64(),
        "last_apply": status.last_apply.as_ref().map(last_apply),
        "sites": status.sites.iter().map(site).collect::<Vec<_>>(),
        "rollouts": status.rollouts.iter().map(|(name, p)| json!({
            "name": name,
            "status": p.status.as_str(),
            "stage": p.stage,
            "batch": p.batch,
            "sites_done": p.done,
            "sites_failed": p.failed.iter().map(|(site, why)| json!({
                "site": site,
                "reason": why,
            })).collect::<Vec<_>>(),
            "halted_because": p.halted,
            "updated_at": p.updated,
        })).collect::<Vec<_>>(),
    });
    if let Some(seconds) = refresh_interval {
        doc["refresh_interval_seconds"] = json!(seconds);
    }
    doc
}

fn last_apply(last: &LastApply) -> Json {
    json!({
        "operation": last.operation,
        "started_at": last.started,
        "finished_at": last.finished,
        "outcome": last.outcome.as_str(),
        "changes_made": last.changes,
        "changes_failed": last.failed,
        "fleetform_version": last.version,
    })
}

fn site(site: &SiteStatus) -> Json {
    let refresh = match &site.refresh {
        Refresh::Skipped => json!({ "state": "skipped", "reason": null, "seconds": null }),
        Refresh::Done { elapsed } => {
            json!({ "state": "refreshed", "reason": null, "seconds": elapsed.as_secs_f64() })
        }
        Refresh::Unreachable { reason, elapsed } => {
            json!({ "state": "unreachable", "reason": reason, "seconds": elapsed.as_secs_f64() })
        }
    };
    json!({
        "name": site.name,
        "target": format!("partition:{}", site.name),
        "health": site.health.as_str(),
        "reasons": site.reasons,
        "refresh": refresh,
        "resources": site.resources,
        "clusters": site.clusters.iter().map(cluster).collect::<Vec<_>>(),
        "deferred": site.deferred.iter().map(|d| json!({
            "address": d.address,
            "action": d.action,
            "since": d.since,
            "reason": d.reason,
        })).collect::<Vec<_>>(),
        "drift": site.drift.as_ref().map(|d| json!({ "count": d.len(), "addresses": d })),
        "interrupted": site.interrupted,
        "tainted": site.tainted,
        "rollout_failures": site.rollout_failures.iter().map(|(rollout, why)| json!({
            "rollout": rollout,
            "reason": why,
        })).collect::<Vec<_>>(),
        "errors": site.errors,
    })
}

fn cluster(c: &ClusterStatus) -> Json {
    json!({
        "address": c.address,
        "name": c.name,
        "pools": c.pools.iter().map(|p| json!({
            "address": p.address,
            "name": p.name,
            "control_plane": p.control_plane,
            "kubernetes_version": p.kubernetes_version,
            "nodes": p.nodes.map(nodes),
        })).collect::<Vec<_>>(),
        "nodes": c.nodes().map(nodes),
        "soonest_certificate": c.soonest_certificate.as_ref().map(certificate),
        "arc": c.connection.as_ref().map(|a| json!({
            "address": a.address,
            "name": a.name,
            "connectivity_status": a.status,
            "connected": a.connected,
            "last_connectivity_time": a.last_seen,
            "identity_certificate": a.identity.as_ref().map(certificate),
        })),
    })
}

fn nodes(n: NodeCount) -> Json {
    json!({ "ready": n.ready, "total": n.total })
}

fn certificate(c: &CertificateStatus) -> Json {
    json!({
        "name": c.name,
        "owner": c.owner,
        "not_after": c.not_after,
        "renew_from": c.renew_from,
    })
}
