//! Rollouts through the user's workflow (`plan -out`, then `apply PLANFILE` in another
//! process): five sites of files, a canary stage and a stage in batches of two. Which
//! sites changed in which batch, a failing site halting the rollout with the sites it had
//! not reached left exactly as they were, the next apply resuming it, and a skipped site.

use std::path::Path;

use fleetform_tests::{output_text as text, plan_then_apply, run_in};

const SITES: [&str; 5] = ["a", "b", "c", "d", "e"];

const SITE_MODULE: &str = r#"
variable "name" { type = string }
variable "generation" { type = number }

resource "fleetform_data" "config" {
  input = { site = var.name, generation = var.generation }
}

# A new generation is a new file (the old one is removed): a replacement per site.
resource "local_file" "release" {
  filename = "${path.root}/out/${var.name}-${var.generation}.txt"
  content  = "site ${var.name} runs generation ${fleetform_data.config.output.generation}\n"
}
"#;

fn fleet(generation: u32, skip: &str) -> String {
    format!(
        r#"
variable "generation" {{
  type    = number
  default = {generation}
}}

module "site" {{
  for_each   = toset(["a", "b", "c", "d", "e"])
  source     = "./site"
  name       = each.key
  generation = var.generation
}}

rollout "release" {{
  failure_budget = 0
  {skip}

  stage "canary" {{
    sites = [module.site["a"]]
  }}

  stage "clinics" {{
    sites      = [module.site]
    batch_size = 2
  }}
}}
"#
    )
}

fn setup(dir: &Path) {
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(dir.join("site/main.hcl"), SITE_MODULE).unwrap();
    std::fs::write(dir.join("main.hcl"), fleet(1, "")).unwrap();
    let out = run_in(dir, &["init", "-input=false"]);
    assert!(out.status.success(), "init: {}", text(&out));
}

/// The generation each site's file is at (None: no file).
fn generations(dir: &Path) -> Vec<Option<u32>> {
    SITES
        .iter()
        .map(|site| {
            (1..10).rev().find(|g| {
                let file = dir.join(format!("out/{site}-{g}.txt"));
                file.is_file()
            })
        })
        .collect()
}

fn state(dir: &Path) -> serde_json::Value {
    let out = run_in(dir, &["state", "pull"]);
    assert!(out.status.success(), "state pull: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("state is JSON")
}

/// The position in `output` of the first line containing `needle`.
fn line_of(output: &str, needle: &str) -> usize {
    output
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{output}"))
}

#[test]
fn sites_change_stage_by_stage_in_batches_a_failure_halts_and_the_next_apply_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);

    // The first apply: the plan shows the stages and batches, and the apply follows them.
    let plan = run_in(d, &["plan", "-no-color"]);
    let shown = text(&plan);
    assert!(plan.status.success(), "{shown}");
    for line in [
        "Rollout \"release\" (failure budget 0; no health gates):",
        "  stage \"canary\":",
        "    batch 1: module.site[\"a\"] (2 changes)",
        "  stage \"clinics\":",
        "    batch 1: module.site[\"b\"] (2 changes), module.site[\"c\"] (2 changes)",
        "    batch 2: module.site[\"d\"] (2 changes), module.site[\"e\"] (2 changes)",
    ] {
        assert!(
            shown.contains(line),
            "{line:?} missing from the plan:\n{shown}"
        );
    }
    let out = plan_then_apply(d, &["-no-color"]);
    let applied = text(&out);
    assert!(out.status.success(), "{applied}");
    let canary = line_of(
        &applied,
        "stage \"canary\", batch 1 of 1: module.site[\"a\"]",
    );
    let first = line_of(
        &applied,
        "stage \"clinics\", batch 1 of 2: module.site[\"b\"], module.site[\"c\"]",
    );
    let second = line_of(
        &applied,
        "stage \"clinics\", batch 2 of 2: module.site[\"d\"], module.site[\"e\"]",
    );
    let created = |site: &str| {
        line_of(
            &applied,
            &format!("module.site[\"{site}\"].local_file.release: Creation complete"),
        )
    };
    assert!(canary < created("a") && created("a") < first, "{applied}");
    for site in ["b", "c"] {
        assert!(first < created(site) && created(site) < second, "{applied}");
    }
    for site in ["d", "e"] {
        assert!(second < created(site), "{applied}");
    }
    assert_eq!(generations(d), vec![Some(1); 5]);
    assert_eq!(state(d)["rollouts"]["release"]["status"], "completed");

    // Generation 2, and site c cannot take it (a directory where its new file goes): the
    // canary and the first batch change, c fails, and the rollout halts before d and e.
    std::fs::write(d.join("main.hcl"), fleet(2, "")).unwrap();
    std::fs::create_dir_all(d.join("out/c-2.txt")).unwrap();
    let out = plan_then_apply(d, &["-no-color"]);
    let halted = text(&out);
    assert_eq!(out.status.code(), Some(1), "{halted}");
    assert!(halted.contains("Rollout halted"), "{halted}");
    assert!(
        halted.contains("Rollout \"release\": module.site[\"c\"] failed"),
        "{halted}"
    );
    assert!(
        !halted.contains("batch 2 of 2"),
        "the second batch never opened:\n{halted}"
    );
    let now = generations(d);
    assert_eq!(now[0], Some(2), "the canary changed");
    assert_eq!(now[1], Some(2), "b, in c's batch, changed");
    assert_eq!(now[3], Some(1), "d was not reached: {now:?}");
    assert_eq!(now[4], Some(1), "e was not reached: {now:?}");
    let recorded = state(d);
    let progress = &recorded["rollouts"]["release"];
    assert_eq!(progress["status"], "halted", "{progress}");
    assert_eq!(progress["stage"], "clinics");
    assert_eq!(progress["batch"], 1);
    assert!(
        progress["failed"]["module.site[\"c\"]"].is_string(),
        "{progress}"
    );

    // The site is repaired: the next plan says it resumes, c goes first, then d and e.
    std::fs::remove_dir(d.join("out/c-2.txt")).unwrap();
    let plan = run_in(d, &["plan", "-no-color"]);
    let shown = text(&plan);
    assert!(plan.status.success(), "{shown}");
    assert!(
        shown.contains("resumes the rollout halted in stage \"clinics\", batch 1; failed before: module.site[\"c\"]"),
        "{shown}"
    );
    assert!(
        shown.contains("    batch 1: module.site[\"c\"]"),
        "the failed site goes first:\n{shown}"
    );
    assert!(
        !shown.contains("module.site[\"a\"] ("),
        "the canary is done:\n{shown}"
    );
    let out = plan_then_apply(d, &["-no-color"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(generations(d), vec![Some(2); 5]);
    assert_eq!(state(d)["rollouts"]["release"]["status"], "completed");
    let out = run_in(d, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.status.code(), Some(0), "converged: {}", text(&out));
}

#[test]
fn a_skipped_site_keeps_its_changes_for_later() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let out = plan_then_apply(d, &["-no-color"]);
    assert!(out.status.success(), "{}", text(&out));

    std::fs::write(d.join("main.hcl"), fleet(2, "skip = [module.site[\"e\"]]")).unwrap();
    let plan = run_in(d, &["plan", "-no-color"]);
    let shown = text(&plan);
    assert!(
        shown.contains("skipped (changes wait): module.site[\"e\"] (2 changes)"),
        "{shown}"
    );
    let out = plan_then_apply(d, &["-no-color"]);
    let applied = text(&out);
    assert!(
        out.status.success(),
        "a skipped site is not a failure: {applied}"
    );
    assert_eq!(
        generations(d),
        vec![Some(2), Some(2), Some(2), Some(2), Some(1)],
        "{applied}"
    );
    // Without the skip, the next apply takes e.
    std::fs::write(d.join("main.hcl"), fleet(2, "")).unwrap();
    let out = plan_then_apply(d, &["-no-color"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(generations(d), vec![Some(2); 5]);
}

#[test]
fn a_rollout_naming_no_module_is_an_error_at_its_reference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let bad = fleet(1, "").replace(
        "sites = [module.site[\"a\"]]",
        "sites = [module.clinic[\"a\"]]",
    );
    std::fs::write(d.join("main.hcl"), bad).unwrap();
    let out = run_in(d, &["plan", "-no-color"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("Reference to undeclared module"), "{shown}");
    assert!(shown.contains("module.clinic[\"a\"]"), "{shown}");
}

/// A clinic on one lab host: its host, a one-host cluster, and a release marker file;
/// `broken_release` is a release that stops the clinic's API server after it is applied.
const CLINIC_MODULE: &str = r#"
variable "host" {
  type = object({ address = string, port = number, host_key = string })
}
variable "name" {
  type = string
}
variable "release" {
  type = number
}
variable "broken_release" {
  type    = bool
  default = false
}

resource "host" "this" {
  address  = var.host.address
  port     = var.host.port
  host_key = var.host.host_key
}

resource "cluster" "this" {
  name                      = var.name
  kubernetes_version        = "1.30.5"
  control_plane_hosts       = [host.this.id]
  control_plane_schedulable = true
  install_runtime           = false
}

resource "host_file" "release" {
  host       = host.this.id
  path       = "/etc/kubernetes/fleetform-release"
  content    = "release ${var.release}\n"
  depends_on = [cluster.this]
}

resource "host_command" "broken" {
  count      = var.broken_release ? 1 : 0
  host       = host.this.id
  command    = ["mv", "/etc/kubernetes/manifests/kube-apiserver.yaml", "/etc/kubernetes/kube-apiserver.yaml.off"]
  triggers   = { release = var.release }
  depends_on = [host_file.release]
}
"#;

fn clinics(release: u32, broken: &str) -> String {
    format!(
        r#"{variable}
provider "host" {{
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}}
provider "kubernetes" {{
  wait_timeout = "90s"
}}

module "clinic" {{
  for_each       = var.lab.hosts
  source         = "./clinic"
  host           = each.value
  name           = each.key
  release        = {release}
  broken_release = each.key == "{broken}"
}}

rollout "release" {{
  health_gates = ["api_ready", "nodes_ready"]
  gate_timeout = "15s"

  stage "canary" {{
    sites = [module.clinic["lab-1"]]
    soak  = "10s"
  }}
  stage "clinics" {{
    sites = [module.clinic]
  }}
}}
"#,
        variable = fleetform_tests::lab::Lab::VARIABLE
    )
}

fn marker(lab: &fleetform_tests::lab::Lab, host: &str) -> String {
    let out = lab.exec(
        host,
        &[
            "sh",
            "-c",
            "cat /etc/kubernetes/fleetform-release 2>/dev/null || true",
        ],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_canary_whose_api_server_stops_serving_halts_the_rollout_before_the_other_clinic() {
    let lab = fleetform_tests::lab::Lab::start(2).expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("clinic")).unwrap();
    std::fs::write(d.join("clinic/main.hcl"), CLINIC_MODULE).unwrap();
    std::fs::write(d.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    std::fs::write(d.join("main.hcl"), clinics(1, "")).unwrap();
    let out = run_in(d, &["init", "-input=false"]);
    assert!(out.status.success(), "init: {}", text(&out));

    // Both clinics come up; the canary's gates pass before the other clinic starts.
    let out = plan_then_apply(d, &["-no-color"]);
    let applied = text(&out);
    assert!(out.status.success(), "{applied}");
    let canary_done = line_of(
        &applied,
        "module.clinic[\"lab-1\"].host_file.release: Creation complete",
    );
    let second = line_of(
        &applied,
        "stage \"clinics\", batch 1 of 1: module.clinic[\"lab-2\"]",
    );
    assert!(canary_done < second, "{applied}");
    assert_eq!(marker(&lab, "lab-1"), "release 1");
    assert_eq!(marker(&lab, "lab-2"), "release 1");

    // Release 2 breaks the canary's API server: its change applies, its api_ready gate
    // does not pass, and the rollout halts with lab-2 still on release 1.
    std::fs::write(d.join("main.hcl"), clinics(2, "lab-1")).unwrap();
    let out = plan_then_apply(d, &["-no-color"]);
    let halted = text(&out);
    assert_eq!(out.status.code(), Some(1), "{halted}");
    assert!(halted.contains("Rollout halted"), "{halted}");
    // Caught by the gates right after the batch or by those after the soak, depending on
    // how soon the lab's node agent stops the API server.
    assert!(
        halted.contains("module.clinic[\"lab-1\"] failed: ")
            && halted.contains("health gates did not pass within 15s")
            && halted.contains("api_ready"),
        "{halted}"
    );
    assert_eq!(marker(&lab, "lab-1"), "release 2");
    assert_eq!(
        marker(&lab, "lab-2"),
        "release 1",
        "the other clinic was not touched"
    );

    // A fixed release: refresh finds the API server's manifest gone and restores it, the
    // canary's gates pass again, and the rollout goes on to lab-2.
    std::fs::write(d.join("main.hcl"), clinics(3, "")).unwrap();
    let out = plan_then_apply(d, &["-no-color"]);
    let resumed = text(&out);
    assert!(out.status.success(), "{resumed}");
    assert!(
        resumed.contains("resumes the rollout halted in stage \"canary\""),
        "{resumed}"
    );
    assert_eq!(marker(&lab, "lab-1"), "release 3");
    assert_eq!(marker(&lab, "lab-2"), "release 3");
    let state = state(d);
    assert_eq!(state["rollouts"]["release"]["status"], "completed");
}

#[test]
fn a_gate_nothing_in_the_sites_reports_is_a_warning_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let gated = fleet(1, "").replace(
        "failure_budget = 0",
        "failure_budget = 0\n  health_gates   = [\"nodes_redy\"]",
    );
    std::fs::write(d.join("main.hcl"), gated).unwrap();
    let out = run_in(d, &["plan", "-no-color"]);
    let shown = text(&out);
    assert!(out.status.success(), "a warning, not an error: {shown}");
    assert!(shown.contains("Health gate reported by nothing"), "{shown}");
    assert!(shown.contains("\"nodes_redy\""), "{shown}");
    assert!(
        shown.contains("main.hcl"),
        "it points at the rollout: {shown}"
    );
}
