//! The local lab's hosts (DESIGN.md section 6): real OpenSSH servers, one per host, each in
//! its own network namespace (a veth into a per-lab bridge in the root namespace, address
//! in 169.254.100.0/24) and its own mount and UTS namespaces (private tmpfs over each of
//! [`PRIVATE_DIRS`]; its own hostname). Needs root.
//!
//! Beside each sshd, in the same namespaces, runs the lab's node agent ([`node`], binary
//! `fleetform-lab-node`), its stand-in for kubelet: it runs the static pods in
//! /etc/kubernetes/manifests as processes (kube-apiserver as the lab API server,
//! `fleetform-lab-apiserver`, when the host has no kube-apiserver) and registers the host
//! as a Node. Each host's `systemctl` is a stand-in that records its calls and has the
//! agent re-read its configuration on `systemctl restart kubelet`. Both binaries are
//! found beside the running executable (`cargo build -p fleetform-tests --bins`).
//!
//! Some hosts may be private, like a remote clinic's machines behind its bastion: they sit
//! on the lab's bridge, so the other hosts reach them, but the root namespace has no route
//! to them, so they are reached only through the jump host (`ssh -J`).
//!
//! ```no_run
//! use fleetform_tests::lab::{Lab, LabSpec};
//!
//! let lab = Lab::start_with(LabSpec { hosts: 2, private: 1 })?;
//! for h in lab.hosts() {
//!     println!("{} {}:{} {}", h.name, h.address, h.port, h.fingerprint);
//! }
//! // ssh -F <ssh_config> private-1 goes through the jump host.
//! println!("{}", lab.ssh_config().display());
//! # Ok::<(), fleetform_tests::lab::LabError>(())
//! ```
//!
//! `fleetform-lab up` (tests/bin/lab.rs) runs a lab outside the tests and describes it with
//! [`Lab::to_json`] and [`Lab::to_hcl`].

pub mod apiserver;
pub mod arm;
mod files;
mod hosts;
pub mod node;
mod sources;
pub mod vip;

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;

pub use files::{reap, set_link_of};
pub use hosts::{
    APISERVER_BIN, LabBinaries, NODE_AGENT_BIN, PRIVATE_DIRS, ROOT_ADDR, SSHD, find_binary,
    process_alive,
};
pub use sources::SourceServer;
pub use vip::VIP_BIN;

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
    /// `lab-1`, `lab-2`, ..., `private-1`, ...; also the host's hostname.
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
    /// Reachable only through the lab's jump host: the root namespace has no route to it.
    pub private: bool,
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

/// What to start: `hosts` reachable hosts (`lab-1` ..) and `private` hosts (`private-1` ..)
/// reachable only through the jump host, `lab-1`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabSpec {
    /// Hosts the root namespace routes to; at least one.
    pub hosts: usize,
    /// Hosts behind the jump host.
    pub private: usize,
}

/// A running lab. Stopped (processes killed, namespaces, veths, bridge deleted, temp dir
/// removed) by [`Lab::stop`] or on drop.
pub struct Lab {
    hosts: Vec<LabHost>,
    sshd: Vec<Option<Child>>,
    bridge: String,
    client_key: PathBuf,
    jump: Option<usize>,
    leases: hosts::Leases,
    /// Addresses on the lab's network that no host has, for virtual IPs.
    virtual_ips: Vec<Ipv4Addr>,
    dir: Option<tempfile::TempDir>,
    stopped: bool,
}

impl Lab {
    /// Starts `n` hosts named `lab-1` .. `lab-n`, each with a fresh ed25519 host key and the
    /// lab's client key authorized for root, and waits until every sshd accepts connections.
    pub fn start(n: usize) -> Result<Lab, LabError> {
        Lab::start_with(LabSpec {
            hosts: n,
            private: 0,
        })
    }

    /// Starts the hosts `spec` asks for, private ones last; with private hosts, `lab-1` is
    /// the jump host. Every host authorizes the same client key, so one key logs in to the
    /// jump host and, through it, to the private hosts.
    pub fn start_with(spec: LabSpec) -> Result<Lab, LabError> {
        let n = spec.hosts + spec.private;
        if spec.hosts == 0 || n > 64 {
            return Err(LabError::new(format!(
                "a lab has 1 to 64 hosts, at least one of them reachable (the jump host of \
                 private ones), not {} reachable and {} private",
                spec.hosts, spec.private
            )));
        }
        hosts::preflight()?;
        let binaries = LabBinaries::locate()?;
        let dir = tempfile::Builder::new()
            .prefix(files::TEMP_PREFIX)
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
            jump: (spec.private > 0).then_some(0),
            leases,
            virtual_ips: Vec::new(),
            dir: Some(dir),
            stopped: false,
        };
        let names = (1..=spec.hosts)
            .map(|i| (format!("lab-{i}"), false))
            .chain((1..=spec.private).map(|i| (format!("private-{i}"), true)));
        // From here on, a failure drops `lab`, which tears down whatever was created.
        hosts::create_bridge(&lab.bridge)?;
        for (i, ((name, private), addr)) in names.zip(addrs).enumerate() {
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
                private,
                veth: format!("ffv{suffix}-{}", i + 1),
            };
            lab.hosts.push(host.clone());
            lab.sshd.push(None);
            hosts::create_netns(&host.netns, &host.veth, &lab.bridge, addr)?;
            if private {
                hosts::make_private(&host.netns, addr)?;
            } else {
                hosts::route_host(addr, &lab.bridge)?;
            }
            let config = host_dir.join("sshd_config");
            hosts::write_sshd_config(&config, addr, &host_key_path, &authorized_keys)?;
            let log = host_dir.join("sshd.log");
            let child = hosts::spawn_sshd(&host.netns, &name, &binaries, &config, &log)?;
            let sshd_pid = child.id();
            let slot = lab.sshd.last_mut().expect("pushed above");
            *slot = Some(child);
            hosts::wait_ready(slot.as_mut().expect("just set"), addr, private, &log)?;
            hosts::wait_agent(sshd_pid, node::AGENT_PID, node::AGENT_LOG)?;
        }
        files::write_ssh_files(&lab)?;
        Ok(lab)
    }

    /// The hosts, `lab-1` first, private ones last.
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

    /// The host in front of the private hosts (`lab-1`), when there are any.
    pub fn jump_host(&self) -> Option<&LabHost> {
        self.jump.map(|i| &self.hosts[i])
    }

    /// A known_hosts file pinning every host's key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join(files::KNOWN_HOSTS)
    }

    /// An ssh_config for the system client: one `Host` per lab host by name (private ones
    /// with `ProxyJump` through the jump host) and, for every host, user root, the client
    /// key, [`Lab::known_hosts`] with strict checking, and batch mode. Because ssh hands
    /// `-F` on to the jump connection, `ssh -F <this> -J root@<jump address> root@<address>`
    /// is pinned at both hops too.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir().join(files::SSH_CONFIG)
    }

    /// Runs `argv` on the host named `name` as root, over the system ssh client with the
    /// lab's pinned keys (through the jump host for private hosts). Each word is quoted,
    /// so the remote shell sees data, not code.
    pub fn exec(&self, name: &str, argv: &[&str]) -> std::process::Output {
        let remote: Vec<String> = argv
            .iter()
            .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
            .collect();
        std::process::Command::new("ssh")
            .arg("-F")
            .arg(self.ssh_config())
            .arg(name)
            .arg("--")
            .arg(remote.join(" "))
            .output()
            .expect("run the system ssh client (openssh-client)")
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

    /// Where `path` on host `name` (in its private directories, like
    /// [`node::AGENT_LOG`]) is seen from the test process: through the root directory of
    /// the host's sshd, so it works without ssh and while the host is cut off.
    pub fn host_path(&self, name: &str, path: &str) -> Result<PathBuf, LabError> {
        let index = self
            .hosts
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| LabError::new(format!("no lab host {name:?}")))?;
        let pid = self.sshd[index]
            .as_ref()
            .map(Child::id)
            .filter(|&pid| process_alive(pid))
            .ok_or_else(|| LabError::new(format!("{name}: its sshd is not running")))?;
        Ok(hosts::host_view(pid, path))
    }

    /// Gives host `name` an OpenSSH host certificate signed by the CA key at `ca_key` for
    /// `principals`, and has its sshd (SIGHUP: it re-executes itself and re-reads its
    /// configuration) present it to clients that ask for certificates.
    pub fn certify_host(
        &mut self,
        name: &str,
        ca_key: &Path,
        principals: &str,
    ) -> Result<(), LabError> {
        let index = self
            .hosts
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| LabError::new(format!("no lab host {name:?}")))?;
        let host_dir = self.dir().join(name);
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(ca_key)
            .args(["-h", "-I", name, "-n", principals, "-V", "-5m:+1h"])
            .arg(host_dir.join("ssh_host_ed25519_key.pub"))
            .status()
            .map_err(|e| LabError::new(format!("ssh-keygen: {e}")))?;
        if !status.success() {
            return Err(LabError::new(format!("ssh-keygen -s failed: {status}")));
        }
        let config = host_dir.join("sshd_config");
        let mut text = std::fs::read_to_string(&config)
            .map_err(|e| LabError::new(format!("{}: {e}", config.display())))?;
        text.push_str(&format!(
            "HostCertificate \"{}\"\n",
            host_dir.join("ssh_host_ed25519_key-cert.pub").display()
        ));
        std::fs::write(&config, text)
            .map_err(|e| LabError::new(format!("{}: {e}", config.display())))?;
        let pid = self.sshd[index]
            .as_ref()
            .map(Child::id)
            .ok_or_else(|| LabError::new(format!("{name}: its sshd is not running")))?;
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .map_err(|e| LabError::new(format!("kill: {e}")))?;
        if !status.success() {
            return Err(LabError::new(format!("kill -HUP {pid} failed")));
        }
        // The re-executed sshd listens again shortly; wait until it accepts.
        let host = self.hosts[index].clone();
        let log = host_dir.join("sshd.log");
        let slot = self.sshd[index].as_mut().expect("checked above");
        std::thread::sleep(std::time::Duration::from_millis(300));
        hosts::wait_ready(slot, host.address, host.private, &log)
    }

    /// The text of `path` on host `name` (see [`Lab::host_path`]).
    pub fn read_host_file(&self, name: &str, path: &str) -> Result<String, LabError> {
        let file = self.host_path(name, path)?;
        std::fs::read_to_string(&file).map_err(|e| LabError::new(format!("{name}:{path}: {e}")))
    }

    /// Host `name`'s node agent log ([`node::AGENT_LOG`]).
    pub fn agent_log(&self, name: &str) -> Result<String, LabError> {
        self.read_host_file(name, node::AGENT_LOG)
    }

    /// Every `systemctl` call made on host `name`, one line each, arguments separated by
    /// spaces ([`node::SYSTEMCTL_LOG`]); empty when there was none.
    pub fn systemctl_log(&self, name: &str) -> Result<String, LabError> {
        match self.host_path(name, node::SYSTEMCTL_LOG) {
            Ok(p) if !p.exists() => Ok(String::new()),
            _ => self.read_host_file(name, node::SYSTEMCTL_LOG),
        }
    }

    /// The PID of host `name`'s node agent.
    pub fn agent_pid(&self, name: &str) -> Result<u32, LabError> {
        let text = self.read_host_file(name, node::AGENT_PID)?;
        text.trim()
            .parse()
            .map_err(|_| LabError::new(format!("{name}: bad agent PID file: {text:?}")))
    }

    /// The PID of the process host `name`'s node agent runs for container `container` of
    /// static pod `pod`, if one runs.
    pub fn pod_pid(&self, name: &str, pod: &str, container: &str) -> Result<Option<u32>, LabError> {
        let file = self.host_path(name, &node::container_pid_file(pod, container))?;
        Ok(std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|&pid| process_alive(pid)))
    }

    /// Leases an address of the lab's network that no host has, routed from the root
    /// namespace to the lab's bridge: a virtual IP that hosts can take over (kube-vip's),
    /// answering ARP for it. Released when the lab stops.
    pub fn lease_virtual_ip(&mut self) -> Result<Ipv4Addr, LabError> {
        let address = self
            .leases
            .acquire_more(1)?
            .pop()
            .ok_or_else(|| LabError::new("no lab address leased"))?;
        hosts::route_host(address, &self.bridge)?;
        self.virtual_ips.push(address);
        Ok(address)
    }

    /// The virtual IPs leased so far.
    pub fn virtual_ips(&self) -> &[Ipv4Addr] {
        &self.virtual_ips
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
    /// deletes namespaces, veths, private hosts' routes and the bridge, releases the
    /// addresses and removes the temp dir. Idempotent.
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
            // Still under our lease, so the route is ours to delete.
            if host.private
                && let Err(e) = hosts::remove_private_route(host.address)
            {
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
