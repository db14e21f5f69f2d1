//! The clinic scenario end to end, with examples/clinic-fleet as it is in the repository,
//! on the lab: a datacenter (three control-plane hosts behind a virtual IP, a Linux pool, a
//! Windows pool declared empty) and three clinics, each behind its own gateway, every
//! cluster with its add-ons and connected to the lab's Azure Arc with its extensions and
//! GitOps configuration, through the user's workflow (`init`, `plan -out`, `apply
//! PLANFILE`). The fleet comes up stage by stage; a Kubernetes patch release rolls out
//! canary first while one clinic is cut off (the rest completes, its upgrade is deferred)
//! and is finished once it is back; a release whose canary cannot be reached halts before
//! any other site changes, and the next apply resumes it.

use std::path::{Path, PathBuf};

use fleetform_tests::lab::arm::fleet::ArcFleet;
use fleetform_tests::lab::arm::{Application, ArmLab};
use fleetform_tests::lab::{Lab, LabSpec};
use fleetform_tests::{output_text as text, run_in, shared_dir, workspace};

/// The example and the modules it uses, side by side as in the repository, in `dir`.
fn copy_example(dir: &Path) -> PathBuf {
    let copy = |from: &Path, to: &Path| {
        let out = std::process::Command::new("cp")
            .arg("-r")
            .arg(from)
            .arg(to)
            .output()
            .expect("cp runs");
        assert!(out.status.success(), "{}", text(&out));
    };
    std::fs::create_dir_all(dir.join("examples")).unwrap();
    copy(
        &workspace().join("examples/clinic-fleet"),
        &dir.join("examples"),
    );
    copy(&workspace().join("modules"), dir);
    let fleet = dir.join("examples/clinic-fleet");
    // The offline source mirror, as run.sh fills it.
    let metallb = shared_dir().join("mirror/metallb/v0.16.1/metallb-native.yaml");
    let bytes = std::fs::read(&metallb).expect("the shared MetalLB release");
    let mirror = fleet.join(".mirror/sha256");
    std::fs::create_dir_all(&mirror).unwrap();
    std::fs::write(
        mirror.join(fleetform_provider_addons::sources::sha256_hex(&bytes)),
        bytes,
    )
    .unwrap();
    for leftover in ["fleet.state", "fleet.state.backup", ".fleetform"] {
        let _ = std::fs::remove_file(fleet.join(leftover));
    }
    fleet
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    assert!(out.status.success(), "fleetform {args:?}:\n{}", text(&out));
    text(&out)
}

/// `plan -out` then `apply PLANFILE` in another process; both outputs, and the apply's
/// exit code.
fn plan_and_apply(dir: &Path, version: &str) -> (String, Option<i32>) {
    let var = format!("kubernetes_version={version}");
    let plan = ok(
        dir,
        &[
            "plan",
            "-input=false",
            "-no-color",
            "-out=release.plan",
            "-var",
            &var,
        ],
    );
    let apply = run_in(dir, &["apply", "-input=false", "-no-color", "release.plan"]);
    (format!("{plan}\n{}", text(&apply)), apply.status.code())
}

fn state(dir: &Path) -> serde_json::Value {
    let out = run_in(dir, &["state", "pull"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Kubernetes version recorded for each cluster, by site.
fn versions(dir: &Path) -> Vec<(String, String)> {
    let state = state(dir);
    let mut found: Vec<(String, String)> = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "cluster")
        .map(|r| {
            let site = r["module"].as_str().unwrap_or_default().to_owned();
            let version = r["instances"][0]["attributes"]["kubernetes_version"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (site, version)
        })
        .collect();
    found.sort();
    found
}

fn version_of(dir: &Path, site: &str) -> String {
    versions(dir)
        .into_iter()
        .find(|(s, _)| s == site)
        .unwrap_or_else(|| panic!("no cluster in {site}"))
        .1
}

/// The line numbers of the rollout's batch announcements, in order.
fn batches(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.starts_with("Rollout \"fleet\": stage "))
        .map(str::to_owned)
        .collect()
}

const TENANT: &str = "4d1c5e7a-0b2f-4e6a-9c3d-8f7e6d5c4b3a";
const SUBSCRIPTION: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const CLIENT: &str = "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182";
const SECRET: &str = "lab-client-secret";

const NORTH: &str = "module.clinic[\"north\"]";
const LAKESIDE: &str = "module.clinic[\"lakeside\"]";
const HILLCREST: &str = "module.clinic[\"hillcrest\"]";
const DATACENTER: &str = "module.datacenter";

#[test]
fn the_clinic_fleet_comes_up_upgrades_canary_first_and_rides_out_an_offline_clinic() {
    let mut lab = Lab::start_with(LabSpec {
        hosts: 7,
        private: 3,
    })
    .expect("the lab starts");
    for _ in 0..5 {
        lab.lease_virtual_ip().expect("a virtual IP");
    }
    let mut config = ArmLab::config(TENANT, SUBSCRIPTION);
    config.applications = vec![Application {
        client_id: CLIENT.into(),
        secrets: vec![SECRET.into()],
        ..Application::default()
    }];
    let azure = ArcFleet::new(ArmLab::start(config).expect("the lab's Azure starts"));
    let scratch = tempfile::tempdir().unwrap();
    let fleet = copy_example(scratch.path());
    std::fs::write(
        fleet.join("lab.auto.hcl"),
        lab.to_hcl_with(&azure.lab_azure_hcl(CLIENT, SECRET)),
    )
    .unwrap();
    ok(&fleet, &["init", "-input=false"]);

    // The fleet comes up stage by stage: the canary clinic, the others one at a time, the
    // datacenter last.
    let (out, code) = plan_and_apply(&fleet, "1.31.2");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        batches(&out),
        vec![
            format!("Rollout \"fleet\": stage \"canary\", batch 1 of 1: {NORTH}"),
            "Rollout \"fleet\": stage \"canary\" passed; soaking 30s before the next stage".into(),
            format!("Rollout \"fleet\": stage \"clinics\", batch 1 of 2: {HILLCREST}"),
            format!("Rollout \"fleet\": stage \"clinics\", batch 2 of 2: {LAKESIDE}"),
            format!("Rollout \"fleet\": stage \"datacenter\", batch 1 of 1: {DATACENTER}"),
        ],
        "{out}"
    );
    // Every cluster is connected to Azure Arc, with its two extensions and its Flux
    // configuration.
    let resources = azure.arm.resources();
    // Resources of a kind: ids whose last type segment is `kind`.
    let count = |kind: &str| {
        resources
            .iter()
            .filter(|r| {
                let id = r["id"].as_str().unwrap_or_default();
                id.rsplit_once(kind)
                    .is_some_and(|(_, name)| !name.contains('/'))
                    && r["body"]["properties"]["provisioningState"] == "Succeeded"
            })
            .count()
    };
    assert_eq!(count("/connectedClusters/"), 4, "{resources:#?}");
    assert_eq!(count("/extensions/"), 8, "{resources:#?}");
    assert_eq!(count("/fluxConfigurations/"), 4, "{resources:#?}");
    let empty = run_in(&fleet, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(empty.status.code(), Some(0), "{}", text(&empty));

    // A patch release while lakeside's gateway is cut off: the canary first, then the
    // clinics and the datacenter; lakeside's upgrade is deferred and the apply succeeds.
    lab.cut("lab-6").unwrap();
    let (out, code) = plan_and_apply(&fleet, "1.31.5");
    assert_eq!(
        code,
        Some(0),
        "an offline clinic does not stop the fleet:\n{out}"
    );
    assert_eq!(
        out.matches("Site unreachable: changes deferred").count(),
        1,
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{LAKESIDE} could not be reached; its changes wait"
        )),
        "{out}"
    );
    let order = batches(&out);
    assert!(
        order[0].ends_with(NORTH) && order.last().unwrap().ends_with(DATACENTER),
        "canary first, datacenter last: {order:?}"
    );
    for site in [NORTH, HILLCREST, DATACENTER] {
        assert_eq!(version_of(&fleet, site), "1.31.5", "{site}:\n{out}");
    }
    assert_eq!(version_of(&fleet, LAKESIDE), "1.31.2");
    let deferred = state(&fleet)["deferred"].clone();
    assert!(
        deferred
            .as_object()
            .is_some_and(|d| d.keys().all(|a| a.starts_with(LAKESIDE)) && !d.is_empty()),
        "{deferred}"
    );
    let shown = ok(
        &fleet,
        &["plan", "-no-color", "-var", "kubernetes_version=1.31.5"],
    );
    assert!(shown.contains(&format!("Deferred: {LAKESIDE}")), "{shown}");

    // Back online, the next apply finishes lakeside's upgrade and nothing stays deferred.
    lab.heal("lab-6").unwrap();
    let (out, code) = plan_and_apply(&fleet, "1.31.5");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        batches(&out),
        vec![format!(
            "Rollout \"fleet\": stage \"clinics\", batch 1 of 1: {LAKESIDE}"
        )],
        "{out}"
    );
    assert!(
        versions(&fleet).iter().all(|(_, v)| v == "1.31.5"),
        "{:?}",
        versions(&fleet)
    );
    assert!(
        state(&fleet)["deferred"].is_null(),
        "{}",
        state(&fleet)["deferred"]
    );

    // The next release while the canary clinic is cut off: nothing of the canary stage can
    // be reached, so the rollout halts and no other site changes ...
    lab.cut("lab-5").unwrap();
    let (out, code) = plan_and_apply(&fleet, "1.31.6");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Rollout halted"), "{out}");
    assert!(out.contains("none of its sites could be reached"), "{out}");
    assert!(
        versions(&fleet).iter().all(|(_, v)| v == "1.31.5"),
        "{:?}",
        versions(&fleet)
    );
    assert_eq!(state(&fleet)["rollouts"]["fleet"]["status"], "halted");

    // ... and once it is back, the next apply resumes it from the canary.
    lab.heal("lab-5").unwrap();
    let (out, code) = plan_and_apply(&fleet, "1.31.6");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("resumes the rollout halted in stage \"canary\""),
        "{out}"
    );
    assert!(batches(&out)[0].ends_with(NORTH), "{out}");
    assert!(
        versions(&fleet).iter().all(|(_, v)| v == "1.31.6"),
        "{:?}",
        versions(&fleet)
    );
    assert_eq!(state(&fleet)["rollouts"]["fleet"]["status"], "completed");
    let empty = run_in(
        &fleet,
        &[
            "plan",
            "-detailed-exitcode",
            "-no-color",
            "-var",
            "kubernetes_version=1.31.6",
        ],
    );
    assert_eq!(empty.status.code(), Some(0), "{}", text(&empty));
}
