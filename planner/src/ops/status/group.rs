//! A site's health reports put together: each node pool, connection and attachment under
//! the cluster it belongs to, the soonest certificate of each cluster, the work waiting,
//! and the site's colour with its reasons.

use std::collections::{BTreeSet, HashMap};

use fleetform_sdk::health::{Expiry, Part};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::refresh::SiteRefresh;
use super::{
    CertificateStatus, ClusterStatus, ConnectionStatus, DeferredWork, Health, PoolStatus, Refresh,
    SiteStatus,
};
use crate::addrs::{AbsResource, AbsResourceInstance};
use crate::state::State;

/// What one site's objects reported, before it is laid out.
#[derive(Default)]
pub(super) struct SiteParts {
    pub resources: usize,
    pub reports: Vec<(AbsResourceInstance, fleetform_sdk::Health)>,
    pub tainted: Vec<String>,
    pub interrupted: Vec<String>,
    /// Changes the state records as deferred.
    pub deferred: Vec<DeferredWork>,
    /// `(rollout, why)` for each rollout the site failed in.
    pub rollout_failures: Vec<(String, String)>,
}

impl SiteParts {
    /// The site as status shows it. `refresh` is `None` when nothing was refreshed, and
    /// `Some(None)` when the site had nothing to refresh.
    pub fn finish(
        self,
        name: String,
        state: &State,
        refresh: Option<Option<&SiteRefresh>>,
        now: OffsetDateTime,
    ) -> SiteStatus {
        let mut clusters: Vec<(ClusterStatus, Option<String>, AbsResource)> = Vec::new();
        let mut deferred = self.deferred;
        for (addr, report) in &self.reports {
            let recorded = deferred.iter().any(|d| d.address == addr.to_string());
            if let Some(d) = report.deferred.as_ref().filter(|_| !recorded) {
                deferred.push(DeferredWork {
                    address: addr.to_string(),
                    action: d.action.clone(),
                    since: d.since.clone(),
                    reason: d.reason.clone(),
                });
            }
            if report.part == Part::ControlPlane {
                clusters.push((
                    ClusterStatus {
                        address: addr.to_string(),
                        name: report.name.clone(),
                        pools: vec![pool(addr, report, true)],
                        soonest_certificate: soonest(addr, &report.certificates),
                        connection: None,
                    },
                    report.cluster_id.clone(),
                    addr.abs_resource(),
                ));
            }
        }
        for (addr, report) in &self.reports {
            if matches!(report.part, Part::ControlPlane | Part::Attachment) {
                continue;
            }
            let Some(index) = owner(addr, report, &clusters, state) else {
                continue;
            };
            let cluster = &mut clusters[index].0;
            match report.part {
                Part::NodePool => {
                    cluster.pools.push(pool(addr, report, false));
                    let candidate = soonest(addr, &report.certificates);
                    cluster.soonest_certificate =
                        earlier(cluster.soonest_certificate.take(), candidate);
                }
                Part::Connection => {
                    if let Some(c) = &report.connection {
                        cluster.connection = Some(ConnectionStatus {
                            address: addr.to_string(),
                            name: report.name.clone(),
                            status: c.status.clone(),
                            connected: c.connected,
                            last_seen: c.last_seen.clone(),
                            identity: c.identity.as_ref().map(|e| certificate(addr, e)),
                        });
                    }
                }
                Part::ControlPlane | Part::Attachment => {}
            }
        }
        let mut clusters: Vec<ClusterStatus> = clusters.into_iter().map(|(c, ..)| c).collect();
        for c in &mut clusters {
            c.pools[1..].sort_by(|a, b| a.address.cmp(&b.address));
        }
        let (refresh, drift, errors) = match refresh {
            None => (Refresh::Skipped, None, Vec::new()),
            Some(None) => (
                Refresh::Done {
                    elapsed: std::time::Duration::ZERO,
                },
                Some(Vec::new()),
                Vec::new(),
            ),
            Some(Some(r)) => (r.outcome(), Some(r.drift.clone()), r.errors.clone()),
        };
        let mut site = SiteStatus {
            name,
            health: Health::Healthy,
            reasons: Vec::new(),
            refresh,
            resources: self.resources,
            clusters,
            deferred,
            drift,
            interrupted: self.interrupted,
            tainted: self.tainted,
            rollout_failures: self.rollout_failures,
            errors,
        };
        (site.health, site.reasons) = judge(&site, now);
        site
    }
}

/// The cluster a pool or connection belongs to: the one whose id it names, else the site's
/// only cluster, else the one among the resources it depended on when last applied
/// (through other objects, such as a kubeconfig data source).
fn owner(
    addr: &AbsResourceInstance,
    report: &fleetform_sdk::Health,
    clusters: &[(ClusterStatus, Option<String>, AbsResource)],
    state: &State,
) -> Option<usize> {
    if let Some(id) = &report.cluster_id
        && let Some(i) = clusters.iter().position(|(_, c, _)| c.as_ref() == Some(id))
    {
        return Some(i);
    }
    if clusters.len() == 1 {
        return Some(0);
    }
    let depended = depended_on(addr, state);
    let by_dependency: Vec<usize> = clusters
        .iter()
        .enumerate()
        .filter(|(_, (.., r))| depended.contains(r))
        .map(|(i, _)| i)
        .collect();
    match by_dependency.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Every resource `addr` depended on, directly or through other recorded objects.
fn depended_on(addr: &AbsResourceInstance, state: &State) -> BTreeSet<AbsResource> {
    let mut by_resource: HashMap<AbsResource, Vec<&[AbsResource]>> = HashMap::new();
    for (a, i) in &state.resources {
        by_resource
            .entry(a.abs_resource())
            .or_default()
            .push(&i.dependencies);
    }
    let mut seen = BTreeSet::new();
    let mut todo: Vec<AbsResource> = state
        .resources
        .get(addr)
        .map(|i| i.dependencies.clone())
        .unwrap_or_default();
    while let Some(r) = todo.pop() {
        if !seen.insert(r.clone()) {
            continue;
        }
        for deps in by_resource.get(&r).into_iter().flatten() {
            todo.extend(deps.iter().cloned());
        }
    }
    seen
}

fn pool(
    addr: &AbsResourceInstance,
    report: &fleetform_sdk::Health,
    control_plane: bool,
) -> PoolStatus {
    PoolStatus {
        address: addr.to_string(),
        name: if control_plane {
            "control-plane".to_owned()
        } else {
            report.name.clone()
        },
        control_plane,
        kubernetes_version: report.kubernetes_version.clone(),
        nodes: report.nodes,
    }
}

fn certificate(owner: &AbsResourceInstance, e: &Expiry) -> CertificateStatus {
    CertificateStatus {
        owner: owner.to_string(),
        name: e.name.clone(),
        not_after: e.not_after.clone(),
        renew_from: e.renew_from.clone(),
    }
}

fn soonest(owner: &AbsResourceInstance, list: &[Expiry]) -> Option<CertificateStatus> {
    list.iter()
        .filter_map(|e| parse(&e.not_after).map(|t| (t, e)))
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)))
        .map(|(_, e)| certificate(owner, e))
}

fn earlier(
    a: Option<CertificateStatus>,
    b: Option<CertificateStatus>,
) -> Option<CertificateStatus> {
    match (a, b) {
        (Some(a), Some(b)) => {
            if parse(&b.not_after) < parse(&a.not_after) {
                Some(b)
            } else {
                Some(a)
            }
        }
        (a, b) => a.or(b),
    }
}

/// The site's colour and why: red when it cannot be seen or what was last done to it
/// failed; amber when something needs doing soon; green otherwise.
fn judge(site: &SiteStatus, now: OffsetDateTime) -> (Health, Vec<String>) {
    let mut red = Vec::new();
    let mut amber = Vec::new();
    if let Refresh::Unreachable { reason, .. } = &site.refresh {
        red.push(format!("unreachable: {reason}"));
    }
    if !site.errors.is_empty() {
        red.push(format!(
            "{} object(s) could not be refreshed",
            site.errors.len()
        ));
    }
    for (rollout, why) in &site.rollout_failures {
        red.push(format!("failed in rollout {rollout}: {why}"));
    }
    if !site.tainted.is_empty() {
        red.push(format!(
            "{} object(s) failed or tainted, to be replaced by the next apply",
            site.tainted.len()
        ));
    }
    for c in &site.clusters {
        for p in &c.pools {
            if let Some(n) = p.nodes
                && n.ready < n.total
            {
                amber.push(format!(
                    "{}: {} of {} nodes Ready in {}",
                    c.name, n.ready, n.total, p.name
                ));
            }
        }
        if let Some(cert) = &c.soonest_certificate {
            match window(cert, now) {
                Window::Expired => red.push(format!(
                    "{}: certificate {} expired {}",
                    c.name, cert.name, cert.not_after
                )),
                Window::Renew => amber.push(format!(
                    "{}: certificate {} expires {}, within its renewal window",
                    c.name, cert.name, cert.not_after
                )),
                Window::Fine => {}
            }
        }
        if let Some(conn) = &c.connection {
            if !conn.connected {
                amber.push(format!("{}: Arc connectivity {}", c.name, conn.status));
            }
            if let Some(cert) = &conn.identity {
                match window(cert, now) {
                    Window::Expired => red.push(format!(
                        "{}: Arc identity certificate expired {}",
                        c.name, cert.not_after
                    )),
                    Window::Renew => amber.push(format!(
                        "{}: Arc identity certificate expires {}",
                        c.name, cert.not_after
                    )),
                    Window::Fine => {}
                }
            }
        }
    }
    if !site.deferred.is_empty() {
        amber.push(format!("{} deferred change(s)", site.deferred.len()));
    }
    if !site.interrupted.is_empty() {
        amber.push(format!(
            "{} interrupted change(s) to settle",
            site.interrupted.len()
        ));
    }
    if let Some(drift) = site.drift.as_ref().filter(|d| !d.is_empty()) {
        amber.push(format!("{} object(s) drifted", drift.len()));
    }
    let health = if !red.is_empty() {
        Health::Failing
    } else if !amber.is_empty() {
        Health::Attention
    } else {
        Health::Healthy
    };
    red.extend(amber);
    (health, red)
}

enum Window {
    Fine,
    Renew,
    Expired,
}

fn window(cert: &CertificateStatus, now: OffsetDateTime) -> Window {
    match parse(&cert.not_after) {
        Some(t) if t <= now => Window::Expired,
        _ if cert
            .renew_from
            .as_deref()
            .and_then(parse)
            .is_some_and(|from| from <= now) =>
        {
            Window::Renew
        }
        _ => Window::Fine,
    }
}

fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// `now` in RFC 3339, to the second.
pub(super) fn rfc3339(now: OffsetDateTime) -> String {
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_default()
}
