//! `fleetform-lab-node`: the lab's stand-in for kubelet, started by the lab inside every
//! host's namespaces (see `fleetform_tests::lab::node`). It runs the host's static pods as
//! processes and registers the host as a Node.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fleetform_tests::lab::node::{self, AgentOptions};

/// Runs static pods as processes and registers this host as a Node (the lab's kubelet).
#[derive(Parser)]
#[command(name = "fleetform-lab-node")]
struct Cli {
    /// What to run for a kube-apiserver static pod when no kube-apiserver is on PATH.
    #[arg(long)]
    apiserver_binary: Option<PathBuf>,
    /// Static pod manifests.
    #[arg(long, default_value = node::MANIFEST_DIR)]
    manifest_dir: PathBuf,
    /// The kubelet's kubeconfig.
    #[arg(long, default_value = node::KUBELET_CONF)]
    kubeconfig: PathBuf,
    /// Holds kubeadm-flags.env and config.yaml.
    #[arg(long, default_value = node::KUBELET_DIR)]
    kubelet_dir: PathBuf,
    /// The agent's PID file, log, pod logs and pod PID files.
    #[arg(long, default_value = node::STATE_DIR)]
    state_dir: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = AgentOptions {
        manifest_dir: cli.manifest_dir,
        kubeconfig: cli.kubeconfig,
        kubelet_dir: cli.kubelet_dir,
        state_dir: cli.state_dir,
        apiserver_binary: cli.apiserver_binary,
    };
    match node::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
