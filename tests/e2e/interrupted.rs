//! Operations that survive a kill, on the lab's real OpenSSH hosts: an apply killed -9 at
//! a random moment, 20 times, while a `host_command` runs and while a cluster bootstraps.
//! A command without a guard never runs twice without the user's say (the next plan names
//! the interrupted run and asks; the test decides as a user would, from what the host
//! shows); a cluster never gets a second CA (the host's CA after the kill is the one the
//! re-apply ends with and the one the state records). Each round's next plan lists what was
//! interrupted, and a re-apply through `plan -out` + `apply PLANFILE` converges. Needs root
//! (the lab).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fleetform_tests::kill::KillMoments;
use fleetform_tests::lab::{Lab, LabSpec};
use fleetform_tests::{fleetform, output_text as text, plan_then_apply, run_in};

const ROUNDS: usize = 20;

const LAB_VARIABLE: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}
resource "host" "one" {
  address  = var.lab.hosts["lab-1"].address
  host_key = var.lab.hosts["lab-1"].host_key
}
"#;

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    assert!(out.status.success(), "fleetform {args:?}:\n{}", text(&out));
    text(&out)
}

/// Starts `apply -auto-approve ARGS` and kills it -9 at the next of `moments`; true when it
/// was still running (killed mid-apply).
fn apply_killed(dir: &Path, args: &[&str], moments: &mut KillMoments) -> bool {
    let mut child: Child = fleetform()
        .current_dir(dir)
        .args(["apply", "-auto-approve", "-no-color"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn apply");
    moments.kill(&mut child)
}

fn state(dir: &Path) -> serde_json::Value {
    let out = run_in(dir, &["state", "pull"]);
    assert!(out.status.success(), "state pull: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("state pull prints JSON")
}

fn pending_addresses(state: &serde_json::Value) -> Vec<String> {
    state["pending_operations"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .filter_map(|o| o["address"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every `key` string anywhere in `value`.
fn strings_named(value: &serde_json::Value, key: &str, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v.as_str() {
                    Some(s) if k == key && !s.is_empty() => found.push(s.to_owned()),
                    _ => strings_named(v, key, found),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                strings_named(v, key, found);
            }
        }
        _ => {}
    }
}

/// The lines of the host's run log.
fn runs(lab: &Lab) -> Vec<String> {
    let out = lab.exec(
        "lab-1",
        &[
            "sh",
            "-c",
            "cat /var/lib/kubelet/fleetform-runs 2>/dev/null || true",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn starts_of(lines: &[String], round: usize) -> usize {
    let wanted = format!("start {round}");
    lines.iter().filter(|l| **l == wanted).count()
}

#[test]
fn a_killed_host_command_never_runs_twice_without_the_users_say() {
    let lab = Lab::start_with(LabSpec {
        hosts: 1,
        private: 0,
    })
    .expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    // No creates/unless guard: nothing on the host can tell whether it ran.
    let main = format!(
        r#"{LAB_VARIABLE}
variable "round" {{
  type = number
}}
resource "host_command" "step" {{
  host     = host.one.id
  command  = ["sh", "-c", "echo \"start $1\" >> /var/lib/kubelet/fleetform-runs; sleep 1; echo \"end $1\" >> /var/lib/kubelet/fleetform-runs", "sh", tostring(var.round)]
  triggers = {{ round = var.round }}
}}
"#
    );
    std::fs::write(d.join("main.hcl"), main).unwrap();
    ok(d, &["init", "-input=false"]);
    let started = Instant::now();
    ok(d, &["apply", "-auto-approve", "-var", "round=0"]);
    let full = started.elapsed();
    let mut moments = KillMoments::new(
        0xC0FFEE,
        full + Duration::from_millis(200),
        Duration::from_millis(100),
    );
    let (mut killed, mut asked) = (0, 0);
    for round in 1..=ROUNDS {
        let var = format!("round={round}");
        if apply_killed(d, &["-var", &var], &mut moments) {
            killed += 1;
        }
        let pending = pending_addresses(&state(d));
        let plan = run_in(d, &["plan", "-no-color", "-var", &var]);
        let plan_text = text(&plan);
        if pending.iter().any(|a| a == "host_command.step") {
            // The plan names the interrupted run and asks instead of running it again.
            asked += 1;
            assert_eq!(plan.status.code(), Some(1), "round {round}: {plan_text}");
            for needed in [
                "Interrupted change needs a decision",
                "host_command.step",
                "-replace=host_command.step",
                "fleetform state pending done host_command.step",
            ] {
                assert!(
                    plan_text.contains(needed),
                    "round {round}: {needed:?} missing:\n{plan_text}"
                );
            }
            // The user looks at the host: it ran, or it did not.
            if starts_of(&runs(&lab), round) == 1 {
                ok(d, &["state", "pending", "done", "host_command.step"]);
            } else {
                let out = plan_then_apply(
                    d,
                    &["-var", &var, "-replace=host_command.step", "-no-color"],
                );
                assert!(out.status.success(), "round {round}: {}", text(&out));
            }
        } else {
            assert!(plan.status.success(), "round {round}: {plan_text}");
        }
        let out = plan_then_apply(d, &["-var", &var, "-no-color"]);
        assert!(out.status.success(), "round {round}: {}", text(&out));
        let lines = runs(&lab);
        assert_eq!(
            starts_of(&lines, round),
            1,
            "round {round}: the command ran once, no more:\n{}",
            lines.join("\n")
        );
        let again = run_in(d, &["plan", "-detailed-exitcode", "-var", &var]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "round {round}: {}",
            text(&again)
        );
    }
    let lines = runs(&lab);
    for round in 0..=ROUNDS {
        assert_eq!(starts_of(&lines, round), 1, "{}", lines.join("\n"));
    }
    println!("host_command: {killed} of {ROUNDS} applies killed mid-run, {asked} asked the user");
    assert!(
        killed >= ROUNDS / 2,
        "only {killed} applies were killed mid-run"
    );
    assert!(asked >= 1, "no kill landed while the command ran");
}

#[test]
fn a_killed_cluster_bootstrap_never_gets_a_second_ca() {
    let lab = Lab::start_with(LabSpec {
        hosts: 1,
        private: 0,
    })
    .expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    let main = format!(
        r#"{LAB_VARIABLE}
provider "kubernetes" {{
  wait_timeout = "90s"
}}
resource "cluster" "clinic" {{
  name                      = "clinic"
  kubernetes_version        = "1.30.5"
  control_plane_hosts       = [host.one.id]
  control_plane_schedulable = true
  install_runtime           = false
}}
output "ca_certificate" {{
  value = cluster.clinic.ca_certificate
}}
"#
    );
    std::fs::write(d.join("main.hcl"), main).unwrap();
    ok(d, &["init", "-input=false"]);
    let host_ca = || {
        let out = lab.exec(
            "lab-1",
            &[
                "sh",
                "-c",
                "cat /etc/kubernetes/pki/ca.crt 2>/dev/null || true",
            ],
        );
        let ca = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (!ca.is_empty()).then_some(ca)
    };
    // How long a whole bootstrap takes, then torn down again.
    let started = Instant::now();
    ok(d, &["apply", "-auto-approve"]);
    let full = started.elapsed();
    ok(d, &["destroy", "-auto-approve"]);
    let mut moments = KillMoments::new(0xCA, full, Duration::from_millis(100));
    let (mut killed, mut resumed) = (0, 0);
    for round in 1..=ROUNDS {
        if apply_killed(d, &[], &mut moments) {
            killed += 1;
        }
        let on_host = host_ca();
        let recorded = state(d);
        let mut cas = Vec::new();
        strings_named(&recorded, "ca_certificate", &mut cas);
        cas.dedup();
        assert!(
            cas.len() <= 1,
            "round {round}: two CAs in the state: {cas:?}"
        );
        if let Some(ca) = &on_host {
            // A CA reached the host only after the state held it.
            assert_eq!(
                cas.first().map(|c| c.trim()),
                Some(ca.as_str()),
                "round {round}: the host's CA is not the state's"
            );
        }
        let plan = run_in(d, &["plan", "-no-color"]);
        let plan_text = text(&plan);
        assert!(plan.status.success(), "round {round}: {plan_text}");
        if pending_addresses(&recorded)
            .iter()
            .any(|a| a == "cluster.clinic")
        {
            resumed += 1;
            assert!(
                plan_text.contains("Changes were interrupted")
                    && plan_text.contains("# cluster.clinic creating it"),
                "round {round}: the plan lists the interrupted bootstrap:\n{plan_text}"
            );
        }
        let out = plan_then_apply(d, &["-no-color"]);
        assert!(
            out.status.success(),
            "round {round}: {}\n{}",
            text(&out),
            fleetform_tests::cluster_sites::agent_logs(&lab)
        );
        let out = run_in(d, &["output", "-raw", "ca_certificate"]);
        assert!(out.status.success(), "round {round}: {}", text(&out));
        let final_ca = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(
            host_ca().as_deref(),
            Some(final_ca.as_str()),
            "round {round}: the host serves the state's CA"
        );
        if let Some(first) = &on_host {
            assert_eq!(
                *first, final_ca,
                "round {round}: the re-apply replaced the CA the killed run had put on the host"
            );
        }
        let again = run_in(d, &["plan", "-detailed-exitcode"]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "round {round}: {}",
            text(&again)
        );
        ok(d, &["destroy", "-auto-approve"]);
    }
    println!(
        "cluster: {killed} of {ROUNDS} bootstraps killed mid-run, {resumed} resumed from their checkpoint (a bootstrap takes {full:?})"
    );
    assert!(
        killed >= ROUNDS / 2,
        "only {killed} bootstraps were killed mid-run"
    );
    assert!(resumed >= 1, "no kill landed after the PKI was saved");
}
