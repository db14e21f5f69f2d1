//! The host provider against the lab's real OpenSSH hosts: facts, files and commands
//! converge and stay converged; drift on a host is found and undone; triggers rerun only
//! on change; wrong host keys and credentials are refused with distinct errors; a cut-off
//! host fails only its own resources; configuration values reach hosts as data; secrets
//! never reach output. Needs root (the lab).

use std::path::Path;

use fleetform_tests::lab::{Lab, LabSpec};
use fleetform_tests::output_text as text;
use fleetform_tests::{plan_then_apply, run_in};

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run_in(dir, args);
    assert!(
        out.status.success(),
        "fleetform {args:?} failed:\n{}",
        text(&out)
    );
    text(&out)
}

/// Writes `main.hcl` (the fleet) and `lab.auto.hcl` (the lab, as `var.lab`).
fn fleet(dir: &Path, lab: &Lab, main: &str) {
    std::fs::write(dir.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    std::fs::write(dir.join("main.hcl"), main).unwrap();
}

const VARIABLES: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
variable "release" {
  type    = string
  default = "1"
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "2s"
}
"#;

const CONVERGE: &str = r#"
resource "host" "node" {
  for_each = var.lab.hosts
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key
  labels   = { role = "worker" }

  # Clinic machines are reached through the site's jump host.
  dynamic "bastion" {
    for_each = each.value.private ? [var.lab.hosts[var.lab.jump]] : []
    content {
      address  = bastion.value.address
      host_key = bastion.value.host_key
    }
  }

  preflight {
    min_cpus       = 1
    min_memory_mb  = 64
    ports_free     = [6443]
    binaries       = ["sh", "sha256sum"]
  }
}

resource "host_file" "config" {
  for_each = host.node
  host     = each.value.id
  path     = "/etc/kubernetes/fleet/config.yaml"
  content  = "node: ${each.key}\nrelease: 1\n"
  mode     = "0640"
}

resource "host_command" "install" {
  for_each = host.node
  host     = each.value.id
  command  = ["sh", "-c", "echo \"run $1\" >> /etc/kubernetes/fleet/runs", "sh", var.release]
  triggers = { release = var.release }
  depends_on = [host_file.config]
}

output "hostnames" {
  value = { for k, h in host.node : k => h.hostname }
}
"#;

fn state(dir: &Path) -> serde_json::Value {
    let out = run_in(dir, &["show", "-json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every resource in `show -json` output, child modules included.
fn resources(state: &serde_json::Value) -> Vec<serde_json::Value> {
    fn collect(module: &serde_json::Value, all: &mut Vec<serde_json::Value>) {
        all.extend(module["resources"].as_array().cloned().unwrap_or_default());
        for child in module["child_modules"].as_array().into_iter().flatten() {
            collect(child, all);
        }
    }
    let mut all = Vec::new();
    collect(&state["values"]["root_module"], &mut all);
    all
}

#[test]
fn facts_files_and_commands_converge_drift_is_undone_and_triggers_rerun() {
    // Two hosts reached directly, one only through the first as its jump host.
    let mut lab = Lab::start_with(LabSpec {
        hosts: 2,
        private: 1,
    })
    .expect("lab");
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &lab, &format!("{VARIABLES}{CONVERGE}"));

    let applied = ok(dir.path(), &["apply", "-auto-approve"]);
    assert!(
        applied.contains("9 added, 0 changed, 0 destroyed"),
        "{applied}"
    );

    // Facts come from each host itself.
    let json = state(dir.path());
    for r in resources(&json).iter().filter(|r| r["type"] == "host") {
        let values = &r["values"];
        let name = r["index"].as_str().unwrap();
        assert_eq!(values["hostname"], *name, "{values}");
        assert_eq!(values["os_id"], "debian");
        assert_eq!(values["architecture"], "amd64");
        assert!(values["cpus"].as_u64().unwrap() >= 1);
        assert!(values["memory_mb"].as_u64().unwrap() > 64);
        let address = lab.host(name).unwrap().address.to_string();
        let via_jump = values["id"].as_str().unwrap().contains(" via ");
        assert_eq!(via_jump, name.starts_with("private-"), "{values}");
        assert!(
            values["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| *a == address.as_str()),
            "{values}"
        );
        assert_eq!(
            values["host_key_fingerprint"],
            lab.host(name).unwrap().fingerprint
        );
        assert_eq!(values["container_runtime"], serde_json::Value::Null);
    }

    // Files are on each host with their content and mode; the command ran once.
    for h in lab.hosts() {
        let out = lab.exec(
            &h.name,
            &["stat", "-c", "%a", "/etc/kubernetes/fleet/config.yaml"],
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "640");
        let out = lab.exec(
            &h.name,
            &[
                "cat",
                "/etc/kubernetes/fleet/config.yaml",
                "/etc/kubernetes/fleet/runs",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("node: {}\nrelease: 1\nrun 1\n", h.name)
        );
    }

    // Nothing to do the second time.
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // An edit on one host is drift: planned and undone, and only there.
    let edited = &lab.hosts()[1].name.clone();
    let out = lab.exec(edited, &["sh", "-c", "echo tampered > /etc/kubernetes/fleet/config.yaml; chmod 0666 /etc/kubernetes/fleet/config.yaml"]);
    assert!(out.status.success());
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode"]);
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(2), "{plan}");
    assert!(
        plan.contains(&format!(
            "host_file.config[\"{edited}\"] will be updated in-place"
        )),
        "{plan}"
    );
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    // A file that sets only `content` shows no sensitive noise: no `sensitive_content`
    // line and no "will be marked as sensitive" note.
    for noise in ["sensitive_content", "marked as sensitive"] {
        assert!(!plan.contains(noise), "{noise}:\n{plan}");
    }
    let out = plan_then_apply(dir.path(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = lab.exec(
        edited,
        &[
            "sh",
            "-c",
            "stat -c %a /etc/kubernetes/fleet/config.yaml; cat /etc/kubernetes/fleet/config.yaml",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("640\nnode: {edited}\nrelease: 1\n")
    );

    // A trigger change reruns the command, and nothing else.
    let out = plan_then_apply(dir.path(), &["-var", "release=2"]);
    let applied = text(&out);
    assert!(out.status.success(), "{applied}");
    assert!(
        applied.contains("3 added, 0 changed, 3 destroyed"),
        "{applied}"
    );
    for h in lab.hosts() {
        let out = lab.exec(&h.name, &["cat", "/etc/kubernetes/fleet/runs"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "run 1\nrun 2\n");
    }
    let out = run_in(
        dir.path(),
        &["plan", "-detailed-exitcode", "-var", "release=2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Destroy removes the files (commands leave nothing to undo).
    ok(
        dir.path(),
        &["destroy", "-auto-approve", "-var", "release=2"],
    );
    for h in lab.hosts() {
        let out = lab.exec(
            &h.name,
            &["test", "-e", "/etc/kubernetes/fleet/config.yaml"],
        );
        assert_eq!(out.status.code(), Some(1));
    }
    lab.stop().unwrap();
}

#[test]
fn wrong_host_keys_and_credentials_are_refused_with_distinct_errors() {
    let mut lab = Lab::start(2).expect("lab");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (&lab.hosts()[0], &lab.hosts()[1]);
    // Host a, pinned to b's key: as if a were reinstalled or impersonated.
    let main = format!(
        r#"
resource "host" "moved" {{
  address          = {:?}
  host_key         = {:?}
  private_key_file = {:?}
}}
"#,
        a.address.to_string(),
        b.host_key,
        lab.client_key().display().to_string()
    );
    std::fs::write(dir.path().join("main.hcl"), &main).unwrap();
    let out = run_in(dir.path(), &["apply", "-auto-approve"]);
    let message = text(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(message.contains("host key mismatch"), "{message}");
    assert!(
        message.contains(&a.fingerprint) && message.contains(&b.fingerprint),
        "{message}"
    );

    // Pinned by fingerprint, but no credential the host accepts.
    let other_key = dir.path().join("other_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_key)
        .status()
        .unwrap();
    assert!(status.success());
    for auth in [
        format!("private_key_file = {:?}", other_key.display().to_string()),
        "password = \"not-the-password\"".to_owned(),
    ] {
        let main = format!(
            "resource \"host\" \"a\" {{\n  address = {:?}\n  host_key = {:?}\n  {auth}\n}}\n",
            a.address.to_string(),
            a.fingerprint
        );
        std::fs::write(dir.path().join("main.hcl"), &main).unwrap();
        let out = run_in(dir.path(), &["apply", "-auto-approve"]);
        let message = text(&out);
        assert_eq!(out.status.code(), Some(1), "{message}");
        assert!(
            message.contains("authentication failed for root@"),
            "{message}"
        );
        assert!(!message.contains("host key mismatch"), "{message}");
        assert!(!message.contains("not-the-password"), "{message}");
    }

    // No pin at all is refused before connecting: no trust on first use.
    let main = format!(
        "resource \"host\" \"a\" {{\n  address = {:?}\n  private_key_file = {:?}\n}}\n",
        a.address.to_string(),
        lab.client_key().display().to_string()
    );
    std::fs::write(dir.path().join("main.hcl"), &main).unwrap();
    let out = run_in(dir.path(), &["plan"]);
    let message = text(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(
        message.contains("never trusts a host key on first use"),
        "{message}"
    );
    lab.stop().unwrap();
}

/// One module instance per site, as a fleet of clinics is written: a site's resources
/// depend on its own host only.
const SITES: &str = r#"
module "site" {
  for_each = var.lab.hosts
  source   = "./site"
  name     = each.key
  machine  = each.value
  release  = var.release
}
"#;

const SITE: &str = r#"
variable "name" { type = string }
variable "release" { type = string }
variable "machine" {
  type = object({ address = string, port = number, host_key = string, private = bool })
}

resource "host" "this" {
  address  = var.machine.address
  port     = var.machine.port
  host_key = var.machine.host_key
}

resource "host_file" "config" {
  host    = host.this.id
  path    = "/etc/kubernetes/fleet/config.yaml"
  content = "node: ${var.name}\n"
}

resource "host_command" "install" {
  host       = host.this.id
  command    = ["sh", "-c", "echo \"run $1\" >> /etc/kubernetes/fleet/runs", "sh", var.release]
  triggers   = { release = var.release }
  depends_on = [host_file.config]
}
"#;

#[test]
fn a_cut_off_host_defers_only_its_own_site_and_a_reapply_finishes_it() {
    let mut lab = Lab::start(6).expect("lab");
    let dir = tempfile::tempdir().unwrap();
    fleet(dir.path(), &lab, &format!("{VARIABLES}{SITES}"));
    std::fs::create_dir(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("site/main.hcl"), SITE).unwrap();
    let cut = lab.hosts()[2].name.clone();
    lab.cut(&cut).unwrap();

    // Its site's changes are deferred, not failed: the apply completes the others.
    let out = run_in(dir.path(), &["apply", "-auto-approve"]);
    let message = text(&out);
    assert_eq!(out.status.code(), Some(0), "{message}");
    assert!(
        message.contains("Site unreachable: changes deferred")
            && message.contains("timed out after 2s connecting to"),
        "{message}"
    );
    let recorded: Vec<String> = resources(&state(dir.path()))
        .iter()
        .map(|r| r["address"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recorded.len(), 15, "{recorded:#?}\n{message}");
    assert!(!recorded.iter().any(|a| a.contains(&cut)), "{recorded:#?}");
    for h in lab.hosts().iter().filter(|h| h.name != cut) {
        let out = lab.exec(&h.name, &["cat", "/etc/kubernetes/fleet/runs"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "run 1\n");
    }

    // While it is still cut off, the plan warns and still plans the rest of its site.
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode"]);
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(2), "{plan}");
    assert!(
        plan.contains("3 to add, 0 to change, 0 to destroy"),
        "{plan}"
    );

    lab.heal(&cut).unwrap();
    let out = plan_then_apply(dir.path(), &[]);
    let applied = text(&out);
    assert!(out.status.success(), "{applied}");
    assert!(
        applied.contains("3 added, 0 changed, 0 destroyed"),
        "{applied}"
    );
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A recorded host that goes dark does not block the plan of the others.
    lab.cut(&cut).unwrap();
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode"]);
    let plan = text(&out);
    assert_eq!(out.status.code(), Some(0), "{plan}");
    assert!(
        plan.contains("Site unreachable") && plan.contains("planned from the recorded state"),
        "{plan}"
    );
    lab.stop().unwrap();
}

const HOSTILE: &str = "'; rm -rf /tmp/x; '$(touch /tmp/pwned)";
const SECRETS: [&str; 3] = [
    "canary-password-7f3a",
    "canary-content-91bd",
    "canary-token-55c2",
];

const HOSTILE_FLEET: &str = r#"
variable "hostile" { type = string }
variable "password" {
  type      = string
  sensitive = true
  default   = "canary-password-7f3a"
}

resource "host" "h" {
  address     = var.lab.hosts["lab-1"].address
  host_key    = var.lab.hosts["lab-1"].host_key
  private_key = file(var.lab.client_key)
  password    = var.password
  labels      = { note = var.hostile }
}

resource "host_file" "hostile" {
  host    = host.h.id
  path    = "/etc/kubernetes/fleet/${replace(var.hostile, "/", "-")}"
  content = var.hostile
  owner   = "root"
}

# sha256sum escapes such names: the file must still converge.
resource "host_file" "odd_name" {
  host    = host.h.id
  path    = "/etc/kubernetes/fleet/back\\slash\nnewline"
  content = "odd"
}

resource "host_file" "secret" {
  host              = host.h.id
  path              = "/etc/kubernetes/fleet/secret"
  sensitive_content = "canary-content-91bd"
  mode              = "0600"
}

resource "host_command" "argv" {
  host        = host.h.id
  command     = ["printf", "%s", var.hostile]
  environment = { HOSTILE = var.hostile }
  working_dir = "/etc/kubernetes"
  creates     = "/etc/kubernetes/${var.hostile}"
  unless      = ["test", var.hostile, "=", "x"]
  depends_on  = [host_file.hostile]
}

resource "host_command" "script" {
  host        = host.h.id
  script      = "printf '%s' \"$HOSTILE\" > /etc/kubernetes/fleet/from-script"
  environment = { HOSTILE = var.hostile }
  depends_on  = [host_file.hostile]
}

resource "host_command" "token" {
  host                  = host.h.id
  command               = ["sh", "-c", "echo token=$TOKEN"]
  sensitive_environment = { TOKEN = "canary-token-55c2" }
  depends_on            = [host_file.hostile]
}

resource "host_command" "leaky_failure" {
  host                  = host.h.id
  command               = ["sh", "-c", "echo leaked $TOKEN >&2; exit 3"]
  sensitive_environment = { TOKEN = "canary-token-55c2" }
  depends_on            = [host_command.token]
}
"#;

#[test]
fn configuration_values_reach_hosts_as_data_and_secrets_stay_out_of_output() {
    let mut lab = Lab::start(1).expect("lab");
    let dir = tempfile::tempdir().unwrap();
    let vars = VARIABLES.replace("private_key_file = var.lab.client_key", "");
    fleet(dir.path(), &lab, &format!("{vars}{HOSTILE_FLEET}"));
    std::fs::write(
        dir.path().join("hostile.auto.hcl"),
        format!("hostile = {HOSTILE:?}\n"),
    )
    .unwrap();
    // What the canary would destroy or create if any value reached a shell as code.
    std::fs::create_dir_all("/tmp/x").unwrap();
    let _ = std::fs::remove_file("/tmp/pwned");

    let plan = run_in(dir.path(), &["plan"]);
    let plan = text(&plan);
    let mut apply = fleetform_tests::fleetform();
    let apply = apply
        .current_dir(dir.path())
        .env("FLEETFORM_LOG", "debug")
        .args(["apply", "-auto-approve"])
        .output()
        .unwrap();
    let applied = text(&apply);
    assert_eq!(
        apply.status.code(),
        Some(1),
        "only leaky_failure fails:\n{applied}"
    );
    assert!(
        applied.contains("the command exited with code 3"),
        "{applied}"
    );
    // At debug, each provider call is a line with its address, action and outcome.
    assert!(
        applied.contains("applied address=host_file.secret action=Create")
            && applied.contains("applied address=host_command.leaky_failure action=Create")
            && applied.contains("ok=false"),
        "{applied}"
    );
    // Its stderr came from a command with a secret in its inputs: not quoted.
    assert!(
        applied.contains("(output suppressed due to sensitive value in config)"),
        "{applied}"
    );

    // Nothing ran: the directory is there and the file was never touched.
    assert!(Path::new("/tmp/x").is_dir(), "/tmp/x was removed");
    assert!(!Path::new("/tmp/pwned").exists(), "/tmp/pwned was created");

    // The values arrived intact, as data.
    let on_host = |argv: &[&str]| String::from_utf8(lab.exec("lab-1", argv).stdout).unwrap();
    let hostile_path = format!("/etc/kubernetes/fleet/{}", HOSTILE.replace('/', "-"));
    assert_eq!(on_host(&["cat", &hostile_path]), HOSTILE);
    assert_eq!(
        on_host(&["cat", "/etc/kubernetes/fleet/from-script"]),
        HOSTILE
    );
    assert_eq!(
        on_host(&["stat", "-c", "%a", "/etc/kubernetes/fleet/secret"]),
        "600\n"
    );
    assert_eq!(
        on_host(&["cat", "/etc/kubernetes/fleet/secret"]),
        "canary-content-91bd"
    );
    assert_eq!(
        on_host(&["cat", "/etc/kubernetes/fleet/back\\slash\nnewline"]),
        "odd"
    );
    let again = run_in(
        dir.path(),
        &["plan", "-detailed-exitcode", "-target=host_file.odd_name"],
    );
    assert_eq!(
        again.status.code(),
        Some(0),
        "a path with a backslash and a newline converges:\n{}",
        text(&again)
    );
    let json = state(dir.path());
    let argv = resources(&json)
        .into_iter()
        .find(|r| r["address"] == "host_command.argv")
        .expect("host_command.argv in state");
    assert_eq!(argv["values"]["stdout"], HOSTILE, "{argv}");
    assert_eq!(argv["values"]["exit_code"], 0);
    let secret_file = resources(&json)
        .into_iter()
        .find(|r| r["address"] == "host_file.secret")
        .expect("host_file.secret in state");
    assert_eq!(
        secret_file["sensitive_values"]["sha256"], true,
        "the digest of secret content is recorded as sensitive: {secret_file}"
    );

    // No secret in the plan, the apply output, its debug logs, or the error messages; nor
    // the digest of the secret file's content, from which a short secret could be guessed.
    let shown = text(&run_in(dir.path(), &["show"]));
    let secret_digest: String = openssl::sha::sha256(b"canary-content-91bd")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for secret in SECRETS.iter().copied().chain([secret_digest.as_str()]) {
        for (what, output) in [("plan", &plan), ("apply", &applied), ("show", &shown)] {
            assert!(
                !output.contains(secret),
                "{secret} appears in {what}:\n{output}"
            );
        }
    }
    // The private key's body is a secret too.
    let key = std::fs::read_to_string(lab.client_key()).unwrap();
    let key_line = key.lines().nth(1).unwrap();
    assert!(!plan.contains(key_line) && !applied.contains(key_line));
    lab.stop().unwrap();
}

#[test]
fn the_lab_hosts_example_applies_and_then_has_nothing_to_do() {
    let mut lab = Lab::start_with(LabSpec {
        hosts: 2,
        private: 1,
    })
    .expect("lab");
    let dir = tempfile::tempdir().unwrap();
    let example = fleetform_tests::workspace().join("examples/lab-hosts");
    for file in ["main.hcl", "containerd.toml.tftpl"] {
        std::fs::copy(example.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(dir.path().join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    let applied = ok(dir.path(), &["apply", "-auto-approve"]);
    assert!(
        applied.contains("12 added, 0 changed, 0 destroyed"),
        "{applied}"
    );
    assert!(!applied.contains("lab-token-for-"), "{applied}");
    let out = lab.exec("private-1", &["cat", "/var/lib/kubelet/runtime-installed"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "containerd 1.7.24 installed on private-1\n"
    );
    let out = lab.exec(
        "private-1",
        &["stat", "-c", "%a %U", "/etc/containerd/registry-token"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "600 root\n");
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    lab.stop().unwrap();
}

#[test]
fn long_quiet_commands_finish_and_timeouts_are_the_configured_ones() {
    let mut lab = Lab::start(1).expect("lab");
    let dir = tempfile::tempdir().unwrap();
    let main = r#"
resource "host" "h" {
  address  = var.lab.hosts["lab-1"].address
  host_key = var.lab.hosts["lab-1"].host_key
}

# Quiet for longer than any keepalive interval: must simply finish.
resource "host_command" "slow" {
  host    = host.h.id
  command = ["sh", "-c", "sleep 20; echo done"]
  timeout = "2m"
}

resource "host_command" "stuck" {
  host    = host.h.id
  command = ["sleep", "30"]
  timeout = "3s"
}
"#;
    fleet(dir.path(), &lab, &format!("{VARIABLES}{main}"));
    let out = run_in(dir.path(), &["apply", "-auto-approve"]);
    let message = text(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(message.contains("host_command.stuck: "), "{message}");
    assert!(message.contains("timed out after 3s"), "{message}");
    let json = state(dir.path());
    let slow = resources(&json)
        .into_iter()
        .find(|r| r["address"] == "host_command.slow")
        .unwrap_or_else(|| panic!("the slow command is not in state:\n{message}"));
    assert_eq!(slow["values"]["stdout"], "done\n");
    lab.stop().unwrap();
}

/// known_hosts files are read as OpenSSH reads them: a hashed entry and a wildcard entry
/// trust the host; the same key marked `@revoked` is refused with a message that says so,
/// before anything is sent to the host.
#[test]
fn known_hosts_entries_trust_hashed_and_wildcard_names_and_refuse_revoked_keys() {
    let mut lab = Lab::start(1).expect("lab");
    let host = lab.host("lab-1").unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let main = r#"
resource "host" "h" {
  address          = var.lab.hosts["lab-1"].address
  port             = var.lab.hosts["lab-1"].port
  known_hosts_file = "${path.module}/known_hosts"
}
"#;
    fleet(dir.path(), &lab, &format!("{VARIABLES}{main}"));
    let key = host
        .host_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let name = if host.port == 22 {
        host.address.to_string()
    } else {
        format!("[{}]:{}", host.address, host.port)
    };
    let hashed = fleetform_provider_host::ssh::known_hosts::hashed_name(&[9u8; 20], &name);
    let octets = host.address.octets();
    let wildcard = format!("{}.{}.{}.*", octets[0], octets[1], octets[2]);
    let wildcard = if host.port == 22 {
        wildcard
    } else {
        format!("[{wildcard}]:{}", host.port)
    };
    let known_hosts = dir.path().join("known_hosts");
    for trusted in [format!("{hashed} {key}\n"), format!("{wildcard} {key}\n")] {
        std::fs::write(&known_hosts, &trusted).unwrap();
        let _ = std::fs::remove_file(dir.path().join("fleet.state"));
        let out = run_in(dir.path(), &["apply", "-auto-approve", "-no-color"]);
        assert!(out.status.success(), "{trusted}{}", text(&out));
    }
    std::fs::write(
        &known_hosts,
        format!("{wildcard} {key}\n@revoked * {key}\n"),
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.path().join("fleet.state"));
    let out = run_in(dir.path(), &["apply", "-auto-approve", "-no-color"]);
    let message = text(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!("({}) is revoked", host.fingerprint)),
        "{message}"
    );
    assert!(message.contains("line 2 marks it @revoked"), "{message}");
    lab.stop().unwrap();
}

/// A host whose sshd presents a host certificate is trusted through a `@cert-authority`
/// line alone (libssh2 asks for the certificate; fleetform validates it), and refused
/// when that authority is revoked.
#[test]
fn a_host_certificate_signed_by_a_cert_authority_is_trusted() {
    let mut lab = Lab::start(1).expect("lab");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("host_ca");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "fleet host CA", "-f"])
        .arg(&ca)
        .status()
        .unwrap();
    assert!(status.success());
    let host = lab.host("lab-1").unwrap().clone();
    lab.certify_host("lab-1", &ca, &host.address.to_string())
        .expect("certificate");
    let ca_line = std::fs::read_to_string(dir.path().join("host_ca.pub")).unwrap();
    let main = r#"
resource "host" "h" {
  address          = var.lab.hosts["lab-1"].address
  known_hosts_file = "${path.module}/known_hosts"
}
"#;
    fleet(dir.path(), &lab, &format!("{VARIABLES}{main}"));
    // Only the authority: the host's own key is in no line.
    std::fs::write(
        dir.path().join("known_hosts"),
        format!("@cert-authority 169.254.* {}", ca_line.trim()),
    )
    .unwrap();
    let out = run_in(dir.path(), &["apply", "-auto-approve", "-no-color"]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(
        dir.path().join("known_hosts"),
        format!(
            "@cert-authority 169.254.* {ca}\n@revoked * {ca}\n",
            ca = ca_line.trim()
        ),
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.path().join("fleet.state"));
    let out = run_in(dir.path(), &["apply", "-auto-approve", "-no-color"]);
    let message = text(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(message.contains("is revoked"), "{message}");
    lab.stop().unwrap();
}
