//! The lab's node agent, a stand-in for kubelet (binary `fleetform-lab-node`). The lab
//! starts one inside every host's network, mount and UTS namespaces, beside its sshd. It
//!
//! - runs the static pods in [`MANIFEST_DIR`] as plain processes (no containers, no
//!   images): each container's `command` + `args` with its `env` and
//!   `FLEETFORM_LAB_IMAGE=<image>` (or the image in `STATE_DIR/images/CONTAINER`, a host
//!   that runs another image than its manifest names); restarted when the manifest
//!   changes, stopped when it goes, restarted with backoff when it exits ([`pods`]);
//! - registers the host as a Node through [`KUBELET_CONF`] once the API server answers,
//!   with kubeadm's kubelet flags and config, and posts Ready heartbeats ([`register`]).
//!
//! SIGHUP (sent by the lab host's `systemctl restart kubelet`) re-reads the kubelet flags
//! and configuration; SIGTERM or SIGINT stop every pod process, then the agent.

pub mod pods;
pub mod register;

use std::fmt;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

/// The agent's own directory on a host (private to the host in the lab).
pub const STATE_DIR: &str = "/var/lib/fleetform-lab-node";
/// The agent's PID, written once it handles its signals.
pub const AGENT_PID: &str = "/var/lib/fleetform-lab-node/agent.pid";
/// The agent's log.
pub const AGENT_LOG: &str = "/var/lib/fleetform-lab-node/agent.log";
/// Every call of the lab host's `systemctl` stand-in, one line each.
pub const SYSTEMCTL_LOG: &str = "/var/lib/fleetform-lab-node/systemctl.log";
/// Static pod manifests, as kubeadm lays them out.
pub const MANIFEST_DIR: &str = "/etc/kubernetes/manifests";
/// The kubelet's kubeconfig.
pub const KUBELET_CONF: &str = "/etc/kubernetes/kubelet.conf";
/// The kubelet's directory: config.yaml and kubeadm-flags.env.
pub const KUBELET_DIR: &str = "/var/lib/kubelet";

/// How often the manifest directory is read.
const MANIFEST_POLL: Duration = Duration::from_millis(250);

/// `<state dir>/logs/<pod>.log`: the output of every process of a static pod.
pub fn pod_log_file(pod: &str) -> String {
    format!("{STATE_DIR}/logs/{pod}.log")
}

/// `<state dir>/pods/<pod>/<container>.pid`: the PID of a running container process.
pub fn container_pid_file(pod: &str, container: &str) -> String {
    format!("{STATE_DIR}/pods/{pod}/{container}.pid")
}

/// Where the agent reads and writes; the defaults are the kubeadm layout and [`STATE_DIR`].
#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub manifest_dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub kubelet_dir: PathBuf,
    pub state_dir: PathBuf,
    /// Run for a `kube-apiserver` static pod when no `kube-apiserver` is on PATH.
    pub apiserver_binary: Option<PathBuf>,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            manifest_dir: MANIFEST_DIR.into(),
            kubeconfig: KUBELET_CONF.into(),
            kubelet_dir: KUBELET_DIR.into(),
            state_dir: STATE_DIR.into(),
            apiserver_binary: None,
        }
    }
}

impl AgentOptions {
    fn pid_file(&self) -> PathBuf {
        self.state_dir.join("agent.pid")
    }

    fn log_file(&self) -> PathBuf {
        self.state_dir.join("agent.log")
    }

    fn pod_logs(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    fn pod_pids(&self) -> PathBuf {
        self.state_dir.join("pods")
    }
}

/// Why the agent could not run.
#[derive(Debug)]
pub struct AgentError(String);

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fleetform-lab-node: {}", self.0)
    }
}

impl std::error::Error for AgentError {}

fn io_error(what: &Path, e: std::io::Error) -> AgentError {
    AgentError(format!("{}: {e}", what.display()))
}

/// Runs the agent until SIGTERM or SIGINT. Logs go to `<state dir>/agent.log`.
pub fn run(options: AgentOptions) -> Result<(), AgentError> {
    for dir in [&options.state_dir, &options.pod_logs(), &options.pod_pids()] {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    let log_path = options.log_file();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| io_error(&log_path, e))?;
    // kube's client logs every refused connection as an error; while the API server
    // starts, the agent's own one warning says the same.
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETFORM_LAB_NODE_LOG")
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,kube_client::client::builder=off")
        });
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(log))
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    // kube's rustls and reqwest's must agree on one provider per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError(format!("async runtime: {e}")))?;
    let result = runtime.block_on(agent(&options));
    let _ = fs::remove_file(options.pid_file());
    match &result {
        Ok(()) => tracing::info!("stopped"),
        Err(e) => tracing::error!("{e}"),
    }
    result
}

async fn agent(options: &AgentOptions) -> Result<(), AgentError> {
    let listen = |kind| signal(kind).map_err(|e| AgentError(format!("signal handler: {e}")));
    let (mut term, mut int, hup) = (
        listen(SignalKind::terminate())?,
        listen(SignalKind::interrupt())?,
        listen(SignalKind::hangup())?,
    );
    // Only now: the systemctl stand-in signals whatever PID this file names, and SIGHUP's
    // default action would end the agent.
    let pid_path = options.pid_file();
    fs::write(&pid_path, format!("{}\n", std::process::id()))
        .map_err(|e| io_error(&pid_path, e))?;
    tracing::info!(
        pid = std::process::id(),
        manifests = %options.manifest_dir.display(),
        kubeconfig = %options.kubeconfig.display(),
        "started"
    );

    let registration = tokio::spawn(register::run(options.clone(), hup));
    let mut static_pods = pods::StaticPods::new(options);
    let mut poll = tokio::time::interval(MANIFEST_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let why = loop {
        tokio::select! {
            _ = poll.tick() => static_pods.sync(),
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
        }
    };
    tracing::info!("{why}: stopping every static pod");
    registration.abort();
    static_pods.stop_all().await;
    Ok(())
}
