//! The tools a platform team already runs on Terraform plans, run on fleetform's: checkov
//! (`--framework terraform_plan`, with custom policies) and terraform-compliance (a
//! feature file), both the real PyPI packages in the virtualenv `.ci/run` creates; a
//! field-by-field reader of the plan, state, validate and UI stream formats; and the
//! pipeline sequence Terraform's documentation gives (`init -input=false`, `plan -out`,
//! `apply PLANFILE`, each a separate process).
//!
//! The Python tools run in a network namespace of their own with no interface up, so
//! nothing they might try to download can leave the machine.

// The reader declares every documented field, read or not.
#[allow(dead_code)]
#[path = "tools/reader.rs"]
mod reader;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fleetform_tests::{output_text, run_in, workspace};

/// The virtualenv with checkov and terraform-compliance: `FLEETFORM_PY_TOOLS`, else
/// `target/py-tools` (where `.ci/run` creates it).
fn py_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("FLEETFORM_PY_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target").join("py-tools"));
    let bin = venv.join("bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: create the virtualenv as .ci/run does (python3 -m venv {dir} && {dir}/bin/pip install checkov==3.3.30 terraform-compliance==1.16.0), or point FLEETFORM_PY_TOOLS at one",
        bin.display(),
        dir = venv.display()
    );
    bin
}

/// Runs a tool offline: in a new network namespace that has only a loopback that is down.
fn offline(tool: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new("unshare")
        .arg("--net")
        .arg(tool)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run unshare")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write fixture");
}

const MODULE: &str = r#"
variable "v" {
  type = string
}
resource "fleetform_data" "inner" {
  input = var.v
}
output "inner_id" {
  value = fleetform_data.inner.id
}
"#;

const BEFORE: &str = r#"
variable "release" {
  type    = string
  default = "v1"
  validation {
    condition     = length(var.release) > 1
    error_message = "release names have a v and a number"
  }
}
resource "fleetform_data" "updated" {
  input = var.release
}
resource "fleetform_data" "replaced" {
  input            = "same"
  triggers_replace = "r1"
}
resource "fleetform_data" "deleted" {
  input = "gone soon"
}
resource "local_file" "notes" {
  filename = "${path.module}/notes.txt"
  content  = "one"
}
"#;

const AFTER: &str = r#"
variable "release" {
  type    = string
  default = "v2"
  validation {
    condition     = length(var.release) > 1
    error_message = "release names have a v and a number"
  }
}
resource "fleetform_data" "updated" {
  input = var.release
  lifecycle {
    postcondition {
      condition     = self.input == var.release
      error_message = "the input is the release"
    }
  }
}
resource "fleetform_data" "replaced" {
  input            = "same"
  triggers_replace = "r2"
}
resource "fleetform_data" "created" {
  input = fleetform_data.updated.output
  lifecycle {
    postcondition {
      condition     = self.id != ""
      error_message = "a created object has an id"
    }
  }
}
resource "local_file" "notes" {
  filename = "${path.module}/notes.txt"
  content  = "two"
}
module "site" {
  source = "./site"
  v      = fleetform_data.replaced.id
}
output "site_id" {
  value = module.site.inner_id
}
"#;

/// A fleet applied once, then changed so that its plan creates, updates, replaces and
/// deletes; the plan is saved as `plan.bin` and shown as `plan.json`.
fn changing_fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "main.hcl", BEFORE);
    ok(run_in(d, &["apply", "-auto-approve", "-no-color"]));
    write(d, "main.hcl", AFTER);
    write(d, "site/main.hcl", MODULE);
    ok(run_in(d, &["plan", "-out=plan.bin", "-no-color"]));
    let json = ok(run_in(d, &["show", "-json", "plan.bin"]));
    write(d, "plan.json", &json);
    dir
}

/// The resources the plan leaves in place (planned_values), by address.
fn planned_addresses(plan: &serde_json::Value) -> BTreeSet<String> {
    fn walk(module: &serde_json::Value, out: &mut BTreeSet<String>) {
        for r in module["resources"].as_array().into_iter().flatten() {
            out.insert(r["address"].as_str().unwrap_or_default().to_owned());
        }
        for c in module["child_modules"].as_array().into_iter().flatten() {
            walk(c, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&plan["planned_values"]["root_module"], &mut out);
    out
}

const CHECKOV_EVERY_RESOURCE: &str = r#"
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class FleetResourcesSeen(BaseResourceCheck):
    def __init__(self):
        super().__init__(
            name="every fleet resource is planned with its arguments",
            id="CKV_FLEET_1",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["fleetform_data", "local_file"],
        )

    def scan_resource_conf(self, conf):
        return CheckResult.PASSED if conf else CheckResult.FAILED


check = FleetResourcesSeen()
"#;

const CHECKOV_NO_V2: &str = r#"
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class NoReleaseV2(BaseResourceCheck):
    def __init__(self):
        super().__init__(
            name="release v2 is not allowed yet",
            id="CKV_FLEET_2",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["fleetform_data"],
        )

    def scan_resource_conf(self, conf):
        value = conf.get("input", [None])
        value = value[0] if isinstance(value, list) and value else value
        return CheckResult.FAILED if value == "v2" else CheckResult.PASSED


check = NoReleaseV2()
"#;

/// Runs checkov on `plan.json` with the policies in `policies/`; returns its exit code and
/// its JSON report.
fn checkov(dir: &Path, policies: &[(&str, &str)]) -> (Option<i32>, serde_json::Value) {
    let policy_dir = dir.join("policies");
    let _ = std::fs::remove_dir_all(&policy_dir);
    write(dir, "policies/__init__.py", "");
    for (name, text) in policies {
        write(dir, &format!("policies/{name}"), text);
    }
    let out = offline(
        &py_tool("checkov"),
        &[
            "--file",
            "plan.json",
            "--framework",
            "terraform_plan",
            "--skip-download",
            "--external-checks-dir",
            "policies",
            "--check",
            "CKV_FLEET_1,CKV_FLEET_2",
            "--output",
            "json",
        ],
        dir,
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}):\n{}",
            output_text(&out)
        )
    });
    (out.status.code(), report)
}

/// The (check id, resource, result) triples of a checkov report.
fn checkov_results(report: &serde_json::Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (kind, word) in [("passed_checks", "PASSED"), ("failed_checks", "FAILED")] {
        for c in report["results"][kind].as_array().into_iter().flatten() {
            out.insert((
                c["check_id"].as_str().unwrap_or_default().to_owned(),
                c["resource"].as_str().unwrap_or_default().to_owned(),
                word.to_owned(),
            ));
        }
    }
    out
}

#[test]
fn checkov_checks_every_planned_resource_and_fails_on_a_custom_policy() {
    let dir = changing_fleet();
    let d = dir.path();
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("plan.json")).expect("plan.json"))
            .expect("plan JSON");
    let actions: BTreeSet<String> = plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .map(|c| c["change"]["actions"].to_string())
        .collect();
    for wanted in [
        r#"["create"]"#,
        r#"["update"]"#,
        r#"["delete","create"]"#,
        r#"["delete"]"#,
    ] {
        assert!(
            actions.contains(wanted),
            "the plan should have a {wanted} change: {actions:?}"
        );
    }

    // A policy that passes: checkov reads every resource the plan leaves in place (a
    // deleted one, as with Terraform's plans, is not checked) and exits 0.
    let (code, report) = checkov(d, &[("every.py", CHECKOV_EVERY_RESOURCE)]);
    let expected: BTreeSet<(String, String, String)> = planned_addresses(&plan)
        .into_iter()
        .map(|a| ("CKV_FLEET_1".to_owned(), a, "PASSED".to_owned()))
        .collect();
    assert_eq!(
        expected.len(),
        5,
        "created, updated, replaced, the local file and the module's resource"
    );
    assert_eq!(checkov_results(&report), expected, "{report:#}");
    assert_eq!(report["summary"]["resource_count"], 5, "{report:#}");
    assert_eq!(code, Some(0), "{report:#}");

    // A policy that fails on one resource: checkov exits non-zero and names it.
    let (code, report) = checkov(
        d,
        &[
            ("every.py", CHECKOV_EVERY_RESOURCE),
            ("no_v2.py", CHECKOV_NO_V2),
        ],
    );
    // `created` takes its input from `updated`'s output, known at plan time, so both fail.
    let failed: BTreeSet<(String, String, String)> = checkov_results(&report)
        .into_iter()
        .filter(|(_, _, r)| r == "FAILED")
        .collect();
    let expected: BTreeSet<(String, String, String)> =
        ["fleetform_data.created", "fleetform_data.updated"]
            .into_iter()
            .map(|a| ("CKV_FLEET_2".to_owned(), a.to_owned(), "FAILED".to_owned()))
            .collect();
    assert_eq!(failed, expected, "{report:#}");
    assert_eq!(code, Some(1), "a failed policy fails the gate: {report:#}");
}

const FEATURE: &str = r#"
Feature: Fleet policy on fleetform plans

  Scenario: every fleetform_data keeps an input
    Given I have fleetform_data defined
    Then it must contain input

  Scenario: local files have a name
    Given I have local_file defined
    Then it must contain filename

  Scenario: local files are written readable by their owner
    Given I have local_file defined
    Then it must contain file_permission
    And its value must match the "^0[67][0-7][0-7]$" regex

  Scenario: the site module's resource takes its input from the configuration
    Given I have fleetform_data defined
    When its address is module.site.fleetform_data.inner
    Then it must contain input
"#;

#[test]
fn terraform_compliance_runs_a_feature_file_and_passes() {
    let dir = changing_fleet();
    let d = dir.path();
    write(d, "features/fleet.feature", FEATURE);
    let out = offline(
        &py_tool("terraform-compliance"),
        &["--no-ansi", "-p", "plan.json", "-f", "features"],
        d,
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("4 scenarios (4 passed)"), "{text}");

    // The same tool fails the gate when a scenario fails.
    write(
        d,
        "features/fleet.feature",
        "Feature: strict\n  Scenario: files are private\n    Given I have local_file defined\n    Then it must contain file_permission\n    And its value must be 0600\n",
    );
    let out = offline(
        &py_tool("terraform-compliance"),
        &["--no-ansi", "-p", "plan.json", "-f", "features"],
        d,
    );
    assert!(!out.status.success(), "{}", output_text(&out));
}

#[test]
fn plan_state_validate_and_ui_stream_read_field_by_field() {
    let dir = changing_fleet();
    let d = dir.path();

    // The plan representation.
    let text = std::fs::read_to_string(d.join("plan.json")).expect("plan.json");
    let plan: reader::Plan = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the plan is not Terraform's format: {e}\n{text}"));
    assert_eq!(plan.format_version, "1.2");
    assert_eq!(plan.terraform_version, "1.11.0");
    assert_eq!(plan.fleetform_version, env!("CARGO_PKG_VERSION"));
    assert!(plan.applyable && plan.complete && !plan.errored);
    time_is_rfc3339(&plan.timestamp);
    assert_eq!(plan.variables["release"].value, "v2");
    let actions: Vec<(String, Vec<reader::ActionWord>, Option<String>)> = plan
        .resource_changes
        .iter()
        .map(|c| {
            (
                c.address.clone(),
                c.change.actions.clone(),
                c.action_reason.clone(),
            )
        })
        .collect();
    use reader::ActionWord::{Create, Delete, NoOp, Update};
    assert_eq!(
        actions,
        [
            ("fleetform_data.created".into(), vec![Create], None),
            (
                "fleetform_data.deleted".into(),
                vec![Delete],
                Some("delete_because_no_resource_config".into())
            ),
            (
                "fleetform_data.replaced".into(),
                vec![Delete, Create],
                Some("replace_because_cannot_update".into())
            ),
            ("fleetform_data.updated".into(), vec![Update], None),
            (
                "local_file.notes".into(),
                vec![Delete, Create],
                Some("replace_because_cannot_update".into())
            ),
            (
                "module.site.fleetform_data.inner".into(),
                vec![Create],
                None
            ),
        ]
        .into_iter()
        .filter(|(_, a, _)| a != &vec![NoOp])
        .collect::<Vec<_>>()
    );
    for c in &plan.resource_changes {
        assert!(
            c.provider_name == "fleetform.io/builtin/fleetform",
            "{}: {}",
            c.address,
            c.provider_name
        );
    }
    let replaced = &plan.resource_changes[2];
    assert_eq!(
        replaced.change.replace_paths,
        [[serde_json::json!("triggers_replace")]]
    );
    let inner = &plan.resource_changes[5];
    assert_eq!(inner.module_address.as_deref(), Some("module.site"));
    assert_eq!(inner.change.after_unknown["input"], true);
    // The configuration: resources, module calls, expressions with references.
    let root = &plan.configuration.root_module;
    assert_eq!(
        plan.configuration.provider_config["fleetform"].full_name,
        "fleetform.io/builtin/fleetform"
    );
    let created = root
        .resources
        .iter()
        .find(|r| r.address == "fleetform_data.created")
        .expect("created in the configuration");
    assert_eq!(created.provider_config_key, "fleetform");
    assert_eq!(
        created.expressions["input"]["references"],
        serde_json::json!(["fleetform_data.updated.output", "fleetform_data.updated"])
    );
    let replaced_config = root
        .resources
        .iter()
        .find(|r| r.address == "fleetform_data.replaced")
        .expect("replaced in the configuration");
    assert_eq!(
        replaced_config.expressions["triggers_replace"]["constant_value"],
        "r2"
    );
    for r in &root.resources {
        for (name, e) in &r.expressions {
            reader::Expression::check_nested(e)
                .unwrap_or_else(|e| panic!("{}.{name}: {e}", r.address));
        }
    }
    let site = &root.module_calls["site"];
    assert_eq!(site.source, "./site");
    assert_eq!(
        site.expressions["v"].references.as_deref(),
        Some(
            &[
                "fleetform_data.replaced.id".to_owned(),
                "fleetform_data.replaced".to_owned()
            ][..]
        )
    );
    assert_eq!(site.module.resources[0].address, "fleetform_data.inner");
    assert_eq!(
        root.outputs["site_id"].expression.references.as_deref(),
        Some(&["module.site.inner_id".to_owned(), "module.site".to_owned()][..])
    );
    assert_eq!(root.variables["release"].default, Some("v2".into()));
    // What the configuration reads of each resource.
    let relevant: Vec<(String, String)> = plan
        .relevant_attributes
        .iter()
        .map(|r| {
            (
                r.resource.clone(),
                r.attribute[0].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for wanted in [
        ("fleetform_data.updated", "output"),
        ("fleetform_data.replaced", "id"),
        ("module.site.fleetform_data.inner", "id"),
    ] {
        assert!(
            relevant.contains(&(wanted.0.into(), wanted.1.into())),
            "{wanted:?} in {relevant:?}"
        );
    }
    // Checks: the variable's validation passed; `updated`'s postcondition reads a known
    // input, so it passes at plan time; `created`'s reads an id only apply makes.
    let checks: Vec<(String, reader::CheckStatus)> = plan
        .checks
        .iter()
        .map(|c| (c.address.to_display.clone(), c.status))
        .collect();
    assert_eq!(
        checks,
        [
            (
                "fleetform_data.created".into(),
                reader::CheckStatus::Unknown
            ),
            ("fleetform_data.updated".into(), reader::CheckStatus::Pass),
            ("var.release".into(), reader::CheckStatus::Pass),
        ]
    );
    assert_eq!(plan.checks[1].address.kind, "resource");
    assert_eq!(
        plan.checks[1].instances[0].address.to_display,
        "fleetform_data.updated"
    );
    assert_eq!(plan.checks[2].address.kind, "var");
    let prior = plan.prior_state.as_ref().expect("prior_state");
    assert_eq!(prior.terraform_version, "1.11.0");

    // A targeted plan is not complete.
    ok(run_in(
        d,
        &[
            "plan",
            "-out=targeted.bin",
            "-target=fleetform_data.created",
        ],
    ));
    let text = ok(run_in(d, &["show", "-json", "targeted.bin"]));
    let targeted: reader::Plan = serde_json::from_str(&text).expect("targeted plan");
    assert!(!targeted.complete, "a -target plan is incomplete");

    // The UI stream of an apply of the saved plan (a separate process, as pipelines do),
    // then of a plan with refresh.
    let out = ok(run_in(d, &["apply", "-json", "plan.bin"]));
    let messages = ui_messages(&out);
    let steps: Vec<(String, String)> = messages
        .iter()
        .filter_map(|(m, body)| match body {
            reader::UiBody::Hook(h) if h.resource.addr == "fleetform_data.replaced" => {
                Some((m.ty.clone(), h.action.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("apply_start".to_owned(), "delete".to_owned()),
            ("apply_complete".into(), "delete".into()),
            ("apply_start".into(), "create".into()),
            ("apply_complete".into(), "create".into()),
        ],
        "a replacement streams as delete then create"
    );
    let summary = messages
        .iter()
        .find_map(|(_, b)| match b {
            reader::UiBody::ChangeSummary(s) => Some(s),
            _ => None,
        })
        .expect("change_summary");
    assert_eq!(
        (
            summary.add,
            summary.change,
            summary.remove,
            summary.operation.as_str()
        ),
        (4, 1, 3, "apply")
    );
    let out = ok(run_in(d, &["plan", "-json"]));
    let messages = ui_messages(&out);
    let refreshed: BTreeSet<String> = messages
        .iter()
        .filter_map(|(m, body)| match body {
            reader::UiBody::Hook(h) if m.ty == "refresh_complete" => Some(h.resource.addr.clone()),
            _ => None,
        })
        .collect();
    let started = messages
        .iter()
        .filter(|(m, _)| m.ty == "refresh_start")
        .count();
    assert_eq!(
        refreshed.len(),
        5,
        "every recorded object is refreshed: {refreshed:?}"
    );
    assert_eq!(started, 5);
    match &messages[0].1 {
        reader::UiBody::Version(v) => {
            assert_eq!((v.terraform.as_str(), v.ui.as_str()), ("1.11.0", "1.2"));
            assert_eq!(v.fleetform, env!("CARGO_PKG_VERSION"));
        }
        other => panic!("the stream starts with its version, not {other:?}"),
    }

    // The state representation.
    let text = ok(run_in(d, &["show", "-json"]));
    let state: reader::State = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the state is not Terraform's format: {e}\n{text}"));
    let values = state.values.expect("values");
    let addresses: Vec<&str> = values
        .root_module
        .resources
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(
        addresses,
        [
            "fleetform_data.created",
            "fleetform_data.replaced",
            "fleetform_data.updated",
            "local_file.notes"
        ]
    );
    assert_eq!(
        values.root_module.child_modules[0].address.as_deref(),
        Some("module.site")
    );
    assert!(values.outputs["site_id"].value.is_some());
    assert_eq!(values.root_module.resources[0].mode, reader::Mode::Managed);

    // validate -json, on a broken configuration.
    write(
        d,
        "broken.hcl",
        "resource \"fleetform_data\" \"x\" {\n  inptu = 1\n}\n",
    );
    let out = run_in(d, &["validate", "-json"]);
    let v: reader::Validate = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("validate -json: {e}\n{}", output_text(&out)));
    assert!(!v.valid);
    assert_eq!(v.error_count, 1);
    let diag = &v.diagnostics[0];
    assert_eq!(diag.severity, reader::Severity::Error);
    let range = diag.range.as_ref().expect("range");
    assert_eq!(
        (range.filename.as_str(), range.start.line),
        ("broken.hcl", 2)
    );
    assert_eq!(diag.snippet.as_ref().expect("snippet").code, "  inptu = 1");
}

fn ui_messages(stream: &str) -> Vec<(reader::UiMessage, reader::UiBody)> {
    stream
        .lines()
        .map(|line| {
            let m: reader::UiMessage = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a UI message: {e}\n{line}"));
            time_is_rfc3339(&m.timestamp);
            assert_eq!(m.module, "fleetform.ui");
            assert!(
                ["info", "warn", "error"].contains(&m.level.as_str()),
                "{line}"
            );
            assert!(!m.message.is_empty());
            let body = m.body().unwrap_or_else(|e| panic!("{e}\n{line}"));
            (m, body)
        })
        .collect()
}

/// `2026-12-06T21:32:40Z` or with fractional seconds.
fn time_is_rfc3339(text: &str) {
    let b = text.as_bytes();
    assert!(
        b.len() >= 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && text.ends_with('Z'),
        "not RFC 3339 UTC: {text}"
    );
}

/// Terraform's documented pipeline: `init -input=false`, `plan -out`, `apply PLANFILE`,
/// each a separate process with no terminal, then a second plan shows nothing to do.
#[test]
fn pipeline_init_plan_out_apply_planfile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "main.hcl", BEFORE);
    ok(run_in(d, &["init", "-input=false"]));
    ok(run_in(d, &["plan", "-input=false", "-out=tfplan"]));
    let out = ok(run_in(d, &["apply", "-input=false", "tfplan"]));
    assert!(out.contains("Apply complete! Resources: 4 added"), "{out}");
    let out = run_in(d, &["plan", "-input=false", "-detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

/// The Terraform CLI habits: `version -json`, `providers`, `providers schema -json`,
/// `taint`/`untaint`, `workspace select -or-create`, `-compact-warnings`, shell completion
/// and Go-style durations.
#[test]
fn terraform_cli_habits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "main.hcl", BEFORE);
    write(d, "site/main.hcl", MODULE);
    write(
        d,
        "more.hcl",
        "module \"site\" {\n  source = \"./site\"\n  v      = \"x\"\n}\n",
    );

    let version: serde_json::Value =
        serde_json::from_str(&ok(run_in(d, &["version", "-json"]))).expect("version -json");
    assert_eq!(version["fleetform_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["terraform_version"], "1.11.0");
    assert!(version["platform"].as_str().unwrap().contains('_'));
    assert_eq!(
        version["provider_selections"]["fleetform.io/builtin/host"],
        env!("CARGO_PKG_VERSION")
    );

    let tree = ok(run_in(d, &["providers"]));
    assert!(
        tree.contains("├── provider[fleetform.io/builtin/fleetform]\n└── module.site\n    └── provider[fleetform.io/builtin/fleetform]"),
        "{tree}"
    );
    let schema: serde_json::Value =
        serde_json::from_str(&ok(run_in(d, &["providers", "schema", "-json"]))).expect("schema");
    let data = &schema["provider_schemas"]["fleetform.io/builtin/fleetform"]["resource_schemas"]["fleetform_data"]
        ["block"]["attributes"];
    assert_eq!(data["input"]["optional"], true);
    assert_eq!(data["id"]["computed"], true);
    assert_eq!(data["input"]["type"], "dynamic");

    // Go-style durations wherever one is read.
    ok(run_in(
        d,
        &["apply", "-auto-approve", "-lock-timeout=1m30s"],
    ));
    let bad = run_in(d, &["plan", "-lock-timeout=90"]);
    assert_eq!(bad.status.code(), Some(1), "{}", output_text(&bad));
    assert!(
        output_text(&bad).contains("missing unit"),
        "{}",
        output_text(&bad)
    );

    // taint / untaint.
    assert!(
        ok(run_in(d, &["taint", "fleetform_data.updated"])).contains("has been marked as tainted")
    );
    let plan = ok(run_in(d, &["plan", "-no-color"]));
    assert!(
        plan.contains("fleetform_data.updated is tainted, so must be replaced"),
        "{plan}"
    );
    assert!(
        ok(run_in(d, &["untaint", "fleetform_data.updated"])).contains("successfully untainted")
    );
    let out = run_in(d, &["plan", "-detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let missing = run_in(d, &["taint", "fleetform_data.nope"]);
    assert_eq!(missing.status.code(), Some(1));
    ok(run_in(
        d,
        &["taint", "-allow-missing", "fleetform_data.nope"],
    ));

    // -compact-warnings: a warning without errors is one line.
    let out = run_in(
        d,
        &[
            "plan",
            "-no-color",
            "-compact-warnings",
            "-target=fleetform_data.updated",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Warnings:\n\n- Resource targeting is in effect\n"),
        "{err}"
    );
    assert!(
        !err.contains("The -target option is not for routine use"),
        "{err}"
    );

    // workspace select -or-create.
    let out = ok(run_in(d, &["workspace", "select", "-or-create", "staging"]));
    assert!(
        out.contains("Created and switched to workspace \"staging\""),
        "{out}"
    );
    let out = ok(run_in(d, &["workspace", "select", "-or-create", "staging"]));
    assert!(out.contains("Switched to workspace \"staging\""), "{out}");

    // Completion scripts name the commands.
    let script = ok(run_in(d, &["completion", "bash"]));
    for word in ["taint", "workspace", "providers", "-detailed-exitcode"] {
        assert!(
            script.contains(word.trim_start_matches('-')),
            "{word} missing"
        );
    }
    let zsh = ok(run_in(d, &["completion", "zsh"]));
    assert!(zsh.starts_with("#compdef fleetform"), "{zsh}");
}

/// `fleetform console` evaluates against the configuration and the recorded state: a
/// resource's applied attributes, variables, functions and for-expressions; an unknown
/// name is an error (exit 1 when not interactive).
#[test]
fn console_evaluates_against_configuration_and_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write(d, "main.hcl", BEFORE);
    ok(run_in(d, &["apply", "-auto-approve"]));
    let state: serde_json::Value =
        serde_json::from_str(&ok(run_in(d, &["show", "-json"]))).expect("state");
    let id = state["values"]["root_module"]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["address"] == "fleetform_data.replaced")
        .expect("replaced")["values"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let console = |input: &str| {
        use std::io::Write as _;
        let mut child = fleetform_tests::fleetform()
            .current_dir(d)
            .arg("console")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("console");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        child.wait_with_output().expect("console output")
    };
    let out = console(
        "fleetform_data.replaced.id\nvar.release\nupper(fleetform_data.updated.output)\n[for f in [local_file.notes] : f.file_permission]\n",
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("\"{id}\"\n\"v1\"\n\"V1\"\n[\n  \"0644\",\n]\n")
    );
    let out = console("fleetform_data.nope.id\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Reference to undeclared resource"),
        "{}",
        output_text(&out)
    );
}
