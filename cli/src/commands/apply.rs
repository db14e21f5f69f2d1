//! `fleetform apply [PLANFILE]`, `fleetform destroy` and `fleetform refresh`: make the
//! changes of a plan, made now (after approval) or saved earlier (without a prompt).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Args;
use fleetform_planner::apply::progress::{Progress, Silent};
use fleetform_planner::ops::Control;
use fleetform_planner::plan::{Mode, Plan};
use fleetform_planner::providers::Providers;

use super::session::{PlanFlags, Runtime, open_for};
use crate::Outcome;
use crate::render::{self, json::JsonUi, progress::Human};

/// Arguments of `apply`.
#[derive(Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan -out`; applied as it is, without a prompt.
    plan_file: Option<PathBuf>,
    /// Apply without asking for approval.
    #[arg(long)]
    auto_approve: bool,
    #[command(flatten)]
    flags: PlanFlags,
}

/// `destroy` is `apply -destroy`; `refresh` is `apply -refresh-only -auto-approve`.
pub fn run(args: ApplyArgs, providers: &Providers, mode: Mode) -> miette::Result<Outcome> {
    let flags = &args.flags;
    let color = flags.color();
    let ui = flags.json.then(JsonUi::new);
    let lock = flags.lock.then_some(flags.lock_timeout);
    let operation = match mode {
        Mode::Destroy => "OperationTypeDestroy",
        Mode::RefreshOnly => "OperationTypeRefresh",
        Mode::Normal => "OperationTypeApply",
    };
    let options = flags.run_options(mode);
    let selecting = args.plan_file.is_some() || options.selects_partitions();
    let Some(mut session) = open_for(&flags.vars, operation, lock, color, ui.as_ref(), selecting)
    else {
        return Ok(Outcome::Failure);
    };
    let rt = Runtime::new()?;
    let render_diags = |session: &fleetform_planner::ops::Session| match &ui {
        Some(ui) => ui.diagnostics(&session.config, &session.diagnostics),
        None => render::human::diagnostics_with(
            &session.config,
            &session.diagnostics,
            color,
            flags.compact_warnings,
        ),
    };
    let plan: Plan = match &args.plan_file {
        Some(path) => {
            let (plan, hash) = session
                .read_plan(path)
                .map_err(|e| miette::miette!("{e}"))?;
            if !session.check_saved(&plan, &hash) {
                render_diags(&session);
                return Ok(Outcome::Failure);
            }
            plan
        }
        None => {
            let refresh: &dyn Progress = match &ui {
                Some(ui) => ui,
                None => &Silent,
            };
            let plan = session.plan(
                providers,
                &options,
                rt.runtime.handle(),
                rt.cancel.clone(),
                refresh,
            );
            let Some(plan) = plan else {
                render_diags(&session);
                return Ok(Outcome::Failure);
            };
            match &ui {
                Some(ui) => ui.plan(&plan),
                None => render::stdout(&render::plan::plan(&plan, color))
                    .map_err(|e| miette::miette!("cannot write output: {e}"))?,
            }
            if plan.is_empty() {
                render_diags(&session);
                return Ok(Outcome::Success);
            }
            let auto = args.auto_approve || mode == Mode::RefreshOnly;
            if !auto && !approved(mode)? {
                render::stdout("\nApply cancelled.\n").map_err(|e| miette::miette!("{e}"))?;
                return Ok(Outcome::Failure);
            }
            plan
        }
    };
    let human = Human::new(color);
    let progress: &dyn Progress = match &ui {
        Some(ui) => ui,
        None => &human,
    };
    let control = Control {
        progress,
        stopping: &rt.stopping,
        cancel: rt.cancel.clone(),
    };
    let ok = session.apply(providers, &plan, &options, rt.runtime.handle(), control);
    render_diags(&session);
    // What actually happened, not what was planned: a failed or interrupted apply did less.
    let (add, change, destroy) = human.counts();
    match &ui {
        Some(ui) => ui.applied(&plan, &session.state),
        None => {
            let verb = if rt.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                "interrupted"
            } else if ok {
                "complete"
            } else {
                "stopped with errors"
            };
            let summary = match mode {
                Mode::Destroy => format!("\nDestroy {verb}! Resources: {destroy} destroyed.\n"),
                _ => format!(
                    "\nApply {verb}! Resources: {add} added, {change} changed, {destroy} destroyed.\n"
                ),
            };
            render::stdout(&summary).map_err(|e| miette::miette!("cannot write output: {e}"))?;
            render::stdout(&render::outputs::human(&session.state, color))
                .map_err(|e| miette::miette!("cannot write output: {e}"))?;
        }
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// Terraform's prompt: only "yes" approves.
fn approved(mode: Mode) -> miette::Result<bool> {
    let question = match mode {
        Mode::Destroy => {
            "Do you really want to destroy all resources?\n  fleetform will destroy all your managed infrastructure, as shown above.\n  There is no undo. Only 'yes' will be accepted to confirm."
        }
        _ => {
            "Do you want to perform these actions?\n  fleetform will perform the actions described above.\n  Only 'yes' will be accepted to approve."
        }
    };
    print!("\n{question}\n\n  Enter a value: ");
    std::io::stdout()
        .flush()
        .map_err(|e| miette::miette!("{e}"))?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| miette::miette!("cannot read the answer: {e}"))?;
    Ok(line.trim() == "yes")
}
