//! `fleetform sources mirror DIR`: copies every add-on source `init` cached into DIR, laid
//! out as a mirror (`sha256/<hex>`), for sites without the original servers: copy DIR
//! there (or serve it over HTTP) and set `source_mirror` in `provider "addons" {}`; their
//! `init` then fetches every source from it, checked against the same pins.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use fleetform_provider_addons::sources::Cache;

use crate::Outcome;
use crate::render;

/// Arguments of `sources`.
#[derive(Args)]
pub struct SourcesArgs {
    #[command(subcommand)]
    command: SourcesCommand,
}

#[derive(Subcommand)]
enum SourcesCommand {
    /// Copy the cached sources into DIR as a mirror (run `init` first).
    Mirror {
        /// The mirror directory; created when missing.
        dir: PathBuf,
    },
}

pub fn run(args: SourcesArgs) -> miette::Result<Outcome> {
    match args.command {
        SourcesCommand::Mirror { dir } => {
            let cache = Cache::new(fleetform_provider_addons::CACHE_DIR);
            let copied = cache
                .export(&dir)
                .map_err(|e| miette::miette!("cannot write the mirror: {e}"))?;
            let text = if copied == 0 {
                "The source cache is empty: run `fleetform init` first.\n".to_owned()
            } else {
                format!(
                    "Copied {copied} source(s) to {}. Point `source_mirror` in provider \"addons\" at it (a directory or its URL) where the original servers are out of reach.\n",
                    dir.display()
                )
            };
            render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))?;
            Ok(if copied == 0 {
                Outcome::Failure
            } else {
                Outcome::Success
            })
        }
    }
}
