//! Readiness waits against objects whose status the test writes as a controller would,
//! failover to another API server, and fields other managers own.

use std::time::{Duration, Instant};

use super::cluster::{Cluster, free_port};
use super::{Fleet, text};

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: default}}\n\
         spec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n\
         \x20   metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: \"{image}\"}}]}}\n"
    )
}

/// A kubeconfig whose server is a port nobody listens on, and the live server as the
/// addon's fallback.
fn fleet_with_dead_endpoint(cluster: &Cluster, fleet: &Fleet, image: &str, timeout: &str) {
    let dead = fleet.path().join("dead.conf");
    let text = std::fs::read_to_string(&fleet.kubeconfig).unwrap();
    let mut config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    config["clusters"][0]["cluster"]["server"] =
        format!("https://127.0.0.1:{}", free_port()).into();
    std::fs::write(&dead, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    fleet.write(&format!(
        r#"
resource "addon" "web" {{
  name        = "web"
  kubeconfig  = file("{dead}")
  api_servers = ["{live}"]
  manifests   = [{manifest:?}]
  timeout     = "{timeout}"
}}
"#,
        dead = dead.display(),
        live = cluster.url(0),
        manifest = deployment(image),
    ));
}

#[test]
fn applies_wait_for_rollouts_and_fail_over_to_a_live_api_server() {
    let cluster = Cluster::in_memory();
    let fleet = Fleet::new(&cluster);
    fleet_with_dead_endpoint(&cluster, &fleet, "nginx:1", "60s");
    fleet.ok(&["init", "-input=false"]);
    fleet.plan();
    // The apply waits until the Deployment is available; a controller (this test) makes it so.
    let dir = fleet.path().to_path_buf();
    let apply = std::thread::spawn(move || {
        fleetform_tests::run_in(&dir, &["apply", "-no-color", "tfplan"])
    });
    let started = Instant::now();
    while !fleet
        .kubectl(&["get", "deployment", "web"])
        .status
        .success()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the Deployment never appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(!apply.is_finished(), "apply must wait for the rollout");
    fleet.kubectl_ok(&[
        "patch", "deployment", "web", "--subresource=status", "--type=merge", "-p",
        r#"{"status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}}"#,
    ]);
    let out = apply.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));

    // A rollout that never completes fails the apply, naming what is not ready.
    fleet_with_dead_endpoint(&cluster, &fleet, "nginx:2", "3s");
    fleet.plan();
    let out = fleet.run(&["apply", "-no-color", "tfplan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("timed out after 3s waiting for: Deployment default/web (its controller has not seen the latest change)"),
        "{}",
        text(&out)
    );
    // The object was applied and is recorded: the next plan has nothing to change.
    assert_eq!(fleet.plan().0, 0);
}

#[test]
fn fields_another_manager_applies_are_left_unless_forced() {
    let cluster = Cluster::in_memory();
    let fleet = Fleet::new(&cluster);
    let hcl = |force: bool| {
        format!(
            r#"
provider "addons" {{
  kubeconfig_path = "{kubeconfig}"
}}
resource "addon" "settings" {{
  name            = "settings"
  force_conflicts = {force}
  manifests       = ["apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{color: red, size: m}}\n"]
}}
"#,
            kubeconfig = fleet.kubeconfig.display()
        )
    };
    fleet.write(&hcl(false));
    fleet.ok(&["init", "-input=false"]);
    fleet.apply();

    // Another declarative owner (a GitOps controller) takes a field with server-side apply.
    let theirs = fleet.path().join("flux.yaml");
    std::fs::write(&theirs, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {color: green}\n").unwrap();
    fleet.kubectl_ok(&[
        "apply",
        "--server-side",
        "--field-manager=kustomize-controller",
        "--force-conflicts",
        "-f",
        &theirs.display().to_string(),
    ]);
    let (code, plan) = fleet.plan();
    assert_eq!(code, 0, "not fought:\n{plan}");
    assert!(
        plan.contains("ConfigMap default/settings .data.color is managed by \"kustomize-controller\": left as it is"),
        "{plan}"
    );
    fleet.ok(&["apply", "-no-color", "tfplan"]);
    assert_eq!(
        fleet.kubectl_ok(&[
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.color}"
        ]),
        "green"
    );

    // force_conflicts takes it back.
    fleet.write(&hcl(true));
    let (code, plan) = fleet.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("+ color = \"red\""), "{plan}");
    fleet.ok(&["apply", "-no-color", "tfplan"]);
    assert_eq!(
        fleet.kubectl_ok(&[
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.color}"
        ]),
        "red"
    );
    assert_eq!(fleet.plan().0, 0);
}
