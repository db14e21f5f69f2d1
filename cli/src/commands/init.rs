//! `fleetform init`: checks the configuration loads and prepares the working directory.
//! Providers are built in and modules are local, so nothing is downloaded.

use clap::Args;

use super::VarOptions;
use super::session::open;
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `init`.
#[derive(Args)]
pub struct InitArgs {
    /// Accepted for Terraform compatibility; nothing is upgraded.
    #[arg(long, hide = true)]
    upgrade: bool,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
}

pub fn run(args: InitArgs) -> miette::Result<Outcome> {
    let _ = args.upgrade;
    let Some(session) = open(
        &VarOptions::default(),
        "OperationTypeInit",
        None,
        Color::choose(args.no_color),
    ) else {
        return Ok(Outcome::Failure);
    };
    std::fs::create_dir_all(".fleetform")
        .map_err(|e| miette::miette!("cannot create .fleetform: {e}"))?;
    let modules = session.config.modules.len().saturating_sub(1);
    render::stdout(&format!(
        "Initializing the backend...\nInitializing modules... {modules} local module call(s) found.\nProviders are built into fleetform: nothing to install.\n\nfleetform has been successfully initialized!\n\nYou may now begin working with fleetform. Try running \"fleetform plan\" to see\nany changes that are required for your infrastructure.\n"
    ))
    .map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(Outcome::Success)
}
