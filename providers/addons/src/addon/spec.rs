//! An `addon` block read into what planning and applying need, with the defaults filled
//! in and every rule the schema cannot express checked, naming the attribute at fault.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use fleetform_sdk::{Diagnostic, Diagnostics, Value, parse_duration};

use crate::sources::{self, Source};

pub const DEFAULT_NAMESPACE: &str = "default";
pub const DEFAULT_TIMEOUT: &str = "5m";
pub const DEFAULT_ISSUER_VALIDITY: &str = "8760h";
pub const DEFAULT_ISSUER_RENEW_BEFORE: &str = "720h";

/// A cert-manager ClusterIssuer backed by a CA issued from the cluster's PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerSpec {
    pub name: String,
    pub validity: Duration,
    pub renew_before: Duration,
}

/// An addon as configured, defaults filled in.
#[derive(Clone, PartialEq)]
pub struct AddonSpec {
    pub name: String,
    pub cluster: Option<String>,
    pub kubeconfig: Option<String>,
    pub api_servers: Vec<String>,
    pub namespace: String,
    pub manifests: Vec<String>,
    pub source: Option<Source>,
    pub exclude: Vec<String>,
    pub address_pools: BTreeMap<String, Vec<String>>,
    pub issuer: Option<IssuerSpec>,
    pub pod_network: bool,
    pub prune: bool,
    pub force_conflicts: bool,
    pub wait: bool,
    pub timeout: Duration,
}

impl std::fmt::Debug for AddonSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddonSpec")
            .field("name", &self.name)
            .field("cluster", &self.cluster)
            .field(
                "kubeconfig",
                &self.kubeconfig.as_ref().map(|_| "(sensitive)"),
            )
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Reads a configuration (or recorded state): `Ok(None)` while something it needs is
/// unknown, the diagnostics when something is wrong.
pub fn read(config: &Value) -> Result<Option<AddonSpec>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let spec = read_into(config, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(spec)
}

/// Checks what can be checked of a configuration whose values may be unknown.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    read_into(config, &mut diags);
    diags
}

fn error(attribute: &str, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error(summary, detail).attribute(attribute)
}

fn read_into(config: &Value, diags: &mut Diagnostics) -> Option<AddonSpec> {
    let mut known = true;
    let mut text = |name: &str| -> Option<String> {
        let value = config.get(name);
        if value.is_unknown() {
            known = false;
        }
        value.as_str().map(str::to_owned)
    };
    let name = text("name").unwrap_or_default();
    let cluster = text("cluster");
    let kubeconfig = text("kubeconfig");
    let namespace = text("namespace").unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    let timeout_text = text("timeout").unwrap_or_else(|| DEFAULT_TIMEOUT.to_owned());
    let timeout = match parse_duration(&timeout_text) {
        Ok(d) => d,
        Err(e) => {
            diags.push(error("timeout", "Invalid timeout", format!("{e}.")));
            Duration::ZERO
        }
    };
    if cluster.is_some() && kubeconfig.is_some() {
        diags.push(error(
            "kubeconfig",
            "Conflicting cluster connection",
            "Set `cluster` (a fleetform cluster's id) or `kubeconfig`, not both.".into(),
        ));
    }
    let mut strings = |name: &str| -> Vec<String> {
        let value = config.get(name);
        if !value.is_wholly_known() {
            known = false;
        }
        value.strings()
    };
    let api_servers = strings("api_servers");
    let manifests = strings("manifests");
    let exclude = strings("exclude");
    for server in &api_servers {
        if !server.starts_with("https://") {
            diags.push(error(
                "api_servers",
                "Invalid API server URL",
                format!("{server:?}: give https:// URLs, e.g. \"https://10.0.0.11:6443\"."),
            ));
        }
    }
    for pattern in &exclude {
        if !matches!(pattern.split('/').count(), 2 | 3) || pattern.split('/').any(str::is_empty) {
            diags.push(error(
                "exclude",
                "Invalid object pattern",
                format!("{pattern:?}: write \"Kind/name\" or \"Kind/namespace/name\"."),
            ));
        }
    }
    let source = match config.get("source") {
        v if !v.is_wholly_known() => {
            known = false;
            None
        }
        Value::Null => None,
        v => read_source(v, diags),
    };
    let address_pools = match config.get("address_pools") {
        v if !v.is_wholly_known() => {
            known = false;
            BTreeMap::new()
        }
        v => v
            .as_object()
            .map(|pools| {
                pools
                    .iter()
                    .map(|(name, ranges)| (name.clone(), ranges.strings()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    for pool in address_pools.keys() {
        if !is_dns_label(pool) {
            diags.push(error(
                "address_pools",
                "Invalid pool name",
                format!("{pool:?} cannot name a Kubernetes object: use lowercase letters, digits and '-'."),
            ));
        }
    }
    let issuer = match config.get("cluster_issuer") {
        v if v.is_unknown() => {
            known = false;
            None
        }
        Value::Null => None,
        // The cluster may be known only after apply; only its absence is an error.
        block => read_issuer(block, !config.get("cluster").is_null(), diags, &mut known),
    };
    let flag = |name: &str, default: bool, known: &mut bool| match config.get(name) {
        v if v.is_unknown() => {
            *known = false;
            default
        }
        v => v.as_bool().unwrap_or(default),
    };
    let pod_network = flag("pod_network", false, &mut known);
    let prune = flag("prune", true, &mut known);
    let force_conflicts = flag("force_conflicts", false, &mut known);
    let wait = flag("wait", true, &mut known);
    let has_contents =
        !manifests.is_empty() || source.is_some() || !address_pools.is_empty() || issuer.is_some();
    if known && !has_contents && config.get("manifests").is_null() && config.get("source").is_null()
    {
        diags.push(
            Diagnostic::error(
                "Empty add-on",
                "An addon needs `manifests`, a `source`, `address_pools` or a `cluster_issuer`.",
            )
            .attribute("manifests"),
        );
    }
    known.then_some(AddonSpec {
        name,
        cluster,
        kubeconfig,
        api_servers,
        namespace,
        manifests,
        source,
        exclude,
        address_pools,
        issuer,
        pod_network,
        prune,
        force_conflicts,
        wait,
        timeout,
    })
}

pub(crate) fn read_source(value: &Value, diags: &mut Diagnostics) -> Option<Source> {
    let url = value.get("url").as_str();
    let path = value.get("path").as_str();
    let sha256 = value.get("sha256").as_str().map(str::to_owned);
    if let Some(sha) = &sha256
        && !sources::is_sha256(sha)
    {
        diags.push(error(
            "source",
            "Invalid sha256",
            format!("{sha:?} is not a SHA-256: give 64 lowercase hex digits, as `sha256sum` prints them."),
        ));
        return None;
    }
    match (url, path) {
        (Some(url), None) => {
            let Some(sha256) = sha256 else {
                diags.push(error(
                    "source",
                    "Source URL without sha256",
                    format!(
                        "{url} must be pinned: add sha256 = \"...\" (the content's SHA-256), so that \
                         every site applies exactly what was reviewed."
                    ),
                ));
                return None;
            };
            if !(url.starts_with("https://")
                || url.starts_with("http://")
                || url.starts_with("file://"))
            {
                diags.push(error(
                    "source",
                    "Invalid source URL",
                    format!("{url:?}: give an https://, http:// or file:// URL, or a path."),
                ));
                return None;
            }
            Some(Source::Url {
                url: url.to_owned(),
                sha256,
            })
        }
        (None, Some(path)) => Some(Source::Path {
            path: PathBuf::from(path),
            sha256,
        }),
        _ => {
            diags.push(error(
                "source",
                "Invalid source",
                "Give either { url, sha256 } or { path } (with an optional sha256).".into(),
            ));
            None
        }
    }
}

fn read_issuer(
    block: &Value,
    has_cluster: bool,
    diags: &mut Diagnostics,
    known: &mut bool,
) -> Option<IssuerSpec> {
    if !has_cluster {
        diags.push(error(
            "cluster_issuer",
            "Cluster issuer without a cluster",
            "A cluster issuer's CA is issued from a fleetform cluster's PKI: set `cluster` to its id."
                .into(),
        ));
    }
    let mut duration = |name: &str, default: &str| -> Duration {
        let value = block.get(name);
        if value.is_unknown() {
            *known = false;
            return Duration::ZERO;
        }
        let text = value.as_str().unwrap_or(default);
        match parse_duration(text) {
            Ok(d) => d,
            Err(e) => {
                diags.push(error(
                    &format!("cluster_issuer.{name}"),
                    "Invalid duration",
                    format!("{e}."),
                ));
                Duration::ZERO
            }
        }
    };
    let validity = duration("validity", DEFAULT_ISSUER_VALIDITY);
    let renew_before = duration("renew_before", DEFAULT_ISSUER_RENEW_BEFORE);
    if !validity.is_zero() && renew_before >= validity {
        diags.push(error(
            "cluster_issuer.renew_before",
            "Renewal window too long",
            "renew_before must be shorter than validity, or the CA would be reissued on every apply."
                .into(),
        ));
    }
    let name = block.get("name");
    if name.is_unknown() {
        *known = false;
    }
    let name = name.as_str().unwrap_or_default().to_owned();
    if !name.is_empty() && !is_dns_label(&name) {
        diags.push(error(
            "cluster_issuer.name",
            "Invalid issuer name",
            format!(
                "{name:?} cannot name a Kubernetes object: use lowercase letters, digits and '-'."
            ),
        ));
    }
    Some(IssuerSpec {
        name,
        validity,
        renew_before,
    })
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: Vec<(&str, Value)>) -> Value {
        let mut all = vec![("name", Value::from("monitoring"))];
        all.extend(pairs);
        Value::object(all)
    }

    fn messages(diags: &Diagnostics) -> Vec<(String, String)> {
        diags
            .iter()
            .map(|d| (d.attribute.clone().unwrap_or_default(), d.summary.clone()))
            .collect()
    }

    #[test]
    fn defaults_and_sources() {
        let spec = read(&config(vec![(
            "source",
            Value::object([
                ("url", Value::from("https://mirror.lan/metallb.yaml")),
                ("sha256", Value::from("a".repeat(64))),
            ]),
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(spec.namespace, "default");
        assert!(spec.prune && spec.wait && !spec.force_conflicts);
        assert_eq!(spec.timeout, Duration::from_secs(300));
        assert!(matches!(spec.source, Some(Source::Url { .. })));
        assert!(
            read(&config(vec![("manifests", Value::Unknown)]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn mistakes_point_at_their_attribute() {
        let bad = config(vec![
            (
                "source",
                Value::object([("url", Value::from("https://x.lan/a.yaml"))]),
            ),
            ("exclude", Value::List(vec![Value::from("Deployment")])),
            ("timeout", Value::from("soon")),
            (
                "cluster_issuer",
                Value::object([("name", Value::from("Cluster CA"))]),
            ),
        ]);
        let diags = validate(&bad);
        assert_eq!(
            messages(&diags),
            [
                ("timeout".into(), "Invalid timeout".into()),
                ("exclude".into(), "Invalid object pattern".into()),
                ("source".into(), "Source URL without sha256".into()),
                (
                    "cluster_issuer".into(),
                    "Cluster issuer without a cluster".into()
                ),
                ("cluster_issuer.name".into(), "Invalid issuer name".into()),
            ]
        );
        let empty = validate(&config(vec![]));
        assert_eq!(
            messages(&empty),
            [("manifests".into(), "Empty add-on".into())]
        );
    }
}
