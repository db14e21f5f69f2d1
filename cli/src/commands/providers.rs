//! `fleetform providers`: which built-in providers the configuration and the state use,
//! as a tree of modules; `fleetform providers schema -json`: their schemas in Terraform's
//! provider schema format.

use std::collections::BTreeSet;

use clap::{Args, Subcommand};
use fleetform_planner::addrs::ModulePath;
use fleetform_planner::config::Config;
use fleetform_planner::providers::Providers;

use super::VarOptions;
use super::session::open;
use crate::Outcome;
use crate::render::{self, Color, json::provider_address};

/// Arguments of `providers`.
#[derive(Args)]
pub struct ProvidersArgs {
    #[command(subcommand)]
    command: Option<ProvidersCommand>,
}

#[derive(Subcommand)]
enum ProvidersCommand {
    /// Print the built-in providers' schemas.
    Schema {
        /// Terraform's provider schema JSON (the only output this subcommand has).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: ProvidersArgs, providers: &Providers) -> miette::Result<Outcome> {
    let out = |text: String| render::stdout(&text).map_err(|e| miette::miette!("{e}"));
    if let Some(ProvidersCommand::Schema { json }) = args.command {
        if !json {
            return Err(miette::miette!(
                "the `providers schema` command requires the -json flag"
            ));
        }
        let names: Vec<&str> = providers.names().collect();
        let schemas = names
            .iter()
            .filter_map(|n| providers.get(n).map(|p| (*n, p.schema())));
        out(format!("{}\n", render::schema::providers(schemas)))?;
        return Ok(Outcome::Success);
    }
    let Some(session) = open(
        &VarOptions::default(),
        "OperationTypeProviders",
        None,
        Color::Off,
    ) else {
        return Ok(Outcome::Failure);
    };
    let mut text = String::from("\nProviders required by configuration:\n.\n");
    tree(
        &session.config,
        providers,
        &ModulePath::root(),
        "",
        &mut text,
    );
    let in_state: BTreeSet<String> = session
        .state
        .resources
        .values()
        .map(|i| render::json::provider_name_of(&i.provider))
        .collect();
    if !in_state.is_empty() {
        text.push_str("\nProviders required by state:\n\n");
        for name in in_state {
            text.push_str(&format!("    provider[{}]\n\n", provider_address(&name)));
        }
    }
    out(text)?;
    Ok(Outcome::Success)
}

/// The providers a module's resources and provider blocks use, then its module calls.
fn tree(config: &Config, providers: &Providers, path: &ModulePath, indent: &str, out: &mut String) {
    let Some(module) = config.modules.get(path) else {
        return;
    };
    let mut used: BTreeSet<String> = module.providers.keys().map(|(n, _)| n.clone()).collect();
    for r in module.resources.values() {
        match &r.provider {
            Some(p) => {
                used.insert(p.name.clone());
            }
            None => {
                if let Some((name, _)) = providers.resource_type(r.addr.mode, &r.addr.ty) {
                    used.insert(name.to_owned());
                }
            }
        }
    }
    let calls: Vec<&String> = module.module_calls.keys().collect();
    let count = used.len() + calls.len();
    let mut i = 0;
    let branch = |i: &mut usize| {
        *i += 1;
        if *i == count {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        }
    };
    for name in &used {
        let (b, _) = branch(&mut i);
        out.push_str(&format!(
            "{indent}{b}provider[{}]\n",
            provider_address(name)
        ));
    }
    for call in calls {
        let (b, next) = branch(&mut i);
        out.push_str(&format!("{indent}{b}module.{call}\n"));
        tree(
            config,
            providers,
            &path.child(call),
            &format!("{indent}{next}"),
            out,
        );
    }
}
