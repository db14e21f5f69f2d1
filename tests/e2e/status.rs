//! `fleetform status` through the binary, after the pipeline's `init`, `plan -out` and
//! `apply FILE`: on a fleet of `fleetform_data`/`local_file` sites (table and `-json`,
//! `-offline`, drift from a file changed by hand shown on its site, the last apply and a
//! failed one), while an apply holds the lock (on the local file and on a partitioned
//! PostgreSQL state), and on the lab: real one-host clusters show their version, nodes
//! and soonest certificate, and a site cut off is shown unreachable within its time while
//! the others are refreshed. A rollout's progress, and the site that halted it, in the
//! table, `-json` and the page.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fleetform_tests::lab::Lab;
use fleetform_tests::remote_state::{Kind, Remote};
use fleetform_tests::status_page::{Ui, artifacts, card, chromium, dom};
use fleetform_tests::{cluster_sites, fleetform, output_text, plan_then_apply, run_in};
use serde_json::Value as Json;

fn ok(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}:\n{}", output_text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Json {
    let text = ok(out, "status -json");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("status -json is JSON ({e}):\n{text}"))
}

fn site<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("site {name} in {doc:#}"))
}

fn names(doc: &Json) -> Vec<String> {
    doc["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

const FLEET: &str = r#"
variable "broken_site" {
  description = "A site whose file goes where no file can be written."
  type        = string
  default     = ""
}

module "site" {
  for_each = toset(["east", "north", "south"])
  source   = "./modules/site"
  name     = each.key
  dir      = each.key == var.broken_site ? "${path.root}/blocker/out" : "${path.root}/out"
}

variable "token" {
  type      = string
  sensitive = true
  default   = "s3cr3t-t0ken-4-status"
}

resource "fleetform_data" "hub" {
  input = { name = "hub", token = var.token }
}
"#;

const TOKEN: &str = "s3cr3t-t0ken-4-status";

const SITE: &str = r#"
variable "name" { type = string }
variable "dir" { type = string }

resource "fleetform_data" "node" {
  input = { site = var.name }
}

resource "local_file" "conf" {
  filename = "${var.dir}/${var.name}.conf"
  content  = "site ${var.name}\n"
}
"#;

fn fleet(dir: &Path) {
    std::fs::create_dir_all(dir.join("modules/site")).unwrap();
    std::fs::write(dir.join("main.hcl"), FLEET).unwrap();
    std::fs::write(dir.join("modules/site/main.hcl"), SITE).unwrap();
    // A regular file where the broken site wants a directory.
    std::fs::write(dir.join("blocker"), "not a directory\n").unwrap();
}

const SOUTH: &str = r#"module.site["south"]"#;

/// The sites of [`FLEET`], as status lists them: the rest of the fleet first.
const SITES: [&str; 4] = [
    "root",
    r#"module.site["east"]"#,
    r#"module.site["north"]"#,
    SOUTH,
];

#[test]
fn status_shows_every_site_drift_and_the_last_apply_of_a_fleet_after_apply() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fleet(d);
    ok(&run_in(d, &["init", "-input=false", "-no-color"]), "init");
    ok(&plan_then_apply(d, &["-no-color"]), "plan -out, then apply");

    // For people: a header, a row per site (no clusters here), the last apply.
    let out = run_in(d, &["status", "-no-color"]);
    let table = ok(&out, "status");
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("SITE ")
            && lines[0].contains(" HEALTH ")
            && lines[0].ends_with("RESOURCES"),
        "{table}"
    );
    let rows: Vec<Vec<&str>> = lines[1..5]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let expected = [
        ("root", "1"),
        (r#"module.site["east"]"#, "2"),
        (r#"module.site["north"]"#, "2"),
        (r#"module.site["south"]"#, "2"),
    ];
    for (row, (name, resources)) in rows.iter().zip(expected) {
        assert_eq!(row[0], name, "{table}");
        assert_eq!(row[1], "ok", "{table}");
        assert_eq!(row.last(), Some(&resources), "{table}");
        // DEFERRED and DRIFT: nothing waits, nothing drifted.
        assert_eq!(&row[row.len() - 3..row.len() - 1], ["0", "0"], "{table}");
    }
    // Aligned like `kubectl get`: every column starts where its header does.
    let health_at = lines[0].find("HEALTH").unwrap();
    for l in &lines[1..5] {
        assert_eq!(&l[health_at..health_at + 2], "ok", "{table}");
    }
    assert!(
        table.contains("Last apply: succeeded") && table.contains("7 change(s) made, 0 failed"),
        "{table}"
    );
    assert!(
        !table.contains('\x1b'),
        "no colour with -no-color:\n{table}"
    );
    // Colour only on a terminal: a pipe gets none, a terminal (script's pty) gets health in
    // colour, and -no-color turns it off there too.
    let piped = fleetform()
        .current_dir(d)
        .env_remove("NO_COLOR")
        .arg("status")
        .output()
        .unwrap();
    assert!(!ok(&piped, "status").contains('\x1b'));
    let on_terminal = |flags: &str| {
        let out = Command::new("script")
            .current_dir(d)
            .env_remove("NO_COLOR")
            .arg("-qec")
            .arg(format!(
                "{} status {flags}",
                fleetform_tests::fleetform_bin().display()
            ))
            .arg("/dev/null")
            .output()
            .expect("script (util-linux) runs");
        ok(&out, "status on a terminal")
    };
    let coloured = on_terminal("");
    assert!(coloured.contains("\x1b[32mok\x1b[0m"), "{coloured}");
    assert!(!on_terminal("-no-color").contains('\x1b'));

    // For machines.
    let doc = json(&run_in(d, &["status", "-json"]));
    assert_eq!(doc["format_version"], "1.0");
    assert_eq!(doc["workspace"], "default");
    assert_eq!(doc["refreshed"], true);
    assert_eq!(doc["site_timeout_seconds"], 10.0);
    assert_eq!(names(&doc), SITES);
    for s in doc["sites"].as_array().unwrap() {
        assert_eq!(s["health"], "ok", "{s:#}");
        assert_eq!(s["refresh"]["state"], "refreshed", "{s:#}");
        assert_eq!(
            s["drift"],
            serde_json::json!({ "count": 0, "addresses": [] })
        );
        assert_eq!(s["clusters"], serde_json::json!([]));
        assert_eq!(
            s["target"],
            format!("partition:{}", s["name"].as_str().unwrap())
        );
    }
    assert_eq!(site(&doc, SOUTH)["resources"], 2);
    let last = &doc["last_apply"];
    assert_eq!(last["operation"], "apply");
    assert_eq!(last["outcome"], "succeeded");
    assert_eq!(last["changes_made"], 7);
    assert_eq!(last["changes_failed"], 0);
    assert_eq!(last["fleetform_version"], env!("CARGO_PKG_VERSION"));
    let (started, finished) = (
        last["started_at"].as_str().unwrap(),
        last["finished_at"].as_str().unwrap(),
    );
    assert!(started.ends_with('Z') && started <= finished, "{last}");
    assert_eq!(doc["rollouts"], serde_json::json!([]));

    // A file changed by hand is drift on its own site only; status writes nothing.
    std::fs::write(d.join("out/south.conf"), "edited by hand\n").unwrap();
    let state_before = std::fs::read(d.join("fleet.state")).unwrap();
    let doc = json(&run_in(d, &["status", "-json"]));
    let south = site(&doc, SOUTH);
    assert_eq!(south["health"], "attention");
    assert_eq!(
        south["drift"]["addresses"],
        serde_json::json!([r#"module.site["south"].local_file.conf"#])
    );
    assert_eq!(south["reasons"], serde_json::json!(["1 object(s) drifted"]));
    assert_eq!(site(&doc, r#"module.site["north"]"#)["drift"]["count"], 0);
    let table = ok(&run_in(d, &["status", "-no-color"]), "status");
    let south_row = table.lines().find(|l| l.starts_with(SOUTH)).unwrap();
    assert_eq!(
        south_row.split_whitespace().nth(1),
        Some("attention"),
        "{table}"
    );
    assert!(
        table.contains(&format!("{SOUTH} (attention):\n  - 1 object(s) drifted\n  drifted: module.site[\"south\"].local_file.conf")),
        "{table}"
    );
    assert_eq!(
        std::fs::read(d.join("fleet.state")).unwrap(),
        state_before,
        "status writes no state"
    );

    // The sensitive input is in state, and in no form of status (logs at trace included).
    assert!(String::from_utf8_lossy(&state_before).contains(TOKEN));
    for args in [
        &["status", "-no-color"][..],
        &["status", "-json"],
        &["status", "-offline", "-json"],
    ] {
        let out = fleetform()
            .current_dir(d)
            .env("FLEETFORM_LOG", "trace")
            .args(args)
            .output()
            .unwrap();
        ok(&out, "status");
        assert!(
            !output_text(&out).contains(TOKEN),
            "{args:?} shows a sensitive value:\n{}",
            output_text(&out)
        );
    }

    // -offline asks nothing: no refresh, so no drift known.
    let doc = json(&run_in(d, &["status", "-offline", "-json"]));
    assert_eq!(doc["refreshed"], false);
    let south = site(&doc, SOUTH);
    assert_eq!(south["refresh"]["state"], "skipped");
    assert_eq!(south["drift"], Json::Null);
    assert_eq!(south["health"], "ok");
    let table = ok(
        &run_in(d, &["status", "-offline", "-no-color"]),
        "status -offline",
    );
    assert!(table.contains("Not refreshed (-offline)"), "{table}");

    // An apply that fails is recorded as failed; status still exits 0.
    let out = plan_then_apply(d, &["-no-color", "-var", "broken_site=east"]);
    assert!(!out.status.success(), "{}", output_text(&out));
    let doc = json(&run_in(d, &["status", "-offline", "-json"]));
    let last = &doc["last_apply"];
    assert_eq!(last["outcome"], "failed", "{last}");
    assert!(last["changes_failed"].as_u64().unwrap() >= 1, "{last}");
    let table = ok(&run_in(d, &["status", "-offline", "-no-color"]), "status");
    assert!(table.contains("Last apply: failed"), "{table}");
}

const ROLLOUT: &str = r#"
rollout "release" {
  failure_budget = 0

  stage "canary" {
    sites = [module.site["east"]]
  }

  stage "others" {
    sites      = [module.site]
    batch_size = 1
  }
}
"#;

#[test]
fn status_shows_a_rollout_and_the_site_that_halted_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fleet(d);
    std::fs::write(d.join("rollout.hcl"), ROLLOUT).unwrap();
    ok(&run_in(d, &["init", "-input=false"]), "init");
    ok(&plan_then_apply(d, &["-no-color"]), "apply");
    let doc = json(&run_in(d, &["status", "-json", "-offline"]));
    let rollout = &doc["rollouts"][0];
    assert_eq!(rollout["name"], "release");
    assert_eq!(rollout["status"], "completed", "{rollout:#}");
    assert_eq!(
        rollout["sites_done"].as_array().unwrap().len(),
        3,
        "{rollout:#}"
    );

    let out = plan_then_apply(d, &["-no-color", "-var", "broken_site=north"]);
    assert!(!out.status.success(), "{}", output_text(&out));
    let doc = json(&run_in(d, &["status", "-json", "-offline"]));
    let rollout = &doc["rollouts"][0];
    assert_eq!(rollout["status"], "halted", "{rollout:#}");
    assert_eq!(
        rollout["sites_failed"][0]["site"], r#"module.site["north"]"#,
        "{rollout:#}"
    );
    let north = site(&doc, r#"module.site["north"]"#);
    assert_eq!(north["health"], "failing");
    assert!(
        north["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("failed in rollout release: "),
        "{north:#}"
    );
    assert_eq!(north["rollout_failures"][0]["rollout"], "release");
    let table = ok(&run_in(d, &["status", "-no-color", "-offline"]), "status");
    assert!(
        table.contains("\nRollouts:\n  release: halted, stage "),
        "{table}"
    );
    assert!(
        table.contains("    failed: module.site[\"north\"]: "),
        "{table}"
    );

    // The page draws the rollout's progress from the same document (chromium, headless).
    let ui = Ui::start(d, &["-offline"]);
    let page = dom(&ui.url());
    assert!(
        page.contains(r#"data-rollout="release" data-status="halted""#),
        "{page}"
    );
    assert!(
        page.contains(&card(r#"module.site["north"]"#, "failing")),
        "{page}"
    );
    assert!(page.contains("failed in rollout release: "), "{page}");
    let shot = artifacts().join("status-rollout-halted.png");
    let out = chromium(&[&format!("--screenshot={}", shot.display()), &ui.url()]);
    assert!(out.status.success(), "{}", output_text(&out));
    println!("screenshot of a halted rollout: {}", shot.display());
}

#[test]
fn status_without_state_or_with_a_broken_configuration_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fleet(d);
    let out = run_in(d, &["status", "-no-color"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("No state"),
        "{}",
        output_text(&out)
    );
    std::fs::write(d.join("broken.hcl"), "resource \"fleetform_data\" {\n").unwrap();
    let out = run_in(d, &["status", "-offline"]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let out = run_in(d, &["status", "-site-timeout=10"]);
    assert_eq!(out.status.code(), Some(1), "a duration needs its unit");
}

/// An apply waiting for approval, holding the lock, until dropped.
struct Waiting(Child);

impl Waiting {
    /// Runs `cmd apply ARGS -no-color` until it asks for approval.
    fn start(mut cmd: Command, args: &[&str]) -> Waiting {
        let mut child = cmd
            .arg("apply")
            .args(args)
            .arg("-no-color")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("apply starts");
        let mut stdout = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("Enter a value") {
            let n = stdout.read(&mut buf).expect("read the apply's output");
            assert!(
                n > 0,
                "apply ended before asking:\n{}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
        Waiting(child)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn status_reads_the_state_while_an_apply_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fleet(d);
    ok(&run_in(d, &["init", "-input=false"]), "init");
    ok(&plan_then_apply(d, &["-no-color"]), "apply");
    std::fs::write(d.join("out/north.conf"), "changed\n").unwrap();
    let mut cmd = fleetform();
    cmd.current_dir(d);
    let waiting = Waiting::start(cmd, &[]);
    let plan = run_in(d, &["plan", "-no-color", "-lock-timeout=0s"]);
    assert!(
        !plan.status.success() && output_text(&plan).contains("Error acquiring the state lock"),
        "the waiting apply holds the lock:\n{}",
        output_text(&plan)
    );
    let doc = json(&run_in(d, &["status", "-json"]));
    assert_eq!(names(&doc).len(), 4);
    assert_eq!(site(&doc, r#"module.site["north"]"#)["drift"]["count"], 1);
    drop(waiting);
}

#[test]
fn status_reads_a_partitioned_postgres_state_while_a_site_is_applied() {
    let remote = Remote::new(Kind::Postgres, "status_parts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fleet(d);
    let main = format!("{}\n{FLEET}", remote.fleet_block("partitions {}"));
    std::fs::write(d.join("main.hcl"), main).unwrap();
    ok(&remote.init(d, &[]), "init");
    ok(
        &remote.run(d, &["apply", "-auto-approve", "-no-color"]),
        "apply",
    );
    std::fs::write(d.join("out/south.conf"), "changed\n").unwrap();
    // The partition is locked before the plan, while the apply waits for approval.
    let target = format!("-target=partition:{SOUTH}");
    let waiting = Waiting::start(remote.command(d), &[&target]);
    let locked = remote.run(d, &["plan", "-no-color", "-lock-timeout=0s", &target]);
    assert!(
        !locked.status.success(),
        "the waiting apply holds its partition:\n{}",
        output_text(&locked)
    );
    let doc = json(&remote.run(d, &["status", "-json"]));
    assert_eq!(names(&doc), SITES);
    assert_eq!(doc["last_apply"]["outcome"], "succeeded");
    assert_eq!(site(&doc, SOUTH)["resources"], 2);
    assert_eq!(site(&doc, SOUTH)["drift"]["count"], 1);
    drop(waiting);
}

/// Real one-host clusters on the lab: versions, nodes Ready, the soonest certificate; then
/// one site's host is cut off and status shows it unreachable, with what the state
/// recorded, within its site timeout, while the other sites are refreshed. Needs root.
#[test]
fn status_on_the_lab_shows_clusters_and_a_cut_site_as_unreachable_within_its_timeout() {
    let lab = Lab::start(3).expect("lab starts");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sites = [("east", "lab-1"), ("north", "lab-2"), ("south", "lab-3")];
    cluster_sites::write(d, &lab, &sites, 2);
    cluster_sites::apply(d, &lab);

    let doc = json(&run_in(d, &["status", "-json"]));
    assert_eq!(
        names(&doc),
        [
            r#"module.site["east"]"#,
            r#"module.site["north"]"#,
            SOUTH,
            r#"module.standin["site-0000"]"#,
            r#"module.standin["site-0001"]"#,
        ]
    );
    let now = time::OffsetDateTime::now_utc();
    for (name, _) in sites {
        let s = site(&doc, &format!("module.site[\"{name}\"]"));
        assert_eq!(s["health"], "ok", "{s:#}");
        assert_eq!(s["refresh"]["state"], "refreshed", "{s:#}");
        let clusters = s["clusters"].as_array().unwrap();
        assert_eq!(clusters.len(), 1, "{s:#}");
        let c = &clusters[0];
        assert_eq!(c["name"], name);
        assert_eq!(
            c["address"],
            format!("module.site[\"{name}\"].cluster.this")
        );
        assert_eq!(c["pools"][0]["name"], "control-plane");
        assert_eq!(c["pools"][0]["kubernetes_version"], cluster_sites::VERSION);
        assert_eq!(c["nodes"], serde_json::json!({ "ready": 1, "total": 1 }));
        let cert = &c["soonest_certificate"];
        assert!(
            cert["name"].as_str().is_some_and(|n| !n.is_empty()),
            "{c:#}"
        );
        let not_after = time::OffsetDateTime::parse(
            cert["not_after"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let left = not_after - now;
        assert!(
            left > time::Duration::days(300) && left < time::Duration::days(366),
            "a leaf certificate issued now for a year: {cert}"
        );
        assert_eq!(c["arc"], Json::Null, "no Arc declared");
    }
    let table = ok(&run_in(d, &["status", "-no-color"]), "status");
    let north = table
        .lines()
        .find(|l| l.starts_with(r#"module.site["north"]"#))
        .unwrap();
    let cells: Vec<&str> = north.split_whitespace().collect();
    assert_eq!(
        &cells[..5],
        [
            r#"module.site["north"]"#,
            "ok",
            "north",
            cluster_sites::VERSION,
            "1/1"
        ],
        "{table}"
    );
    assert!(north.contains(" in 36") && north.contains("d ("), "{table}");

    // A file fleetform wrote, changed on the host: the cluster drifted (apply would write it
    // back); what refresh merely observes changing is not drift.
    let out = lab.exec(
        "lab-1",
        &["chmod", "0644", "/etc/kubernetes/scheduler.conf"],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let doc = json(&run_in(d, &["status", "-json"]));
    let east = site(&doc, r#"module.site["east"]"#);
    assert_eq!(
        east["drift"]["addresses"],
        serde_json::json!([r#"module.site["east"].cluster.this"#]),
        "{east:#}"
    );
    assert_eq!(east["health"], "attention");
    assert_eq!(site(&doc, r#"module.site["north"]"#)["drift"]["count"], 0);
    let out = lab.exec(
        "lab-1",
        &["chmod", "0600", "/etc/kubernetes/scheduler.conf"],
    );
    assert!(out.status.success(), "{}", output_text(&out));

    lab.cut("lab-3").expect("cut");
    let started = Instant::now();
    let doc = json(&run_in(d, &["status", "-json", "-site-timeout=4s"]));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "status took {took:?} with one site cut off and -site-timeout=4s"
    );
    let south = site(&doc, SOUTH);
    assert_eq!(south["refresh"]["state"], "unreachable", "{south:#}");
    assert_eq!(south["health"], "failing");
    assert!(
        south["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("unreachable: "),
        "{south:#}"
    );
    // Its last known values, from state.
    assert_eq!(
        south["clusters"][0]["pools"][0]["kubernetes_version"],
        cluster_sites::VERSION
    );
    assert_eq!(
        south["clusters"][0]["nodes"],
        serde_json::json!({ "ready": 1, "total": 1 })
    );
    for other in [r#"module.site["east"]"#, r#"module.site["north"]"#] {
        let s = site(&doc, other);
        assert_eq!(s["refresh"]["state"], "refreshed", "{s:#}");
        assert_eq!(s["health"], "ok", "{s:#}");
    }
    let table = ok(
        &run_in(d, &["status", "-no-color", "-site-timeout=4s"]),
        "status",
    );
    let row = table.lines().find(|l| l.starts_with(SOUTH)).unwrap();
    assert_eq!(
        row.split_whitespace().nth(1),
        Some("unreachable"),
        "{table}"
    );
    assert!(
        table.contains("values shown are as the state last recorded them"),
        "{table}"
    );
    eprintln!("status with one of 5 sites cut off took {took:?}");

    // A change applied while the site is cut off is deferred there; status lists it.
    let out = plan_then_apply(d, &["-no-color", "-var", "motd=maintenance tonight"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let doc = json(&run_in(d, &["status", "-json", "-site-timeout=4s"]));
    let deferred = site(&doc, SOUTH)["deferred"].as_array().unwrap().clone();
    assert_eq!(deferred.len(), 1, "{doc:#}");
    assert_eq!(
        deferred[0]["address"],
        r#"module.site["south"].host_file.motd"#
    );
    assert_eq!(deferred[0]["action"], "update");
    assert!(deferred[0]["since"].is_string() && deferred[0]["reason"].is_string());
    assert_eq!(
        site(&doc, r#"module.site["north"]"#)["deferred"],
        serde_json::json!([])
    );
    let table = ok(
        &run_in(d, &["status", "-no-color", "-site-timeout=4s"]),
        "status",
    );
    assert!(
        table.contains("  deferred: module.site[\"south\"].host_file.motd: update, since "),
        "{table}"
    );
    lab.heal("lab-3").expect("heal");
}

const TENANT: &str = "8f2d5e61-3c1b-4a7e-9d02-6b5a4c3e2f10";
const SUBSCRIPTION: &str = "4b7c9e21-5d3f-4a8b-b6c0-1e2f3a4b5c6d";
const CLIENT: &str = "6e5d4c3b-2a19-4f08-8e7d-6c5b4a392817";
const CLIENT_SECRET: &str = "canary-status-secret-5e1d";

/// Arc on the lab's Azure: a connected site shows its connectivity and identity
/// certificate; a site cut off before its cluster was connected shows its deferred agent
/// installation (what, since when, why), what Azure says of it, and is unreachable. No
/// secret appears in any output (logs at trace). Needs root (the lab).
#[test]
fn status_shows_arc_connectivity_identity_expiry_and_deferred_work() {
    use fleetform_tests::lab::arm::fleet::ArcFleet;
    use fleetform_tests::lab::arm::{Application, ArmLab};

    let lab = Lab::start(2).expect("lab starts");
    let mut config = ArmLab::config(TENANT, SUBSCRIPTION);
    config.applications = vec![Application {
        client_id: CLIENT.into(),
        secrets: vec![CLIENT_SECRET.into()],
        ..Application::default()
    }];
    let fleet = ArcFleet::new(ArmLab::start(config).expect("the lab's Azure starts"));
    cluster_sites::write(
        fleet.dir(),
        &lab,
        &[("north", "lab-1"), ("south", "lab-2")],
        0,
    );
    fleet.write("provider.hcl", &fleet.provider_block(CLIENT, CLIENT_SECRET));
    fleet.ok(&["init", "-input=false"]);
    fleet.plan_and_apply();
    lab.cut("lab-2").expect("cut");
    fleet.write(
        "arc.auto.hcl",
        &format!(
            "arc_bundle = {{ url = {:?}, sha256 = {:?} }}\n",
            fleet.bundle_url, fleet.bundle_sha256
        ),
    );
    let (_, apply) = fleet.plan_and_apply();
    assert!(apply.contains("Apply complete!"), "{apply}");
    let id = |site: &str| {
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourceGroups/clinics/providers/Microsoft.Kubernetes/connectedClusters/clinic-{site}"
        )
    };
    fleet.arm.set_connectivity(&id("north"), "Connected", 30);
    fleet.arm.set_identity_expiry(&id("north"), 90 * 86400);
    fleet.arm.set_connectivity(&id("south"), "Offline", 7200);
    fleet.arm.set_identity_expiry(&id("south"), 10 * 86400);

    let started = Instant::now();
    let doc: Json = serde_json::from_str(&fleet.ok(&["status", "-json", "-site-timeout=4s"]))
        .expect("status -json");
    let took = started.elapsed();
    let now = time::OffsetDateTime::now_utc();
    let days_left = |cert: &Json| {
        let at = time::OffsetDateTime::parse(
            cert["not_after"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        (at - now).whole_days()
    };

    let north = site(&doc, r#"module.site["north"]"#);
    assert_eq!(north["health"], "ok", "{north:#}");
    let arc = &north["clusters"][0]["arc"];
    assert_eq!(
        arc["address"],
        r#"module.site["north"].arc_connected_cluster.this[0]"#
    );
    assert_eq!(arc["name"], "clinic-north");
    assert_eq!(arc["connectivity_status"], "Connected");
    assert_eq!(arc["connected"], true);
    assert!(arc["last_connectivity_time"].is_string(), "{arc:#}");
    assert!(
        (89..=90).contains(&days_left(&arc["identity_certificate"])),
        "{arc:#}"
    );
    assert_eq!(north["deferred"], serde_json::json!([]));

    let south = site(&doc, SOUTH);
    assert_eq!(south["refresh"]["state"], "unreachable", "{south:#}");
    assert_eq!(south["health"], "failing");
    let arc = &south["clusters"][0]["arc"];
    assert_eq!(
        arc["connectivity_status"], "Offline",
        "Azure's view is read: {arc:#}"
    );
    assert!(
        (9..=10).contains(&days_left(&arc["identity_certificate"])),
        "{arc:#}"
    );
    let deferred = south["deferred"].as_array().unwrap();
    assert_eq!(deferred.len(), 1, "{south:#}");
    assert_eq!(
        deferred[0]["address"],
        r#"module.site["south"].arc_connected_cluster.this[0]"#
    );
    assert_eq!(
        deferred[0]["action"],
        "install the Arc agents in the cluster"
    );
    assert!(deferred[0]["since"].is_string(), "{south:#}");
    assert!(
        deferred[0]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{south:#}"
    );
    let reasons = south["reasons"].to_string();
    for expected in [
        "unreachable: ",
        "south: Arc connectivity Offline",
        "south: Arc identity certificate expires",
        "1 deferred change(s)",
    ] {
        assert!(reasons.contains(expected), "{expected} in {reasons}");
    }
    assert!(took < Duration::from_secs(15), "status took {took:?}");

    let table = fleet.ok(&["status", "-no-color", "-site-timeout=4s"]);
    let north_row = table
        .lines()
        .find(|l| l.starts_with(r#"module.site["north"]"#))
        .unwrap();
    assert!(north_row.contains("Connected (identity in 8"), "{table}");
    let south_row = table.lines().find(|l| l.starts_with(SOUTH)).unwrap();
    assert!(south_row.contains("Offline (identity in "), "{table}");
    assert!(
        table.contains(&format!(
            "  deferred: {SOUTH}.arc_connected_cluster.this[0]: install the Arc agents in the cluster, since "
        )),
        "{table}"
    );
    lab.heal("lab-2").expect("heal");
    fleet.assert_no_secrets(&[CLIENT_SECRET, "BEGIN RSA PRIVATE KEY"]);
}
