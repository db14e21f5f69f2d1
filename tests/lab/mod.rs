//! The local lab's hosts (DESIGN.md section 6): real OpenSSH servers, one per host, each in
//! its own network namespace (a veth into a per-lab bridge in the root namespace, address
//! in 169.254.100.0/24) and its own mount and UTS namespaces (private tmpfs over
//! /etc/kubernetes, /var/lib/kubelet, /etc/containerd, /var/lib/etcd, /opt/cni; its own
//! hostname). Needs root.
//!
//! ```no_run
//! let lab = fleetform_tests::lab::Lab::start(3)?;
//! for h in lab.hosts() {
//!     println!("{} {}:{} {}", h.name, h.address, h.port, h.fingerprint);
//! }
//! # Ok::<(), fleetform_tests::lab::LabError>(())
//! ```

mod hosts;

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;

pub use hosts::{PRIVATE_DIRS, ROOT_ADDR, SSHD};

/// Why the lab could not start or stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabError {
    message: String,
}

impl LabError {
    fn new(message: impl Into<String>) -> Self {
        LabError {
            message: message.into(),
        }
    }
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lab: {}", self.message)
    }
}

impl std::error::Error for LabError {}

/// One lab host as a client sees it.
#[derive(Debug, Clone)]
pub struct LabHost {
    /// `lab-1`, `lab-2`, ...; also the host's hostname.
    pub name: String,
    /// The host's address, in 169.254.100.0/24.
    pub address: Ipv4Addr,
    /// The port its sshd listens on.
    pub port: u16,
    /// The host's public key line, `ssh-ed25519 AAAA... comment`.
    pub host_key: String,
    /// The host key's `SHA256:` fingerprint (as `ssh-keygen -lf` prints it).
    pub fingerprint: String,
    /// The host's network namespace (for `ip netns exec`).
    pub netns: String,
    /// The root namespace's end of the host's veth pair.
    veth: String,
}

impl LabHost {
    /// The known_hosts line pinning this host's key: `addr type key` on port 22,
    /// `[addr]:port type key` otherwise (as ssh looks hosts up).
    pub fn known_hosts_line(&self) -> String {
        let mut key = self.host_key.split_whitespace();
        let (kind, blob) = (key.next().unwrap_or(""), key.next().unwrap_or(""));
        if self.port == 22 {
            format!("{} {kind} {blob}", self.address)
        } else {
            format!("[{}]:{} {kind} {blob}", self.address, self.port)
        }
    }
}

/// A running lab. Stopped (processes killed, namespaces, veths, bridge deleted, temp dir
/// removed) by [`Lab::stop`] or on drop.
pub struct Lab {
    hosts: Vec<LabHost>,
    sshd: Vec<Option<Child>>,
    bridge: String,
    client_key: PathBuf,
    leases: hosts::Leases,
    dir: Option<tempfile::TempDir>,
    stopped: bool,
}

impl Lab {
    /// Starts `n` hosts named `lab-1` .. `lab-n`, each with a fresh ed25519 host key and the
    /// lab's client key authorized for root, and waits until every sshd accepts connections.
    pub fn start(n: usize) -> Result<Lab, LabError> {
        if n == 0 || n > 64 {
            return Err(LabError::new(format!("a lab has 1 to 64 hosts, not {n}")));
        }
        hosts::preflight()?;
        let dir = tempfile::Builder::new()
            .prefix("fleetform-lab-")
            .tempdir()
            .map_err(|e| LabError::new(format!("temp dir: {e}")))?;
        let suffix = hosts::random_suffix();
        let client_key = dir.path().join("client_key");
        hosts::keygen(&client_key, "fleetform-lab-client")?;
        let authorized_keys = dir.path().join("client_key.pub");
        let (leases, addrs) = hosts::Leases::acquire(n)?;
        let mut lab = Lab {
            hosts: Vec::new(),
            sshd: Vec::new(),
            bridge: format!("ffbr{suffix}"),
            client_key,
            leases,
            dir: Some(dir),
            stopped: false,
        };
        // From here on, a failure drops `lab`, which tears down whatever was created.
        hosts::create_bridge(&lab.bridge)?;
        for (i, addr) in addrs.into_iter().enumerate() {
            let name = format!("lab-{}", i + 1);
            let host_dir = lab.dir().join(&name);
            std::fs::create_dir(&host_dir)
                .map_err(|e| LabError::new(format!("{}: {e}", host_dir.display())))?;
            let host_key_path = host_dir.join("ssh_host_ed25519_key");
            hosts::keygen(&host_key_path, &name)?;
            let pub_path = host_dir.join("ssh_host_ed25519_key.pub");
            let host_key = std::fs::read_to_string(&pub_path)
                .map_err(|e| LabError::new(format!("{}: {e}", pub_path.display())))?
                .trim()
                .to_owned();
            let fingerprint = hosts::fingerprint(&pub_path)?;
            let host = LabHost {
                name: name.clone(),
                address: addr,
                port: hosts::SSH_PORT,
                host_key,
                fingerprint,
                netns: format!("fflab-{suffix}-{}", i + 1),
                veth: format!("ffv{suffix}-{}", i + 1),
            };
            lab.hosts.push(host.clone());
            lab.sshd.push(None);
            hosts::create_netns(&host.netns, &host.veth, &lab.bridge, addr)?;
            let config = host_dir.join("sshd_config");
            hosts::write_sshd_config(&config, addr, &host_key_path, &authorized_keys)?;
            let log = host_dir.join("sshd.log");
            let child = hosts::spawn_sshd(&host.netns, &name, &config, &log)?;
            let slot = lab.sshd.last_mut().expect("pushed above");
            *slot = Some(child);
            hosts::wait_ready(slot.as_mut().expect("just set"), addr, &log)?;
        }
        Ok(lab)
    }

    /// The hosts, `lab-1` first.
    pub fn hosts(&self) -> &[LabHost] {
        &self.hosts
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Result<&LabHost, LabError> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| LabError::new(format!("no lab host {name:?}")))
    }

    /// The lab client's private key (mode 0600), authorized for root on every host.
    pub fn client_key(&self) -> &Path {
        &self.client_key
    }

    /// The lab's temp dir (keys, configs, sshd logs under `lab-N/`).
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map_or(Path::new("/nonexistent"), |d| d.path())
    }

    /// The bridge in the root namespace.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The sshd log of host `name`.
    pub fn sshd_log(&self, name: &str) -> Result<PathBuf, LabError> {
        let h = self.host(name)?;
        Ok(self.dir().join(&h.name).join("sshd.log"))
    }

    /// Makes host `name` unreachable (its veth goes down; sshd keeps running).
    pub fn cut(&self, name: &str) -> Result<(), LabError> {
        hosts::set_link(&self.host(name)?.veth, false)
    }

    /// Makes a cut host reachable again.
    pub fn heal(&self, name: &str) -> Result<(), LabError> {
        hosts::set_link(&self.host(name)?.veth, true)
    }

    /// Stops everything: kills each sshd, then leftover processes in each namespace, then
    /// deletes namespaces, veths and the bridge, releases the addresses and removes the
    /// temp dir. Idempotent.
    pub fn stop(&mut self) -> Result<(), LabError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let mut problem = None;
        for (host, child) in self.hosts.iter().zip(self.sshd.iter_mut()) {
            if let Err(e) = hosts::teardown_host(child.as_mut(), &host.netns, &host.veth) {
                problem.get_or_insert(e);
            }
        }
        if let Err(e) = hosts::delete_bridge(&self.bridge) {
            problem.get_or_insert(e);
        }
        self.leases.release();
        if let Some(dir) = self.dir.take()
            && let Err(e) = dir.close()
        {
            problem.get_or_insert(LabError::new(format!("remove temp dir: {e}")));
        }
        problem.map_or(Ok(()), Err)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("{e}");
        }
    }
}
