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
                .map(|(k, o)| (k.clone(), json!({ "sensitive": o.sensitive, "type": type_json(&o.value), "value": o.value.unmark_deep().to_json() })))
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

/// The value's type in Terraform's JSON type notation: `"string"`, `["list","string"]`,
/// `["object",{"a":"number"}]`, `["tuple",[...]]`.
fn type_json(value: &fleetform_sdk::Value) -> serde_json::Value {
    use fleetform_sdk::Value;
    match value.unmark().0 {
        Value::Null | Value::Unknown => json!("dynamic"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::List(items) => json!(["tuple", items.iter().map(type_json).collect::<Vec<_>>()]),
        Value::Set(items) => json!(["set", items.first().map_or(json!("dynamic"), type_json)]),
        Value::Object(map) => json!([
            "object",
            map.iter()
                .map(|(k, v)| (k.clone(), type_json(v)))
                .collect::<serde_json::Map<_, _>>()
        ]),
        Value::Sensitive(inner) => type_json(inner),
    }
}
