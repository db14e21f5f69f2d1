//! The low-level pieces of a lab host: network namespace, veth and bridge, the private mount
//! and UTS namespace, the sshd configuration and process, address leases, teardown.
//!
//! Every external command is built as an argument list; no value is ever interpolated into
//! a shell string. The one `sh -c` script is a constant that reads its values from its
//! positional parameters.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::LabError;

/// Debian's OpenSSH server.
pub const SSHD: &str = "/usr/sbin/sshd";

/// The address of the root namespace's side of every lab bridge.
pub const ROOT_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 100, 1);

/// The port every lab sshd listens on (each host has its own address).
pub const SSH_PORT: u16 = 22;

/// Directories each host gets its own (tmpfs) copy of: everything the cluster provider
/// writes (unit files and the `systemctl` stand-in included), and the node agent's state,
/// so that nothing a host does touches the real machine.
pub const PRIVATE_DIRS: &[&str] = &[
    "/etc/kubernetes",
    "/var/lib/kubelet",
    "/etc/containerd",
    "/var/lib/etcd",
    "/opt/cni",
    "/etc/systemd/system",
    "/var/lib/fleetform-lab-node",
    "/usr/local/sbin",
    "/var/log/pods",
];

/// The node agent, run inside every host (tests/bin/lab_node.rs).
pub const NODE_AGENT_BIN: &str = "fleetform-lab-node";
/// The lab API server, which the node agent runs for a kube-apiserver static pod when the
/// host has no `kube-apiserver` (tests/bin/lab_apiserver.rs).
pub const APISERVER_BIN: &str = "fleetform-lab-apiserver";

/// The lab's own programs that run inside its hosts, built by cargo with the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabBinaries {
    pub node_agent: PathBuf,
    pub apiserver: PathBuf,
}

impl LabBinaries {
    /// Finds the binaries beside the running executable, the way the tests find
    /// `fleetform`: a test binary lives in target/<profile>/deps, the package's binaries
    /// (`fleetform-lab` itself among them) in target/<profile>.
    pub fn locate() -> Result<LabBinaries, LabError> {
        Ok(LabBinaries {
            node_agent: find_binary(NODE_AGENT_BIN)?,
            apiserver: find_binary(APISERVER_BIN)?,
        })
    }
}

/// Finds one of the lab's binaries beside the running executable: a test binary lives in
/// target/<profile>/deps, the package's binaries in target/<profile>.
pub fn find_binary(name: &str) -> Result<PathBuf, LabError> {
    let exe = std::env::current_exe()
        .map_err(|e| LabError::new(format!("cannot tell where this program is: {e}")))?;
    let mut dirs = Vec::new();
    if let Some(dir) = exe.parent() {
        dirs.push(dir.to_path_buf());
        if dir.file_name().is_some_and(|n| n == "deps")
            && let Some(profile) = dir.parent()
        {
            dirs.insert(0, profile.to_path_buf());
        }
    }
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            LabError::new(format!(
                "{name} is missing (looked in {}): build it with \
                 `cargo build -p fleetform-tests --bins`",
                looked.join(", ")
            ))
        })
}

/// The first and last host octet in 169.254.100.0/24.
const FIRST_HOST: u8 = 11;
const LAST_HOST: u8 = 254;

/// Where address leases live, shared by every lab on the machine (parallel test binaries).
const LEASE_DIR: &str = "/run/fleetform-lab";

/// Runs inside the host's new mount and UTS namespaces: sets the hostname ($1), puts a
/// tmpfs over each private directory (the arguments after the node agent ($2) and the lab
/// API server ($3), up to `--`), installs the `systemctl` stand-in, starts the node agent
/// in the background, then execs the rest of the arguments (sshd). The agent thus shares
/// the host's network, mount and UTS namespaces, and is sshd's child. Values arrive only
/// as positional parameters.
///
/// Root's shell startup files are masked with empty ones, as on a freshly installed host:
/// bash sources ~/.bashrc for every command sshd runs, and the machine's own (a development
/// machine's `pyenv init`, say) would otherwise run in every host, cost CPU on every exec
/// channel and, worse, take the machine-wide locks such tools take: `pyenv rehash` waits
/// 60 s for a lock a killed shell left behind, and every command on every host with it.
const HOST_INIT: &str = r#"set -eu
hostname "$1"
agent="$2"
apiserver="$3"
shift 3
while [ "$1" != -- ]; do
  mkdir -p "$1"
  mount -t tmpfs -o mode=0755 fleetform-lab "$1"
  shift
done
shift
home=$(getent passwd root | cut -d: -f6)
for rc in .bashrc .bash_profile .bash_login .profile; do
  if [ -f "$home/$rc" ]; then mount --bind /dev/null "$home/$rc"; fi
done
cat > /usr/local/sbin/systemctl <<'SHIM'
#!/bin/sh
# The lab host's systemctl: there is no systemd in a lab host. Records every call, accepts
# the verbs the cluster provider uses for any unit, and has the node agent (the lab's
# kubelet) re-read its flags and configuration when kubelet is (re)started.
state=/var/lib/fleetform-lab-node
printf '%s\n' "$*" >> "$state/systemctl.log"
verb=
now=no
quiet=no
kubelet=no
for arg in "$@"; do
  case "$arg" in
    --now) now=yes ;;
    -q | --quiet) quiet=yes ;;
    -*) ;;
    kubelet | kubelet.service) [ -z "$verb" ] && verb="$arg" || kubelet=yes ;;
    *) [ -z "$verb" ] && verb="$arg" ;;
  esac
done
case "$verb" in
  daemon-reload | enable | disable | start | stop | restart | try-restart | \
    reload-or-restart | reload) ;;
  is-active) [ "$quiet" = yes ] || echo active ;;
  is-enabled) [ "$quiet" = yes ] || echo enabled ;;
  *)
    echo "systemctl (fleetform lab): unsupported: $*" >&2
    exit 1
    ;;
esac
case "$verb:$now:$kubelet" in
  restart:*:yes | try-restart:*:yes | reload-or-restart:*:yes | start:*:yes | enable:yes:yes)
    pid=$(cat "$state/agent.pid" 2>/dev/null || true)
    case "$pid" in
      '' | *[!0-9]*) ;;
      *) kill -HUP "$pid" 2>/dev/null || true ;;
    esac
    ;;
esac
exit 0
SHIM
chmod 0755 /usr/local/sbin/systemctl
# Root's PATH over ssh has /usr/local/sbin before /usr/bin, but a caller may name the
# real one, or set a PATH of its own.
for real in /usr/bin/systemctl /bin/systemctl; do
  if [ -e "$real" ] && ! [ "$real" -ef /usr/local/sbin/systemctl ]; then
    mount --bind /usr/local/sbin/systemctl "$real"
  fi
done
"$agent" --apiserver-binary "$apiserver" </dev/null >>/var/lib/fleetform-lab-node/agent.log 2>&1 &
exec "$@"
"#;

/// A short random hexadecimal suffix for the names of one lab's namespaces and links.
pub fn random_suffix() -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = SystemTime::now().duration_since(UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:06x}", h.finish() & 0xff_ffff)
}

/// Runs a command to completion; a failure carries the command line and its stderr.
pub fn run(cmd: &mut Command) -> Result<String, LabError> {
    let line = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::new(format!("cannot run `{line}`: {e}")))?;
    if !out.status.success() {
        return Err(LabError::new(format!(
            "`{line}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn ip(args: &[&str]) -> Result<String, LabError> {
    run(Command::new("ip").args(args))
}

/// Checks what the lab needs before touching anything, so a missing piece fails clearly.
pub fn preflight() -> Result<(), LabError> {
    if !Path::new(SSHD).is_file() {
        return Err(LabError::new(format!(
            "{SSHD} is missing: install Debian's openssh-server (apt-get install openssh-server)"
        )));
    }
    for tool in ["ip", "unshare", "ssh-keygen", "mount", "hostname", "sysctl"] {
        if Command::new(tool)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            return Err(LabError::new(format!(
                "`{tool}` is missing (needs iproute2, util-linux, openssh-client, procps)"
            )));
        }
    }
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    if uid != "0" {
        return Err(LabError::new(format!(
            "the lab needs root (network and mount namespaces); effective uid is {uid:?}"
        )));
    }
    // sshd's privilege separation directory.
    fs::create_dir_all("/run/sshd")
        .map_err(|e| LabError::new(format!("cannot create /run/sshd: {e}")))?;
    for d in PRIVATE_DIRS {
        fs::create_dir_all(d)
            .map_err(|e| LabError::new(format!("cannot create mount point {d}: {e}")))?;
    }
    Ok(())
}

/// Leases of host addresses in 169.254.100.0/24, shared across processes: one file per
/// address holding the owner's PID, allocated under an exclusive lock; a lease whose owner
/// is gone is taken over.
pub struct Leases {
    files: Vec<PathBuf>,
}

impl Leases {
    pub fn acquire(n: usize) -> Result<(Leases, Vec<Ipv4Addr>), LabError> {
        let mut leases = Leases { files: Vec::new() };
        let addrs = leases.acquire_more(n)?;
        Ok((leases, addrs))
    }

    /// Leases `n` more addresses, released with the others.
    pub fn acquire_more(&mut self, n: usize) -> Result<Vec<Ipv4Addr>, LabError> {
        let err = |what: &str, e: std::io::Error| LabError::new(format!("{what}: {e}"));
        fs::create_dir_all(LEASE_DIR).map_err(|e| err(LEASE_DIR, e))?;
        let lock_path = Path::new(LEASE_DIR).join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| err("open lease lock", e))?;
        lock.lock().map_err(|e| err("lock lease lock", e))?;
        let mut addrs = Vec::new();
        for octet in FIRST_HOST..=LAST_HOST {
            if addrs.len() == n {
                break;
            }
            let addr = Ipv4Addr::new(169, 254, 100, octet);
            let path = Path::new(LEASE_DIR).join(addr.to_string());
            if let Ok(owner) = fs::read_to_string(&path)
                && owner.trim().parse().is_ok_and(process_alive)
            {
                continue;
            }
            let mut f = File::create(&path).map_err(|e| err("write lease", e))?;
            writeln!(f, "{}", std::process::id()).map_err(|e| err("write lease", e))?;
            self.files.push(path);
            addrs.push(addr);
        }
        drop(lock);
        if addrs.len() < n {
            return Err(LabError::new(format!(
                "only {} free lab addresses in 169.254.100.{FIRST_HOST}-{LAST_HOST}; {n} wanted",
                addrs.len()
            )));
        }
        Ok(addrs)
    }

    pub fn release(&mut self) {
        for f in self.files.drain(..) {
            let _ = fs::remove_file(f);
        }
    }
}

/// Whether a process exists and is not a zombie (or dead).
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // pid (comm) STATE ...; comm may contain spaces and parentheses.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .unwrap_or("");
    !matches!(state, "Z" | "X" | "x")
}

/// Creates the lab's bridge in the root namespace. The root side's address is a /32 with
/// a host route per lab address, so that several labs (parallel test binaries) can share
/// 169.254.100.1 without their routes colliding.
pub fn create_bridge(bridge: &str) -> Result<(), LabError> {
    ip(&["link", "add", bridge, "type", "bridge"])?;
    ip(&["addr", "add", &format!("{ROOT_ADDR}/32"), "dev", bridge])?;
    ip(&["link", "set", bridge, "up"])?;
    Ok(())
}

/// Creates a host's network namespace, its veth pair into the bridge, and its address.
pub fn create_netns(netns: &str, veth: &str, bridge: &str, addr: Ipv4Addr) -> Result<(), LabError> {
    ip(&["netns", "add", netns])?;
    ip(&[
        "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns,
    ])?;
    ip(&["link", "set", veth, "master", bridge])?;
    ip(&["link", "set", veth, "up"])?;
    let in_ns = |args: &[&str]| {
        let mut full = vec!["-n", netns];
        full.extend_from_slice(args);
        ip(&full)
    };
    in_ns(&["link", "set", "lo", "up"])?;
    in_ns(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
    in_ns(&["link", "set", "eth0", "up"])?;
    Ok(())
}

/// Routes the root namespace to a host over the lab's bridge. `replace`, because a route a
/// crashed lab left for this address is stale once its lease has been taken over.
pub fn route_host(addr: Ipv4Addr, bridge: &str) -> Result<(), LabError> {
    ip(&[
        "route",
        "replace",
        &format!("{addr}/32"),
        "dev",
        bridge,
        "src",
        &ROOT_ADDR.to_string(),
    ])
    .map(drop)
}

/// Makes a host private. The root namespace gets an unreachable route for its address:
/// without one the address would follow the machine's default route, and connections would
/// leave the machine and hang until they time out instead of failing at once with "No
/// route to host". The host loses IPv6: its link-local address would still be reachable
/// from the root namespace over the bridge.
pub fn make_private(netns: &str, addr: Ipv4Addr) -> Result<(), LabError> {
    run(Command::new("ip").args(["netns", "exec", netns]).args([
        "sysctl",
        "-q",
        "-w",
        "net.ipv6.conf.all.disable_ipv6=1",
    ]))?;
    ip(&["route", "replace", "unreachable", &format!("{addr}/32")]).map(drop)
}

/// Removes the route [`make_private`] added. It belongs to no link, so deleting the bridge
/// does not take it away.
pub fn remove_private_route(addr: Ipv4Addr) -> Result<(), LabError> {
    let prefix = format!("{addr}/32");
    match ip(&["route", "del", "unreachable", &prefix]) {
        Ok(_) => Ok(()),
        Err(e) => {
            let left = ip(&["route", "show", "exact", &prefix, "type", "unreachable"])
                .map_or(true, |routes| !routes.trim().is_empty());
            // Already gone is what was wanted.
            if left { Err(e) } else { Ok(()) }
        }
    }
}

/// The PID holding the lease on `addr`, if its holder is alive.
pub fn lease_holder(addr: Ipv4Addr) -> Option<u32> {
    fs::read_to_string(Path::new(LEASE_DIR).join(addr.to_string()))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&pid| process_alive(pid))
}

/// Quotes a path for sshd_config; refuses what cannot be quoted.
fn config_path(p: &Path) -> Result<String, LabError> {
    let s = p
        .to_str()
        .filter(|s| !s.contains(['"', '\n', '\r']))
        .ok_or_else(|| LabError::new(format!("unusable path for sshd_config: {}", p.display())))?;
    Ok(format!("\"{s}\""))
}

/// Writes a host's sshd_config. TCP forwarding is on explicitly because any host may be the
/// jump host (`ssh -J`, direct-tcpip) in front of private ones.
pub fn write_sshd_config(
    path: &Path,
    addr: Ipv4Addr,
    host_key: &Path,
    authorized_keys: &Path,
) -> Result<(), LabError> {
    let text = format!(
        "ListenAddress {addr}\n\
         Port {SSH_PORT}\n\
         HostKey {}\n\
         AuthorizedKeysFile {}\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes no\n\
         PidFile none\n\
         UseDNS no\n\
         AllowTcpForwarding yes\n\
         Subsystem sftp internal-sftp\n",
        config_path(host_key)?,
        config_path(authorized_keys)?,
    );
    fs::write(path, text).map_err(|e| LabError::new(format!("{}: {e}", path.display())))
}

/// Generates an ed25519 key pair at `path` (`path.pub` for the public half), mode 0600.
pub fn keygen(path: &Path, comment: &str) -> Result<(), LabError> {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|e| LabError::new(format!("{}: {e}", path.display())))
}

/// The `SHA256:` fingerprint of a public key file.
pub fn fingerprint(pub_path: &Path) -> Result<String, LabError> {
    let out = run(Command::new("ssh-keygen").arg("-lf").arg(pub_path))?;
    out.split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .map(str::to_owned)
        .ok_or_else(|| {
            LabError::new(format!(
                "ssh-keygen -lf printed no SHA256 fingerprint: {out}"
            ))
        })
}

/// Starts sshd for one host: in its network namespace, in new mount and UTS namespaces
/// with private directories and its own hostname, with the node agent beside it. The
/// returned child is sshd itself (`ip netns exec`, `unshare` and `sh` all exec).
pub fn spawn_sshd(
    netns: &str,
    hostname: &str,
    binaries: &LabBinaries,
    config: &Path,
    log: &Path,
) -> Result<Child, LabError> {
    let log_file =
        File::create(log).map_err(|e| LabError::new(format!("{}: {e}", log.display())))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| LabError::new(format!("{}: {e}", log.display())))?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns])
        .args(["unshare", "--mount", "--uts", "--propagation", "private"])
        .args(["sh", "-c", HOST_INIT, "fleetform-lab-host", hostname])
        .arg(&binaries.node_agent)
        .arg(&binaries.apiserver)
        .args(PRIVATE_DIRS)
        .arg("--")
        .args([SSHD, "-D", "-e", "-f"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    let line = describe(&cmd);
    cmd.spawn()
        .map_err(|e| LabError::new(format!("cannot start `{line}`: {e}")))
}

/// Waits until sshd accepts connections, or fails with its log. A private host cannot be
/// reached from here, so for it the check is that sshd listens, as its namespace's socket
/// table (`/proc/PID/net/tcp`) shows.
pub fn wait_ready(
    child: &mut Child,
    addr: Ipv4Addr,
    private: bool,
    log: &Path,
) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let sock = SocketAddr::from((addr, SSH_PORT));
    let tcp_table = PathBuf::from(format!("/proc/{}/net/tcp", child.id()));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LabError::new(format!(
                "sshd for {addr} exited ({status}) before accepting connections; its log:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            )));
        }
        let ready = if private {
            fs::read_to_string(&tcp_table).is_ok_and(|t| listens(&t, addr, SSH_PORT))
        } else {
            TcpStream::connect_timeout(&sock, Duration::from_millis(200)).is_ok()
        };
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(LabError::new(format!(
                "sshd for {addr} did not accept connections within 10 s; its log:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where a path inside a host's private mount namespace is seen from the root namespace:
/// under the root directory of a process in it (sshd), as long as that process lives.
pub fn host_view(pid: u32, path: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root")).join(path.trim_start_matches('/'))
}

/// Waits until the node agent beside sshd `sshd_pid` has written its PID file, which it
/// does once it handles SIGHUP (from the `systemctl` stand-in) and SIGTERM; fails with the
/// agent's log otherwise.
pub fn wait_agent(sshd_pid: u32, agent_pid_file: &str, agent_log: &str) -> Result<u32, LabError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid_path = host_view(sshd_pid, agent_pid_file);
    loop {
        let pid = fs::read_to_string(&pid_path)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&p| process_alive(p));
        if let Some(pid) = pid {
            return Ok(pid);
        }
        if Instant::now() > deadline {
            return Err(LabError::new(format!(
                "the node agent did not start within 10 s; its log:\n{}",
                fs::read_to_string(host_view(sshd_pid, agent_log)).unwrap_or_default()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a `/proc/net/tcp` table has a socket listening on `addr:port`. Addresses there
/// are the raw network-order word printed as a native integer, ports are host order.
fn listens(table: &str, addr: Ipv4Addr, port: u16) -> bool {
    let local = format!("{:08X}:{port:04X}", u32::from_ne_bytes(addr.octets()));
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local_field = fields.nth(1);
        let state = fields.nth(1);
        local_field == Some(local.as_str()) && state == Some("0A")
    })
}

/// Kills a process by PID (SIGKILL), ignoring a process that is already gone.
fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Tears one host down: kills sshd, then whatever else runs in its namespace, then deletes
/// the namespace and the root veth. Best effort; returns the first problem.
pub fn teardown_host(sshd: Option<&mut Child>, netns: &str, veth: &str) -> Result<(), LabError> {
    if let Some(child) = sshd {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut problem = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids: Vec<u32> = ip(&["netns", "pids", netns])
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter(|&p| process_alive(p))
            .collect();
        if pids.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            problem = Some(LabError::new(format!(
                "processes {pids:?} in {netns} survived SIGKILL"
            )));
            break;
        }
        for p in pids {
            kill(p);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if Path::new("/run/netns").join(netns).exists()
        && let Err(e) = ip(&["netns", "del", netns])
    {
        problem.get_or_insert(e);
    }
    // Deleting the namespace deletes the veth pair too, asynchronously; delete what is left.
    let veth_path = Path::new("/sys/class/net").join(veth);
    if veth_path.exists()
        && let Err(e) = ip(&["link", "del", veth])
        && veth_path.exists()
    {
        problem.get_or_insert(e);
    }
    problem.map_or(Ok(()), Err)
}

/// Deletes the bridge (and with it the lab's host routes).
pub fn delete_bridge(bridge: &str) -> Result<(), LabError> {
    if Path::new("/sys/class/net").join(bridge).exists() {
        ip(&["link", "del", bridge])?;
    }
    Ok(())
}

/// Sets the root side of a host's veth down (cut) or up (heal).
pub fn set_link(veth: &str, up: bool) -> Result<(), LabError> {
    ip(&["link", "set", veth, if up { "up" } else { "down" }]).map(drop)
}
