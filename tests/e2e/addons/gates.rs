//! `addons_ready` as a rollout's health gate: a site whose add-on workloads are not ready
//! halts the rollout before the next site, and the next apply resumes once they are.

use super::cluster::Cluster;
use super::{Fleet, text};

const MAIN: &str = r#"
module "site" {
  for_each   = toset(["a", "b"])
  source     = "./site"
  name       = each.key
  kubeconfig = file("admin.conf")
}

rollout "apps" {
  health_gates = ["addons_ready"]
  gate_timeout = "3s"

  stage "canary" {
    sites = [module.site["a"]]
  }
  stage "rest" {
    sites = [module.site]
  }
}
"#;

/// Each site's add-on: one Deployment; the apply does not wait for it, the gate does.
const SITE: &str = r#"
variable "name" {
  type = string
}
variable "kubeconfig" {
  type      = string
  sensitive = true
}

resource "addon" "web" {
  name       = "web-${var.name}"
  kubeconfig = var.kubeconfig
  wait       = false
  manifests = [yamlencode({
    apiVersion = "apps/v1"
    kind       = "Deployment"
    metadata   = { name = "web-${var.name}", namespace = "default" }
    spec = {
      replicas = 1
      selector = { matchLabels = { app = "web-${var.name}" } }
      template = {
        metadata = { labels = { app = "web-${var.name}" } }
        spec     = { containers = [{ name = "web", image = "nginx:1" }] }
      }
    }
  })]
}
"#;

/// Writes the status a Deployment controller would once the Deployment's pod is ready.
fn make_ready(fleet: &Fleet, deployment: &str) {
    fleet.kubectl_ok(&[
        "patch", "deployment", deployment, "--subresource=status", "--type=merge", "-p",
        r#"{"status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}}"#,
    ]);
}

#[test]
fn a_rollout_gated_on_addons_waits_for_each_sites_workloads() {
    let cluster = Cluster::in_memory();
    let fleet = Fleet::new(&cluster);
    fleet.write(MAIN);
    std::fs::create_dir_all(fleet.path().join("site")).unwrap();
    std::fs::write(fleet.path().join("site/main.hcl"), SITE).unwrap();
    fleet.ok(&["init", "-input=false"]);
    let deployed = |name: &str| fleet.kubectl(&["get", "deployment", name]).status.success();

    // The canary's Deployment is applied but no controller has made it available: the
    // gate fails, the rollout halts, and site b is not touched.
    fleet.plan();
    let out = fleet.run(&["apply", "-no-color", "tfplan"]);
    let halted = text(&out);
    assert_eq!(out.status.code(), Some(1), "{halted}");
    assert!(halted.contains("Rollout halted"), "{halted}");
    assert!(
        halted.contains("module.site[\"a\"] failed: ")
            && halted.contains(
                "addons_ready (web-a: 0 of 1 objects ready; not ready: Deployment default/web-a"
            ),
        "{halted}"
    );
    assert!(deployed("web-a"));
    assert!(!deployed("web-b"), "site b was not started: {halted}");

    // The canary's workload becomes available: the next apply resumes, the canary passes,
    // and site b is applied and held by its own gate.
    make_ready(&fleet, "web-a");
    let (_, plan) = fleet.plan();
    assert!(
        plan.contains("resumes the rollout halted in stage \"canary\""),
        "{plan}"
    );
    let out = fleet.run(&["apply", "-no-color", "tfplan"]);
    let second = text(&out);
    assert_eq!(out.status.code(), Some(1), "{second}");
    assert!(
        second.contains("module.site[\"b\"] failed: ")
            && second.contains("web-b: 0 of 1 objects ready")
            && !second.contains("module.site[\"a\"] failed: "),
        "{second}"
    );
    assert!(deployed("web-b"));

    // Both available: the rollout completes.
    make_ready(&fleet, "web-b");
    let done = fleet.apply();
    assert!(done.contains("Apply complete!"), "{done}");
    let state: serde_json::Value = serde_json::from_str(&fleet.ok(&["state", "pull"])).unwrap();
    assert_eq!(state["rollouts"]["apps"]["status"], "completed", "{done}");
}
