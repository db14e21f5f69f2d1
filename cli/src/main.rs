//! The `fleetform` binary: parses the command line, runs one command, and maps the outcome
//! to an exit code in one place.

use std::process::ExitCode;

use clap::Parser;
use fleetform_cli::{Outcome, commands, terraform_style};

fn main() -> ExitCode {
    init_logging();
    // One TLS crypto provider for every client in the process (kube, reqwest): with two
    // linked, rustls cannot pick one by itself.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match commands::Cli::try_parse_from(terraform_style(std::env::args_os())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Ok(Outcome::Changes) => ExitCode::from(2),
        Ok(Outcome::NeedsFormatting) => ExitCode::from(3),
        Err(e) => {
            eprintln!("Error: {e:?}");
            ExitCode::from(1)
        }
    }
}

/// `FLEETFORM_LOG=debug` (or any tracing filter) turns on logs, on stderr.
fn init_logging() {
    let Ok(filter) = std::env::var("FLEETFORM_LOG") else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}
