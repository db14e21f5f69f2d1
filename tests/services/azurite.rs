//! Azurite's Blob service for tests (npm `azurite@3.35`, always with `--disableTelemetry`),
//! on a free loopback port with its files in a temporary directory. Tests talk to it with
//! the emulator's well-known development account.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

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
    let bin = binary();
    if !bin.is_file() {
        return Err(format!(
            "Azurite is missing at {}: install it with `mkdir -p /opt/azurite && npm install --prefix /opt/azurite azurite@3.35` (.ci/run does), or set FLEETFORM_AZURITE",
            bin.display()
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("fleetform-azurite-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
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
            .arg(&dir)
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
            &dir,
        );
        if wait_for_port(port, Duration::from_secs(20)) {
            return Ok(Azurite { port });
        }
    }
    Err("Azurite did not start".into())
}
