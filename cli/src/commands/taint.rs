//! `fleetform taint ADDRESS` and `fleetform untaint ADDRESS`: mark a resource instance so
//! the next plan replaces it, or take the mark back, as Terraform's commands do.

use clap::Args;
use fleetform_planner::addrs::parse_abs_resource_instance;
use fleetform_planner::state::InstanceStatus;

use super::VarOptions;
use super::session::{open, parse_duration};
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `taint` and `untaint`.
#[derive(Args)]
pub struct TaintArgs {
    /// The resource instance, e.g. host.web or module.site["north"].cluster.this.
    address: String,
    /// Succeed (doing nothing) when the instance is not in the state.
    #[arg(long)]
    allow_missing: bool,
    /// Lock the state while editing it (-lock=false does not).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    lock: bool,
    /// How long to wait for the state lock.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    lock_timeout: std::time::Duration,
    /// Do not color the output.
    #[arg(long)]
    no_color: bool,
}

/// Marks (`taint = true`) or unmarks the instance.
pub fn run(args: TaintArgs, taint: bool) -> miette::Result<Outcome> {
    let color = Color::choose(args.no_color);
    let addr = parse_abs_resource_instance(&args.address).map_err(|e| {
        miette::miette!("invalid resource instance address {:?}: {e}", args.address)
    })?;
    let operation = if taint {
        "OperationTypeTaint"
    } else {
        "OperationTypeUntaint"
    };
    let lock = args.lock.then_some(args.lock_timeout);
    let Some(mut session) = open(&VarOptions::default(), operation, lock, color) else {
        return Ok(Outcome::Failure);
    };
    let Some(instance) = session.state.resources.get(&addr) else {
        if args.allow_missing {
            render::stdout(&format!(
                "The resource {addr} was not found; nothing to do.\n"
            ))
            .map_err(|e| miette::miette!("{e}"))?;
            return Ok(Outcome::Success);
        }
        eprintln!(
            "Error: No such resource instance\n\nThere is no resource instance in the state with the address {addr}. If the resource configuration has just been added, you must run \"fleetform apply\" once to create the corresponding instance before tainting it."
        );
        return Ok(Outcome::Failure);
    };
    let wanted = if taint {
        InstanceStatus::Tainted
    } else {
        InstanceStatus::Ready
    };
    if !taint && instance.status != InstanceStatus::Tainted {
        eprintln!(
            "Error: Resource instance is not tainted\n\nResource instance {addr} is not currently tainted, and so it cannot be untainted."
        );
        return Ok(Outcome::Failure);
    }
    let mut next = session.state.clone();
    if let Some(i) = next.resources.get_mut(&addr) {
        i.status = wanted;
    }
    session
        .write_state(next)
        .map_err(|e| miette::miette!("cannot write the state: {e}"))?;
    let message = if taint {
        format!("Resource instance {addr} has been marked as tainted.\n")
    } else {
        format!("Resource instance {addr} has been successfully untainted.\n")
    };
    render::stdout(&message).map_err(|e| miette::miette!("{e}"))?;
    Ok(Outcome::Success)
}
