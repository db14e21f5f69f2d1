//! What the plan/apply family of commands share: their flags, the async runtime with
//! Terraform's interrupt behaviour, and opening the locked state.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use fleetform_planner::ops::{self, LoadOptions, RunOptions, Session};
use fleetform_planner::plan::Mode;
use fleetform_planner::state::partition::Share;
use fleetform_sdk::CancellationToken;

use super::VarOptions;
use crate::render::{self, Color, json::JsonUi};

/// Flags of plan, apply, destroy and refresh.
#[derive(Args, Clone)]
pub struct PlanFlags {
    /// Plan to destroy every object in the state.
    #[arg(long)]
    pub destroy: bool,
    /// Only update the state to match remote objects; change nothing.
    #[arg(long)]
    pub refresh_only: bool,
    /// Read every object before planning (-refresh=false skips it).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Plan only this resource, instance or module, with what it depends on; or only this
    /// partition (`partition:module.clinic["north"]`, `partition:root`), reading the values
    /// of the others as recorded. Repeatable.
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// Leave out this resource, instance or module, with what depends on it; or this
    /// partition (`partition:NAME`). Repeatable.
    #[arg(long = "exclude", value_name = "ADDRESS")]
    pub excludes: Vec<String>,
    /// Plan only the K-th of N shares of the fleet's partitions (`fleetform partitions`
    /// lists them; the rest of the fleet, `root`, is in no share), e.g. 3/20 in a CI matrix.
    #[arg(long = "partitions", value_name = "K/N", value_parser = parse_share)]
    pub share: Option<Share>,
    /// Plan to replace this instance even if nothing changed. Repeatable.
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// How many operations to run at once.
    #[arg(long, default_value_t = 10)]
    pub parallelism: usize,
    /// Lock the state while the command runs (-lock=false does not).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub lock: bool,
    /// How long to wait for the state lock, e.g. 30s or 5m.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Machine-readable output: one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Do not color the output.
    #[arg(long)]
    pub no_color: bool,
    /// Show warnings (when there are no errors) by summary only.
    #[arg(long)]
    pub compact_warnings: bool,
    /// Accepted for Terraform compatibility; fleetform never prompts for variables.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL", hide = true)]
    pub input: bool,
    #[command(flatten)]
    pub vars: VarOptions,
}

impl PlanFlags {
    pub fn run_options(&self, mode: Mode) -> RunOptions {
        let mode = if self.destroy {
            Mode::Destroy
        } else if self.refresh_only {
            Mode::RefreshOnly
        } else {
            mode
        };
        RunOptions {
            mode,
            refresh: self.refresh,
            targets: self.targets.clone(),
            excludes: self.excludes.clone(),
            replace: self.replace.clone(),
            parallelism: self.parallelism.max(1),
            share: self.share,
            ..RunOptions::default()
        }
    }

    pub fn color(&self) -> Color {
        Color::choose(self.no_color)
    }
}

pub use fleetform_sdk::parse_duration;

fn parse_share(text: &str) -> Result<Share, String> {
    Share::parse(text)
}

/// The async runtime of a run and its interrupt handling: the first Ctrl-C (or SIGTERM)
/// stops scheduling new work and lets running work finish; the second cancels running
/// provider operations. State is saved either way.
pub struct Runtime {
    pub runtime: tokio::runtime::Runtime,
    pub stopping: Arc<AtomicBool>,
    pub cancel: CancellationToken,
}

impl Runtime {
    pub fn new() -> miette::Result<Runtime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
        let stopping = Arc::new(AtomicBool::new(false));
        let cancel = CancellationToken::new();
        let (s, c) = (stopping.clone(), cancel.clone());
        runtime.spawn(async move {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return,
            };
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                if !s.swap(true, Ordering::SeqCst) {
                    eprintln!("\nInterrupt received.\nPlease wait for fleetform to exit or data loss may occur.\nGracefully shutting down...");
                } else {
                    eprintln!("\nTwo interrupts received. Cancelling running operations; state will be saved.");
                    c.cancel();
                }
            }
        });
        Ok(Runtime {
            runtime,
            stopping,
            cancel,
        })
    }
}

/// The workspace: FLEETFORM_WORKSPACE, else the one `workspace select` chose, else default.
pub fn workspace() -> String {
    if let Ok(ws) = std::env::var("FLEETFORM_WORKSPACE")
        && !ws.is_empty()
    {
        return ws;
    }
    std::fs::read_to_string(environment_file())
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// Where `workspace select` records the choice, as Terraform's .terraform/environment.
pub fn environment_file() -> PathBuf {
    PathBuf::from(".fleetform").join("environment")
}

/// Opens the configuration and the state (locked when asked), rendering problems.
pub fn open(
    vars: &VarOptions,
    operation: &str,
    lock: Option<Duration>,
    color: Color,
) -> Option<Session> {
    open_for(vars, operation, lock, color, None, false)
}

/// Like [`open`], reporting problems as JSON messages when the command streams JSON;
/// `selecting`: the run selects partitions or applies a saved plan, and reads only the
/// partitions it needs ([`ops::open_selecting`]).
pub fn open_for(
    vars: &VarOptions,
    operation: &str,
    lock: Option<Duration>,
    color: Color,
    ui: Option<&JsonUi>,
    selecting: bool,
) -> Option<Session> {
    let mut options: LoadOptions = vars.load_options();
    options.workspace = workspace();
    let opened = if selecting {
        ops::open_selecting(&options, operation, lock)
    } else {
        ops::open(&options, operation, lock)
    };
    match opened {
        Ok(session) => Some(session),
        Err(failed) => {
            let (config, diags) = *failed;
            match ui {
                Some(ui) => ui.diagnostics(&config, &diags),
                None => render::human::diagnostics(&config, &diags, color),
            }
            None
        }
    }
}
