//! Sites in messages: a site is a partition of the fleet (`fleet { partitions { by } }`,
//! else each instance of a root module call with `for_each`; the rest is `root`), so that
//! an unreachable clinic is reported once, by name, however many of its objects are down.

use std::collections::BTreeMap;

use fleetform_sdk::Diagnostic;

use super::{Action, ResourceChange};
use crate::addrs::AbsResourceInstance;
use crate::config::Config;
use crate::state::DeferredChange;
use crate::state::partition::PartitionKey;

/// The name of the site `addr` is in.
pub fn site_of(key: &PartitionKey, addr: &AbsResourceInstance) -> String {
    key.partition_of(&addr.module)
}

/// One warning per site with objects refresh could not reach, naming the changes that
/// will be deferred while it stays unreachable.
pub fn unreachable(
    config: &Config,
    objects: &[(AbsResourceInstance, String)],
    changes: &[ResourceChange],
) -> Vec<Diagnostic> {
    if objects.is_empty() {
        return Vec::new();
    }
    let key = PartitionKey::of(config);
    let mut sites: BTreeMap<String, Vec<&(AbsResourceInstance, String)>> = BTreeMap::new();
    for object in objects {
        sites
            .entry(site_of(&key, &object.0))
            .or_default()
            .push(object);
    }
    sites
        .into_iter()
        .map(|(site, down)| {
            let waiting: Vec<String> = changes
                .iter()
                .filter(|c| !matches!(c.action, Action::NoOp | Action::Read))
                .filter(|c| site_of(&key, &c.addr) == site)
                .map(|c| format!("  - {} ({})", c.addr, action_word(c.action)))
                .collect();
            let mut detail = format!(
                "{site}: {} object(s) could not be refreshed and were planned from the recorded state ({}: {}).",
                down.len(),
                down[0].0,
                down[0].1.trim_end_matches('.')
            );
            if waiting.is_empty() {
                detail.push_str(" It has no changes in this plan.");
            } else {
                detail.push_str(&format!(
                    " While it stays unreachable, apply defers its {} change(s) and completes the rest of the fleet:\n{}",
                    waiting.len(),
                    waiting.join("\n")
                ));
            }
            // The site's address keeps two sites' reports apart (diagnostics are
            // deduplicated by summary, place and address).
            Diagnostic::warning("Site unreachable", detail).address(site)
        })
        .collect()
}

/// One warning per site whose changes this apply deferred.
pub fn deferred(
    config: &Config,
    deferred: &BTreeMap<AbsResourceInstance, (Action, String)>,
) -> Vec<Diagnostic> {
    if deferred.is_empty() {
        return Vec::new();
    }
    let key = PartitionKey::of(config);
    type Deferred<'a> = (&'a AbsResourceInstance, &'a (Action, String));
    let mut sites: BTreeMap<String, Vec<Deferred<'_>>> = BTreeMap::new();
    for (addr, what) in deferred {
        sites
            .entry(site_of(&key, addr))
            .or_default()
            .push((addr, what));
    }
    sites
        .into_iter()
        .map(|(site, changes)| {
            let lines: Vec<String> = changes
                .iter()
                .map(|(addr, (action, _))| format!("  - {addr} ({})", action_word(*action)))
                .collect();
            let why = changes
                .iter()
                .map(|(_, (_, why))| why.as_str())
                .find(|why| !why.starts_with("it needs "))
                .unwrap_or(changes[0].1.1.as_str())
                .trim_end_matches('.');
            Diagnostic::warning(
                "Site unreachable: changes deferred",
                format!(
                    "{site} could not be reached ({why}); its {} change(s) are deferred, kept in state and shown by every plan until an apply makes them:\n{}",
                    changes.len(),
                    lines.join("\n")
                ),
            )
            .address(site)
        })
        .collect()
}

/// Recorded deferred changes, by site.
pub fn by_site(
    config: &Config,
    deferred: &BTreeMap<AbsResourceInstance, DeferredChange>,
) -> BTreeMap<String, Vec<(AbsResourceInstance, DeferredChange)>> {
    let key = PartitionKey::of(config);
    let mut sites: BTreeMap<String, Vec<(AbsResourceInstance, DeferredChange)>> = BTreeMap::new();
    for (addr, change) in deferred {
        sites
            .entry(site_of(&key, addr))
            .or_default()
            .push((addr.clone(), change.clone()));
    }
    sites
}

/// How a deferred change names its action.
pub fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::DeleteThenCreate | Action::CreateThenDelete => "replace",
        Action::Delete => "delete",
        Action::Read => "read",
        Action::NoOp => "no-op",
    }
}
