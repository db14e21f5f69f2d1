//! Root module input variables through the binary: the precedence of their sources
//! (default < FLEETFORM_VAR_* < *.auto.hcl in name order < -var / -var-file in command-line
//! order), type errors naming the source they came from, undeclared variables, and
//! Terraform's single-dash flags.
//!
//! The winning value is observed through a validation rule that always fails and puts the
//! value in its error message, so that a wrong winner is shown in the failure.

use std::path::Path;
use std::process::Output;

use fleetform_tests::fleetform;
use serde_json::Value as Json;

/// A variable whose value is reported by its (always failing) validation rule.
const PROBE: &str = r#"variable "region" {
  type    = string
  default = "default"

  validation {
    condition     = var.region == "__never__"
    error_message = "region=${var.region};"
  }
}
"#;

/// Writes `files` into a new temporary directory.
fn fleet(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, text).expect("write file");
    }
    dir
}

/// Runs `fleetform ARGS` in `dir` with exactly the FLEETFORM_* variables in `env`.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = fleetform();
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run fleetform")
}

/// Runs `fleetform validate -json ARGS` and returns the exit code and the JSON.
fn validate_json(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Json) {
    let mut all = vec!["validate", "-json"];
    all.extend_from_slice(args);
    let out = run(dir, &all, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "fleetform panicked:\n{stderr}"
    );
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validate -json printed no JSON ({e}):\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code(), json)
}

fn diagnostics(json: &Json) -> Vec<&Json> {
    json["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

/// One line per diagnostic: `severity file:line:col: summary: detail`.
fn lines(json: &Json) -> Vec<String> {
    diagnostics(json)
        .iter()
        .map(|d| {
            let at = match d.get("range") {
                Some(r) => format!(
                    "{}:{}:{}",
                    r["filename"].as_str().unwrap_or_default(),
                    r["start"]["line"],
                    r["start"]["column"]
                ),
                None => "-".into(),
            };
            format!(
                "{} {at}: {}: {}",
                d["severity"].as_str().unwrap_or_default(),
                d["summary"].as_str().unwrap_or_default(),
                d["detail"].as_str().unwrap_or_default().replace('\n', " ")
            )
        })
        .collect()
}

/// The value of `var.region` and the phrase naming its source, read from the probe's
/// validation error.
fn winner(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let (_, json) = validate_json(dir, args, env);
    let found: Vec<&Json> = diagnostics(&json)
        .into_iter()
        .filter(|d| d["summary"] == "Invalid value for variable")
        .collect();
    let [d] = found[..] else {
        panic!(
            "expected exactly one validation error, got:\n{}",
            lines(&json).join("\n")
        );
    };
    let detail = d["detail"].as_str().unwrap_or_default();
    let value = detail
        .strip_prefix("region=")
        .and_then(|rest| rest.split_once(';'))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_else(|| panic!("unexpected detail: {detail}"));
    let source = detail
        .split_once("The value came ")
        .map(|(_, s)| s.trim_end_matches('.').to_owned())
        .unwrap_or_default();
    (value, source)
}

// --- precedence ------------------------------------------------------------------------

#[test]
fn default_is_used_without_other_sources() {
    let dir = fleet(&[("main.hcl", PROBE)]);
    assert_eq!(
        winner(dir.path(), &[], &[]),
        ("default".into(), "from its default".into())
    );
}

#[test]
fn environment_beats_the_default() {
    let dir = fleet(&[("main.hcl", PROBE)]);
    assert_eq!(
        winner(dir.path(), &[], &[("FLEETFORM_VAR_region", "env")]),
        (
            "env".into(),
            "from the environment variable FLEETFORM_VAR_region".into()
        )
    );
}

#[test]
fn auto_files_beat_the_environment_and_later_names_win() {
    let dir = fleet(&[
        ("main.hcl", PROBE),
        ("b.auto.hcl", "region = \"b\"\n"),
        ("a.auto.hcl", "region = \"a\"\n"),
    ]);
    let env = [("FLEETFORM_VAR_region", "env")];
    assert_eq!(
        winner(dir.path(), &[], &env),
        ("b".into(), "from b.auto.hcl:1:10".into())
    );
    let only_a = fleet(&[("main.hcl", PROBE), ("a.auto.hcl", "region = \"a\"\n")]);
    assert_eq!(winner(only_a.path(), &[], &env).0, "a");
}

#[test]
fn command_line_beats_auto_files_and_environment() {
    let dir = fleet(&[("main.hcl", PROBE), ("b.auto.hcl", "region = \"b\"\n")]);
    let env = [("FLEETFORM_VAR_region", "env")];
    assert_eq!(
        winner(dir.path(), &["-var", "region=cli"], &env),
        (
            "cli".into(),
            "from a -var option on the command line".into()
        )
    );
}

#[test]
fn var_and_var_file_apply_in_command_line_order() {
    let dir = fleet(&[
        ("main.hcl", PROBE),
        ("a.auto.hcl", "region = \"auto\"\n"),
        ("envs/one.hcl", "region = \"one\"\n"),
        ("envs/two.hcl", "region = \"two\"\n"),
    ]);
    let p = dir.path();
    assert_eq!(
        winner(p, &["-var", "region=cli", "-var-file", "envs/one.hcl"], &[]),
        ("one".into(), "from envs/one.hcl:1:10".into())
    );
    assert_eq!(
        winner(p, &["-var-file", "envs/one.hcl", "-var", "region=cli"], &[]).0,
        "cli"
    );
    assert_eq!(
        winner(
            p,
            &[
                "-var-file=envs/two.hcl",
                "-var=region=x",
                "-var-file=envs/one.hcl"
            ],
            &[]
        )
        .0,
        "one"
    );
    assert_eq!(
        winner(
            p,
            &["-var-file", "envs/one.hcl", "-var-file", "envs/two.hcl"],
            &[]
        )
        .0,
        "two"
    );
    assert_eq!(
        winner(
            p,
            &[
                "-var",
                "region=first",
                "-var-file",
                "envs/two.hcl",
                "-var",
                "region=last"
            ],
            &[]
        )
        .0,
        "last"
    );
}

#[test]
fn var_value_is_everything_after_the_first_equals_sign() {
    let dir = fleet(&[("main.hcl", PROBE)]);
    assert_eq!(
        winner(dir.path(), &["-var", "region=a=b c"], &[]).0,
        "a=b c"
    );
}

// --- type conversion errors name their source ------------------------------------------

const PORT: &str = r#"variable "port" {
  type    = number
  default = 22
}
"#;

fn single_error(json: &Json) -> String {
    let all = lines(json);
    let errors: Vec<&String> = all.iter().filter(|l| l.starts_with("error ")).collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one error, got:\n{}",
        all.join("\n")
    );
    errors[0].clone()
}

#[test]
fn type_error_from_the_environment_names_the_environment_variable() {
    let dir = fleet(&[("main.hcl", PORT)]);
    let (code, json) = validate_json(dir.path(), &[], &[("FLEETFORM_VAR_port", "ssh")]);
    assert_eq!(code, Some(1));
    assert_eq!(
        single_error(&json),
        "error main.hcl:1:1: Invalid value for input variable: The given value is not suitable for var.port declared at main.hcl:1:1: a number is required, but \"ssh\" is not a decimal number. The value came from the environment variable FLEETFORM_VAR_port."
    );
}

#[test]
fn type_error_from_the_command_line_names_the_option() {
    let dir = fleet(&[("main.hcl", PORT)]);
    let (code, json) = validate_json(dir.path(), &["-var", "port=ssh"], &[]);
    assert_eq!(code, Some(1));
    let line = single_error(&json);
    assert!(line.starts_with("error main.hcl:1:1: Invalid value for input variable: "));
    assert!(
        line.ends_with("The value came from a -var option on the command line."),
        "{line}"
    );
}

#[test]
fn type_error_from_an_auto_file_points_at_the_value() {
    let dir = fleet(&[
        ("main.hcl", PORT),
        ("a.auto.hcl", "port = 2222\n"),
        ("b.auto.hcl", "port = \"ssh\"\n"),
    ]);
    let (code, json) = validate_json(dir.path(), &[], &[]);
    assert_eq!(code, Some(1));
    let line = single_error(&json);
    assert!(line.starts_with("error b.auto.hcl:1:8: "), "{line}");
    assert!(
        line.ends_with("The value came from b.auto.hcl:1:8."),
        "{line}"
    );
}

#[test]
fn type_error_from_a_var_file_points_at_the_value() {
    let dir = fleet(&[("main.hcl", PORT), ("envs/prod.hcl", "\n  port   = [22]\n")]);
    let (code, json) = validate_json(dir.path(), &["-var-file", "envs/prod.hcl"], &[]);
    assert_eq!(code, Some(1));
    let line = single_error(&json);
    assert!(line.starts_with("error envs/prod.hcl:2:12: "), "{line}");
    assert!(
        line.ends_with("The value came from envs/prod.hcl:2:12."),
        "{line}"
    );
}

#[test]
fn collection_values_from_the_environment_and_command_line_are_hcl() {
    let vars = r#"variable "ports" {
  type = list(number)
  validation {
    condition     = length(var.ports) == 99
    error_message = "ports=${jsonencode(var.ports)};"
  }
}
"#;
    let dir = fleet(&[("main.hcl", vars)]);
    let (_, json) = validate_json(dir.path(), &[], &[("FLEETFORM_VAR_ports", "[1, \"2\"]")]);
    let all = lines(&json);
    assert!(
        all.iter().any(|l| l.contains("ports=[1,2];")),
        "{}",
        all.join("\n")
    );
    let (code, json) = validate_json(dir.path(), &[], &[("FLEETFORM_VAR_ports", "[1,")]);
    assert_eq!(code, Some(1));
    let line = single_error(&json);
    assert!(
        line.starts_with("error main.hcl:1:1: Invalid value for input variable: The value for variable \"ports\" (from the environment variable FLEETFORM_VAR_ports) is not a valid HCL expression: "),
        "{line}"
    );
    let (code, json) = validate_json(dir.path(), &["-var", "ports=[\"x\"]"], &[]);
    assert_eq!(code, Some(1));
    let line = single_error(&json);
    assert!(
        line.ends_with("The value came from a -var option on the command line."),
        "{line}"
    );
}

// --- undeclared variables --------------------------------------------------------------

#[test]
fn var_for_an_undeclared_variable_is_an_error() {
    let dir = fleet(&[("main.hcl", PORT)]);
    let (code, json) = validate_json(dir.path(), &["-var", "prot=22"], &[]);
    assert_eq!(code, Some(1));
    assert_eq!(json["valid"], false);
    let line = single_error(&json);
    assert!(
        line.starts_with("error -: Value for undeclared variable: A variable named \"prot\" was assigned on the command line"),
        "{line}"
    );
}

#[test]
fn undeclared_variable_in_an_auto_file_is_a_warning() {
    let dir = fleet(&[
        ("main.hcl", PORT),
        ("site.auto.hcl", "port = 22\nprot = 23\n"),
    ]);
    let (code, json) = validate_json(dir.path(), &[], &[]);
    assert_eq!(code, Some(0), "{}", lines(&json).join("\n"));
    assert_eq!(json["valid"], true);
    assert_eq!(json["error_count"], 0);
    assert_eq!(json["warning_count"], 1);
    let all = lines(&json);
    assert!(
        all[0].starts_with(
            "warning site.auto.hcl:2:1: Value for undeclared variable: The root module does not declare a variable named \"prot\""
        ),
        "{}",
        all.join("\n")
    );
    // The human output says so too, and still succeeds.
    let out = run(dir.path(), &["validate"], &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Success!"));
}

#[test]
fn undeclared_variable_in_the_environment_is_ignored() {
    let dir = fleet(&[("main.hcl", PORT)]);
    let (code, json) = validate_json(dir.path(), &[], &[("FLEETFORM_VAR_prot", "1")]);
    assert_eq!(code, Some(0));
    assert_eq!(json["warning_count"], 0);
}

#[test]
fn missing_var_file_is_an_error() {
    let dir = fleet(&[("main.hcl", PORT)]);
    let (code, json) = validate_json(dir.path(), &["-var-file", "nope.hcl"], &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        single_error(&json),
        "error -: Failed to read variables file: Given variables file nope.hcl does not exist."
    );
}

#[test]
fn malformed_var_option_is_an_error() {
    let dir = fleet(&[("main.hcl", PORT)]);
    let (code, json) = validate_json(dir.path(), &["-var", "port"], &[]);
    assert_eq!(code, Some(1));
    assert!(single_error(&json).starts_with("error -: Invalid -var option: "));
}

// --- required variables ----------------------------------------------------------------

#[test]
fn required_root_variable_without_a_value_does_not_fail_validate() {
    let dir = fleet(&[(
        "main.hcl",
        r#"variable "address" {
  type = string
}

variable "hosts" {
  type = number
}

resource "host" "web" {
  count   = var.hosts
  address = "${var.address}-${count.index}"
}
"#,
    )]);
    let (code, json) = validate_json(dir.path(), &[], &[]);
    assert_eq!(code, Some(0), "{}", lines(&json).join("\n"));
    assert_eq!(json["valid"], true);
    assert_eq!(json["warning_count"], 0);
    // Given values are checked.
    let (code, json) = validate_json(dir.path(), &["-var", "hosts=-1"], &[]);
    assert_eq!(code, Some(1));
    assert!(
        single_error(&json).contains("Invalid count argument"),
        "{}",
        lines(&json).join("\n")
    );
}

// --- Terraform-style flags ---------------------------------------------------------------

#[test]
fn single_and_double_dash_flags_both_work() {
    let dir = fleet(&[("fleet/main.hcl", PROBE)]);
    let root = dir.path();
    let fleet_dir = root.join("fleet");
    assert_eq!(winner(&fleet_dir, &["-var=region=one"], &[]).0, "one");
    assert_eq!(winner(&fleet_dir, &["--var", "region=two"], &[]).0, "two");
    assert_eq!(winner(&fleet_dir, &["--var=region=three"], &[]).0, "three");
    for chdir in [
        vec!["-chdir=fleet"],
        vec!["--chdir=fleet"],
        vec!["--chdir", "fleet"],
    ] {
        for json_flag in ["-json", "--json"] {
            let mut args = chdir.clone();
            args.extend(["validate", json_flag, "-var", "region=cd"]);
            let out = run(root, &args, &[]);
            let json: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{args:?}: no JSON ({e}): {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let all = lines(&json);
            assert!(
                all.iter().any(|l| l.contains("region=cd;")),
                "{args:?}: {}",
                all.join("\n")
            );
        }
    }
}

#[test]
fn var_file_paths_are_relative_to_the_chdir_directory() {
    let dir = fleet(&[
        ("fleet/main.hcl", PROBE),
        ("fleet/envs/prod.hcl", "region = \"prod\"\n"),
    ]);
    let out = run(
        dir.path(),
        &[
            "-chdir=fleet",
            "validate",
            "-json",
            "-var-file=envs/prod.hcl",
        ],
        &[],
    );
    let json: Json = serde_json::from_slice(&out.stdout).expect("json");
    let all = lines(&json);
    assert!(
        all.iter().any(|l| l.contains("region=prod;")),
        "{}",
        all.join("\n")
    );
}

#[test]
fn graph_takes_the_same_inputs() {
    let dir = fleet(&[(
        "main.hcl",
        r#"variable "names" {
  type    = set(string)
  default = []
}

resource "host" "web" {
  for_each = var.names
  address  = each.key
}
"#,
    )]);
    let out = run(dir.path(), &["graph", "-var", "names=[\"a\", \"b\"]"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.contains(r#"host.web[\"a\"]"#), "{dot}");
    assert!(dot.contains(r#"host.web[\"b\"]"#), "{dot}");
    let out = run(
        dir.path(),
        &["graph"],
        &[("FLEETFORM_VAR_names", "[\"c\"]")],
    );
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.contains(r#"host.web[\"c\"]"#), "{dot}");
    assert!(!dot.contains(r#"host.web[\"a\"]"#), "{dot}");
}

#[test]
fn sensitive_variable_errors_do_not_show_the_secret_when_validation_fails() {
    let dir = fleet(&[(
        "main.hcl",
        r#"variable "token" {
  type      = string
  sensitive = true

  validation {
    condition     = length(var.token) > 20
    error_message = "The token ${var.token} is too short."
  }
}
"#,
    )]);
    let (code, json) = validate_json(dir.path(), &["-var", "token=hunter2"], &[]);
    assert_eq!(code, Some(1));
    let all = lines(&json).join("\n");
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("(error message is sensitive)"), "{all}");
}

// --- bugs ----------------------------------------------------------------------------------

#[test]
fn type_error_of_a_sensitive_variable_does_not_show_the_value() {
    // Terraform's conversion errors never include the value ("a number is required").
    let dir = fleet(&[(
        "main.hcl",
        "variable \"pin\" {\n  type      = number\n  sensitive = true\n}\n",
    )]);
    for (args, env) in [
        (vec!["-var", "pin=12a4-secret"], vec![]),
        (vec![], vec![("FLEETFORM_VAR_pin", "12a4-secret")]),
    ] {
        let (code, json) = validate_json(dir.path(), &args, &env);
        assert_eq!(code, Some(1));
        let all = lines(&json).join("\n");
        assert!(!all.contains("12a4-secret"), "{all}");
    }
}

#[test]
fn any_typed_variable_from_the_command_line_is_parsed_as_hcl() {
    // Terraform parses text values of every non-primitive type constraint, `any`
    // included, as HCL expressions; only primitive types (and no type) take the raw string.
    let dir = fleet(&[(
        "main.hcl",
        r#"variable "zones" {
  type = any

  validation {
    condition     = false
    error_message = "zones=${jsonencode(var.zones)};"
  }
}
"#,
    )]);
    let (_, json) = validate_json(dir.path(), &["-var", "zones=[\"a\", \"b\"]"], &[]);
    let all = lines(&json).join("\n");
    assert!(all.contains("zones=[\"a\",\"b\"];"), "{all}");
}

#[test]
fn overridden_environment_value_is_not_parsed() {
    // Terraform gathers the raw values of every source first and parses only the winner.
    let dir = fleet(&[(
        "main.hcl",
        "variable \"ports\" {\n  type    = list(number)\n  default = []\n}\n",
    )]);
    let (code, json) = validate_json(
        dir.path(),
        &["-var", "ports=[22]"],
        &[("FLEETFORM_VAR_ports", "[1,")],
    );
    assert_eq!(code, Some(0), "{}", lines(&json).join("\n"));
}
