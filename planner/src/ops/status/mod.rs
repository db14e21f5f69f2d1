//! `fleetform status` and `fleetform ui`: the fleet's health, site by site, as plain data.
//!
//! A site is a partition of the state ([`crate::state::partition::PartitionKey`]): each
//! instance of the fleet's partition module calls, and `root` for the rest. Status reads
//! the state (taking no lock and writing nothing, like `show`) and, unless offline,
//! refreshes every site at once through its providers (`Provider::read`, as a plan's
//! refresh does, see [`refresh`]), each site bounded by its own time: a site that does not
//! answer in time is shown as unreachable with what the state last recorded, and never
//! holds the others back.
//!
//! What an object means for a cluster (versions, nodes, certificates, Arc) is the
//! provider's to say ([`fleetform_sdk::Provider::health`]); [`group`] puts the reports of a
//! site together by cluster and works out the site's health. The planner knows no cluster
//! vocabulary beyond the SDK's [`fleetform_sdk::health`] words.

mod group;
mod refresh;

use std::collections::BTreeMap;
use std::time::Duration;

use fleetform_sdk::health::NodeCount;
use fleetform_sdk::{Diagnostics, Value};

use super::Session;
use crate::addrs::AbsResourceInstance;
use crate::providers::Providers;
use crate::state::{InstanceStatus, LastApply, RolloutProgress};

/// How status gathers.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// Show what the state recorded, asking no provider (`-offline`).
    pub offline: bool,
    /// The longest one site's refresh may take, from its first read (`-site-timeout`).
    pub site_timeout: Duration,
}

impl Default for StatusOptions {
    fn default() -> StatusOptions {
        StatusOptions {
            offline: false,
            site_timeout: Duration::from_secs(10),
        }
    }
}

/// The fleet as status shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetStatus {
    /// The workspace.
    pub workspace: String,
    /// When this was gathered, RFC 3339.
    pub gathered_at: String,
    /// Whether sites were refreshed (false with `-offline`).
    pub refreshed: bool,
    /// The bound on each site's refresh.
    pub site_timeout: Duration,
    /// Every site with objects in state, `root` first, then by name.
    pub sites: Vec<SiteStatus>,
    /// The last apply the state records.
    pub last_apply: Option<LastApply>,
    /// How far each rollout got, by name, as the state records it.
    pub rollouts: BTreeMap<String, RolloutProgress>,
}

/// One site.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteStatus {
    /// The partition's name: `module.clinic["north"]`, or `root`.
    pub name: String,
    /// Green, amber or red, and why.
    pub health: Health,
    /// Why the site is not green, one short sentence each.
    pub reasons: Vec<String>,
    /// How its refresh went.
    pub refresh: Refresh,
    /// Managed objects recorded in state.
    pub resources: usize,
    /// Its clusters, by address.
    pub clusters: Vec<ClusterStatus>,
    /// Work waiting for the site to be reachable.
    pub deferred: Vec<DeferredWork>,
    /// Objects the refresh found different from state (`None` when not refreshed).
    pub drift: Option<Vec<String>>,
    /// Objects with a change a killed run left unfinished.
    pub interrupted: Vec<String>,
    /// Objects whose creation failed part way, or that are tainted: the next apply replaces
    /// them.
    pub tainted: Vec<String>,
    /// The rollouts in which the site failed (a change, or its health gates), with why.
    pub rollout_failures: Vec<(String, String)>,
    /// Problems refreshing objects that do not mean the site is unreachable.
    pub errors: Vec<String>,
}

/// A site's health, as the page colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Green: reachable, every node Ready, connected, nothing waiting or drifted.
    Healthy,
    /// Amber: a certificate in its renewal window, nodes not Ready, Arc not connected,
    /// deferred or interrupted work, drift.
    Attention,
    /// Red: unreachable, a refresh that failed, or objects whose last change failed.
    Failing,
}

impl Health {
    /// `ok`, `attention` or `failing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "ok",
            Health::Attention => "attention",
            Health::Failing => "failing",
        }
    }
}

/// How a site's refresh went.
#[derive(Debug, Clone, PartialEq)]
pub enum Refresh {
    /// Not refreshed (`-offline`): what the state recorded.
    Skipped,
    /// Every object was read.
    Done {
        /// From the site's first read to its last answer.
        elapsed: Duration,
    },
    /// Some object could not be reached, or the site did not answer within its time: what
    /// could not be read is shown as recorded.
    Unreachable {
        /// The first reason, e.g. the host's connection error or "no answer within 10s".
        reason: String,
        /// From the site's first read to when it was given up.
        elapsed: Duration,
    },
}

/// One cluster of a site.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterStatus {
    /// The cluster object's address.
    pub address: String,
    /// Its name.
    pub name: String,
    /// The control plane first, then the node pools by address.
    pub pools: Vec<PoolStatus>,
    /// The certificate that expires first, of the cluster and its pools.
    pub soonest_certificate: Option<CertificateStatus>,
    /// Its Arc connection, where one is declared.
    pub connection: Option<ConnectionStatus>,
}

impl ClusterStatus {
    /// Nodes of every pool, Ready and in total; `None` when no pool reports nodes.
    pub fn nodes(&self) -> Option<NodeCount> {
        self.pools
            .iter()
            .filter_map(|p| p.nodes)
            .reduce(|a, b| NodeCount {
                ready: a.ready + b.ready,
                total: a.total + b.total,
            })
    }
}

/// The control plane or a node pool.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolStatus {
    /// The object's address.
    pub address: String,
    /// The pool's name (`control-plane` for the control plane).
    pub name: String,
    /// Whether this is the control plane.
    pub control_plane: bool,
    /// The Kubernetes version it runs.
    pub kubernetes_version: Option<String>,
    /// Its nodes.
    pub nodes: Option<NodeCount>,
}

/// A certificate's expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateStatus {
    /// The address of the object holding it.
    pub owner: String,
    /// The certificate's name.
    pub name: String,
    /// Its not-after time, RFC 3339.
    pub not_after: String,
    /// When its renewal window opens, RFC 3339.
    pub renew_from: Option<String>,
}

/// A cluster's Arc connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionStatus {
    /// The connected cluster's address.
    pub address: String,
    /// Its name.
    pub name: String,
    /// Its connectivity status as Azure reports it.
    pub status: String,
    /// Whether that means connected.
    pub connected: bool,
    /// When Azure last heard from the agents, RFC 3339.
    pub last_seen: Option<String>,
    /// The identity certificate's expiry.
    pub identity: Option<CertificateStatus>,
}

/// Work recorded as waiting for a site: a change apply deferred while the object could not
/// be reached (`create`, `update`, `replace`, `delete`), or a provider's own deferred work
/// (Arc's in-cluster side).
#[derive(Debug, Clone, PartialEq)]
pub struct DeferredWork {
    /// The object it belongs to.
    pub address: String,
    /// What waits.
    pub action: String,
    /// Since when, RFC 3339.
    pub since: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

impl Session {
    /// Gathers the fleet's status. `None` when the configuration cannot be expanded to
    /// refresh it (the diagnostics say why) or the state is empty. Takes no lock and writes
    /// nothing.
    pub fn status(
        &mut self,
        providers: &Providers,
        options: &StatusOptions,
        runtime: &tokio::runtime::Handle,
    ) -> Option<FleetStatus> {
        if self.state.serial == 0 && self.state.resources.is_empty() {
            self.diagnostics.push(fleetform_sdk::Diagnostic::error(
                "No state",
                format!(
                    "Workspace {:?} has no state yet: apply the configuration first.",
                    self.workspace
                ),
            ));
            return None;
        }
        let refreshed = if options.offline {
            None
        } else {
            let mut diags = Diagnostics::new();
            let found = refresh::refresh(self, providers, options, runtime, &mut diags);
            let failed = diags.has_errors();
            self.diagnostics.extend(diags);
            if failed {
                return None;
            }
            found
        };
        Some(self.gather(providers, options, refreshed))
    }

    fn gather(
        &self,
        providers: &Providers,
        options: &StatusOptions,
        refreshed: Option<refresh::Refreshed>,
    ) -> FleetStatus {
        let now = time::OffsetDateTime::now_utc();
        let mut sites: BTreeMap<String, group::SiteParts> = BTreeMap::new();
        for (addr, instance) in &self.state.resources {
            if addr.resource.resource.mode != crate::addrs::ResourceMode::Managed {
                continue;
            }
            let site = sites
                .entry(self.key.partition_of(&addr.module))
                .or_default();
            site.resources += 1;
            if instance.status != InstanceStatus::Ready {
                site.tainted.push(addr.to_string());
            }
            let value = refreshed
                .as_ref()
                .and_then(|r| r.values.get(addr))
                .unwrap_or(&instance.value);
            if let Some(health) = health_of(providers, addr, &instance.provider, value) {
                site.reports.push((addr.clone(), health));
            }
        }
        for addr in self.state.pending.keys() {
            sites
                .entry(self.key.partition_of(&addr.module))
                .or_default()
                .interrupted
                .push(addr.to_string());
        }
        for (addr, change) in &self.state.deferred {
            sites
                .entry(self.key.partition_of(&addr.module))
                .or_default()
                .deferred
                .push(DeferredWork {
                    address: addr.to_string(),
                    action: change.action.clone(),
                    since: Some(change.since.clone()),
                    reason: Some(change.reason.clone()),
                });
        }
        for (rollout, progress) in &self.state.rollouts {
            for (site, why) in &progress.failed {
                if let Some(parts) = sites.get_mut(site) {
                    parts.rollout_failures.push((rollout.clone(), why.clone()));
                }
            }
        }
        let mut out: Vec<SiteStatus> = sites
            .into_iter()
            .map(|(name, parts)| {
                let refresh = refreshed.as_ref().map(|r| r.sites.get(&name));
                parts.finish(name, &self.state, refresh, now)
            })
            .collect();
        // The rest of the fleet first, as `fleetform partitions` lists it.
        out.sort_by_key(|s| (s.name != crate::state::partition::REST, s.name.clone()));
        FleetStatus {
            workspace: self.workspace.clone(),
            gathered_at: group::rfc3339(now),
            refreshed: refreshed.is_some(),
            site_timeout: options.site_timeout,
            sites: out,
            last_apply: self.state.last_apply.clone(),
            rollouts: self.state.rollouts.clone(),
        }
    }
}

/// What the object's provider says about it, from the value with every secret removed:
/// what a provider cannot see, it cannot put in a report.
fn health_of(
    providers: &Providers,
    addr: &AbsResourceInstance,
    provider_addr: &str,
    value: &Value,
) -> Option<fleetform_sdk::Health> {
    let name = providers
        .resource_type(
            crate::addrs::ResourceMode::Managed,
            &addr.resource.resource.ty,
        )
        .map(|(name, _)| name.to_owned())
        .or_else(|| provider_name(provider_addr))?;
    let provider = providers.get(&name)?;
    provider.health(&addr.resource.resource.ty, &without_secrets(value))
}

/// `module.a.provider.host.west` -> `host`.
fn provider_name(address: &str) -> Option<String> {
    let (_, rest) = address.rsplit_once("provider.")?;
    Some(rest.split('.').next()?.to_owned())
}

/// `value` with every sensitive part replaced by null.
fn without_secrets(value: &Value) -> Value {
    match value {
        Value::Sensitive(_) => Value::Null,
        Value::List(items) => Value::List(items.iter().map(without_secrets).collect()),
        Value::Set(items) => Value::Set(items.iter().map(without_secrets).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), without_secrets(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
