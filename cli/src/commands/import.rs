//! `fleetform import ADDRESS ID`: adopt an existing object into the state.

use clap::Args;
use fleetform_planner::providers::Providers;

use super::VarOptions;
use super::session::{Runtime, open, parse_duration};
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `import`.
#[derive(Args)]
pub struct ImportArgs {
    /// The resource instance to import into, declared in the configuration.
    address: String,
    /// The object's id, as its provider knows it.
    id: String,
    /// How long to wait for the state lock.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    lock_timeout: std::time::Duration,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    vars: VarOptions,
}

pub fn run(args: ImportArgs, providers: &Providers) -> miette::Result<Outcome> {
    let color = Color::choose(args.no_color);
    let Some(mut session) = open(
        &args.vars,
        "OperationTypeImport",
        Some(args.lock_timeout),
        color,
    ) else {
        return Ok(Outcome::Failure);
    };
    let rt = Runtime::new()?;
    let ok = session.import(providers, &args.address, &args.id, rt.runtime.handle());
    render::human::diagnostics(&session.config, &session.diagnostics, color);
    if ok {
        render::stdout(&format!("{}: Import prepared!\n{}: Importing from ID {:?}...\n\nImport successful!\n\nThe resources that were imported are shown above. These resources are now in\nyour fleetform state and will henceforth be managed by fleetform.\n", args.address, args.address, args.id))
            .map_err(|e| miette::miette!("cannot write output: {e}"))?;
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
