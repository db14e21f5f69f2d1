//! The cluster issuer: a cert-manager ClusterIssuer of type CA whose certificate fleetform
//! issues from the cluster's own CA, so that certificates cert-manager signs chain to the
//! CA every node already trusts. The issued CA is kept in state and issued again only
//! when it expires within `renew_before`, like every other certificate fleetform manages.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fleetform_sdk::Value;
use serde_json::json;

use super::spec::IssuerSpec;

/// The issuer's CA as state keeps it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssuerCa {
    /// The CA's certificate, then the cluster CA's (PEM).
    pub certificate_chain: String,
    pub private_key: String,
    /// RFC 3339, UTC.
    pub not_after: String,
}

impl std::fmt::Debug for IssuerCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerCa")
            .field("private_key", &"(sensitive)")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl IssuerCa {
    /// The recorded CA (`issuer_ca`), if any.
    pub fn from_state(value: &Value) -> Option<IssuerCa> {
        serde_json::from_str(value.as_str()?).ok()
    }

    /// The value `issuer_ca` records (sensitive).
    pub fn to_state(&self) -> Value {
        Value::from(serde_json::to_string(self).expect("strings serialise")).into_sensitive()
    }

    /// Whether it expires within `renew_before` of `now`.
    pub fn due(&self, renew_before: Duration, now: SystemTime) -> bool {
        // RFC 3339 in UTC with whole seconds compares as text.
        self.not_after.as_str() <= rfc3339(now + renew_before).as_str()
    }
}

/// RFC 3339 in UTC with whole seconds.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match time::OffsetDateTime::from_unix_timestamp(seconds) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "9999-12-31T23:59:59Z".into(),
    }
}

/// The ClusterIssuer, and the Secret of its CA once the CA is known (it is issued at
/// apply). The Secret goes in `namespace`, which must be cert-manager's cluster resource
/// namespace.
pub fn render(spec: &IssuerSpec, ca: Option<&IssuerCa>, namespace: &str) -> Vec<(String, String)> {
    let mut documents = Vec::new();
    if let Some(ca) = ca {
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": spec.name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "fleetform"}},
            "data": {
                "tls.crt": BASE64.encode(&ca.certificate_chain),
                "tls.key": BASE64.encode(&ca.private_key),
            },
        });
        documents.push((
            format!("cluster issuer {} (CA)", spec.name),
            secret.to_string(),
        ));
    }
    let issuer = json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": spec.name},
        "spec": {"ca": {"secretName": spec.name}},
    });
    documents.push((format!("cluster issuer {}", spec.name), issuer.to_string()));
    documents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_inside_the_window() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ca = IssuerCa {
            certificate_chain: "cert".into(),
            private_key: "key".into(),
            not_after: rfc3339(now + Duration::from_secs(40 * 24 * 3600)),
        };
        assert!(!ca.due(Duration::from_secs(30 * 24 * 3600), now));
        assert!(ca.due(Duration::from_secs(50 * 24 * 3600), now));
        assert_eq!(rfc3339(now), "2023-11-14T22:13:20Z");
        let state = ca.to_state();
        assert!(matches!(state, Value::Sensitive(_)));
        assert_eq!(IssuerCa::from_state(&state), Some(ca.clone()));
        assert!(!format!("{ca:?}").contains("key\""));
        let spec = IssuerSpec {
            name: "cluster-ca".into(),
            validity: Duration::from_secs(1),
            renew_before: Duration::ZERO,
        };
        let documents = render(&spec, Some(&ca), "cert-manager");
        assert_eq!(documents.len(), 2);
        assert!(documents[1].1.contains("\"secretName\":\"cluster-ca\""));
        assert!(
            !documents[0].1.contains("\"key\""),
            "the key is base64 only"
        );
        assert_eq!(render(&spec, None, "cert-manager").len(), 1);
    }
}
