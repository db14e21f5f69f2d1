//! [`ArmLab`]: a running `fleetform-lab-arm` as tests see it: where it is, what it was
//! asked, and its control API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::config::{Fault, LabConfig, LoggedRequest};
use super::spec::Severity;

/// The lab's Azure, running as a child process; stopped on drop.
pub struct ArmLab {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
    ca_file: PathBuf,
    config: LabConfig,
    ca_pem: Vec<u8>,
}

/// The server binary (tests/bin/lab_arm.rs).
pub const ARM_BIN: &str = "fleetform-lab-arm";

impl ArmLab {
    /// A configuration with one tenant and subscription, no applications yet, the specs
    /// from the shared folder, and quick operations.
    pub fn config(tenant_id: &str, subscription: &str) -> LabConfig {
        LabConfig {
            tenant_id: tenant_id.to_owned(),
            subscriptions: vec![subscription.to_owned()],
            applications: Vec::new(),
            managed_identities: Vec::new(),
            github: None,
            azure_pipelines: None,
            operation_delay_ms: 300,
            token_lifetime_secs: 3600,
            specs: crate::shared_dir().join("specs/azure"),
        }
    }

    /// Starts the server with `config` and waits until it listens.
    pub fn start(config: LabConfig) -> Result<ArmLab, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let binary = super::super::find_binary(ARM_BIN).map_err(|e| e.to_string())?;
        let dir = tempfile::Builder::new()
            .prefix("fleetform-lab-arm-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let config_path = dir.path().join("config.json");
        std::fs::write(
            &config_path,
            serde_json::to_vec_pretty(&config).unwrap_or_default(),
        )
        .map_err(|e| format!("{}: {e}", config_path.display()))?;
        let log = std::fs::File::create(dir.path().join("server.log"))
            .map_err(|e| format!("server log: {e}"))?;
        let mut child = Command::new(&binary)
            .arg("--config")
            .arg(&config_path)
            .arg("--dir")
            .arg(dir.path())
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let ready = dir.path().join(super::READY_FILE);
        let started = Instant::now();
        let info: Value = loop {
            if let Ok(text) = std::fs::read_to_string(&ready)
                && let Ok(info) = serde_json::from_str(&text)
            {
                break info;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                return Err(format!("{ARM_BIN} exited ({status}):\n{log}"));
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{ARM_BIN} did not start within 20s"));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let ca_file = PathBuf::from(info["ca_file"].as_str().unwrap_or_default());
        let ca_pem = std::fs::read(&ca_file).map_err(|e| format!("{}: {e}", ca_file.display()))?;
        Ok(ArmLab {
            child,
            dir,
            url: info["url"].as_str().unwrap_or_default().to_owned(),
            ca_file,
            config,
            ca_pem,
        })
    }

    /// `https://127.0.0.1:PORT`: Resource Manager, the authority host, and the rest.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `127.0.0.1:PORT`, for `metadata_host` / `ARM_METADATA_HOSTNAME`.
    pub fn host(&self) -> &str {
        self.url.trim_start_matches("https://")
    }

    /// The lab CA's certificate (PEM) clients must be told to trust.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The OIDC issuer's URL.
    pub fn issuer(&self) -> String {
        format!("{}/oidc", self.url)
    }

    /// The configuration it runs with.
    pub fn lab_config(&self) -> &LabConfig {
        &self.config
    }

    /// A folder that lives as long as the lab (for key files and the like).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log (debug level).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// One control call, on a thread of its own with its own runtime, so that sync and
    /// async tests alike can make it.
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let ca = self.ca_pem.clone();
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime for the control call");
                    runtime.block_on(async {
                        let certs = reqwest::Certificate::from_pem_bundle(&ca).expect("lab CA");
                        let http = reqwest::Client::builder()
                            .tls_certs_only(certs)
                            .build()
                            .expect("HTTP client");
                        let mut request = http.request(method.clone(), &url);
                        if let Some(body) = body {
                            request = request.json(&body);
                        }
                        let response = request
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
                        let status = response.status();
                        let value: Value = response.json().await.unwrap_or_default();
                        assert!(status.is_success(), "{method} {url}: {status} {value}");
                        value
                    })
                })
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// Every request answered so far (the control API's own excepted).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        serde_json::from_value(self.call(reqwest::Method::GET, "/_lab/requests", None))
            .expect("the request log reads")
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.call(reqwest::Method::DELETE, "/_lab/requests", None);
    }

    /// Injects `fault`.
    pub fn inject(&self, fault: Fault) {
        self.call(
            reqwest::Method::POST,
            "/_lab/faults",
            Some(serde_json::to_value(fault).expect("faults serialize")),
        );
    }

    /// Every stored resource: `{id, body, protected_sha256}`.
    pub fn resources(&self) -> Vec<Value> {
        self.call(reqwest::Method::GET, "/_lab/resources", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Plays the cluster's agents: a heartbeat signed with the agent's private key.
    pub fn heartbeat(
        &self,
        id: &str,
        agent_key_pem: &str,
        agent_version: &str,
    ) -> Result<Value, String> {
        let signature = super::agent_signature(agent_key_pem, id)?;
        Ok(self.call(
            reqwest::Method::POST,
            "/_lab/heartbeat",
            Some(json!({
                "id": id,
                "signature": signature,
                "agent_version": agent_version,
                "kubernetes_version": "1.30.5",
                "total_node_count": 1,
                "total_core_count": 2,
            })),
        ))
    }

    /// Sets when a cluster's identity certificate expires, `secs` from now (negative: it
    /// expired that long ago, and the cluster is `Expired`).
    pub fn set_identity_expiry(&self, id: &str, secs: i64) {
        self.call(
            reqwest::Method::POST,
            "/_lab/identity",
            Some(json!({"id": id, "expires_in_secs": secs})),
        );
    }

    /// Sets a cluster's connectivity status and when it was last seen.
    pub fn set_connectivity(&self, id: &str, status: &str, last_seen_secs_ago: u64) {
        self.call(
            reqwest::Method::POST,
            "/_lab/connectivity",
            Some(json!({"id": id, "status": status, "last_seen_secs_ago": last_seen_secs_ago})),
        );
    }

    /// Revokes every access token issued so far: Resource Manager refuses them from now on.
    pub fn revoke_tokens(&self) {
        self.call(
            reqwest::Method::POST,
            "/_lab/revoke-tokens",
            Some(json!({})),
        );
    }

    /// A federated token from the lab's issuer.
    pub fn federated_token(&self, subject: &str) -> String {
        self.call(
            reqwest::Method::POST,
            "/_lab/federated-token",
            Some(json!({"subject": subject})),
        )["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Panics, listing them, when any request body failed the spec validation.
    pub fn assert_all_bodies_valid(&self) {
        let invalid: Vec<String> = self
            .requests()
            .into_iter()
            .filter(|r| r.issues.iter().any(|i| i.severity == Severity::Error))
            .map(|r| {
                format!(
                    "{} {} ({:?}): {:?}",
                    r.method, r.path, r.operation, r.issues
                )
            })
            .collect();
        assert!(
            invalid.is_empty(),
            "request bodies failed the spec validation:\n{}",
            invalid.join("\n")
        );
    }
}

impl Drop for ArmLab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
