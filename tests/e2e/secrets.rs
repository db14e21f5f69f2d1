//! The canary test: a secret in a sensitive variable, used in a host_command's argument
//! vector, a script, a file path, a provider block and a local_file, goes through every
//! command and output form (human, -json, show -json, logs at trace) of a whole workflow
//! on the lab (init, validate, plan -out, apply PLANFILE, show, state, output, graph, a
//! failing command, plan -destroy, destroy) and is found nowhere but in the state and plan
//! files, and not even there once encryption is configured. Needs root (the lab).

use std::path::{Path, PathBuf};
use std::process::Output;

use fleetform_tests::lab::Lab;
use fleetform_tests::output_text;

const CANARY: &str = "canary-4f1e9b27";
const KEY_ENV: &str = "FLEETFORM_TEST_STATE_KEY";
const KEY: &str = "9c3e1a55d2b34e9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b";

const ENCRYPTION: &str = r#"
fleet {
  encryption {
    key_provider "key" "main" {
      env = "FLEETFORM_TEST_STATE_KEY"
    }
    method "aes_gcm" "main" {
      keys = key_provider.key.main
    }
    state {
      method   = method.aes_gcm.main
      enforced = true
    }
    plan {
      method   = method.aes_gcm.main
      enforced = true
    }
  }
}
"#;

const FLEET: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
variable "canary" {
  type      = string
  sensitive = true
}
variable "dir" { type = string }

# The provider block reads its key from a path that holds the canary.
provider "host" {
  private_key_file = "${var.dir}/keys-${var.canary}/id"
  connect_timeout  = "2s"
}

resource "host" "h" {
  address  = var.lab.hosts["lab-1"].address
  port     = var.lab.hosts["lab-1"].port
  host_key = var.lab.hosts["lab-1"].host_key
}

resource "host_command" "argv" {
  host    = host.h.id
  command = ["echo", "argv:${var.canary}"]
}

resource "host_command" "script" {
  host   = host.h.id
  script = "echo script:${var.canary}; echo stderr:${var.canary} >&2"
}

resource "local_file" "path" {
  filename = "${var.dir}/out/${var.canary}.txt"
  content  = "plain content"
}

resource "local_file" "secret" {
  filename          = "${var.dir}/private/kubeconfig"
  sensitive_content = "token: ${var.canary}"
}

output "argv_stdout" {
  value     = host_command.argv.stdout
  sensitive = true
}

output "secret_sha" {
  value = local_file.secret.content_sha256
}
"#;

/// A command that fails after printing the canary on stderr.
const FAILING: &str = r#"
resource "host_command" "fails" {
  host    = host.h.id
  command = ["sh", "-c", "echo failed:$0 >&2; exit 3", var.canary]
}
"#;

struct Run {
    dir: PathBuf,
    files: PathBuf,
    encrypted: bool,
    /// Everything every command printed, labelled.
    printed: Vec<(String, String)>,
}

impl Run {
    fn fleetform(&mut self, args: &[&str], trace: bool) -> Output {
        let mut cmd = fleetform_tests::fleetform();
        cmd.current_dir(&self.dir)
            .env("FLEETFORM_VAR_canary", CANARY)
            .env(
                "FLEETFORM_VAR_dir",
                self.files.to_str().expect("utf-8 path"),
            )
            .args(args);
        if trace {
            cmd.env("FLEETFORM_LOG", "trace");
        }
        if self.encrypted {
            cmd.env(KEY_ENV, KEY);
        }
        let out = cmd.output().expect("run fleetform");
        self.printed.push((
            format!(
                "fleetform {}{}",
                args.join(" "),
                if trace { " (trace)" } else { "" }
            ),
            output_text(&out),
        ));
        out
    }

    fn ok(&mut self, args: &[&str], trace: bool) -> String {
        let out = self.fleetform(args, trace);
        assert!(
            out.status.success(),
            "fleetform {args:?} failed:\n{}",
            output_text(&out)
        );
        output_text(&out)
    }
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn canary_stays_in_state_and_plan_files(encrypted: bool) {
    let mut lab = Lab::start(1).expect("lab");
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("fleet");
    let files = root.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let key_dir = files.join(format!("keys-{CANARY}"));
    std::fs::create_dir_all(&key_dir).unwrap();
    std::fs::copy(lab.client_key(), key_dir.join("id")).unwrap();
    std::fs::write(dir.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    let block = if encrypted { ENCRYPTION } else { "" };
    std::fs::write(dir.join("main.hcl"), format!("{block}{FLEET}")).unwrap();
    let mut run = Run {
        dir: dir.clone(),
        files: files.clone(),
        encrypted,
        printed: Vec::new(),
    };

    // An output of a sensitive value without `sensitive = true` is refused, as in Terraform.
    std::fs::write(
        dir.join("leak.hcl"),
        "output \"leak\" {\n  value = host_command.script.stdout\n}\n",
    )
    .unwrap();
    run.ok(&["init", "-input=false"], true);
    let refused = run.fleetform(&["plan"], false);
    let text = output_text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(text.contains("Output refers to sensitive values"), "{text}");
    std::fs::remove_file(dir.join("leak.hcl")).unwrap();

    run.ok(&["validate"], true);
    run.ok(&["validate", "-json"], false);
    run.ok(&["plan", "-input=false", "-out", "plan.bin"], true);
    run.ok(&["plan", "-json"], false);
    run.ok(&["show", "plan.bin"], false);
    run.ok(&["show", "-json", "plan.bin"], false);
    run.ok(&["apply", "plan.bin"], true);

    // The command saw the canary; the private file is private.
    let shown = run.fleetform(&["show", "-json"], false);
    assert!(shown.status.success(), "{}", output_text(&shown));
    let state: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let resources = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .clone();
    let argv = resources
        .iter()
        .find(|r| r["address"] == "host_command.argv")
        .unwrap();
    assert_eq!(argv["values"]["stdout"], serde_json::Value::Null, "{argv}");
    assert_eq!(argv["sensitive_values"]["stdout"], true, "{argv}");
    assert_eq!(argv["values"]["exit_code"], 0, "{argv}");
    let secret_file = files.join("private/kubeconfig");
    assert_eq!(
        std::fs::read_to_string(&secret_file).unwrap(),
        format!("token: {CANARY}")
    );
    assert!(files.join(format!("out/{CANARY}.txt")).is_file());

    run.ok(&["show"], false);
    run.ok(&["output"], false);
    run.ok(&["state", "list"], false);
    for addr in [
        "host_command.argv",
        "host_command.script",
        "local_file.path",
        "local_file.secret",
        "host.h",
    ] {
        run.ok(&["state", "show", addr], false);
    }
    run.ok(&["graph"], false);
    let unchanged = run.fleetform(&["plan", "-detailed-exitcode"], true);
    assert_eq!(
        unchanged.status.code(),
        Some(0),
        "{}",
        output_text(&unchanged)
    );
    run.ok(
        &[
            "apply",
            "-auto-approve",
            "-json",
            "-replace=host_command.script",
        ],
        true,
    );

    // A command failing with the canary on its stderr: the error says so without it.
    std::fs::write(dir.join("fails.hcl"), FAILING).unwrap();
    let failed = run.fleetform(&["apply", "-auto-approve"], true);
    let text = output_text(&failed);
    assert_eq!(failed.status.code(), Some(1), "{text}");
    assert!(text.contains("the command exited with code 3"), "{text}");
    assert!(
        text.contains("(output suppressed due to sensitive value in config)"),
        "{text}"
    );
    std::fs::remove_file(dir.join("fails.hcl")).unwrap();

    run.ok(&["plan", "-destroy", "-out", "destroy.bin"], true);
    run.ok(&["show", "-json", "destroy.bin"], false);

    // Only the state and plan files may hold the canary (and, encrypted, not even they).
    let mut holders = Vec::new();
    for path in files_under(&dir) {
        let bytes = std::fs::read(&path).unwrap();
        if contains(&bytes, CANARY) {
            holders.push(path.strip_prefix(&dir).unwrap().display().to_string());
        }
    }
    holders.sort();
    if encrypted {
        assert_eq!(
            holders,
            Vec::<String>::new(),
            "encrypted files hold the canary"
        );
    } else {
        assert!(
            holders.iter().any(|h| h == "fleet.state"),
            "the state holds the canary, or the test proves nothing: {holders:?}"
        );
        for holder in &holders {
            assert!(
                holder.starts_with("fleet.state") || holder.ends_with(".bin"),
                "{holder} holds the canary (all: {holders:?})"
            );
        }
    }

    run.ok(&["destroy", "-auto-approve"], true);
    assert!(!secret_file.exists());
    for (what, printed) in &run.printed {
        assert!(
            !printed.contains(CANARY),
            "{what} printed the canary:\n{printed}"
        );
    }
    // Every form ran: human, -json, show -json, and trace logs (which say a lot).
    assert!(
        run.printed
            .iter()
            .any(|(w, p)| w.contains("(trace)") && p.contains("DEBUG")),
        "no logs were printed at trace level"
    );
    lab.stop().unwrap();
}

#[test]
fn a_sensitive_variable_is_found_nowhere_but_the_state_and_plan_files() {
    canary_stays_in_state_and_plan_files(false);
}

#[test]
fn with_encryption_the_canary_is_found_in_no_file_at_all() {
    canary_stays_in_state_and_plan_files(true);
}
