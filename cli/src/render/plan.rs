//! The human plan, in Terraform's layout (its `jsonformat` renderer), with "fleetform"
//! where Terraform says "Terraform": drift, the legend of symbols, one block per change,
//! the `Plan:` summary, `Changes to Outputs:`, or `No changes.`.
//!
//! Values go through [`super::diff`], which never holds the content of a sensitive value.

use std::sync::OnceLock;

use fleetform_planner::addrs::{InstanceKey, ResourceMode};
use fleetform_planner::plan::{
    Action, Mode, OutputChange, Plan, Reason, Resolution, ResourceChange,
};
use fleetform_planner::providers::Providers;
use fleetform_sdk::Schema;

use super::Color;
use super::diff::{Act, Diff, Differ, Opts, Renderer, Side, symbol};
use super::term::{Paint, attribute_name, horizontal_rule, quote, wrap};

/// Looks up the schema of a resource type or data source.
pub(crate) type Schemas<'a> = &'a dyn Fn(ResourceMode, &str) -> Option<&'a Schema>;

/// The built-in providers' schemas, built once: they tell maps from objects, nested blocks
/// from attributes, and which attributes are sensitive even where a value lacks its mark.
pub(crate) fn builtin_schema(mode: ResourceMode, ty: &str) -> Option<&'static Schema> {
    builtin()?.resource_type(mode, ty).map(|(_, s)| s)
}

/// The built-in provider that declares a resource type or data source.
pub(crate) fn builtin_provider(mode: ResourceMode, ty: &str) -> Option<&'static str> {
    builtin()?.resource_type(mode, ty).map(|(p, _)| p)
}

fn builtin() -> Option<&'static Providers> {
    static BUILTIN: OnceLock<Option<Providers>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| crate::providers::builtin().ok())
        .as_ref()
}

/// The plan as `fleetform plan` prints it.
pub fn plan(plan: &Plan, color: Color) -> String {
    render(plan, color, &builtin_schema)
}

/// Why a change is listed: planned, or found by refresh.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cause {
    Change,
    Drift,
}

pub(crate) fn render(plan: &Plan, color: Color, schemas: Schemas<'_>) -> String {
    let p = Paint(color);
    let r = Renderer { paint: p };
    let mut out = String::new();
    out.push_str(&interrupted(plan, p));

    // Drift first. In a refresh-only plan every drifted object is shown; otherwise move-only
    // drift appears with the planned changes instead.
    let drift: Vec<&ResourceChange> = plan
        .drift
        .iter()
        .filter(|d| plan.mode == Mode::RefreshOnly || d.action != Action::NoOp)
        .collect();
    let outputs: Vec<(&String, &OutputChange, Diff)> = plan
        .outputs
        .iter()
        .map(|(name, oc)| (name, oc, output_diff(oc)))
        .collect();
    let diffs_empty = plan
        .changes
        .iter()
        .all(|c| c.action == Action::NoOp && !moved(c))
        && outputs.iter().all(|(_, _, d)| d.action == Act::NoOp);
    // Drift is not shown for a plan that changes nothing, except a refresh-only one.
    let drift_relevant = plan.mode == Mode::RefreshOnly || !diffs_empty;
    let have_refresh_changes = !drift.is_empty() && drift_relevant;
    if have_refresh_changes {
        out.push_str(&format!(
            "\n{}{}\n\n",
            p.bold_cyan("Note:"),
            p.bold(" Objects have changed outside of fleetform")
        ));
        out.push_str(&wrap("fleetform detected the following changes made outside of fleetform since the last \"fleetform apply\" which may have affected this plan:\n"));
        for d in &drift {
            out.push('\n');
            out.push_str(&resource(&r, d, Cause::Drift, schemas));
            out.push('\n');
        }
        let closing = match plan.mode {
            Mode::RefreshOnly => {
                "\n\nThis is a refresh-only plan, so fleetform will not take any actions to undo these. If you were expecting these changes then you can apply this plan to record the updated values in the fleetform state without changing any remote objects."
            }
            _ => {
                "\n\nUnless you have made equivalent changes to your configuration, or ignored the relevant attributes using ignore_changes, the following plan may include actions to undo or respond to these changes."
            }
        };
        out.push_str(&wrap(closing));
        out.push('\n');
    }

    let changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .chain(&plan.deposed)
        .filter(|c| c.action != Action::NoOp || moved(c) || c.importing.is_some())
        .filter(|c| {
            !(c.action == Action::Delete && c.addr.resource.resource.mode == ResourceMode::Data)
        })
        .collect();
    let count = |a: Action| changes.iter().filter(|c| c.action == a).count();
    let importing = changes.iter().filter(|c| c.importing.is_some()).count();
    let will_print_changes = changes.iter().any(|c| c.action != Action::NoOp);
    let shown_outputs: Vec<&(&String, &OutputChange, Diff)> = outputs
        .iter()
        .filter(|(_, _, d)| d.action != Act::NoOp)
        .collect();

    if changes.is_empty() && shown_outputs.is_empty() {
        let rule = |out: &mut String| {
            out.push_str(&horizontal_rule(p));
            out.push('\n');
        };
        match plan.mode {
            Mode::RefreshOnly => {
                if have_refresh_changes {
                    return out;
                }
                out.push_str(&format!(
                    "\n{}{}\n\n",
                    p.bold_green("No changes."),
                    p.bold(" Your infrastructure still matches the configuration.")
                ));
                out.push_str(&wrap("fleetform has checked that the real remote objects still match the result of your most recent changes, and found no differences."));
                out.push('\n');
            }
            Mode::Destroy => {
                if have_refresh_changes {
                    rule(&mut out);
                }
                out.push_str(&format!(
                    "\n{}{}\n\n",
                    p.bold_green("No changes."),
                    p.bold(" No objects need to be destroyed.")
                ));
                out.push_str(&wrap("Either you have not created any objects yet or the existing objects were already deleted outside of fleetform."));
                out.push('\n');
            }
            Mode::Normal => {
                if have_refresh_changes {
                    rule(&mut out);
                }
                out.push_str(&format!(
                    "\n{}{}\n\n",
                    p.bold_green("No changes."),
                    p.bold(" Your infrastructure matches the configuration.")
                ));
                if have_refresh_changes {
                    out.push_str(&wrap("Your configuration already matches the changes detected above, so applying this plan will only update the state to include the changes detected above and won't change any real infrastructure."));
                    out.push('\n');
                    return out;
                }
                out.push_str(&wrap("fleetform has compared your real infrastructure against your configuration and found no differences, so no changes are needed."));
                out.push('\n');
            }
        }
    }

    if have_refresh_changes {
        out.push_str(&horizontal_rule(p));
        out.push('\n');
    }

    if will_print_changes {
        out.push_str(&wrap("\nfleetform used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:"));
        out.push('\n');
        for (action, text) in [
            (Action::Create, format!("  {} create", p.green("+"))),
            (
                Action::Update,
                format!("  {} update in-place", p.yellow("~")),
            ),
            (Action::Delete, format!("  {} destroy", p.red("-"))),
            (
                Action::DeleteThenCreate,
                format!(
                    "{}/{} destroy and then create replacement",
                    p.red("-"),
                    p.green("+")
                ),
            ),
            (
                Action::CreateThenDelete,
                format!(
                    "{}/{} create replacement and then destroy",
                    p.green("+"),
                    p.red("-")
                ),
            ),
            (
                Action::Read,
                format!(" {} read (data resources)", p.cyan("<=")),
            ),
        ] {
            if count(action) > 0 {
                out.push_str(&text);
                out.push('\n');
            }
        }
    }

    if !changes.is_empty() {
        out.push_str("\nfleetform will perform the following actions:\n");
        for c in &changes {
            out.push('\n');
            out.push_str(&resource(&r, c, Cause::Change, schemas));
            out.push('\n');
        }
        out.push_str(&deferred(plan, p));
        out.push_str(&rollouts(plan, p));
        let replaced = count(Action::DeleteThenCreate) + count(Action::CreateThenDelete);
        let mut summary = format!("\n{} ", p.bold("Plan:"));
        if importing > 0 {
            summary.push_str(&format!("{importing} to import, "));
        }
        summary.push_str(&format!(
            "{} to add, {} to change, {} to destroy.\n",
            count(Action::Create) + replaced,
            count(Action::Update),
            count(Action::Delete) + replaced
        ));
        out.push_str(&summary);
    }

    if !shown_outputs.is_empty() {
        let width = outputs
            .iter()
            .map(|(n, _, _)| attribute_name(n).chars().count())
            .max()
            .unwrap_or(0);
        let lines: Vec<String> = shown_outputs
            .iter()
            .map(|(name, _, d)| {
                let name = attribute_name(name);
                format!(
                    "{} {name:<width$} = {}",
                    symbol(d.action, p),
                    r.render(d, 0, Opts::default())
                )
            })
            .collect();
        out.push_str("\nChanges to Outputs:\n");
        out.push_str(&lines.join("\n"));
        out.push('\n');
        if !will_print_changes {
            out.push_str(&wrap("\nYou can apply this plan to save these new output values to the fleetform state, without changing any real infrastructure."));
            out.push('\n');
        }
    }
    out
}

fn moved(c: &ResourceChange) -> bool {
    c.previous_addr.as_ref().is_some_and(|prev| *prev != c.addr)
}

/// The diff of an output: a value without a type, sensitive as a whole when declared so.
pub(crate) fn output_diff(oc: &OutputChange) -> Diff {
    let b = Side::of(oc.before.as_ref(), false).sensitive(oc.sensitive);
    let a = Side::of(oc.after.as_ref(), false).sensitive(oc.sensitive);
    Differ { replace_paths: &[] }.dynamic(b, a, &mut Vec::new())
}

/// The symbol of a resource-level action.
fn resource_symbol(action: Action, p: Paint) -> String {
    match action {
        Action::NoOp => "   ".into(),
        Action::Create => format!("  {}", p.green("+")),
        Action::Update => format!("  {}", p.yellow("~")),
        Action::Delete => format!("  {}", p.red("-")),
        Action::Read => format!(" {}", p.cyan("<=")),
        Action::DeleteThenCreate => format!("{}/{}", p.red("-"), p.green("+")),
        Action::CreateThenDelete => format!("{}/{}", p.green("+"), p.red("-")),
    }
}

/// One change: its comment lines and its block.
fn resource(r: &Renderer, c: &ResourceChange, cause: Cause, schemas: Schemas<'_>) -> String {
    let p = r.paint;
    let res = &c.addr.resource.resource;
    let schema = schemas(res.mode, &res.ty);
    let differ = Differ {
        replace_paths: &c.replace_paths,
    };
    let diff = differ.block(
        Side::of(c.before.as_ref(), false),
        Side::of(c.after.as_ref(), false),
        schema.map(|s| &s.block),
        &mut Vec::new(),
    );
    let opts = Opts {
        show_unchanged: c.importing.is_some(),
        ..Opts::default()
    };
    let kind = if res.mode == ResourceMode::Data {
        "data"
    } else {
        "resource"
    };
    format!(
        "{}{} {kind} {} {} {}",
        comment(c, cause, p),
        resource_symbol(c.action, p),
        quote(&res.ty),
        quote(&res.name),
        r.render(&diff, 0, opts)
    )
}

/// The `# ADDR will be ...` lines.
/// The changes a killed run left unfinished, and what this plan does about each.
fn interrupted(plan: &Plan, p: Paint) -> String {
    if plan.interrupted.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n{}{}\n\n",
        p.bold_cyan("Note:"),
        p.bold(" Changes were interrupted")
    );
    out.push_str(&wrap("A run was killed while it was making these changes, so it never recorded how they ended:\n"));
    for i in &plan.interrupted {
        let what = if i.op.deposed {
            "destroying its old object"
        } else {
            match i.op.action {
                fleetform_planner::state::PendingAction::Create => "creating it",
                fleetform_planner::state::PendingAction::Update => "updating it",
                fleetform_planner::state::PendingAction::Delete => "destroying it",
            }
        };
        let outcome = match &i.resolution {
            Resolution::Continue if i.op.checkpoint.is_some() => {
                "continues from the progress it saved".to_owned()
            }
            Resolution::Continue => "is planned again below (safe to repeat)".to_owned(),
            Resolution::Finished(Some(_)) => {
                "was found finished: the object is recorded as it is".to_owned()
            }
            Resolution::Finished(None) => "was found finished: the object is gone".to_owned(),
            Resolution::Ask(_) => "needs your decision (see the error below)".to_owned(),
        };
        out.push_str(&format!(
            "\n  {} {what}, started {}: {outcome}",
            p.bold(&format!("# {}", i.addr)),
            i.op.started
        ));
    }
    out.push('\n');
    out
}

fn comment(c: &ResourceChange, cause: Cause, p: Paint) -> String {
    let addr = c.addr.to_string();
    let head = p.bold(&format!("  # {addr}"));
    let mut out = String::new();
    let (mut printed_moved, mut printed_imported) = (false, false);
    match c.action {
        Action::Create => out.push_str(&format!("{head} will be created")),
        Action::Read => {
            out.push_str(&format!("{head} will be read during apply"));
            if c.reason == Some(Reason::ReadBecauseConfigUnknown) {
                out.push_str("\n  # (config refers to values not yet known)");
            }
        }
        Action::Update => match cause {
            Cause::Change => out.push_str(&format!("{head} will be updated in-place")),
            Cause::Drift => out.push_str(&format!("{head} has changed")),
        },
        Action::DeleteThenCreate | Action::CreateThenDelete => {
            let replaced = p.bold_red("replaced");
            match &c.reason {
                Some(Reason::ReplaceBecauseTainted) => {
                    out.push_str(&format!("{head} is tainted, so must be {replaced}"))
                }
                Some(Reason::ReplaceByRequest) => {
                    out.push_str(&format!("{head} will be {replaced}, as requested"))
                }
                Some(Reason::ReplaceByTriggers(_)) => out.push_str(&format!(
                    "{head} will be {replaced} due to changes in replace_triggered_by"
                )),
                _ => out.push_str(&format!("{head} must be {replaced}")),
            }
        }
        Action::Delete => {
            match cause {
                Cause::Change => {
                    out.push_str(&format!("{head} will be {}", p.bold_red("destroyed")))
                }
                Cause::Drift => out.push_str(&format!("{head} has been deleted")),
            }
            match &c.reason {
                Some(Reason::DeleteBecauseDeposed) => out
                    .push_str("\n  # (its old object, replaced before a killed run destroyed it)"),
                Some(Reason::DeleteBecauseNoResourceConfig) => {
                    let r = &c.addr.resource.resource;
                    out.push_str(&format!(
                        "\n  # (because {}.{} is not in configuration)",
                        r.ty, r.name
                    ));
                }
                Some(Reason::DeleteBecauseNoModule) => {
                    out.push_str(&format!(
                        "\n  # (because {} is not in configuration)",
                        c.addr.module
                    ));
                }
                Some(Reason::DeleteBecauseNoInstance) => match &c.addr.resource.key {
                    InstanceKey::Int(i) => out.push_str(&format!(
                        "\n  # (because index [{i}] is out of range for count)"
                    )),
                    InstanceKey::Str(k) => out.push_str(&format!(
                        "\n  # (because key [{}] is not in for_each map)",
                        quote(k)
                    )),
                    InstanceKey::None => {
                        out.push_str("\n  # (because resource uses count or for_each)")
                    }
                },
                _ => {}
            }
        }
        Action::NoOp => {
            if let Some(prev) = c.previous_addr.as_ref().filter(|_| moved(c)) {
                out.push_str(&format!(
                    "{} has moved to {}",
                    p.bold(&format!("  # {prev}")),
                    p.bold(&addr)
                ));
                printed_moved = true;
            } else if c.importing.is_some() {
                out.push_str(&format!("{head} will be imported"));
                printed_imported = true;
            } else {
                out.push_str(&format!(
                    "{addr} has an action the plan renderer doesn't support (this is a bug)"
                ));
            }
        }
    }
    out.push('\n');
    if let Some(prev) = c
        .previous_addr
        .as_ref()
        .filter(|_| moved(c) && !printed_moved)
    {
        out.push_str(&format!("  # (moved from {prev})\n"));
    }
    if let Some(id) = c.importing.as_ref().filter(|_| !printed_imported) {
        if id.is_empty() {
            out.push_str("  # (will be imported first)\n");
        } else {
            out.push_str(&format!("  # (imported from {})\n", quote(id)));
        }
    }
    if c.importing.is_some() && c.action.is_replace() {
        out.push_str(&format!(
            "  # {}\n",
            p.yellow("Warning: this will destroy the imported resource")
        ));
    }
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
pub(crate) mod tests;

/// The order apply takes the sites' changes in: each rollout's stages and batches.
fn rollouts(plan: &Plan, p: Paint) -> String {
    use fleetform_planner::plan::rollout::SitePlan;
    let mut out = String::new();
    let site = |s: &SitePlan| {
        let what = if s.changes == 0 {
            "gates checked again".to_owned()
        } else if s.changes == 1 {
            "1 change".to_owned()
        } else {
            format!("{} changes", s.changes)
        };
        let again = if s.recheck && s.changes > 0 {
            ", failed before"
        } else {
            ""
        };
        format!("{} ({what}{again})", s.site)
    };
    for r in &plan.rollouts {
        if r.sites().next().is_none() && r.skipped.is_empty() {
            continue;
        }
        let gates = if r.health_gates.is_empty() {
            "no health gates".to_owned()
        } else {
            format!(
                "gates {} within {}",
                r.health_gates.join(", "),
                fleetform_planner::plan::rollout::humanize(r.gate_timeout)
            )
        };
        out.push_str(&format!(
            "\n{} {} (failure budget {}; {gates}):\n",
            p.bold("Rollout"),
            quote(&r.name),
            r.failure_budget
        ));
        if let Some(prior) = &r.resumes {
            let mut line = format!(
                "  resumes the rollout {} in stage {}, batch {}",
                prior.status.as_str(),
                quote(&prior.stage),
                prior.batch
            );
            if !prior.failed.is_empty() {
                let failed: Vec<&str> = prior.failed.keys().map(String::as_str).collect();
                line.push_str(&format!("; failed before: {}", failed.join(", ")));
            }
            out.push_str(&line);
            out.push('\n');
        }
        for stage in &r.stages {
            let mut extras = Vec::new();
            if let Some(n) = stage.max_parallel {
                extras.push(format!("at most {n} at once"));
            }
            if !stage.soak.is_zero() {
                extras.push(format!(
                    "soak {}",
                    fleetform_planner::plan::rollout::humanize(stage.soak)
                ));
            }
            if stage.unchanged > 0 {
                extras.push(format!("{} site(s) unchanged", stage.unchanged));
            }
            let extras = if extras.is_empty() {
                String::new()
            } else {
                format!(" ({})", extras.join("; "))
            };
            out.push_str(&format!("  stage {}{extras}:\n", quote(&stage.name)));
            if stage.batches.is_empty() {
                out.push_str("    nothing to change\n");
            }
            for (i, batch) in stage.batches.iter().enumerate() {
                let sites: Vec<String> = batch.iter().map(site).collect();
                out.push_str(&format!("    batch {}: {}\n", i + 1, sites.join(", ")));
            }
        }
        if !r.skipped.is_empty() {
            let sites: Vec<String> = r.skipped.iter().map(site).collect();
            out.push_str(&format!("  skipped (changes wait): {}\n", sites.join(", ")));
        }
    }
    out
}

/// Changes earlier applies deferred because a site was unreachable, by site.
fn deferred(plan: &Plan, p: Paint) -> String {
    let mut out = String::new();
    for (site, changes) in &plan.deferred {
        let since = changes
            .iter()
            .map(|(_, c)| c.since.as_str())
            .min()
            .unwrap_or_default();
        out.push_str(&format!(
            "\n{} {site}: {} change(s) deferred since {since}, when it could not be reached:\n",
            p.bold("Deferred:"),
            changes.len()
        ));
        for (addr, change) in changes {
            out.push_str(&format!("  - {addr} ({})\n", change.action));
        }
        if let Some((_, last)) = changes.last() {
            out.push_str(&format!("  last seen: {}\n", last.reason));
        }
    }
    out
}
