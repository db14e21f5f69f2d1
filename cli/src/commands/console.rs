//! `fleetform console`: reads expressions, one per line, from standard input and prints
//! each one's value, evaluated against the configuration and the recorded state (as
//! Terraform's console does). `echo 'cluster.dc.endpoint' | fleetform console` works in
//! scripts; on a terminal it prompts with `> `.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use fleetform_planner::providers::Providers;

use super::VarOptions;
use super::session::open;
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `console`.
#[derive(Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    vars: VarOptions,
}

pub fn run(args: ConsoleArgs, providers: &Providers) -> miette::Result<Outcome> {
    let color = Color::choose(false);
    // Reading only: the state is not locked, as Terraform's console does not hold it.
    let Some(mut session) = open(&args.vars, "OperationTypeConsole", None, color) else {
        return Ok(Outcome::Failure);
    };
    let console = session.console(providers);
    let Some(console) = console else {
        return Ok(Outcome::Failure);
    };
    let interactive = std::io::stdin().is_terminal();
    let mut failed = false;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("> ");
            let _ = std::io::stdout().flush();
        }
        let Some(Ok(line)) = lines.next() else {
            break;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if interactive && (line == "exit" || line == "quit") {
            break;
        }
        match console.evaluate(line) {
            Ok(v) => render::stdout(&format!("{}\n", render::console::value(&v)))
                .map_err(|e| miette::miette!("{e}"))?,
            Err(e) => {
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed && !interactive {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
