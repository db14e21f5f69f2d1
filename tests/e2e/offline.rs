//! Clinics that drop off the network, on the lab's real OpenSSH hosts: three clinic sites,
//! two cut off during a change. Each offline site is reported once, by name, with the
//! changes deferred; the reachable clinic is applied and the apply succeeds; the deferred
//! work is kept in state and shown by the next plans; once the sites are back, the next
//! apply makes it and nothing stays deferred. Through `plan -out` and `apply PLANFILE`.

use std::path::Path;

use fleetform_tests::lab::Lab;
use fleetform_tests::{output_text as text, plan_then_apply, run_in};

const CLINIC: &str = r#"
variable "host" {
  type = object({ address = string, port = number, host_key = string })
}
variable "release" {
  type = number
}

resource "host" "this" {
  address  = var.host.address
  port     = var.host.port
  host_key = var.host.host_key
}

resource "host_file" "release" {
  host    = host.this.id
  path    = "/etc/kubernetes/fleetform-release"
  content = "release ${var.release}\n"
}

resource "host_file" "notes" {
  host    = host.this.id
  path    = "/etc/kubernetes/fleetform-notes"
  content = "release ${var.release} after ${host_file.release.sha256}\n"
}
"#;

fn fleet(release: u32) -> String {
    format!(
        r#"{variable}
provider "host" {{
  private_key_file = var.lab.client_key
  connect_timeout  = "2s"
}}

module "clinic" {{
  for_each = var.lab.hosts
  source   = "./clinic"
  host     = each.value
  release  = {release}
}}
"#,
        variable = Lab::VARIABLE
    )
}

fn release_on(lab: &Lab, host: &str) -> String {
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

fn deferred(dir: &Path) -> Vec<String> {
    let out = run_in(dir, &["state", "pull"]);
    assert!(out.status.success(), "state pull: {}", text(&out));
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    state["deferred"]
        .as_object()
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn two_clinics_offline_are_two_reports_their_work_waits_in_state_and_the_rest_completes() {
    let lab = Lab::start(3).expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("clinic")).unwrap();
    std::fs::write(d.join("clinic/main.hcl"), CLINIC).unwrap();
    std::fs::write(d.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    std::fs::write(d.join("main.hcl"), fleet(1)).unwrap();
    let out = run_in(d, &["init", "-input=false"]);
    assert!(out.status.success(), "init: {}", text(&out));
    let out = plan_then_apply(d, &["-no-color"]);
    assert!(out.status.success(), "{}", text(&out));

    // Two clinics lose their link; release 2 goes out.
    lab.cut("lab-2").unwrap();
    lab.cut("lab-3").unwrap();
    std::fs::write(d.join("main.hcl"), fleet(2)).unwrap();
    let plan = run_in(
        d,
        &["plan", "-input=false", "-no-color", "-out=release.plan"],
    );
    assert!(plan.status.success(), "{}", text(&plan));
    let apply = run_in(d, &["apply", "-input=false", "-no-color", "release.plan"]);
    let shown = format!("{}\n{}", text(&plan), text(&apply));
    assert!(
        apply.status.success(),
        "an offline clinic does not fail the apply: {shown}"
    );
    for site in ["lab-2", "lab-3"] {
        let name = format!("module.clinic[\"{site}\"]");
        // Once at plan, once at apply: never per object.
        assert_eq!(
            shown
                .matches(&format!("{name}: 3 object(s) could not be refreshed"))
                .count(),
            1,
            "{shown}"
        );
        assert_eq!(
            shown
                .matches(&format!("{name} could not be reached"))
                .count(),
            1,
            "{shown}"
        );
        for object in ["host_file.release", "host_file.notes"] {
            assert!(
                shown.contains(&format!("  - {name}.{object} (update)")),
                "{shown}"
            );
        }
    }
    assert_eq!(
        shown.matches("Site unreachable: changes deferred").count(),
        2,
        "{shown}"
    );
    assert_eq!(
        release_on(&lab, "lab-1"),
        "release 2",
        "the reachable clinic was applied"
    );
    let waiting = deferred(d);
    assert_eq!(waiting.len(), 4, "{waiting:?}");
    assert!(waiting.iter().all(|a| !a.contains("lab-1")), "{waiting:?}");

    // Every plan shows the deferred work while the clinics stay offline.
    let out = run_in(d, &["plan", "-no-color"]);
    let shown = text(&out);
    for site in ["lab-2", "lab-3"] {
        assert!(
            shown.contains(&format!(
                "Deferred: module.clinic[\"{site}\"]: 2 change(s) deferred since"
            )),
            "{shown}"
        );
    }

    // Back online: the next apply makes the deferred changes and nothing stays deferred.
    lab.heal("lab-2").unwrap();
    lab.heal("lab-3").unwrap();
    let out = plan_then_apply(d, &["-no-color"]);
    assert!(out.status.success(), "{}", text(&out));
    for host in ["lab-1", "lab-2", "lab-3"] {
        assert_eq!(release_on(&lab, host), "release 2", "{host}");
    }
    assert!(deferred(d).is_empty(), "{:?}", deferred(d));
    let out = run_in(d, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.status.code(), Some(0), "converged: {}", text(&out));
}
