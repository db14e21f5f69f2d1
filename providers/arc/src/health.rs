//! What Arc objects say about a cluster's health, for `fleetform status`: a connected
//! cluster's connectivity, when Azure last heard from it and its identity certificate's
//! expiry (with the warning window of the provider's deadlines), and the in-cluster work
//! of connected clusters and GitOps configurations deferred while their site was offline.

use std::time::Duration;

use fleetform_sdk::Value;
use fleetform_sdk::health::{Connection, Deferred, Expiry, Health, Part};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::deferral;

/// A connected cluster's report; `warning` is how long before the identity certificate
/// expires plans start warning about it.
pub fn connected_cluster(value: &Value, warning: Duration) -> Health {
    let text = |name: &str| value.get(name).as_str().map(str::to_owned);
    let status = text("connectivity_status").unwrap_or_else(|| "Unknown".to_owned());
    let identity = text("identity_certificate_expiration_time").map(|not_after| Expiry {
        renew_from: OffsetDateTime::parse(&not_after, &Rfc3339)
            .ok()
            .and_then(|t| (t - warning).format(&Rfc3339).ok()),
        name: "Arc identity certificate".to_owned(),
        not_after,
    });
    Health {
        part: Part::Connection,
        name: text("name").unwrap_or_default(),
        kubernetes_version: text("kubernetes_version"),
        connection: Some(Connection {
            connected: status == "Connected",
            status,
            last_seen: text("last_connectivity_time"),
            identity,
        }),
        deferred: deferred(value, "install the Arc agents in the cluster"),
        ..Health::default()
    }
}

/// A GitOps configuration's report: only its deferred work, when some waits.
pub fn gitops_configuration(value: &Value) -> Option<Health> {
    Some(Health {
        part: Part::Attachment,
        name: value.get("name").as_str().unwrap_or_default().to_owned(),
        deferred: Some(deferred(value, "apply the Flux objects in the cluster")?),
        ..Health::default()
    })
}

fn deferred(value: &Value, action: &str) -> Option<Deferred> {
    deferral::is_deferred(value).then(|| Deferred {
        action: action.to_owned(),
        since: value.get(deferral::SINCE).as_str().map(str::to_owned),
        reason: value.get(deferral::REASON).as_str().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connected_cluster_reports_connectivity_identity_and_deferred_work() {
        let value = Value::object([
            ("name", Value::from("north")),
            ("connectivity_status", Value::from("Offline")),
            (
                "last_connectivity_time",
                Value::from("2026-12-06T08:00:00Z"),
            ),
            (
                "identity_certificate_expiration_time",
                Value::from("2027-03-31T00:00:00Z"),
            ),
            (deferral::STATE, Value::from(deferral::DEFERRED)),
            (deferral::SINCE, Value::from("2026-12-06T09:00:00Z")),
            (deferral::REASON, Value::from("no route to host")),
        ]);
        let h = connected_cluster(&value, Duration::from_secs(30 * 86400));
        assert_eq!(h.part, Part::Connection);
        let c = h.connection.unwrap();
        assert_eq!((c.status.as_str(), c.connected), ("Offline", false));
        assert_eq!(c.last_seen.as_deref(), Some("2026-12-06T08:00:00Z"));
        let identity = c.identity.unwrap();
        assert_eq!(identity.not_after, "2027-03-31T00:00:00Z");
        assert_eq!(identity.renew_from.as_deref(), Some("2027-03-01T00:00:00Z"));
        let d = h.deferred.unwrap();
        assert_eq!(d.reason.as_deref(), Some("no route to host"));
        assert_eq!(d.since.as_deref(), Some("2026-12-06T09:00:00Z"));

        let installed = Value::object([
            ("name", Value::from("apps")),
            (deferral::STATE, Value::from(deferral::INSTALLED)),
        ]);
        assert_eq!(gitops_configuration(&installed), None);
    }
}
