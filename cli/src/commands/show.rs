//! `fleetform show [-json] [PLANFILE]`: the state, or a saved plan, for people or tools.

use std::path::PathBuf;

use clap::Args;

use super::VarOptions;
use super::session::open;
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `show`.
#[derive(Args)]
pub struct ShowArgs {
    /// A plan saved with `plan -out`; the state when left out.
    plan_file: Option<PathBuf>,
    /// Terraform's JSON plan or state representation.
    #[arg(long)]
    json: bool,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
}

pub fn run(args: ShowArgs) -> miette::Result<Outcome> {
    let color = Color::choose(args.no_color);
    let Some(session) = open(&VarOptions::default(), "OperationTypeShow", None, color) else {
        return Ok(Outcome::Failure);
    };
    let text = match &args.plan_file {
        Some(path) => {
            let (plan, _) = session
                .read_plan(path)
                .map_err(|e| miette::miette!("{e}"))?;
            if args.json {
                format!(
                    "{}\n",
                    render::json::plan_representation(&plan, &session.state, &session.config)
                )
            } else {
                render::plan::plan(&plan, color)
            }
        }
        None if args.json => format!("{}\n", render::json::state_representation(&session.state)),
        None => render::state::human(&session.state, color),
    };
    render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(Outcome::Success)
}
