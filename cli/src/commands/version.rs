//! `fleetform version [-json]`: this fleetform's version, the Terraform version whose JSON
//! formats it writes, the platform, and the built-in providers.

use clap::Args;
use fleetform_planner::providers::Providers;
use serde_json::json;

use crate::Outcome;
use crate::render::{
    self,
    json::{TERRAFORM_VERSION, VERSION, provider_address},
};

/// Arguments of `version`.
#[derive(Args)]
pub struct VersionArgs {
    /// Machine-readable output, in the shape of `terraform version -json`.
    #[arg(long)]
    json: bool,
}

pub fn run(args: VersionArgs, providers: &Providers) -> miette::Result<Outcome> {
    let platform = format!("{}_{}", std::env::consts::OS, go_arch());
    let selections: serde_json::Map<String, serde_json::Value> = providers
        .names()
        .map(|name| (provider_address(name), json!(VERSION)))
        .collect();
    let text = if args.json {
        let doc = json!({
            "fleetform_version": VERSION,
            "terraform_version": TERRAFORM_VERSION,
            "platform": platform,
            "provider_selections": selections,
            "terraform_outdated": false,
        });
        format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
    } else {
        let mut text = format!(
            "fleetform v{VERSION}\non {platform}\n(plans, state and UI messages in the JSON formats of Terraform v{TERRAFORM_VERSION})\n"
        );
        for name in selections.keys() {
            text.push_str(&format!("+ provider {name} v{VERSION} (built in)\n"));
        }
        text
    };
    render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))?;
    Ok(Outcome::Success)
}

/// The architecture in Go's words, as Terraform names platforms (`linux_amd64`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}
