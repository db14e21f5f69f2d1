//! The subcommands. Each file holds one command's arguments and its `run`, which builds
//! options, calls `fleetform_planner::ops`, and renders the result; no engine logic.

mod apply;
mod completion;
mod console;
mod fmt;
mod force_unlock;
mod graph;
mod import;
mod init;
mod output;
mod partitions;
mod plan;
mod providers;
mod session;
mod show;
mod sources;
mod state;
mod status;
mod taint;
mod ui;
mod validate;
mod version;
mod workspace;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use fleetform_planner::inputs::VarArg;
use fleetform_planner::ops::LoadOptions;

use crate::Outcome;

/// Plans and applies fleets of Kubernetes clusters on on-premises and edge hosts.
#[derive(Parser)]
#[command(name = "fleetform", version, about, long_about = None)]
pub struct Cli {
    /// Switch to DIR before doing anything else, as Terraform's -chdir does.
    #[arg(long, global = true, value_name = "DIR")]
    chdir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check that the configuration is valid.
    Validate(validate::ValidateArgs),
    /// Print the dependency graph in Graphviz DOT.
    Graph(graph::GraphArgs),
    /// Rewrite configuration files in the canonical format.
    Fmt(fmt::FmtArgs),
    /// Prepare the working directory: fetch and verify add-on sources into its cache.
    Init(init::InitArgs),
    /// Show the changes apply would make.
    Plan(plan::PlanArgs),
    /// Make the changes of a plan: one made now (after approval) or one saved earlier.
    Apply(apply::ApplyArgs),
    /// Destroy every object the state manages.
    Destroy(apply::ApplyArgs),
    /// Update the state to match the real objects, changing nothing.
    Refresh(apply::ApplyArgs),
    /// Show the state or a saved plan.
    Show(show::ShowArgs),
    /// Print root module outputs.
    Output(output::OutputArgs),
    /// Inspect and edit the state by hand.
    State(state::StateArgs),
    /// Show every site's health: clusters, versions, nodes, certificates, Arc, deferred
    /// work, drift and the last apply.
    Status(status::StatusArgs),
    /// Serve the status as a read-only web page on 127.0.0.1.
    Ui(ui::UiArgs),
    /// List the state's partitions (for a CI matrix: -target=partition:NAME or
    /// -partitions=K/N).
    Partitions(partitions::PartitionsArgs),
    /// Adopt an existing object into the state.
    Import(import::ImportArgs),
    /// Release a state lock left by a run that died.
    ForceUnlock(force_unlock::ForceUnlockArgs),
    /// Manage workspaces: separate states of one configuration.
    Workspace(workspace::WorkspaceArgs),
    /// Mark a resource instance for replacement by the next plan.
    Taint(taint::TaintArgs),
    /// Remove the replacement mark from a resource instance.
    Untaint(taint::TaintArgs),
    /// Show the providers the configuration and the state use (`providers schema -json`:
    /// their schemas).
    Providers(providers::ProvidersArgs),
    /// Show fleetform's version.
    Version(version::VersionArgs),
    /// Print a shell completion script.
    Completion(completion::CompletionArgs),
    /// Evaluate expressions against the configuration and the state.
    Console(console::ConsoleArgs),
    /// Work with the add-on source cache (`sources mirror DIR` for air-gapped sites).
    Sources(sources::SourcesArgs),
}

/// Input variable options, shared by every command that evaluates the configuration.
#[derive(Args, Clone, Default)]
pub struct VarOptions {
    /// Set a root module input variable: -var 'name=value'. May be repeated.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Read input variable values from a file. May be repeated.
    #[arg(long = "var-file", value_name = "FILE")]
    var_files: Vec<PathBuf>,
}

impl VarOptions {
    /// The options in command-line order. clap keeps each flag's values in order but not
    /// their interleaving, so the order between -var and -var-file is recovered from argv.
    fn load_options(&self) -> LoadOptions {
        let mut vars = Vec::new();
        let (mut v, mut f) = (self.vars.iter(), self.var_files.iter());
        for arg in std::env::args() {
            let arg = arg.trim_start_matches('-');
            if arg == "var" || arg.starts_with("var=") {
                vars.extend(v.next().cloned().map(VarArg::Var));
            } else if arg == "var-file" || arg.starts_with("var-file=") {
                vars.extend(f.next().cloned().map(VarArg::File));
            }
        }
        vars.extend(v.cloned().map(VarArg::Var));
        vars.extend(f.cloned().map(VarArg::File));
        LoadOptions {
            dir: PathBuf::from("."),
            vars,
            env: std::env::vars().collect(),
            workspace: std::env::var("FLEETFORM_WORKSPACE").unwrap_or_default(),
            backends: crate::backends::builtin(),
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> miette::Result<Outcome> {
    if let Some(dir) = &cli.chdir {
        std::env::set_current_dir(dir)
            .map_err(|e| miette::miette!("cannot switch to directory {}: {e}", dir.display()))?;
    }
    let providers = crate::providers::builtin().map_err(|e| miette::miette!("{e}"))?;
    match cli.command {
        Command::Validate(args) => validate::run(args, &providers),
        Command::Graph(args) => graph::run(args, &providers),
        Command::Fmt(args) => fmt::run(args),
        Command::Init(args) => init::run(args, &providers),
        Command::Plan(args) => plan::run(args, &providers),
        Command::Apply(args) => apply::run(args, &providers, fleetform_planner::plan::Mode::Normal),
        Command::Destroy(args) => {
            apply::run(args, &providers, fleetform_planner::plan::Mode::Destroy)
        }
        Command::Refresh(args) => {
            apply::run(args, &providers, fleetform_planner::plan::Mode::RefreshOnly)
        }
        Command::Show(args) => show::run(args),
        Command::Output(args) => output::run(args),
        Command::State(args) => state::run(args),
        Command::Status(args) => status::run(args, &providers),
        Command::Ui(args) => ui::run(args),
        Command::Partitions(args) => partitions::run(args, &providers),
        Command::Import(args) => import::run(args, &providers),
        Command::ForceUnlock(args) => force_unlock::run(args),
        Command::Workspace(args) => workspace::run(args),
        Command::Taint(args) => taint::run(args, true),
        Command::Untaint(args) => taint::run(args, false),
        Command::Providers(args) => providers::run(args, &providers),
        Command::Version(args) => version::run(args, &providers),
        Command::Completion(args) => completion::run(args),
        Command::Console(args) => console::run(args, &providers),
        Command::Sources(args) => sources::run(args),
    }
}
