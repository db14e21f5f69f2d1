//! `fleetform validate [-json]`.

use clap::Args;
use fleetform_planner::ops;
use fleetform_planner::providers::Providers;

use super::VarOptions;
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// Print the result as JSON, in the shape of Terraform's `validate -json`.
    #[arg(long)]
    json: bool,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    vars: VarOptions,
}

pub fn run(args: ValidateArgs, providers: &Providers) -> miette::Result<Outcome> {
    let validated = ops::check(&args.vars.load_options(), providers);
    let diags = &validated.diagnostics;
    if args.json {
        let json = render::json::validate(&validated.config, diags);
        let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
        render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))?;
    } else {
        render::human::diagnostics(&validated.config, diags, Color::choose(args.no_color));
        if !diags.has_errors() {
            render::stdout("Success! The configuration is valid.\n")
                .map_err(|e| miette::miette!("cannot write output: {e}"))?;
        }
    }
    Ok(if diags.has_errors() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
