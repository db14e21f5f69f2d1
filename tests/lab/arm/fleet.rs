//! [`ArcFleet`]: a fleet directory driven through the user's workflow (`init`, `plan -out`,
//! `apply PLANFILE`, `show`, `destroy`) against the lab's Azure, with the agent bundle
//! served over HTTP, and every output and log kept so that a test can check that no
//! secret ever appeared in any of them.

use std::cell::RefCell;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::ArmLab;
use crate::output_text;

/// The agent bundle fixture and its digest.
pub const BUNDLE: &str = "fixtures/arc-agents/bundle.yaml";

/// A fleet directory using the lab's Azure.
pub struct ArcFleet {
    /// The lab's Azure.
    pub arm: ArmLab,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    server: Option<Child>,
    log: Option<String>,
    /// `http://127.0.0.1:PORT/bundle.yaml`.
    pub bundle_url: String,
    /// The bundle's SHA-256.
    pub bundle_sha256: String,
    outputs: RefCell<Vec<String>>,
}

impl ArcFleet {
    /// A fleet directory beside `arm`, with the agent bundle served over HTTP by Python's
    /// standard server on a free loopback port.
    pub fn new(arm: ArmLab) -> ArcFleet {
        let dir = tempfile::tempdir().expect("fleet dir");
        let site = dir.path().join("mirror");
        std::fs::create_dir(&site).unwrap();
        let bundle =
            std::fs::read(crate::workspace().join("tests").join(BUNDLE)).expect("bundle fixture");
        std::fs::write(site.join("bundle.yaml"), &bundle).unwrap();
        let sha = openssl::sha::sha256(&bundle);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(&site)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 serves the agent bundle");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the bundle server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ArcFleet {
            arm,
            dir,
            env: Vec::new(),
            server: Some(server),
            log: Some("trace".into()),
            bundle_url: format!("http://127.0.0.1:{port}/bundle.yaml"),
            bundle_sha256: sha.iter().map(|b| format!("{b:02x}")).collect(),
            outputs: RefCell::new(Vec::new()),
        }
    }

    /// The fleet directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file of the fleet.
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).expect("write a fleet file");
    }

    /// Runs later commands without logs (for benchmarks); by default they log at trace
    /// level, so that secret scans cover the logs.
    pub fn quiet(&mut self) {
        self.log = None;
    }

    /// Sets an environment variable for every later command.
    pub fn env(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// The lab's Azure as an `azure = { ... }` attribute of a fleet's `lab` variable
    /// (examples/clinic-fleet/lab.hcl reads it): metadata host, CA file, tenant,
    /// subscription, a client's credentials and the agent bundle.
    pub fn lab_azure_hcl(&self, client_id: &str, secret: &str) -> String {
        format!(
            "  azure = {{\n    metadata_host       = {:?}\n    ca_certificate_file = {:?}\n    tenant_id           = {:?}\n    subscription_id     = {:?}\n    client_id           = {client_id:?}\n    client_secret       = {secret:?}\n    agent_bundle        = {{ url = {:?}, sha256 = {:?}, version = \"1.21.10\" }}\n  }}\n",
            self.arm.host(),
            self.arm.ca_file().display().to_string(),
            self.arm.lab_config().tenant_id,
            self.arm.lab_config().subscriptions[0],
            self.bundle_url,
            self.bundle_sha256,
        )
    }

    /// The provider block for the lab: its metadata host (every endpoint from there),
    /// its CA, the subscription, and a client secret.
    pub fn provider_block(&self, client_id: &str, secret: &str) -> String {
        format!(
            "provider \"arc\" {{\n  metadata_host       = {:?}\n  ca_certificate_file = {:?}\n  subscription_id     = {:?}\n  tenant_id           = {:?}\n  client_id           = {client_id:?}\n  client_secret       = {secret:?}\n  use_cli             = false\n}}\n",
            self.arm.host(),
            self.arm.ca_file().display().to_string(),
            self.arm.lab_config().subscriptions[0],
            self.arm.lab_config().tenant_id,
        )
    }

    /// Runs `fleetform` in the fleet with trace logs on, keeping everything it printed.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args);
        self.outputs.borrow_mut().push(format!(
            "$ fleetform {}\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
        out
    }

    fn command(&self, args: &[&str]) -> Output {
        let mut command = crate::fleetform();
        command.current_dir(self.dir.path()).args(args);
        if let Some(level) = &self.log {
            command.env("FLEETFORM_LOG", level);
        }
        for name in [
            "ARM_CLIENT_SECRET",
            "ARM_CLIENT_ID",
            "ARM_TENANT_ID",
            "ARM_SUBSCRIPTION_ID",
            "ARM_USE_OIDC",
            "ARM_METADATA_HOSTNAME",
            "SSL_CERT_FILE",
        ] {
            command.env_remove(name);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command.output().expect("run fleetform")
    }

    /// Runs `fleetform` and asserts it succeeded; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "fleetform {args:?} failed:\n{}\n--- lab Azure log (tail)\n{}",
            short(&output_text(&out)),
            tail(&self.arm.server_log(), 40)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `fleetform`, asserts it succeeded, and returns what it printed for the user
    /// (standard output, then its warnings on standard error, log lines left out).
    pub fn ok_report(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "fleetform {args:?} failed:\n{}",
            short(&output_text(&out))
        );
        short(&format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    /// The user's workflow for a change: `plan -out FILE`, then `apply FILE` in another
    /// process. Returns both standard outputs.
    pub fn plan_and_apply(&self) -> (String, String) {
        let plan = self.ok(&["plan", "-input=false", "-out", "change.plan"]);
        let apply = self.ok(&["apply", "-input=false", "change.plan"]);
        (plan, apply)
    }

    /// `plan -detailed-exitcode`: its exit code and standard output.
    pub fn detailed_plan(&self) -> (i32, String) {
        let out = self.run(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
        (out.status.code().unwrap_or(-1), short(&output_text(&out)))
    }

    /// `show -json` of the state. Like Terraform's, this representation carries sensitive
    /// values (marked in `sensitive_values`): it is a sensitive artifact, so it is not
    /// among the outputs [`ArcFleet::assert_no_secrets`] checks; `show` is.
    pub fn state(&self) -> serde_json::Value {
        let out = self.command(&["show", "-json"]);
        assert!(out.status.success(), "show -json: {}", output_text(&out));
        serde_json::from_slice(&out.stdout).expect("show -json is JSON")
    }

    /// The state itself (`state pull`), secrets included, which `show -json` leaves out;
    /// not kept among the outputs scanned for secrets.
    pub fn pulled_state(&self) -> serde_json::Value {
        let out = self.command(&["state", "pull"]);
        assert!(out.status.success(), "state pull: {}", output_text(&out));
        serde_json::from_slice(&out.stdout).expect("state pull is JSON")
    }

    /// Asserts that no output or log so far held any of `canaries` or an access token
    /// (a JWT).
    pub fn assert_no_secrets(&self, canaries: &[&str]) {
        let outputs = self.outputs.borrow();
        assert!(!outputs.is_empty(), "no command ran");
        let jwt = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}").expect("regex");
        for text in outputs.iter() {
            for canary in canaries {
                assert!(
                    !text.contains(canary),
                    "{canary:?} appeared in:\n{}",
                    around(text, canary)
                );
            }
            if let Some(m) = jwt.find(text) {
                panic!("a token appeared in:\n{}", around(text, m.as_str()));
            }
        }
    }

    /// Everything printed so far, one command after another.
    pub fn transcript(&self) -> String {
        self.outputs.borrow().join("\n")
    }

    /// A path inside the fleet directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for ArcFleet {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

fn around(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(300)
        .map_or(0, |(i, _)| i);
    let end = (at + needle.len() + 300).min(text.len());
    let end = (end..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..end].to_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Trace logs are long: keep what is not a log line, and the end of that.
fn short(text: &str) -> String {
    let log_line = regex::Regex::new(r"^\s*(\x1b\[[0-9;]*m)*\d{4}-\d{2}-\d{2}T").expect("regex");
    let mut kept = Vec::new();
    let mut in_log = false;
    for line in text.lines() {
        if log_line.is_match(line) {
            in_log = true;
            continue;
        }
        // Multi-line log records are indented; the command's own output is not.
        let diagnostic = ['×', '│', '╭', '╰', '⚠'].iter().any(|c| line.contains(*c));
        if in_log && !diagnostic && (line.starts_with(' ') || line.is_empty() || line == "}") {
            continue;
        }
        in_log = false;
        kept.push(line);
    }
    let text = kept.join("\n");
    if text.len() < 20_000 {
        return text;
    }
    let cut = (text.len() - 20_000..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!("[...]\n{}", &text[cut..])
}
