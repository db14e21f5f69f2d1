//! `fleetform status`: every site's clusters (versions, nodes Ready, the soonest
//! certificate expiry, Arc), deferred work, drift and the last apply, refreshed in
//! parallel with a bound per site unless `-offline`. Reads state without a lock and writes
//! nothing, so it works while an apply runs.

use std::time::Duration;

use clap::Args;
use fleetform_planner::ops::status::{FleetStatus, StatusOptions};
use fleetform_planner::providers::Providers;

use super::VarOptions;
use super::session::{open, parse_duration};
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `status`.
#[derive(Args)]
pub struct StatusArgs {
    /// Show what the state recorded, without asking any site.
    #[arg(long)]
    offline: bool,
    /// The longest one site's refresh may take; a site that does not answer by then is
    /// shown as unreachable, with its last recorded values.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    site_timeout: Duration,
    /// One JSON document (README: "Status JSON").
    #[arg(long)]
    json: bool,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    vars: VarOptions,
}

pub fn run(args: StatusArgs, providers: &Providers) -> miette::Result<Outcome> {
    let color = Color::for_stdout(args.no_color);
    let options = StatusOptions {
        offline: args.offline,
        site_timeout: args.site_timeout,
    };
    let Some(status) = gather(&args.vars, providers, &options, args.no_color)? else {
        return Ok(Outcome::Failure);
    };
    let text = if args.json {
        format!("{}\n", render::status_json::document(&status, None))
    } else {
        render::status::human(&status, color, time::OffsetDateTime::now_utc())
    };
    render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(Outcome::Success)
}

/// Opens the configuration and state (no lock) and gathers the status, rendering any
/// diagnostics on stderr; `None` when that failed. `fleetform ui` gathers through this too.
pub fn gather(
    vars: &VarOptions,
    providers: &Providers,
    options: &StatusOptions,
    no_color: bool,
) -> miette::Result<Option<FleetStatus>> {
    let color = Color::choose(no_color);
    let Some(mut session) = open(vars, "OperationTypeStatus", None, color) else {
        return Ok(None);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    let status = session.status(providers, options, runtime.handle());
    // A read given up at its site's deadline may still wait on a connection to a cut
    // host on the blocking pool: leave it behind rather than wait for it.
    runtime.shutdown_background();
    render::human::diagnostics(&session.config, &session.diagnostics, color);
    Ok(status)
}
