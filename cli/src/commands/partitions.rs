//! `fleetform partitions [-json]`: the fleet's state partitions (module instances of the
//! partition key, and `root` for the rest of the fleet), one a line, for a CI matrix to
//! fan out (`-target=partition:NAME`, or `-partitions=K/N`).

use clap::Args;
use fleetform_planner::providers::Providers;
use serde_json::json;

use super::VarOptions;
use super::session::open;
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `partitions`.
#[derive(Args)]
pub struct PartitionsArgs {
    /// One JSON document: every partition with its instances, serial and lock holder.
    #[arg(long)]
    json: bool,
    /// Do not color diagnostics.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    vars: VarOptions,
}

pub fn run(args: PartitionsArgs, providers: &Providers) -> miette::Result<Outcome> {
    let color = Color::choose(args.no_color);
    let Some(mut session) = open(&args.vars, "OperationTypePartitions", None, color) else {
        return Ok(Outcome::Failure);
    };
    let listed = session.partitions(providers);
    render::human::diagnostics(&session.config, &session.diagnostics, color);
    let Some(partitions) = listed else {
        return Ok(Outcome::Failure);
    };
    let text = if args.json {
        let doc = json!({
            "stored_apart": session.is_partitioned(),
            "partitions": partitions.iter().map(|p| json!({
                "name": p.name,
                "target": format!("partition:{}", p.name),
                "instances": p.instances,
                "recorded": p.recorded,
                "serial": p.serial,
                "locked_by": p.holder.as_ref().map(|h| json!({
                    "id": h.id,
                    "operation": h.operation,
                    "who": h.who,
                    "since": h.created,
                })),
            })).collect::<Vec<_>>(),
        });
        format!("{doc}\n")
    } else {
        partitions
            .iter()
            .map(|p| format!("{}\n", p.name))
            .collect::<String>()
    };
    render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(Outcome::Success)
}
