//! Real servers for the state backends' tests: PostgreSQL ([`postgres`]) and Azurite, the
//! Azure Storage emulator ([`azurite`]). Each runs on a free loopback port with its files
//! in a temporary directory, started once per test process and shared by its tests; a
//! watchdog stops it and removes its files when the process ends (however it ends), so no
//! server outlives the tests. A missing server binary fails with the command that installs
//! it.

pub mod azurite;
pub mod postgres;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `port`.
fn wait_for_port(port: u16, within: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Runs `cleanup` (a shell command) once this process has ended, from a watchdog in a
/// session of its own (so that a test runner killing this process group spares it).
fn after_this_process(cleanup: &str, dir: &Path) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cleanup}; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    let child = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the server's watchdog (setsid, sh)");
    wait_in_background(child);
}

/// Reaps `child` whenever it exits (a server or watchdog outliving this process is not
/// waited for: its new parent reaps it).
fn wait_in_background(mut child: std::process::Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}
