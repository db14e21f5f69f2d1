//! `fleetform state list|show|mv|rm|pull|pending`: inspect and edit the state by hand, each
//! edit written atomically with a backup and a new serial, under the state lock.

use clap::{Args, Subcommand};
use fleetform_planner::addrs::{
    AbsResourceInstance, Selector, parse_abs_resource_instance, parse_module_instance,
};
use fleetform_planner::state::{PendingAction, State};

use super::VarOptions;
use super::session::{open, parse_duration};
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `state`.
#[derive(Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
    /// Do not color the output.
    #[arg(long, global = true)]
    no_color: bool,
    /// How long to wait for the state lock.
    #[arg(long, global = true, default_value = "0s", value_parser = parse_duration)]
    lock_timeout: std::time::Duration,
}

#[derive(Subcommand)]
enum StateCommand {
    /// List the resource instances in the state, optionally only those under ADDRESSes.
    List { addresses: Vec<String> },
    /// Show one resource instance's attributes.
    Show { address: String },
    /// Move an instance, a resource or a module instance to another address.
    Mv { source: String, destination: String },
    /// Forget instances (the objects themselves are left alone).
    Rm {
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Print the state (decrypted, with any interrupted run's journal replayed).
    Pull,
    /// Replace the state with a state file (as `state pull` printed it); `-` reads stdin.
    Push {
        path: String,
        /// Push even when the file's serial is not newer than the stored state's.
        #[arg(long)]
        force: bool,
    },
    /// Show who holds the state lock and since when.
    LockInfo,
    /// Changes a killed run left unfinished: list them, or settle one by hand.
    #[command(subcommand)]
    Pending(PendingCommand),
}

#[derive(Subcommand)]
enum PendingCommand {
    /// List the interrupted changes: address, what was being done, since when.
    List,
    /// The interrupted change did complete: record the object it was making (attributes
    /// only the provider could have told are left empty until the next refresh).
    Done { address: String },
    /// Forget the interrupted change: the next plan decides from the configuration and
    /// the recorded object alone, as if it had never started.
    Forget { address: String },
}

fn selectors(texts: &[String]) -> miette::Result<Vec<Selector>> {
    texts
        .iter()
        .map(|t| Selector::parse(t).map_err(|e| miette::miette!("invalid address {t:?}: {e}")))
        .collect()
}

pub fn run(args: StateArgs) -> miette::Result<Outcome> {
    let color = Color::choose(args.no_color);
    let write_out = |text: String| {
        render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))
    };
    let edits = matches!(
        args.command,
        StateCommand::Mv { .. }
            | StateCommand::Rm { .. }
            | StateCommand::Push { .. }
            | StateCommand::Pending(PendingCommand::Done { .. } | PendingCommand::Forget { .. })
    );
    let lock = edits.then_some(args.lock_timeout);
    let Some(mut session) = open(&VarOptions::default(), "OperationTypeState", lock, color) else {
        return Ok(Outcome::Failure);
    };
    let state = &session.state.clone();
    let done = matches!(
        args.command,
        StateCommand::Pending(PendingCommand::Done { .. })
    );
    match args.command {
        StateCommand::List { addresses } => {
            let filters = selectors(&addresses)?;
            for addr in state
                .resources
                .keys()
                .filter(|a| filters.is_empty() || filters.iter().any(|f| f.matches(a)))
            {
                write_out(format!("{addr}\n"))?;
            }
        }
        StateCommand::Show { address } => {
            let addr = parse_abs_resource_instance(&address)
                .map_err(|e| miette::miette!("invalid address {address:?}: {e}"))?;
            let Some(instance) = state.resources.get(&addr) else {
                eprintln!(
                    "Error: No instance found for the given address!\n\nThis command requires that the address references one specific instance. To view the available instances, use \"fleetform state list\"."
                );
                return Ok(Outcome::Failure);
            };
            write_out(render::state::instance_block(&addr, instance))?;
        }
        StateCommand::Pull => {
            write_out(
                String::from_utf8_lossy(&fleetform_planner::state::format::encode(state))
                    .into_owned()
                    + "\n",
            )?;
        }
        StateCommand::LockInfo => match session
            .store()
            .lock_holder()
            .map_err(|e| miette::miette!("cannot read the lock: {e}"))?
        {
            Some(info) => write_out(format!(
                "The state {} is locked.\n  ID:        {}\n  Operation: {}\n  Who:       {}\n  Version:   {}\n  Since:     {}\n",
                session.store().describe(),
                info.id,
                info.operation,
                info.who,
                info.version,
                info.created
            ))?,
            None => write_out(format!(
                "The state {} is not locked.\n",
                session.store().describe()
            ))?,
        },
        StateCommand::Push { path, force } => {
            let bytes = if path == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .map_err(|e| miette::miette!("cannot read standard input: {e}"))?;
                buf
            } else {
                std::fs::read(&path).map_err(|e| miette::miette!("cannot read {path}: {e}"))?
            };
            let pushed = fleetform_planner::state::format::decode(&bytes)
                .map_err(|e| miette::miette!("{path} is not a fleetform state: {e}"))?;
            if state.serial > 0 && pushed.lineage != state.lineage {
                return Err(miette::miette!(
                    "cannot push: {path} has lineage {}, but the stored state has lineage {}; it is another state (delete the workspace first to replace it)",
                    pushed.lineage,
                    state.lineage
                ));
            }
            if pushed.serial <= state.serial && !force {
                return Err(miette::miette!(
                    "cannot push: {path} has serial {}, not newer than the stored state's serial {}; use -force to push it anyway",
                    pushed.serial,
                    state.serial
                ));
            }
            session
                .write_state(pushed)
                .map_err(|e| miette::miette!("cannot write the state: {e}"))?;
            write_out(format!(
                "Pushed {path} to {} (serial {}).\n",
                session.store().describe(),
                session.state.serial
            ))?;
        }
        StateCommand::Rm { addresses } => {
            let filters = selectors(&addresses)?;
            let mut next = state.clone();
            let removed: Vec<AbsResourceInstance> = state
                .resources
                .keys()
                .filter(|a| filters.iter().any(|f| f.matches(a)))
                .cloned()
                .collect();
            if removed.is_empty() {
                eprintln!(
                    "Error: Invalid target address\n\nNo matching objects found. To view the available instances, use \"fleetform state list\"."
                );
                return Ok(Outcome::Failure);
            }
            for a in &removed {
                next.resources.remove(a);
                write_out(format!("Removed {a}\n"))?;
            }
            save(&mut session, next)?;
            write_out(format!(
                "Successfully removed {} resource instance(s).\n",
                removed.len()
            ))?;
        }
        StateCommand::Pending(PendingCommand::List) => {
            for (addr, op) in &state.pending {
                let what = if op.deposed {
                    "delete (old object of a replacement)"
                } else {
                    op.action.as_str()
                };
                write_out(format!("{addr}\t{what}\tstarted {}\n", op.started))?;
            }
        }
        StateCommand::Pending(
            PendingCommand::Done { address } | PendingCommand::Forget { address },
        ) => {
            let addr = parse_abs_resource_instance(&address)
                .map_err(|e| miette::miette!("invalid address {address:?}: {e}"))?;
            let Some(op) = state.pending.get(&addr).cloned() else {
                eprintln!(
                    "Error: No interrupted change of {addr}\n\nTo view the interrupted changes, use \"fleetform state pending list\"."
                );
                return Ok(Outcome::Failure);
            };
            let mut next = state.clone();
            next.pending.remove(&addr);
            if done && !op.deposed {
                match (op.action, &op.planned) {
                    (PendingAction::Delete, _) => {
                        next.resources.remove(&addr);
                    }
                    (_, Some(planned)) => {
                        next.resources
                            .insert(addr.clone(), op.instance(planned.known_or_null()));
                    }
                    (_, None) => {}
                }
            }
            save(&mut session, next)?;
            let verb = if done { "Recorded as done" } else { "Forgot" };
            write_out(format!(
                "{verb}: the interrupted {} of {addr}.\n",
                op.action.as_str()
            ))?;
        }
        StateCommand::Mv {
            source,
            destination,
        } => {
            let moves =
                renames(state, &source, &destination).map_err(|e| miette::miette!("{e}"))?;
            let mut next = state.clone();
            for (from, to) in &moves {
                if next.resources.contains_key(to) {
                    return Err(miette::miette!(
                        "cannot move {from} to {to}: {to} already exists in the state"
                    ));
                }
                if let Some(i) = next.resources.remove(from) {
                    next.resources.insert(to.clone(), i);
                }
            }
            save(&mut session, next)?;
            write_out(format!(
                "Move {source:?} to {destination:?}\nSuccessfully moved {} object(s).\n",
                moves.len()
            ))?;
        }
    }
    Ok(Outcome::Success)
}

fn renames(
    state: &State,
    source: &str,
    destination: &str,
) -> Result<Vec<(AbsResourceInstance, AbsResourceInstance)>, String> {
    if let (Ok(from), Ok(to)) = (
        parse_module_instance(source),
        parse_module_instance(destination),
    ) {
        let moves: Vec<_> = state
            .resources
            .keys()
            .filter(|a| a.module.0.starts_with(&from.0))
            .map(|a| {
                let mut steps = to.0.clone();
                steps.extend(a.module.0[from.0.len()..].iter().cloned());
                (
                    a.clone(),
                    AbsResourceInstance {
                        module: fleetform_planner::addrs::ModuleInstance(steps),
                        resource: a.resource.clone(),
                    },
                )
            })
            .collect();
        return if moves.is_empty() {
            Err(format!("no objects in the state are under {source}"))
        } else {
            Ok(moves)
        };
    }
    let from = parse_abs_resource_instance(source)
        .map_err(|e| format!("invalid source address {source:?}: {e}"))?;
    let to = parse_abs_resource_instance(destination)
        .map_err(|e| format!("invalid destination address {destination:?}: {e}"))?;
    if from.resource.resource.ty != to.resource.resource.ty {
        return Err(format!(
            "cannot move {from} to {to}: the resource types differ"
        ));
    }
    let none = fleetform_planner::addrs::InstanceKey::None;
    if from.resource.key == none && to.resource.key == none {
        let moves: Vec<_> = state
            .resources
            .keys()
            .filter(|a| a.abs_resource() == from.abs_resource())
            .map(|a| {
                let mut t = to.clone();
                t.resource.key = a.resource.key.clone();
                (a.clone(), t)
            })
            .collect();
        return if moves.is_empty() {
            Err(format!("no objects in the state match {source}"))
        } else {
            Ok(moves)
        };
    }
    if !state.resources.contains_key(&from) {
        return Err(format!("no object in the state has the address {from}"));
    }
    Ok(vec![(from, to)])
}

fn save(session: &mut fleetform_planner::ops::Session, next: State) -> miette::Result<()> {
    session
        .write_state(next)
        .map_err(|e| miette::miette!("cannot write the state: {e}"))
}
