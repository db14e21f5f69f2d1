//! `fleetform completion SHELL`: prints a completion script for bash, zsh, fish, elvish or
//! PowerShell, generated from the command line's own definition (clap_complete), e.g.
//! `source <(fleetform completion bash)`.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::Outcome;

/// Arguments of `completion`.
#[derive(Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

pub fn run(args: CompletionArgs) -> miette::Result<Outcome> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "fleetform", &mut script);
    crate::render::stdout(&String::from_utf8_lossy(&script))
        .map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(Outcome::Success)
}
