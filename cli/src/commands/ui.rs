//! `fleetform ui`: the status as a local read-only web page. The status is gathered once
//! before serving (so a fleet without state, or a broken configuration, fails at once),
//! then again every `-refresh-interval` on a thread of its own; the page fetches
//! `/status.json` on the same period without reloading.

use std::time::Duration;

use clap::Args;
use fleetform_planner::ops::status::StatusOptions;

use super::VarOptions;
use super::session::parse_duration;
use super::status::gather;
use crate::Outcome;
use crate::render;
use crate::web;

/// Arguments of `ui`.
#[derive(Args)]
pub struct UiArgs {
    /// The port on 127.0.0.1 to serve on; a free one when left out (printed on start).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Show what the state recorded, without asking any site.
    #[arg(long)]
    offline: bool,
    /// The longest one site's refresh may take.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    site_timeout: Duration,
    /// How often the status is gathered again (and the page fetches it).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    refresh_interval: Duration,
    /// Do not color diagnostics.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    vars: VarOptions,
}

pub fn run(args: UiArgs) -> miette::Result<Outcome> {
    let options = StatusOptions {
        offline: args.offline,
        site_timeout: args.site_timeout,
    };
    let interval = args.refresh_interval.max(Duration::from_secs(1));
    let document = move |status: &fleetform_planner::ops::status::FleetStatus| {
        render::status_json::document(status, Some(interval.as_secs())).to_string()
    };
    let providers = crate::providers::builtin().map_err(|e| miette::miette!("{e}"))?;
    let Some(first) = gather(&args.vars, &providers, &options, args.no_color)? else {
        return Ok(Outcome::Failure);
    };
    drop(providers);
    let snapshot = web::Snapshot::default();
    snapshot.set(document(&first));
    let listener = web::bind(args.port)
        .map_err(|e| miette::miette!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let address = listener
        .local_addr()
        .map_err(|e| miette::miette!("cannot read the listening address: {e}"))?;
    render::stdout(&format!(
        "fleetform ui: serving the fleet's status on http://{address}/ (read-only; Ctrl-C stops)\n"
    ))
    .map_err(|e| miette::miette!("cannot write output: {e}"))?;
    {
        let snapshot = snapshot.clone();
        let vars = args.vars.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(interval);
                // Providers keep what they learn of a run: each refresh gets fresh ones.
                let Ok(providers) = crate::providers::builtin() else {
                    continue;
                };
                match gather(&vars, &providers, &options, args.no_color) {
                    Ok(Some(status)) => snapshot.set(document(&status)),
                    Ok(None) => {}
                    Err(e) => tracing::debug!("status refresh failed: {e}"),
                }
            }
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    runtime
        .block_on(web::serve(listener, snapshot))
        .map_err(|e| miette::miette!("the status page stopped: {e}"))?;
    runtime.shutdown_background();
    Ok(Outcome::Success)
}
