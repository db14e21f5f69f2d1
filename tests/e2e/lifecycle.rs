//! Plan, apply, destroy, import, moved and drift through the binary, on the built-in
//! fleetform_data and local_file resources, asserting on what users see: exit codes, the
//! JSON plan, the state and the files on disk.

use std::path::Path;
use std::process::Output;

use fleetform_tests::run_in;
use serde_json::Value;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write fixture");
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "fleetform failed ({:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The actions planned per address, from `plan -out` + `show -json`.
fn planned_actions(dir: &Path, extra: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut args = vec!["plan", "-out=plan.bin", "-no-color"];
    args.extend_from_slice(extra);
    ok(&run_in(dir, &args));
    let shown = ok(&run_in(dir, &["show", "-json", "plan.bin"]));
    let json: Value = serde_json::from_str(&shown).expect("show -json prints JSON");
    let mut out: Vec<(String, Vec<String>)> = json["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .map(|c| {
            let actions = c["change"]["actions"]
                .as_array()
                .expect("actions")
                .iter()
                .map(|a| a.as_str().unwrap_or_default().to_owned())
                .collect();
            (
                c["address"].as_str().unwrap_or_default().to_owned(),
                actions,
            )
        })
        .filter(|(_, a): &(String, Vec<String>)| a != &["no-op"])
        .collect();
    out.sort();
    out
}

const FLEET: &str = r#"
variable "sites" {
  type    = map(string)
  default = { north = "n", south = "s" }
}

resource "fleetform_data" "site" {
  for_each = var.sites
  input    = { code = each.value, name = each.key }
}

resource "local_file" "inventory" {
  for_each = var.sites
  filename = "${path.module}/out/${each.key}.txt"
  content  = "site ${each.key} is ${fleetform_data.site[each.key].output.code} (${fleetform_data.site[each.key].id})\n"
}

output "ids" {
  value = { for k, d in fleetform_data.site : k => d.id }
}
"#;

#[test]
fn apply_converges_and_a_second_plan_has_no_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "main.hcl", FLEET);
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a first plan has changes:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Plan: 4 to add, 0 to change, 0 to destroy."),
        "{text}"
    );
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    let north = std::fs::read_to_string(dir.path().join("out/north.txt")).expect("file written");
    assert!(north.starts_with("site north is n ("), "{north}");
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing changes after apply:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes."));
    let outputs: Value =
        serde_json::from_str(&ok(&run_in(dir.path(), &["output", "-json"]))).expect("json");
    assert!(
        outputs["ids"]["value"]["north"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

#[test]
fn an_input_change_plans_exactly_the_update_and_replacements_it_causes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "main.hcl", FLEET);
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    // Changing north's code updates its data in place (same id) and, since the file's
    // content changes, replaces its file; south is untouched.
    let actions = planned_actions(dir.path(), &["-var", r#"sites={north="N",south="s"}"#]);
    assert_eq!(
        actions,
        vec![
            (
                r#"fleetform_data.site["north"]"#.to_owned(),
                vec!["update".to_owned()]
            ),
            (
                r#"local_file.inventory["north"]"#.to_owned(),
                vec!["delete".to_owned(), "create".to_owned()]
            ),
        ]
    );
    // Dropping a site destroys exactly its two objects.
    let actions = planned_actions(dir.path(), &["-var", r#"sites={north="n"}"#]);
    assert_eq!(
        actions,
        vec![
            (
                r#"fleetform_data.site["south"]"#.to_owned(),
                vec!["delete".to_owned()]
            ),
            (
                r#"local_file.inventory["south"]"#.to_owned(),
                vec!["delete".to_owned()]
            ),
        ]
    );
}

#[test]
fn a_saved_plan_applies_once_and_is_refused_when_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "main.hcl", FLEET);
    ok(&run_in(
        dir.path(),
        &["plan", "-out=first.bin", "-no-color"],
    ));
    ok(&run_in(
        dir.path(),
        &["plan", "-out=second.bin", "-no-color"],
    ));
    ok(&run_in(dir.path(), &["apply", "-no-color", "first.bin"]));
    assert!(dir.path().join("out/south.txt").is_file());
    let out = run_in(dir.path(), &["apply", "-no-color", "second.bin"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Saved plan is stale"), "{stderr}");
}

#[test]
fn destroy_removes_every_object_and_empties_the_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "main.hcl", FLEET);
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    let out = ok(&run_in(
        dir.path(),
        &["destroy", "-auto-approve", "-no-color"],
    ));
    assert!(
        out.contains("Destroy complete! Resources: 4 destroyed."),
        "{out}"
    );
    assert!(!dir.path().join("out/north.txt").exists());
    assert_eq!(ok(&run_in(dir.path(), &["state", "list"])), "");
}

#[test]
fn drift_of_a_local_file_is_reported_and_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "main.hcl", FLEET);
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    std::fs::write(dir.path().join("out/north.txt"), "edited by hand\n").expect("edit");
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("changed outside of fleetform"), "{text}");
    assert!(
        text.contains(r#"local_file.inventory["north"] must be replaced"#),
        "{text}"
    );
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    let north = std::fs::read_to_string(dir.path().join("out/north.txt")).expect("file");
    assert!(north.starts_with("site north is n"), "{north}");
}

#[test]
fn moved_blocks_rename_state_without_touching_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "main.hcl",
        "resource \"fleetform_data\" \"old\" {\n  input = \"x\"\n}\n",
    );
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    let id_before = ok(&run_in(
        dir.path(),
        &["state", "show", "fleetform_data.old"],
    ));
    write(
        dir.path(),
        "main.hcl",
        "resource \"fleetform_data\" \"new\" {\n  input = \"x\"\n}\n\nmoved {\n  from = fleetform_data.old\n  to   = fleetform_data.new\n}\n",
    );
    let out = ok(&run_in(dir.path(), &["plan", "-no-color"]));
    assert!(
        out.contains("fleetform_data.old has moved to fleetform_data.new"),
        "{out}"
    );
    assert!(out.contains("0 to add, 0 to change, 0 to destroy"), "{out}");
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    assert_eq!(
        ok(&run_in(dir.path(), &["state", "list"])),
        "fleetform_data.new\n"
    );
    let id_after = ok(&run_in(
        dir.path(),
        &["state", "show", "fleetform_data.new"],
    ));
    let id = |text: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with("id"))
            .map(str::to_owned)
    };
    assert_eq!(id(&id_before), id(&id_after), "the object keeps its id");
}

#[test]
fn import_adopts_an_existing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("motd"), "welcome\n").expect("existing file");
    write(
        dir.path(),
        "main.hcl",
        "resource \"local_file\" \"motd\" {\n  filename = \"${path.module}/motd\"\n  content  = \"welcome\\n\"\n}\n",
    );
    ok(&run_in(
        dir.path(),
        &["import", "-no-color", "local_file.motd", "./motd"],
    ));
    assert_eq!(
        ok(&run_in(dir.path(), &["state", "list"])),
        "local_file.motd\n"
    );
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the imported file matches its configuration:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn one_failure_keeps_independent_work_and_skips_dependents() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("blocker"),
        "a file where a directory should be",
    )
    .expect("blocker");
    write(
        dir.path(),
        "main.hcl",
        r#"
resource "local_file" "broken" {
  filename = "${path.module}/blocker/cannot.txt"
  content  = "never written"
}

resource "fleetform_data" "after_broken" {
  input = local_file.broken.id
}

resource "local_file" "independent" {
  count    = 3
  filename = "${path.module}/ok/${count.index}.txt"
  content  = "fine"
}
"#,
    );
    let out = run_in(dir.path(), &["apply", "-auto-approve", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an apply with a failure exits 1"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("local_file.broken"),
        "the failure is reported:\n{stderr}"
    );
    assert!(
        stdout.contains("fleetform_data.after_broken: Skipped"),
        "the dependent is reported as skipped:\n{stdout}"
    );
    let listed = ok(&run_in(dir.path(), &["state", "list"]));
    assert_eq!(
        listed,
        "local_file.independent[0]\nlocal_file.independent[1]\nlocal_file.independent[2]\n"
    );
    for i in 0..3 {
        assert!(dir.path().join(format!("ok/{i}.txt")).is_file());
    }
}

#[test]
fn postconditions_check_the_object_through_self() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = |min: usize| {
        format!(
            "resource \"fleetform_data\" \"a\" {{\n  input = \"short\"\n  lifecycle {{\n    postcondition {{\n      condition     = length(self.output) > {min}\n      error_message = \"The output is too short.\"\n    }}\n  }}\n}}\n"
        )
    };
    write(dir.path(), "main.hcl", &fleet(10));
    let out = run_in(dir.path(), &["apply", "-auto-approve", "-no-color"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Resource postcondition failed")
            && stderr.contains("The output is too short."),
        "{stderr}"
    );
    assert_eq!(
        ok(&run_in(dir.path(), &["state", "list"])),
        "",
        "nothing was created"
    );
    write(dir.path(), "main.hcl", &fleet(2));
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    assert_eq!(
        ok(&run_in(dir.path(), &["state", "list"])),
        "fleetform_data.a\n"
    );
}

/// `timestamp()` and `uuid()` are known only when applying (the plan shows them as known
/// after apply; applying the saved plan in another process records their values);
/// `plantimestamp()` is known while planning.
#[test]
fn timestamp_is_known_at_apply_and_plantimestamp_at_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "main.hcl",
        r#"
resource "fleetform_data" "stamp" {
  input = timestamp()
}

resource "fleetform_data" "id" {
  input = uuid()
}

output "id" {
  value = fleetform_data.id.output
}

output "applied_at" {
  value = fleetform_data.stamp.output
}

output "planned_at" {
  value = plantimestamp()
}
"#,
    );
    ok(&run_in(dir.path(), &["init", "-input=false"]));
    let plan = ok(&run_in(dir.path(), &["plan", "-out=plan.bin", "-no-color"]));
    assert!(plan.contains("(known after apply)"), "{plan}");
    let shown = ok(&run_in(dir.path(), &["show", "-json", "plan.bin"]));
    let shown: Value = serde_json::from_str(&shown).expect("plan JSON");
    let planned_at = shown["planned_values"]["outputs"]["planned_at"]["value"].clone();
    assert!(
        planned_at
            .as_str()
            .is_some_and(|s| s.len() == 20 && s.ends_with('Z')),
        "plantimestamp() is known in the plan: {planned_at}"
    );
    ok(&run_in(dir.path(), &["apply", "-no-color", "plan.bin"]));
    let outputs = ok(&run_in(dir.path(), &["output", "-json"]));
    let outputs: Value = serde_json::from_str(&outputs).expect("output JSON");
    let applied_at = outputs["applied_at"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(applied_at.len(), 20, "an RFC 3339 time: {outputs}");
    assert!(
        applied_at.as_str() >= planned_at.as_str().unwrap_or_default(),
        "{outputs}"
    );
}

/// An object of a type no provider declares (recorded by a newer fleetform, or an edited
/// state) is kept in state and named by a warning on every plan, destroy included: it can
/// be neither refreshed nor destroyed, and is not passed over without a word.
#[test]
fn a_recorded_type_no_provider_declares_is_kept_and_named_by_every_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "main.hcl",
        "resource \"fleetform_data\" \"a\" {\n  input = 1\n}\n",
    );
    ok(&run_in(
        dir.path(),
        &["apply", "-auto-approve", "-no-color"],
    ));
    let path = dir.path().join("fleet.state");
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("state")).expect("JSON");
    let mut unknown = state["resources"][0].clone();
    unknown["type"] = "widget_thing".into();
    unknown["name"] = "w".into();
    state["resources"]
        .as_array_mut()
        .expect("resources")
        .push(unknown);
    state["serial"] = (state["serial"].as_u64().expect("serial") + 1).into();
    std::fs::write(&path, state.to_string()).expect("write state");

    for args in [
        &["plan", "-no-color"][..],
        &["plan", "-destroy", "-no-color"],
    ] {
        let out = run_in(dir.path(), args);
        let text = fleetform_tests::output_text(&out);
        assert!(out.status.success(), "{args:?}:\n{text}");
        assert!(
            text.contains("Resource type not supported")
                && text.contains("widget_thing.w is recorded in state as a \"widget_thing\""),
            "{args:?}:\n{text}"
        );
    }
    ok(&run_in(
        dir.path(),
        &["destroy", "-auto-approve", "-no-color"],
    ));
    let listed = ok(&run_in(dir.path(), &["state", "list"]));
    assert_eq!(
        listed, "widget_thing.w\n",
        "only the unsupported object stays"
    );
}
