//! Readiness, read from the status fields controllers write, as `kubectl rollout status`
//! and `kubectl wait` read them: Deployments available, DaemonSets scheduled and
//! available, StatefulSets ready, Jobs complete, CRDs Established. Other kinds are ready
//! once they exist.

use serde_json::Value;

use super::bundle::ObjectId;

/// Whether an object is ready; `Err` says why it is not (or that it never will be).
pub fn check(id: &ObjectId, object: &Value) -> Readiness {
    let status = &object["status"];
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = status["observedGeneration"].as_i64().unwrap_or(0);
    let stale = || Readiness::Waiting("its controller has not seen the latest change".into());
    let count = |field: &str| status[field].as_i64().unwrap_or(0);
    match (id.group.as_str(), id.kind.as_str()) {
        ("apps", "Deployment") => {
            if observed < generation {
                return stale();
            }
            let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
            let (updated, available, total) = (
                count("updatedReplicas"),
                count("availableReplicas"),
                count("replicas"),
            );
            if updated < wanted {
                Readiness::Waiting(format!("{updated} of {wanted} replicas updated"))
            } else if total > updated {
                Readiness::Waiting(format!("{} old replicas still running", total - updated))
            } else if available < updated {
                Readiness::Waiting(format!("{available} of {wanted} replicas available"))
            } else {
                Readiness::Ready
            }
        }
        ("apps", "DaemonSet") => {
            if observed < generation {
                return stale();
            }
            let wanted = count("desiredNumberScheduled");
            let (updated, available) = (count("updatedNumberScheduled"), count("numberAvailable"));
            if updated < wanted {
                Readiness::Waiting(format!("{updated} of {wanted} pods updated"))
            } else if available < wanted {
                Readiness::Waiting(format!("{available} of {wanted} pods available"))
            } else {
                Readiness::Ready
            }
        }
        ("apps", "StatefulSet") => {
            if observed < generation {
                return stale();
            }
            let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
            let (ready, updated) = (count("readyReplicas"), count("updatedReplicas"));
            if ready < wanted {
                Readiness::Waiting(format!("{ready} of {wanted} replicas ready"))
            } else if updated < wanted {
                Readiness::Waiting(format!("{updated} of {wanted} replicas updated"))
            } else {
                Readiness::Ready
            }
        }
        ("batch", "Job") => {
            if condition(status, "Failed") {
                Readiness::Failed(
                    status_message(status, "Failed").unwrap_or_else(|| "the job failed".into()),
                )
            } else if condition(status, "Complete") {
                Readiness::Ready
            } else {
                Readiness::Waiting(format!("{} pods succeeded", count("succeeded")))
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if condition(status, "Established") {
                Readiness::Ready
            } else {
                Readiness::Waiting("not Established yet".into())
            }
        }
        _ => Readiness::Ready,
    }
}

/// Whether waiting for `id` makes sense at all.
pub fn has_readiness(id: &ObjectId) -> bool {
    matches!(
        (id.group.as_str(), id.kind.as_str()),
        ("apps", "Deployment" | "DaemonSet" | "StatefulSet")
            | ("batch", "Job")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}

/// An object's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet, with what it is waiting for.
    Waiting(String),
    /// Never will be.
    Failed(String),
}

fn condition(status: &Value, kind: &str) -> bool {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

fn status_message(status: &Value, kind: &str) -> Option<String> {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .and_then(|c| c["message"].as_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(group: &str, kind: &str) -> ObjectId {
        ObjectId {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: "ns".into(),
            name: "x".into(),
        }
    }

    #[test]
    fn rollouts_and_jobs() {
        let deployment = id("apps", "Deployment");
        let mut object = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": {"observedGeneration": 1}});
        assert!(matches!(check(&deployment, &object), Readiness::Waiting(_)));
        object["status"] = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1});
        assert_eq!(
            check(&deployment, &object),
            Readiness::Waiting("1 of 2 replicas available".into())
        );
        object["status"]["availableReplicas"] = 2.into();
        assert_eq!(check(&deployment, &object), Readiness::Ready);

        let ds = id("apps", "DaemonSet");
        let object = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
            "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3}});
        assert_eq!(check(&ds, &object), Readiness::Ready);

        let job = id("batch", "Job");
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert_eq!(
            check(&job, &failed),
            Readiness::Failed("BackoffLimitExceeded".into())
        );
        assert_eq!(check(&id("", "ConfigMap"), &json!({})), Readiness::Ready);
        assert!(!has_readiness(&id("", "ConfigMap")));
    }
}
