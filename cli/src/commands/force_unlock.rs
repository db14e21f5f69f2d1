//! `fleetform force-unlock LOCK_ID`: release a lock left by a run that died.

use clap::Args;

use super::VarOptions;
use super::session::open;
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `force-unlock`.
#[derive(Args)]
pub struct ForceUnlockArgs {
    /// The lock's ID, as the lock error showed it.
    lock_id: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    force: bool,
}

pub fn run(args: ForceUnlockArgs) -> miette::Result<Outcome> {
    let Some(session) = open(
        &VarOptions::default(),
        "OperationTypeForceUnlock",
        None,
        Color::choose(false),
    ) else {
        return Ok(Outcome::Failure);
    };
    if !args.force {
        use std::io::{BufRead, Write};
        print!(
            "Do you really want to force-unlock?\n  fleetform will remove the lock on the remote state.\n  This will allow local fleetform commands to modify this state, even though it\n  may still be in use. Only 'yes' will be accepted to confirm.\n\n  Enter a value: "
        );
        std::io::stdout()
            .flush()
            .map_err(|e| miette::miette!("{e}"))?;
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| miette::miette!("{e}"))?;
        if line.trim() != "yes" {
            render::stdout("force-unlock cancelled.\n").map_err(|e| miette::miette!("{e}"))?;
            return Ok(Outcome::Failure);
        }
    }
    session
        .store()
        .force_unlock(&args.lock_id)
        .map_err(|e| miette::miette!("failed to unlock the state: {e}"))?;
    render::stdout("fleetform state has been successfully unlocked!\n\nThe state has been unlocked, and fleetform commands should now be able to\nobtain a new lock on the remote state.\n").map_err(|e| miette::miette!("{e}"))?;
    Ok(Outcome::Success)
}
