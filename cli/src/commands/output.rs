//! `fleetform output [-json|-raw] [NAME]`: root module outputs from the state.

use clap::Args;
use serde_json::json;

use super::VarOptions;
use super::session::open;
use crate::Outcome;
use crate::render::{self, Color, outputs};

/// Arguments of `output`.
#[derive(Args)]
pub struct OutputArgs {
    /// One output; all of them when left out.
    name: Option<String>,
    /// Print as JSON (values of sensitive outputs included, as Terraform does).
    #[arg(long)]
    json: bool,
    /// Print a string, number or bool output's value as it is, for scripts.
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
}

pub fn run(args: OutputArgs) -> miette::Result<Outcome> {
    let color = Color::choose(args.no_color);
    let Some(session) = open(&VarOptions::default(), "OperationTypeOutput", None, color) else {
        return Ok(Outcome::Failure);
    };
    let state = &session.state;
    let write = |text: String| {
        render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))
    };
    match &args.name {
        Some(name) => {
            let Some(output) = state.outputs.get(name) else {
                eprintln!(
                    "Error: Output {name:?} not found\n\nThe output variable requested could not be found in the state file. If you recently added this to your configuration, be sure to run `fleetform apply`, since the state won't be updated with new output variables until that command is run."
                );
                return Ok(Outcome::Failure);
            };
            if args.raw {
                match outputs::raw(&output.value) {
                    Some(text) => write(text)?,
                    None => {
                        eprintln!(
                            "Error: Unsupported value for raw output\n\nThe -raw option only supports strings, numbers, and boolean values, but output value {name:?} is a {}. Use the -json option for machine-readable representations of output values that have complex types.",
                            output.value.kind_name()
                        );
                        return Ok(Outcome::Failure);
                    }
                }
            } else if args.json {
                write(format!("{}\n", output.value.unmark_deep().to_json()))?;
            } else {
                // Naming an output asks for its value, sensitive or not, as in Terraform.
                write(format!("{}\n", output.value.unmark_deep()))?;
            }
        }
        None if args.json => {
            let all: serde_json::Map<String, serde_json::Value> = state
                .outputs
                .iter()
                .map(|(k, o)| (k.clone(), json!({ "sensitive": o.sensitive, "value": o.value.unmark_deep().to_json() })))
                .collect();
            write(format!(
                "{}\n",
                serde_json::to_string_pretty(&all).unwrap_or_default()
            ))?;
        }
        None => {
            for (name, output) in &state.outputs {
                write(format!(
                    "{name} = {}\n",
                    outputs::shown(&output.value, output.sensitive)
                ))?;
            }
        }
    }
    Ok(Outcome::Success)
}
