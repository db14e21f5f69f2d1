//! `fleetform init`: checks the configuration loads, chooses the state backend (saved under
//! `.fleetform/`), moves state between backends with `-migrate-state`, and lets providers
//! prepare what plans will read locally: add-on sources are fetched, verified against their
//! pinned sha256 and cached, so that plans and applies never download. Providers are built
//! in and modules are local.

use std::path::Path;

use clap::Args;
use fleetform_planner::ops::init::{InitOptions, init};
use fleetform_planner::ops::prepare;
use fleetform_planner::providers::Providers;
use fleetform_sdk::Value;
use hcl::eval::Evaluate;

use super::VarOptions;
use super::session::{Runtime, parse_duration, workspace};
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `init`.
#[derive(Args)]
pub struct InitArgs {
    /// Configure the backend (-backend=false leaves it as it was).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    backend: bool,
    /// A backend setting, KEY=VALUE, or a file of `key = value` lines. Repeatable; later
    /// ones win.
    #[arg(long = "backend-config", value_name = "KEY=VALUE|FILE")]
    backend_config: Vec<String>,
    /// Use the backend as configured now, leaving any previous backend's state where it is.
    #[arg(long)]
    reconfigure: bool,
    /// Copy the state of every workspace from the previous backend to the new one (or, with
    /// an unchanged backend, rewrite it with the current encryption).
    #[arg(long)]
    migrate_state: bool,
    /// Answer yes to migration questions (fleetform asks none: accepted for pipelines).
    #[arg(long, hide = true)]
    force_copy: bool,
    /// Accepted for Terraform compatibility; fleetform never prompts during init.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL", hide = true)]
    input: bool,
    /// Accepted for Terraform compatibility; nothing is upgraded.
    #[arg(long, hide = true)]
    upgrade: bool,
    /// How long to wait for state locks while migrating.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    lock_timeout: std::time::Duration,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
    #[command(flatten)]
    vars: VarOptions,
}

pub fn run(args: InitArgs, providers: &Providers) -> miette::Result<Outcome> {
    let _ = (args.upgrade, args.input, args.force_copy);
    let color = Color::choose(args.no_color);
    let mut backend_config = Vec::new();
    for item in &args.backend_config {
        backend_config.extend(backend_setting(item)?);
    }
    let options = InitOptions {
        backend_config,
        skip_backend: !args.backend,
        reconfigure: args.reconfigure,
        migrate_state: args.migrate_state,
        lock_timeout: args.lock_timeout,
    };
    if args.reconfigure && args.migrate_state {
        return Err(miette::miette!(
            "-reconfigure and -migrate-state cannot be used together: choose whether to move the existing state"
        ));
    }
    let mut load = args.vars.load_options();
    load.workspace = workspace();
    let done = init(&load, &options);
    render::human::diagnostics(&done.config, &done.diagnostics, color);
    if done.diagnostics.has_errors() {
        return Ok(Outcome::Failure);
    }
    let mut text = String::from("Initializing the backend...\n");
    for m in &done.messages {
        text.push_str(m);
        text.push('\n');
    }
    if !args.backend {
        text.push_str("Skipping the backend (-backend=false).\n");
    }
    text.push_str(&format!(
        "Initializing modules... {} local module call(s) found.\nProviders are built into fleetform: nothing to install.\n",
        done.modules
    ));
    render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))?;
    let runtime = Runtime::new()?;
    let prepared = prepare(
        &load,
        providers,
        runtime.runtime.handle(),
        runtime.cancel.clone(),
    );
    if !prepared.messages.is_empty() {
        let mut text = String::from("Fetching add-on sources...\n");
        for line in &prepared.messages {
            text.push_str(line);
            text.push('\n');
        }
        render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))?;
    }
    render::human::diagnostics(&prepared.config, &prepared.diagnostics, color);
    if prepared.diagnostics.has_errors() {
        return Ok(Outcome::Failure);
    }
    render::stdout("\nfleetform has been successfully initialized!\n\nYou may now begin working with fleetform. Try running \"fleetform plan\" to see\nany changes that are required for your infrastructure.\n")
        .map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(Outcome::Success)
}

/// `KEY=VALUE` (the value a string, as Terraform takes it), or a file of `key = value`
/// arguments in HCL.
fn backend_setting(item: &str) -> miette::Result<Vec<(String, Value)>> {
    if let Some((key, value)) = item.split_once('=')
        && !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Ok(vec![(key.to_owned(), Value::String(value.to_owned()))]);
    }
    let path = Path::new(item);
    let text = std::fs::read_to_string(path).map_err(|e| {
        miette::miette!("-backend-config {item:?} is neither KEY=VALUE nor a readable file: {e}")
    })?;
    let body =
        hcl::parse(&text).map_err(|e| miette::miette!("-backend-config file {item}: {e}"))?;
    let mut out = Vec::new();
    for attr in body.attributes() {
        let value = attr
            .expr()
            .evaluate(&hcl::eval::Context::new())
            .map_err(|e| miette::miette!("-backend-config file {item}: {}: {e}", attr.key()))?;
        out.push((attr.key().to_owned(), Value::from(value)));
    }
    if body.blocks().next().is_some() {
        return Err(miette::miette!(
            "-backend-config file {item}: only `key = value` arguments are allowed"
        ));
    }
    Ok(out)
}
