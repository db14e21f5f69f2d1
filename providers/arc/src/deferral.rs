//! In-cluster work that waits for an offline site. When a site's cluster cannot be
//! reached, the Azure side is done and the in-cluster side is recorded in state as
//! deferred, with since-when and why; every plan shows it (as a pending change and a
//! warning) and the next apply that reaches the site finishes it.

use std::collections::BTreeMap;
use std::time::SystemTime;

use fleetform_sdk::{Attribute, Block, Type, Value};

use crate::deadlines::format_time;

/// `"Installed"` or `"Deferred"`.
pub const STATE: &str = "in_cluster_state";
/// When the in-cluster work was first deferred (RFC 3339).
pub const SINCE: &str = "deferred_since";
/// Why it was deferred.
pub const REASON: &str = "deferred_reason";

/// The in-cluster work is done.
pub const INSTALLED: &str = "Installed";
/// The in-cluster work waits for the site.
pub const DEFERRED: &str = "Deferred";

/// Adds the deferral attributes to a resource's schema.
pub fn schema(block: Block) -> Block {
    block
        .attr(
            STATE,
            Attribute::computed(Type::String).describe(
                "\"Installed\" once the in-cluster side is done, \"Deferred\" while it waits for the site to be reachable.",
            ),
        )
        .attr(
            SINCE,
            Attribute::computed(Type::String)
                .describe("When the in-cluster side was first deferred (RFC 3339); null when nothing waits."),
        )
        .attr(
            REASON,
            Attribute::computed(Type::String)
                .describe("Why the in-cluster side waits, e.g. the API server could not be reached."),
        )
}

/// True when `value` records deferred in-cluster work.
pub fn is_deferred(value: &Value) -> bool {
    value.get(STATE).as_str() == Some(DEFERRED)
}

/// Records deferred work in `object`, keeping the first deferral's time when the work was
/// already waiting.
pub fn mark_deferred(
    object: &mut BTreeMap<String, Value>,
    prior: Option<&Value>,
    reason: &str,
    now: SystemTime,
) {
    let since = prior
        .filter(|p| is_deferred(p))
        .and_then(|p| p.get(SINCE).as_str().map(str::to_owned))
        .unwrap_or_else(|| format_time(now));
    object.insert(STATE.into(), DEFERRED.into());
    object.insert(SINCE.into(), since.into());
    object.insert(REASON.into(), reason.into());
}

/// Records that the in-cluster work is done.
pub fn mark_installed(object: &mut BTreeMap<String, Value>) {
    object.insert(STATE.into(), INSTALLED.into());
    object.insert(SINCE.into(), Value::Null);
    object.insert(REASON.into(), Value::Null);
}

/// Plans the deferral attributes: unknown when this apply does in-cluster work (a create,
/// a change that reaches into the cluster, or work deferred earlier), else as recorded.
/// Returns the warning a plan shows for work deferred earlier.
pub fn plan(
    planned: &mut BTreeMap<String, Value>,
    prior: Option<&Value>,
    touches_cluster: bool,
) -> Option<String> {
    let deferred = prior.is_some_and(is_deferred);
    if prior.is_none() || touches_cluster || deferred {
        for name in [STATE, SINCE, REASON] {
            planned.insert(name.into(), Value::Unknown);
        }
    } else if let Some(recorded) = prior.and_then(Value::as_object) {
        for name in [STATE, SINCE, REASON] {
            if let Some(value) = recorded.get(name) {
                planned.insert(name.into(), value.clone());
            }
        }
    }
    let prior = prior.filter(|p| is_deferred(p))?;
    Some(format!(
        "its in-cluster work has been deferred since {} ({}); this apply finishes it if the site can be reached, and defers it again if not",
        prior.get(SINCE).as_str().unwrap_or("an earlier apply"),
        prior
            .get(REASON)
            .as_str()
            .unwrap_or("the site was unreachable")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deferral_keeps_its_first_time_and_plans_the_retry() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut object = BTreeMap::new();
        mark_deferred(&mut object, None, "no route to host", t0);
        let first = Value::Object(object.clone().into());
        assert!(is_deferred(&first));
        let mut again = BTreeMap::new();
        mark_deferred(
            &mut again,
            Some(&first),
            "timed out",
            t0 + Duration::from_secs(3600),
        );
        assert_eq!(
            again[SINCE],
            first.get(SINCE).clone(),
            "since-when stays the first deferral"
        );
        assert_eq!(again[REASON], Value::from("timed out"));

        let mut planned = BTreeMap::new();
        let warning = plan(&mut planned, Some(&first), false).unwrap();
        assert!(
            warning.contains("deferred since 2027-01-15T08:00:00Z (no route to host)"),
            "{warning}"
        );
        assert_eq!(planned[STATE], Value::Unknown);

        let mut done = BTreeMap::new();
        mark_installed(&mut done);
        let done = Value::Object(done.into());
        let mut planned = BTreeMap::new();
        assert!(plan(&mut planned, Some(&done), false).is_none());
        assert_eq!(
            planned[STATE],
            Value::from(INSTALLED),
            "nothing to do: nothing changes"
        );
    }
}
