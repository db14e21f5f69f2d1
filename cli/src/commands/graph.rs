//! `fleetform graph`: the dependency graph of every instance, in Graphviz DOT.

use clap::Args;
use fleetform_planner::ops;
use fleetform_planner::providers::Providers;

use super::VarOptions;
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `graph`.
#[derive(Args)]
pub struct GraphArgs {
    /// Do not color diagnostics.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    vars: VarOptions,
}

pub fn run(args: GraphArgs, providers: &Providers) -> miette::Result<Outcome> {
    let validated = ops::validate(&args.vars.load_options(), providers);
    render::human::diagnostics(
        &validated.config,
        &validated.diagnostics,
        Color::choose(args.no_color),
    );
    match validated.graph {
        Some(graph) if !validated.diagnostics.has_errors() => {
            render::stdout(&graph.to_dot())
                .map_err(|e| miette::miette!("cannot write output: {e}"))?;
            Ok(Outcome::Success)
        }
        _ => Ok(Outcome::Failure),
    }
}
