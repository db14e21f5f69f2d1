//! `fleetform-lab`: the local lab outside the tests, for the README demo and benchmarks.
//!
//! ```sh
//! fleetform-lab up --hosts 3 --private 2 --dir demo &
//! until [ -e demo/lab.json ]; do sleep 0.1; done
//! fleetform -chdir=demo apply          # demo/lab.auto.hcl sets var.lab
//! fleetform-lab cut --dir demo lab-2      # lab-2 loses its link ...
//! fleetform-lab heal --dir demo lab-2     # ... and gets it back
//! fleetform-lab down --dir demo
//! ```
//!
//! `up` stays in the foreground and stops the lab on SIGINT, SIGTERM or SIGHUP; `down`
//! signals it through DIR/lab.pid and waits until it has exited. lab.json appears only once
//! every host accepts connections and runs its node agent (the lab's kubelet), and is
//! written whole (renamed into place), so a script may wait for it and read it at once.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use fleetform_tests::lab::{self, Lab, LabSpec, node};
use tokio::signal::unix::{SignalKind, signal};

/// Runs the fleetform lab: real sshd hosts in network namespaces (needs root).
#[derive(Parser)]
#[command(name = "fleetform-lab")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Starts a lab, describes it in DIR/lab.json and DIR/lab.auto.hcl, and keeps it up
    /// until SIGINT, SIGTERM or SIGHUP.
    Up {
        /// Hosts reachable from this machine (lab-1 ..); lab-1 is the jump host.
        #[arg(long)]
        hosts: usize,
        /// Hosts reachable only through the jump host (private-1 ..).
        #[arg(long, default_value_t = 0)]
        private: usize,
        /// Addresses on the lab's network that no host has, for virtual IPs (kube-vip),
        /// listed as `virtual_ips` in lab.json and lab.auto.hcl.
        #[arg(long, default_value_t = 0)]
        virtual_ips: usize,
        /// Also run the lab's Azure (Resource Manager, Entra ID and the Arc agents' bundle
        /// on loopback) and describe it as `azure` in lab.auto.hcl.
        #[arg(long)]
        azure: bool,
        /// Where to write lab.json, lab.auto.hcl and lab.pid (created if missing).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Takes a host of the lab that `up` runs for DIR off the network (a site losing its
    /// link), until `heal`.
    Cut {
        /// The directory given to `up`.
        #[arg(long)]
        dir: PathBuf,
        /// The host's name, e.g. lab-6.
        host: String,
    },
    /// Puts a host that `cut` took off the network back.
    Heal {
        /// The directory given to `up`.
        #[arg(long)]
        dir: PathBuf,
        /// The host's name.
        host: String,
    },
    /// Stops the lab that `up` runs for DIR and waits until it is gone.
    Down {
        /// The directory given to `up`.
        #[arg(long)]
        dir: PathBuf,
        /// How long to wait for the lab to stop, in seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

const PID: &str = "lab.pid";
const JSON: &str = "lab.json";
const HCL: &str = "lab.auto.hcl";

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Up {
            hosts,
            private,
            virtual_ips,
            azure,
            dir,
        } => up(LabSpec { hosts, private }, virtual_ips, azure, &dir),
        Cmd::Down { dir, timeout } => down(&dir, Duration::from_secs(timeout)),
        Cmd::Cut { dir, host } => set_link(&dir, &host, false),
        Cmd::Heal { dir, host } => set_link(&dir, &host, true),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "fleetform-lab: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Cuts or heals `host` of the lab running for `dir`.
fn set_link(dir: &Path, host: &str, up: bool) -> Result<(), String> {
    running_up(dir).ok_or_else(|| format!("no lab runs for {}", dir.display()))?;
    let path = dir.join(JSON);
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let record: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    lab::set_link_of(&record, host, up).map_err(|e| e.to_string())
}

/// Prints a line, ignoring a closed stdout: a script that started `up &` may be gone by
/// the time the lab stops, and the lab must stop all the same.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Writes a file under a temporary name and renames it into place, so that a reader sees
/// either nothing or all of it.
fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    fs::write(&tmp, text)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn remove(path: &Path) {
    let _ = fs::remove_file(path);
}

/// The PID in DIR/lab.pid, if that process is still an `up`: a PID reused by an unrelated
/// process must never be signalled.
fn running_up(dir: &Path) -> Option<u32> {
    let pid: u32 = fs::read_to_string(dir.join(PID))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if !lab::process_alive(pid) {
        return None;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args = cmdline
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let exe = args.next()?;
    let is_lab = Path::new(&exe)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("fleetform-lab"));
    (is_lab && args.any(|a| a == "up")).then_some(pid)
}

/// Cleans up after an `up` that died without stopping its lab (SIGKILL, a crash): tears
/// down what DIR/lab.json describes and removes the files it wrote.
fn reap_dead_up(dir: &Path) -> Result<(), String> {
    let json_path = dir.join(JSON);
    if let Ok(text) = fs::read_to_string(&json_path) {
        let record: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json_path.display()))?;
        say(&format!(
            "fleetform-lab: the lab of {} was left running; removing it",
            json_path.display()
        ));
        lab::reap(&record).map_err(|e| e.to_string())?;
    }
    for f in [JSON, HCL, PID] {
        remove(&dir.join(f));
    }
    Ok(())
}

fn up(spec: LabSpec, virtual_ips: usize, azure: bool, dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Some(pid) = running_up(dir) {
        return Err(format!(
            "a lab is already up for {} (pid {pid}); stop it with `fleetform-lab down --dir {}`",
            dir.display(),
            dir.display()
        ));
    }
    reap_dead_up(dir)?;

    // The handlers go in before lab.pid exists, so that `down` can never kill this process
    // with a signal's default action and leave the lab behind; a signal that arrives while
    // the lab starts waits in its stream.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("async runtime: {e}"))?;
    let (mut int, mut term, mut hup) = {
        let _in_runtime = runtime.enter();
        let listen = |kind| signal(kind).map_err(|e| format!("signal handler: {e}"));
        (
            listen(SignalKind::interrupt())?,
            listen(SignalKind::terminate())?,
            listen(SignalKind::hangup())?,
        )
    };
    let pid_path = dir.join(PID);
    write_whole(&pid_path, &format!("{}\n", std::process::id()))?;

    let result = serve(spec, virtual_ips, azure, dir, || {
        runtime.block_on(async {
            tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            }
        })
    });
    remove(&pid_path);
    result
}

/// Starts the lab, describes it, waits for `stop_signal`, then stops the lab.
fn serve(
    spec: LabSpec,
    virtual_ips: usize,
    azure: bool,
    dir: &Path,
    stop_signal: impl FnOnce() -> &'static str,
) -> Result<(), String> {
    let (json_path, hcl_path) = (dir.join(JSON), dir.join(HCL));
    let t0 = Instant::now();
    let mut lab = Lab::start_with(spec).map_err(|e| e.to_string())?;
    for _ in 0..virtual_ips {
        lab.lease_virtual_ip().map_err(|e| e.to_string())?;
    }
    let mut record = lab.to_json();
    record["pid"] = std::process::id().into();
    // Paths inside every host (each has its own copy): read them over ssh.
    record["node_agent"] = serde_json::json!({
        "log": node::AGENT_LOG,
        "pid_file": node::AGENT_PID,
        "systemctl_log": node::SYSTEMCTL_LOG,
        "pod_logs": format!("{}/logs", node::STATE_DIR),
    });
    // The lab's Azure, kept running (with the bundle's server) until the lab stops.
    let arc = if azure { Some(lab_azure()?) } else { None };
    let azure_hcl = arc
        .as_ref()
        .map(|arc| arc.lab_azure_hcl(LAB_CLIENT_ID, LAB_CLIENT_SECRET))
        .unwrap_or_default();
    let hcl = lab.to_hcl_with(&azure_hcl);
    if let Some(arc) = &arc {
        record["azure"] = serde_json::json!({
            "url": arc.arm.url(),
            "ca_file": arc.arm.ca_file(),
            "bundle_url": arc.bundle_url,
        });
    }
    let pretty = serde_json::to_string_pretty(&record).map_err(|e| e.to_string())?;
    // lab.json last: once it exists, everything is ready.
    let written =
        write_whole(&hcl_path, &hcl).and_then(|()| write_whole(&json_path, &(pretty + "\n")));
    if let Err(e) = written {
        remove(&hcl_path);
        return Err(e);
    }
    let names: Vec<&str> = lab.hosts().iter().map(|h| h.name.as_str()).collect();
    say(&format!(
        "fleetform-lab: {} up in {:.1?}{}",
        names.join(", "),
        t0.elapsed(),
        lab.jump_host()
            .map(|j| format!(" ({} is the jump host)", j.name))
            .unwrap_or_default()
    ));
    say(&format!("  {}", json_path.display()));
    say(&format!("  {}", hcl_path.display()));
    say(&format!(
        "  ssh -F {} {}",
        lab.ssh_config().display(),
        names.last().copied().unwrap_or_default()
    ));
    say(&format!(
        "  every host runs the node agent (static pods in {}; log {})",
        node::MANIFEST_DIR,
        node::AGENT_LOG
    ));
    say(&format!(
        "stop it with Ctrl-C or `fleetform-lab down --dir {}`",
        dir.display()
    ));

    if let Some(arc) = &arc {
        say(&format!("  the lab's Azure at {}", arc.arm.url()));
    }
    let signal = stop_signal();
    drop(arc);
    // The description goes first, so that nothing starts using a lab that is going away.
    remove(&json_path);
    remove(&hcl_path);
    let stopped = lab.stop().map_err(|e| e.to_string());
    say(&format!("fleetform-lab: {signal}: lab stopped"));
    stopped
}

/// The lab's tenant, subscription and the client fleets sign in as (values of the lab
/// alone: nothing outside this machine knows them).
const LAB_TENANT: &str = "4d1c5e7a-0b2f-4e6a-9c3d-8f7e6d5c4b3a";
const LAB_SUBSCRIPTION: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const LAB_CLIENT_ID: &str = "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182";
const LAB_CLIENT_SECRET: &str = "lab-client-secret";

/// Starts the lab's Azure with one application, and serves the Arc agents' bundle.
fn lab_azure() -> Result<lab::arm::fleet::ArcFleet, String> {
    let mut config = lab::arm::ArmLab::config(LAB_TENANT, LAB_SUBSCRIPTION);
    config.applications = vec![lab::arm::Application {
        client_id: LAB_CLIENT_ID.into(),
        secrets: vec![LAB_CLIENT_SECRET.into()],
        ..lab::arm::Application::default()
    }];
    let arm = lab::arm::ArmLab::start(config)?;
    Ok(lab::arm::fleet::ArcFleet::new(arm))
}

fn down(dir: &Path, timeout: Duration) -> Result<(), String> {
    let Some(pid) = running_up(dir) else {
        if dir.join(PID).exists() || dir.join(JSON).exists() {
            return reap_dead_up(dir);
        }
        return Err(format!("no lab is up for {}", dir.display()));
    };
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run kill: {e}"))?;
    if !status.success() && lab::process_alive(pid) {
        return Err(format!("cannot signal the lab's process {pid}"));
    }
    let deadline = Instant::now() + timeout;
    while lab::process_alive(pid) {
        if Instant::now() > deadline {
            return Err(format!(
                "the lab's process {pid} is still running after {timeout:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // An `up` that stopped cleanly removed its files; one that failed to left them.
    reap_dead_up(dir)?;
    say(&format!(
        "fleetform-lab: the lab of {} is down",
        dir.display()
    ));
    Ok(())
}
