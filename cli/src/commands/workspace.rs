//! `fleetform workspace new|select|list|delete|show`: separate states of one configuration.

use clap::{Args, Subcommand};
use fleetform_planner::state::State;
use fleetform_planner::state::partition::REST;

use super::VarOptions;
use super::session::{environment_file, open, workspace};
use crate::Outcome;
use crate::render::{self, Color};

/// Arguments of `workspace`.
#[derive(Args)]
pub struct WorkspaceArgs {
    #[command(subcommand)]
    command: WorkspaceCommand,
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and switch to it.
    New { name: String },
    /// Switch to a workspace (-or-create creates it when it does not exist).
    Select {
        name: String,
        /// Create the workspace if it does not exist, as `workspace new` would.
        #[arg(long, default_value_t = false, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
        or_create: bool,
    },
    /// List the workspaces; the current one is marked with *.
    List,
    /// Delete a workspace whose state holds no objects (-force deletes it anyway).
    Delete {
        name: String,
        #[arg(long)]
        force: bool,
    },
    /// Print the current workspace.
    Show,
}

fn valid(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn run(args: WorkspaceArgs) -> miette::Result<Outcome> {
    let out = |text: String| {
        render::stdout(&text).map_err(|e| miette::miette!("cannot write output: {e}"))
    };
    let current = workspace();
    if let WorkspaceCommand::Show = args.command {
        out(format!("{current}\n"))?;
        return Ok(Outcome::Success);
    }
    let Some(session) = open(
        &VarOptions::default(),
        "OperationTypeWorkspace",
        None,
        Color::choose(false),
    ) else {
        return Ok(Outcome::Failure);
    };
    let backend = session.backend();
    let existing = backend.workspaces().map_err(|e| miette::miette!("{e}"))?;
    let select = |name: &str| -> miette::Result<()> {
        std::fs::create_dir_all(".fleetform")
            .map_err(|e| miette::miette!("cannot create .fleetform: {e}"))?;
        std::fs::write(environment_file(), format!("{name}\n"))
            .map_err(|e| miette::miette!("cannot record the workspace: {e}"))
    };
    let create = |name: &str| -> miette::Result<()> {
        if !valid(name) {
            return Err(miette::miette!(
                "workspace names may contain only letters, digits, '-' and '_'"
            ));
        }
        if existing.iter().any(|e| e == name) {
            return Err(miette::miette!("workspace {name:?} already exists"));
        }
        let store = backend.store(name).map_err(|e| miette::miette!("{e}"))?;
        // An empty state at serial 1: written states start there.
        let first = State {
            serial: 1,
            ..State::new()
        };
        match store.partitioned().filter(|_| session.is_partitioned()) {
            // A fleet kept in partitions starts with its first partition.
            Some(parts) => parts.replace_layout(
                None,
                &std::collections::BTreeMap::from([(REST.to_owned(), first)]),
            ),
            None => store.write(&first),
        }
        .map_err(|e| miette::miette!("{e}"))?;
        select(name)?;
        out(format!(
            "Created and switched to workspace {name:?}!\n\nYou're now on a new, empty workspace. Workspaces isolate their state,\nso if you run \"fleetform plan\" fleetform will not see any existing state\nfor this configuration.\n"
        ))?;
        Ok(())
    };
    match args.command {
        WorkspaceCommand::Show => {}
        WorkspaceCommand::List => {
            for name in &existing {
                let mark = if *name == current { "*" } else { " " };
                out(format!("{mark} {name}\n"))?;
            }
        }
        WorkspaceCommand::New { name } => create(&name)?,
        WorkspaceCommand::Select {
            name,
            or_create: true,
        } if !existing.contains(&name) => create(&name)?,
        WorkspaceCommand::Select { name, .. } => {
            if !existing.contains(&name) {
                return Err(miette::miette!(
                    "workspace {name:?} doesn't exist; create it with `fleetform workspace new {name}`"
                ));
            }
            select(&name)?;
            out(format!("Switched to workspace {name:?}.\n"))?;
        }
        WorkspaceCommand::Delete { name, force } => {
            if name == current {
                return Err(miette::miette!(
                    "workspace {name:?} is your active workspace: select another workspace before deleting it"
                ));
            }
            if name == "default" {
                return Err(miette::miette!("the default workspace cannot be deleted"));
            }
            if !existing.contains(&name) {
                return Err(miette::miette!("workspace {name:?} doesn't exist"));
            }
            let store = backend.store(&name).map_err(|e| miette::miette!("{e}"))?;
            let state = store.read().map_err(|e| miette::miette!("{e}"))?;
            if !force && state.is_some_and(|s| !s.resources.is_empty()) {
                return Err(miette::miette!(
                    "workspace {name:?} is not empty: it still manages objects. Destroy them first, or delete with -force to forget them"
                ));
            }
            backend
                .delete_workspace(&name)
                .map_err(|e| miette::miette!("{e}"))?;
            out(format!("Deleted workspace {name:?}!\n"))?;
        }
    }
    Ok(Outcome::Success)
}
