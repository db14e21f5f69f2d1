//! Encryption at rest through the binary, on every backend: the state, its backup, the
//! journal of a killed run and a saved plan hold none of the canaries put in sensitive
//! values nor a private key's lines; a wrong or missing key is a clear error that leaves
//! the stored bytes as they were; keys rotate through a fallback; and state moves between
//! backends (local -> postgres -> azurerm -> local) and from plain to encrypted unchanged.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use fleetform_planner::encryption::is_sealed;
use fleetform_tests::output_text;
use fleetform_tests::remote_state::{Kind, Remote, blob, contains};
use fleetform_tests::services::postgres;

const KEY_ENV: &str = "FLEETFORM_TEST_STATE_KEY";
const KEY: &str = "6f1a0c55d2b34e9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b";
const OTHER_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";

fn ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}:\n{}", output_text(out));
}

const ENCRYPTION: &str = r#"encryption {
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
      method = method.aes_gcm.main
    }
  }"#;

fn fleet(fleet_block: &str, count: usize) -> String {
    format!(
        r#"{fleet_block}
variable "secret" {{
  type      = string
  sensitive = true
}}

variable "ca_key" {{
  type      = string
  sensitive = true
}}

variable "generation" {{
  type    = number
  default = 0
}}

resource "fleetform_data" "node" {{
  count = {count}
  input = {{ index = count.index, generation = var.generation, secret = var.secret }}
}}

resource "fleetform_data" "ca" {{
  input = {{ key = var.ca_key }}
}}

output "ca_key" {{
  value     = var.ca_key
  sensitive = true
}}
"#
    )
}

/// A fresh EC private key in PEM, like a cluster CA's.
fn private_key() -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .output()
        .expect("openssl");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

struct Secrets {
    canary: String,
    ca_key: String,
}

impl Secrets {
    fn new() -> Secrets {
        Secrets {
            canary: format!("canary-{}", uuid::Uuid::new_v4().simple()),
            ca_key: private_key(),
        }
    }

    /// The strings no encrypted artifact may contain.
    fn needles(&self) -> Vec<String> {
        let mut n = vec![self.canary.clone(), "PRIVATE KEY".to_owned()];
        n.extend(
            self.ca_key
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned),
        );
        n
    }
}

fn run(remote: &Remote, dir: &Path, secrets: &Secrets, key: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = remote.command(dir);
    cmd.args(args)
        .env("FLEETFORM_VAR_secret", &secrets.canary)
        .env("FLEETFORM_VAR_ca_key", &secrets.ca_key);
    match key {
        Some(k) => cmd.env(KEY_ENV, k),
        None => cmd.env_remove(KEY_ENV),
    };
    cmd.output().expect("run fleetform")
}

/// The stored artifacts of `remote`'s state, by name, as raw bytes.
fn artifacts(remote: &Remote, dir: &Path, name: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    match remote.kind {
        Kind::Local => {
            for f in ["fleet.state", "fleet.state.backup", "fleet.state.journal"] {
                if let Ok(b) = std::fs::read(dir.join(f)) {
                    out.push((f.to_owned(), b));
                }
            }
        }
        Kind::Postgres => {
            let pg = postgres::shared();
            for (what, sql) in [
                (
                    "state row",
                    format!("SELECT convert_from(data, 'UTF8') FROM {name}.states"),
                ),
                (
                    "backup",
                    format!(
                        "SELECT convert_from(backup, 'UTF8') FROM {name}.states WHERE backup IS NOT NULL"
                    ),
                ),
                (
                    "journal rows",
                    format!("SELECT convert_from(record, 'UTF8') FROM {name}.journal ORDER BY seq"),
                ),
            ] {
                let text = pg.psql(&sql);
                if !text.is_empty() {
                    out.push((what.to_owned(), text.into_bytes()));
                }
            }
        }
        Kind::Azurerm => {
            for b in ["fleet.state", "fleet.state.journal"] {
                if let Some(bytes) = blob(name, b) {
                    out.push((b.to_owned(), bytes));
                }
            }
        }
    }
    if let Ok(plan) = std::fs::read(dir.join("plan.bin")) {
        out.push(("plan.bin".to_owned(), plan));
    }
    out
}

fn journal_present(remote: &Remote, dir: &Path, name: &str) -> bool {
    artifacts(remote, dir, name)
        .iter()
        .any(|(n, b)| n.contains("journal") && b.iter().filter(|c| **c == b'\n').count() >= 5)
}

fn encrypted_at_rest(kind: Kind, name: &str) {
    let remote = Remote::new(kind, name);
    let secrets = Secrets::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        fleet(&remote.fleet_block(ENCRYPTION), 300),
    )
    .unwrap();
    let mut init = vec!["init", "-input=false", "-no-color"];
    init.extend(remote.init_args.iter().map(String::as_str));
    ok(
        &run(&remote, dir.path(), &secrets, Some(KEY), &init),
        "init",
    );
    for g in ["1", "2"] {
        let args = [
            "apply",
            "-auto-approve",
            "-no-color",
            "-var",
            &format!("generation={g}"),
        ];
        ok(
            &run(&remote, dir.path(), &secrets, Some(KEY), &args),
            "apply",
        );
    }
    // A run killed mid-apply leaves its journal.
    let mut child = remote
        .command(dir.path())
        .args([
            "apply",
            "-auto-approve",
            "-no-color",
            "-parallelism=2",
            "-var",
            "generation=3",
        ])
        .env("FLEETFORM_VAR_secret", &secrets.canary)
        .env("FLEETFORM_VAR_ca_key", &secrets.ca_key)
        .env(KEY_ENV, KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !journal_present(&remote, dir.path(), name) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the apply finished before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    if kind == Kind::Azurerm {
        // The killed run's lease: cleared as an operator would.
        let out = run(
            &remote,
            dir.path(),
            &secrets,
            Some(KEY),
            &["state", "lock-info"],
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let id = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("ID:"))
            .expect("the killed run's lock");
        ok(
            &run(
                &remote,
                dir.path(),
                &secrets,
                Some(KEY),
                &["force-unlock", "-force", id.trim()],
            ),
            "force-unlock",
        );
    }
    let out = run(
        &remote,
        dir.path(),
        &secrets,
        Some(KEY),
        &[
            "plan",
            "-no-color",
            "-out",
            "plan.bin",
            "-var",
            "generation=4",
        ],
    );
    ok(&out, "plan -out");
    assert!(
        !output_text(&out).contains("unencrypted"),
        "no warning once encrypted"
    );
    let stored = artifacts(&remote, dir.path(), name);
    let names: Vec<&str> = stored.iter().map(|(n, _)| n.as_str()).collect();
    let expected: &[&str] = match kind {
        Kind::Local => &[
            "fleet.state",
            "fleet.state.backup",
            "fleet.state.journal",
            "plan.bin",
        ],
        Kind::Postgres => &["state row", "backup", "journal rows", "plan.bin"],
        Kind::Azurerm => &["fleet.state", "fleet.state.journal", "plan.bin"],
    };
    assert_eq!(names, expected);
    for (what, bytes) in &stored {
        // A local journal's first line binds it to a lineage and serial, in clear (no secret).
        for line in bytes
            .split(|b| *b == b'\n')
            .filter(|l| l.len() > 40 && !l.starts_with(b"{\"journal_version\""))
        {
            assert!(
                is_sealed(line),
                "{what}: a line is not sealed: {}",
                String::from_utf8_lossy(&line[..60])
            );
        }
        for needle in secrets.needles() {
            assert!(!contains(bytes, &needle), "{what} contains {needle:?}");
        }
    }
    // A wrong key, or none: a clear error, and every stored byte as it was.
    for (key, expect) in [
        (Some(OTHER_KEY), "cannot be decrypted"),
        (None, "FLEETFORM_TEST_STATE_KEY is not set"),
    ] {
        for args in [
            &["plan", "-no-color"][..],
            &[
                "apply",
                "-auto-approve",
                "-no-color",
                "-var",
                "generation=5",
            ],
            &["state", "list"],
        ] {
            let out = run(&remote, dir.path(), &secrets, key, args);
            assert!(!out.status.success(), "{args:?} with a wrong key");
            let text = output_text(&out);
            assert!(text.contains(expect), "{args:?}: {text}");
            for needle in secrets.needles() {
                assert!(!text.contains(&needle), "the error shows a secret: {text}");
            }
        }
        let out = run(
            &remote,
            dir.path(),
            &secrets,
            key,
            &["apply", "-no-color", "plan.bin"],
        );
        assert!(!out.status.success());
        assert_eq!(
            artifacts(&remote, dir.path(), name),
            stored,
            "a wrong key changed stored bytes"
        );
    }
    // The right key: the journal is replayed and the saved plan applies.
    ok(
        &run(
            &remote,
            dir.path(),
            &secrets,
            Some(KEY),
            &["apply", "-no-color", "plan.bin"],
        ),
        "apply plan.bin",
    );
    let out = run(
        &remote,
        dir.path(),
        &secrets,
        Some(KEY),
        &[
            "plan",
            "-detailed-exitcode",
            "-no-color",
            "-var",
            "generation=4",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

#[test]
fn local_state_backup_journal_and_plan_are_encrypted() {
    encrypted_at_rest(Kind::Local, "local");
}

#[test]
fn postgres_rows_and_plan_are_encrypted() {
    encrypted_at_rest(Kind::Postgres, "sealed");
}

#[test]
fn azurerm_blobs_and_plan_are_encrypted() {
    encrypted_at_rest(Kind::Azurerm, "sealed");
}

#[test]
fn plain_state_with_secrets_warns_and_holds_them_in_clear() {
    let remote = Remote::new(Kind::Local, "plain");
    let secrets = Secrets::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.hcl"), fleet("", 3)).unwrap();
    ok(
        &run(
            &remote,
            dir.path(),
            &secrets,
            None,
            &["apply", "-auto-approve", "-no-color"],
        ),
        "apply",
    );
    // What encryption prevents: the secret is in the file.
    assert!(contains(
        &std::fs::read(dir.path().join("fleet.state")).unwrap(),
        &secrets.canary
    ));
    let out = run(&remote, dir.path(), &secrets, None, &["plan", "-no-color"]);
    ok(&out, "plan");
    assert!(
        output_text(&out).contains("State holds sensitive values unencrypted"),
        "{}",
        output_text(&out)
    );
}

fn pulled(remote: &Remote, dir: &Path, secrets: &Secrets, key: Option<&str>) -> serde_json::Value {
    let out = run(remote, dir, secrets, key, &["state", "pull"]);
    ok(&out, "state pull");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    serde_json::json!({ "lineage": doc["lineage"], "resources": doc["resources"], "outputs": doc["outputs"] })
}

#[test]
fn state_moves_local_postgres_azurerm_local_and_then_to_encryption_unchanged() {
    let secrets = Secrets::new();
    let dir = tempfile::tempdir().unwrap();
    let local = Remote::new(Kind::Local, "");
    let pg = Remote::new(Kind::Postgres, "moved");
    let az = Remote::new(Kind::Azurerm, "moved");
    std::fs::write(dir.path().join("main.hcl"), fleet("", 20)).unwrap();
    ok(&local.init(dir.path(), &[]), "init");
    ok(
        &run(
            &local,
            dir.path(),
            &secrets,
            None,
            &["apply", "-auto-approve", "-no-color"],
        ),
        "apply",
    );
    let original = pulled(&local, dir.path(), &secrets, None);
    assert_eq!(original["resources"].as_array().unwrap().len(), 2);
    for (to, label) in [(&pg, "postgres"), (&az, "azurerm"), (&local, "local")] {
        std::fs::write(dir.path().join("main.hcl"), fleet(&to.fleet_block(""), 20)).unwrap();
        // The environment of both backends: the old one is read, the new one written.
        let init = |migrate: bool| {
            let mut cmd = to.command(dir.path());
            cmd.args(["init", "-input=false", "-no-color"])
                .args(&to.init_args);
            if migrate {
                cmd.arg("-migrate-state");
            }
            for (k, v) in pg.env.iter().chain(&az.env) {
                cmd.env(k, v);
            }
            cmd.output().unwrap()
        };
        // Without -migrate-state, init refuses to leave the state behind.
        let out = init(false);
        assert!(
            !out.status.success(),
            "init to {label} without -migrate-state"
        );
        assert!(
            output_text(&out).contains("-migrate-state"),
            "{}",
            output_text(&out)
        );
        ok(&init(true), &format!("init -migrate-state to {label}"));
        assert_eq!(
            pulled(to, dir.path(), &secrets, None),
            original,
            "the state in {label}"
        );
        let out = run(
            to,
            dir.path(),
            &secrets,
            None,
            &["plan", "-detailed-exitcode", "-no-color"],
        );
        assert_eq!(out.status.code(), Some(0), "{label}: {}", output_text(&out));
    }
    // From plain to encrypted: a fallback reads the plain state, init rewrites it sealed
    // (and its backup), and then the fallback can go.
    let migrating = ENCRYPTION.replace(
        "      enforced = true\n",
        "      enforced = true\n      fallback {\n        method = method.unencrypted.migrate\n      }\n",
    ).replace("    state {", "    method \"unencrypted\" \"migrate\" {}\n    state {");
    std::fs::write(
        dir.path().join("main.hcl"),
        fleet(&local.fleet_block(&migrating), 20),
    )
    .unwrap();
    ok(
        &run(
            &local,
            dir.path(),
            &secrets,
            Some(KEY),
            &["init", "-no-color", "-input=false", "-migrate-state"],
        ),
        "init -migrate-state to encryption",
    );
    for f in ["fleet.state", "fleet.state.backup"] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        assert!(is_sealed(&bytes), "{f} is sealed");
        assert!(!contains(&bytes, &secrets.canary), "{f}");
    }
    std::fs::write(
        dir.path().join("main.hcl"),
        fleet(&local.fleet_block(ENCRYPTION), 20),
    )
    .unwrap();
    assert_eq!(
        pulled(&local, dir.path(), &secrets, Some(KEY)),
        original,
        "the encrypted state"
    );
    let out = run(
        &local,
        dir.path(),
        &secrets,
        Some(KEY),
        &["plan", "-detailed-exitcode", "-no-color"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}

#[test]
fn keys_rotate_through_a_fallback_and_passphrases_work() {
    let secrets = Secrets::new();
    let local = Remote::new(Kind::Local, "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.hcl"),
        fleet(&local.fleet_block(ENCRYPTION), 3),
    )
    .unwrap();
    ok(
        &run(
            &local,
            dir.path(),
            &secrets,
            Some(KEY),
            &["apply", "-auto-approve", "-no-color"],
        ),
        "apply",
    );
    let original = pulled(&local, dir.path(), &secrets, Some(KEY));
    // The new key is a passphrase; the old one stays as the fallback until rewritten.
    let rotating = r#"encryption {
    key_provider "key" "main" {
      env = "FLEETFORM_TEST_STATE_KEY"
    }
    key_provider "argon2" "next" {
      passphrase = var.passphrase
    }
    method "aes_gcm" "main" {
      keys = key_provider.key.main
    }
    method "aes_gcm" "next" {
      keys = key_provider.argon2.next
    }
    state {
      method = method.aes_gcm.next
      fallback {
        method = method.aes_gcm.main
      }
    }
  }
"#;
    let with_var = |block: &str| {
        format!(
            "{}\nvariable \"passphrase\" {{\n  type      = string\n  sensitive = true\n}}\n",
            fleet(&local.fleet_block(block), 3)
        )
    };
    std::fs::write(dir.path().join("main.hcl"), with_var(rotating)).unwrap();
    let pass = "correct horse battery staple 42";
    let mut cmd = local.command(dir.path());
    cmd.args(["init", "-input=false", "-no-color", "-migrate-state"])
        .env("FLEETFORM_VAR_passphrase", pass)
        .env(KEY_ENV, KEY);
    ok(
        &cmd.output().unwrap(),
        "init -migrate-state rotates the key",
    );
    let state = std::fs::read(dir.path().join("fleet.state")).unwrap();
    let envelope: serde_json::Value = serde_json::from_slice(&state).unwrap();
    assert_eq!(envelope["method"], "aes_gcm.next");
    assert_eq!(envelope["kdf"]["alg"], "argon2id");
    // The old key alone no longer reads it; the passphrase alone does.
    let only_next = rotating.replace(
        "      fallback {\n        method = method.aes_gcm.main\n      }\n",
        "",
    );
    std::fs::write(dir.path().join("main.hcl"), with_var(&only_next)).unwrap();
    let mut cmd = local.command(dir.path());
    cmd.args(["state", "pull"])
        .env("FLEETFORM_VAR_passphrase", pass)
        .env("FLEETFORM_VAR_secret", &secrets.canary)
        .env("FLEETFORM_VAR_ca_key", &secrets.ca_key);
    let out = cmd.output().unwrap();
    ok(&out, "pull with the passphrase");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["lineage"], original["lineage"]);
    assert_eq!(doc["resources"], original["resources"]);
    let mut cmd = local.command(dir.path());
    cmd.args(["state", "list"])
        .env("FLEETFORM_VAR_passphrase", "a wrong passphrase of length")
        .env("FLEETFORM_VAR_secret", &secrets.canary)
        .env("FLEETFORM_VAR_ca_key", &secrets.ca_key);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("cannot be decrypted with method aes_gcm.next"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn encryption_mistakes_are_diagnostics_on_the_argument() {
    let local = Remote::new(Kind::Local, "");
    let dir = tempfile::tempdir().unwrap();
    let block = r#"encryption {
    key_provider "argon2" "short" {
      passphrase = "too short"
    }
    method "aes_gcm" "main" {
      keys = key_provider.argon2.short
    }
    state {
      method = method.aes_gcm.missing
    }
    plan {
      method = method.aes_gcm.main
    }
  }"#;
    std::fs::write(
        dir.path().join("main.hcl"),
        fleet(&local.fleet_block(block), 1),
    )
    .unwrap();
    let out = local.run(
        dir.path(),
        &["plan", "-no-color", "-var", "secret=x", "-var", "ca_key=y"],
    );
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(text.contains("Reference to undeclared method"), "{text}");
    assert!(text.contains("Passphrase too short"), "{text}");
    assert!(
        text.contains("main.hcl:"),
        "diagnostics point into the file: {text}"
    );
}

/// The real thing: a cluster bootstrapped on the lab with state encryption on. The CA keys
/// its host held (the first bootstrap's, and the one a replacement killed after saving its
/// PKI put there) are in no stored file: not the state, its backup, the killed run's
/// journal (which holds the saved PKI) nor a saved plan. Needs root (the lab).
#[test]
fn a_bootstrapped_clusters_ca_key_is_in_no_stored_file() {
    use fleetform_tests::lab::Lab;

    let lab = Lab::start(1).expect("lab starts");
    let remote = Remote::new(Kind::Local, "cluster");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    let main = format!(
        r#"{fleet_block}
variable "lab" {{
  type = object({{
    client_key = string
    hosts      = map(object({{ address = string, port = number, host_key = string, private = bool }}))
    jump       = string
  }})
}}
provider "host" {{
  private_key_file = var.lab.client_key
}}
provider "kubernetes" {{
  wait_timeout = "90s"
}}
resource "host" "one" {{
  address  = var.lab.hosts["lab-1"].address
  host_key = var.lab.hosts["lab-1"].host_key
}}
resource "cluster" "clinic" {{
  name                      = "clinic"
  kubernetes_version        = "1.30.5"
  control_plane_hosts       = [host.one.id]
  control_plane_schedulable = true
  install_runtime           = false
}}
"#,
        fleet_block = remote.fleet_block(ENCRYPTION)
    );
    std::fs::write(d.join("main.hcl"), main).unwrap();
    let fleetform = |args: &[&str]| {
        remote
            .command(d)
            .args(args)
            .env(KEY_ENV, KEY)
            .output()
            .expect("run fleetform")
    };
    ok(&fleetform(&["init", "-input=false"]), "init");
    ok(&fleetform(&["plan", "-out=plan.bin"]), "plan");
    ok(&fleetform(&["apply", "plan.bin"]), "apply");
    let ca_key = || {
        let out = lab.exec(
            "lab-1",
            &[
                "sh",
                "-c",
                "cat /etc/kubernetes/pki/ca.key 2>/dev/null || true",
            ],
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = ca_key();
    assert!(first.contains("PRIVATE KEY"), "the host holds its CA key");
    // A saved plan of a replacement holds the recorded PKI as its prior value.
    ok(
        &fleetform(&["plan", "-out=plan.bin", "-replace=cluster.clinic"]),
        "plan a replacement",
    );
    // Kill the replacement once the new CA key is on the host: its PKI was journalled
    // before any host received it.
    let mut child = remote
        .command(d)
        .args(["apply", "-auto-approve", "-replace=cluster.clinic"])
        .env(KEY_ENV, KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn apply");
    let deadline = Instant::now() + Duration::from_secs(90);
    let second = loop {
        let now = ca_key();
        if now.contains("PRIVATE KEY") && now != first {
            break now;
        }
        assert!(
            child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "the replacement ended before its CA reached the host"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    let keys = [first, second];
    let mut needles = vec!["PRIVATE KEY".to_owned()];
    for key in &keys {
        needles.extend(
            key.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_owned),
        );
    }
    let mut found = artifacts(&remote, d, "cluster");
    // The next run replays the journal, writes the state whole (keeping a backup) and
    // converges.
    ok(&fleetform(&["apply", "-auto-approve"]), "re-apply");
    found.extend(artifacts(&remote, d, "cluster"));
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    for wanted in [
        "fleet.state",
        "fleet.state.backup",
        "fleet.state.journal",
        "plan.bin",
    ] {
        assert!(names.contains(&wanted), "{wanted} is stored: {names:?}");
    }
    for (name, bytes) in &found {
        for needle in &needles {
            assert!(
                !contains(bytes, needle),
                "{name} holds a line of the cluster's CA key"
            );
        }
    }
    ok(&fleetform(&["destroy", "-auto-approve"]), "destroy");
}
