//! Azurite's Blob service for tests (npm `azurite@3.35`, always with `--disableTelemetry`),
//! on a free loopback port with its files in a temporary directory. Tests talk to it with
//! the emulator's well-known development account.
//!
//! [`start_https`] starts one that takes Entra ID bearer tokens: Azurite accepts them only
//! over HTTPS and with `--oauth basic`, which checks a token's times, issuer
//! (`https://sts.windows.net/…`) and audience (`https://storage.azure.com`), not its
//! signature. Its certificate, for 127.0.0.1 and localhost, comes from a CA made for it
//! ([`SecureAzurite::ca_file`]), which clients must be told to trust.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use super::{after_this_process, free_port, wait_for_port};

/// The emulator's account.
pub const ACCOUNT: &str = "devstoreaccount1";
/// The emulator's published account key (not a secret: every Azurite has it).
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Where `azurite-blob` is (`FLEETFORM_AZURITE` overrides); `.ci/run` installs it there.
pub fn binary() -> PathBuf {
    std::env::var_os("FLEETFORM_AZURITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/azurite/node_modules/.bin/azurite-blob"))
}

/// A running Blob service.
#[derive(Debug)]
pub struct Azurite {
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Azurite {
    /// The account's blob endpoint, `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }
}

/// The service of this test process, started on first use.
pub fn shared() -> &'static Azurite {
    static SERVER: OnceLock<Azurite> = OnceLock::new();
    SERVER.get_or_init(|| start().unwrap_or_else(|e| panic!("{e}")))
}

/// Starts a new Blob service.
pub fn start() -> Result<Azurite, String> {
    check_binary()?;
    let dir = temp_dir()?;
    launch(&dir, &[]).map(|port| Azurite { port })
}

/// A Blob service over HTTPS that takes Entra ID bearer tokens (`--oauth basic`).
#[derive(Debug)]
pub struct SecureAzurite {
    /// Its port on 127.0.0.1.
    pub port: u16,
    ca_file: PathBuf,
}

impl SecureAzurite {
    /// The account's blob endpoint, `https://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// The CA (PEM) that issued its certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// Creates a container (nothing when it exists), authorized with [`emulator_token`].
    pub fn create_container(&self, name: &str) -> Result<(), String> {
        let (status, _) = self.call(reqwest::Method::PUT, &format!("{name}?restype=container"))?;
        match status {
            201 | 409 => Ok(()),
            other => Err(format!("creating container {name}: {other}")),
        }
    }

    /// A blob's content (`None` when it does not exist), authorized with
    /// [`emulator_token`].
    pub fn blob(&self, container: &str, name: &str) -> Result<Option<Vec<u8>>, String> {
        match self.call(reqwest::Method::GET, &format!("{container}/{name}"))? {
            (200, body) => Ok(Some(body)),
            (404, _) => Ok(None),
            (other, _) => Err(format!("reading {container}/{name}: {other}")),
        }
    }

    /// One request with its own runtime on a thread of its own (so that sync and async
    /// tests alike can make it), trusting only the service's CA.
    fn call(&self, method: reqwest::Method, path: &str) -> Result<(u16, Vec<u8>), String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = format!("{}/{path}", self.endpoint());
        let ca = std::fs::read(&self.ca_file).map_err(|e| e.to_string())?;
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime.block_on(async {
                        let certs = reqwest::Certificate::from_pem_bundle(&ca)
                            .map_err(|e| e.to_string())?;
                        let http = reqwest::Client::builder()
                            .tls_certs_only(certs)
                            .build()
                            .map_err(|e| e.to_string())?;
                        let response = http
                            .request(method.clone(), &url)
                            .bearer_auth(emulator_token())
                            .header("x-ms-version", "2021-08-06")
                            .header("content-length", "0")
                            .send()
                            .await
                            .map_err(|e| format!("{method} {url}: {e}"))?;
                        let status = response.status().as_u16();
                        let body = response.bytes().await.map_err(|e| e.to_string())?;
                        Ok((status, body.to_vec()))
                    })
                })
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }
}

/// A bearer token `--oauth basic` accepts: unsigned, for Azure Storage, issued by
/// "sts.windows.net", valid for an hour. Only an emulator takes it.
pub fn emulator_token() -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = serde_json::json!({"alg": "none", "typ": "JWT"});
    let claims = serde_json::json!({
        "aud": "https://storage.azure.com",
        "iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// Starts a new Blob service over HTTPS with `--oauth basic`, its certificate for
/// 127.0.0.1 and localhost issued by a CA of its own.
pub fn start_https() -> Result<SecureAzurite, String> {
    check_binary()?;
    let dir = temp_dir()?;
    let pki = dir.join("tls");
    std::fs::create_dir(&pki).map_err(|e| format!("{}: {e}", pki.display()))?;
    let tls = crate::lab::arm::serving_pki("fleetform test Azurite CA")?;
    let write = |name: &str, text: &str| {
        let path = pki.join(name);
        std::fs::write(&path, text)
            .map(|()| path.clone())
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let ca_file = write("ca.pem", &tls.ca_pem)?;
    let cert = write("cert.pem", &tls.cert_pem)?;
    let key = write("key.pem", &tls.key_pem)?;
    let args: Vec<OsString> = vec![
        "--cert".into(),
        cert.into(),
        "--key".into(),
        key.into(),
        "--oauth".into(),
        "basic".into(),
    ];
    launch(&dir, &args).map(|port| SecureAzurite { port, ca_file })
}

fn check_binary() -> Result<(), String> {
    let bin = binary();
    if bin.is_file() {
        return Ok(());
    }
    Err(format!(
        "Azurite is missing at {}: install it with `mkdir -p /opt/azurite && npm install --prefix /opt/azurite azurite@3.35` (.ci/run does), or set FLEETFORM_AZURITE",
        bin.display()
    ))
}

fn temp_dir() -> Result<PathBuf, String> {
    tempfile::Builder::new()
        .prefix("fleetform-azurite-")
        .tempdir()
        .map_err(|e| e.to_string())
        .map(tempfile::TempDir::keep)
}

/// Runs `azurite-blob` on a free loopback port with its files in `dir` and `extra`
/// arguments; stopped (and `dir` removed) when this process ends.
fn launch(dir: &Path, extra: &[OsString]) -> Result<u16, String> {
    let bin = binary();
    for _ in 0..5 {
        let port = free_port();
        // Azurite keeps every block of a blob in a file of its own and opens them all to
        // read the blob: a journal of thousands of records needs more than the usual 1024
        // descriptors (Azure itself has no such limit).
        let child = Command::new("setsid")
            .args([
                "sh",
                "-c",
                "ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"",
            ])
            .arg(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(dir)
            .args(extra)
            .args(["--disableTelemetry", "--silent"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("azurite-blob: {e}"))?;
        let pid = child.id();
        super::wait_in_background(child);
        // `setsid` execs the program, so the child's pid is Azurite's.
        // Azurite flushes its files as it stops: wait for it before its directory goes.
        after_this_process(
            &format!(
                "kill {pid}; for i in $(seq 50); do kill -0 {pid} 2>/dev/null || break; sleep 0.2; done; kill -9 {pid} 2>/dev/null"
            ),
            dir,
        );
        if wait_for_port(port, Duration::from_secs(20)) {
            return Ok(port);
        }
    }
    Err("Azurite did not start".into())
}
