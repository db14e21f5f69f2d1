//! A plan's rollouts: which sites each `rollout` block's stages hold, which of them have
//! changes, and the batches apply takes them in. Sites without changes are left out of the
//! batches, except sites a halted rollout recorded as failed: their health gates are checked
//! again before anything else moves.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use fleetform_sdk::{Diagnostic, Diagnostics};
use serde_json::{Value as Json, json};

use super::{Action, ResourceChange};
use crate::addrs::ModuleInstance;
use crate::addrs::parse::parse_module_instance;
use crate::config::{Config, Rollout, SiteSelector};
use crate::state::{RolloutProgress, RolloutStatus};

/// One rollout as this plan takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutPlan {
    /// The rollout's name.
    pub name: String,
    /// Its stages in order, each with its batches.
    pub stages: Vec<StagePlan>,
    /// How many sites may fail before it halts.
    pub failure_budget: u64,
    /// The health gates checked after each batch.
    pub health_gates: Vec<String>,
    /// How long a batch's gates may take to pass.
    pub gate_timeout: Duration,
    /// Sites `skip` holds back, with their changes left for a later apply.
    pub skipped: Vec<SitePlan>,
    /// What the state recorded of it, when an earlier apply did not complete it.
    pub resumes: Option<RolloutProgress>,
}

/// One stage of a rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePlan {
    /// The stage's name.
    pub name: String,
    /// Its batches in order; a batch's sites change together (up to `max_parallel`).
    pub batches: Vec<Vec<SitePlan>>,
    /// Its sites without changes.
    pub unchanged: usize,
    /// At most this many sites of a batch change at once.
    pub max_parallel: Option<u64>,
    /// The wait after its last batch passed its gates.
    pub soak: Duration,
}

/// A site in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePlan {
    /// The module instance.
    pub site: ModuleInstance,
    /// How many of the plan's changes are in it.
    pub changes: usize,
    /// It failed in an earlier apply: its gates are checked again.
    pub recheck: bool,
}

impl RolloutPlan {
    /// Every site with work in this plan, in the order apply takes them.
    pub fn sites(&self) -> impl Iterator<Item = &SitePlan> {
        self.stages.iter().flat_map(|s| s.batches.iter().flatten())
    }
}

/// The site (a module instance in a rollout) that `module` is in, if any.
pub fn site_of<'a, T>(
    sites: &'a HashMap<ModuleInstance, T>,
    module: &ModuleInstance,
) -> Option<(&'a ModuleInstance, &'a T)> {
    (1..=module.0.len()).rev().find_map(|depth| {
        let prefix = ModuleInstance(module.0[..depth].to_vec());
        sites.get_key_value(&prefix)
    })
}

/// Plans every rollout of the configuration. `modules` are the module instances the
/// configuration has now; `prior` is what the state recorded of each rollout.
pub fn plan_rollouts(
    config: &Config,
    providers: &crate::providers::Providers,
    modules: &HashSet<&ModuleInstance>,
    changes: &[ResourceChange],
    prior: &BTreeMap<String, RolloutProgress>,
    diags: &mut Diagnostics,
) -> Vec<RolloutPlan> {
    let Some(root) = config.root() else {
        return Vec::new();
    };
    if root.rollouts.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<&ModuleInstance> = modules.iter().copied().collect();
    sorted.sort();
    let matching = |selectors: &[SiteSelector]| -> Vec<ModuleInstance> {
        sorted
            .iter()
            .filter(|m| selectors.iter().any(|s| s.matches(m)))
            .map(|m| (*m).clone())
            .collect()
    };
    // Which rollout and stage each site is in: the first stage that names it.
    let mut claimed: HashMap<ModuleInstance, (usize, String)> = HashMap::new();
    let mut staged: Vec<Vec<Vec<ModuleInstance>>> = Vec::new();
    for (r, rollout) in root.rollouts.values().enumerate() {
        check_selectors(config, rollout, diags);
        let mut stages = Vec::new();
        for stage in &rollout.stages {
            let mut sites = Vec::new();
            for site in matching(&stage.sites) {
                if let Some((owner, _)) = claimed.get(&site) {
                    if *owner != r {
                        let other = root.rollouts.get_index(*owner).map(|(n, _)| n.as_str());
                        diags.push(
                            Diagnostic::error(
                                "Site in two rollouts",
                                format!("{site} is a site of rollout {:?} already; a site belongs to one rollout.", other.unwrap_or_default()),
                            )
                            .at(Some(config.range(&stage.loc))),
                        );
                    }
                    continue;
                }
                claimed.insert(site.clone(), (r, stage.name.clone()));
                sites.push(site);
            }
            stages.push(sites);
        }
        staged.push(stages);
    }
    // Each change counts for the site it is in (or under).
    let mut counts: HashMap<&ModuleInstance, usize> = HashMap::new();
    for change in changes {
        if matches!(change.action, Action::NoOp | Action::Read) {
            continue;
        }
        if let Some((site, _)) = site_of(&claimed, &change.addr.module) {
            *counts.entry(site).or_default() += 1;
        }
    }
    check_gates(config, providers, &claimed, changes, diags);
    let mut plans = Vec::new();
    for ((_, rollout), stages) in root.rollouts.iter().zip(staged) {
        let recorded = prior
            .get(&rollout.name)
            .filter(|p| p.status != RolloutStatus::Completed);
        let skipped: HashSet<ModuleInstance> = matching(&rollout.skip).into_iter().collect();
        let mut stage_plans = Vec::new();
        let mut skipped_sites = Vec::new();
        for (stage, sites) in rollout.stages.iter().zip(stages) {
            let mut with_work = Vec::new();
            let mut unchanged = 0;
            for site in sites {
                let changes = counts.get(&site).copied().unwrap_or(0);
                let recheck = recorded.is_some_and(|p| p.failed.contains_key(&site.to_string()));
                let plan = SitePlan {
                    site,
                    changes,
                    recheck,
                };
                if skipped.contains(&plan.site) {
                    if changes > 0 {
                        skipped_sites.push(plan);
                    }
                } else if changes > 0 || recheck {
                    with_work.push(plan);
                } else {
                    unchanged += 1;
                }
            }
            // Sites that failed before go first: nothing moves on until they are healthy.
            with_work.sort_by_key(|s| !s.recheck);
            let size = stage.batch_size.of(with_work.len());
            let batches = with_work.chunks(size).map(<[SitePlan]>::to_vec).collect();
            stage_plans.push(StagePlan {
                name: stage.name.clone(),
                batches,
                unchanged,
                max_parallel: stage.max_parallel,
                soak: stage.soak,
            });
        }
        plans.push(RolloutPlan {
            name: rollout.name.clone(),
            stages: stage_plans,
            failure_budget: rollout.failure_budget,
            health_gates: rollout
                .health_gates
                .iter()
                .map(|(g, _)| g.clone())
                .collect(),
            gate_timeout: rollout.gate_timeout,
            skipped: skipped_sites,
            resumes: recorded.cloned(),
        });
    }
    plans
}

/// A gate that no resource in any of its rollout's sites reports holds nothing back: most
/// likely a typo, or gates of a provider the fleet does not use. Warned once per gate.
fn check_gates(
    config: &Config,
    providers: &crate::providers::Providers,
    claimed: &HashMap<ModuleInstance, (usize, String)>,
    changes: &[ResourceChange],
    diags: &mut Diagnostics,
) {
    let Some(root) = config.root() else { return };
    let mut reported: Vec<HashSet<&'static str>> = vec![HashSet::new(); root.rollouts.len()];
    for change in changes {
        let Some((_, (r, _))) = site_of(claimed, &change.addr.module) else {
            continue;
        };
        let ty = &change.addr.resource.resource.ty;
        if let Some((name, _)) = providers.resource_type(crate::addrs::ResourceMode::Managed, ty)
            && let Some(provider) = providers.get(name)
        {
            reported[*r].extend(provider.health_gates(ty));
        }
    }
    for (r, rollout) in root.rollouts.values().enumerate() {
        for (gate, loc) in &rollout.health_gates {
            if !reported[r].contains(gate.as_str()) {
                let mut known: Vec<String> = reported[r].iter().map(|g| format!("{g:?}")).collect();
                known.sort();
                let known = if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                };
                diags.push(
                    Diagnostic::warning(
                        "Health gate reported by nothing",
                        format!(
                            "No resource in the sites of rollout {:?} reports the gate {gate:?}, so it holds nothing back. Gates the resources of its sites report: {known}.",
                            rollout.name
                        ),
                    )
                    .at(Some(config.range(loc))),
                );
            }
        }
    }
}

/// Every selector names a module call the configuration has.
fn check_selectors(config: &Config, rollout: &Rollout, diags: &mut Diagnostics) {
    let selectors = rollout
        .stages
        .iter()
        .flat_map(|s| &s.sites)
        .chain(&rollout.skip);
    for selector in selectors {
        if !config.modules.contains_key(&selector.module.path()) {
            diags.push(
                Diagnostic::error(
                    "Reference to undeclared module",
                    format!(
                        "Rollout {:?} names {}, but no module call {} is declared.",
                        rollout.name,
                        selector.module,
                        selector.module.path()
                    ),
                )
                .at(Some(config.range(&selector.loc))),
            );
        }
    }
}

// ---- in saved plans ----

/// A rollout plan as a saved plan keeps it.
pub(super) fn encode(r: &RolloutPlan) -> Json {
    let site = |s: &SitePlan| json!({"site": s.site.to_string(), "changes": s.changes, "recheck": s.recheck});
    json!({
        "name": r.name,
        "failure_budget": r.failure_budget,
        "health_gates": r.health_gates,
        "gate_timeout_ms": r.gate_timeout.as_millis() as u64,
        "skipped": r.skipped.iter().map(site).collect::<Vec<_>>(),
        "stages": r.stages.iter().map(|s| json!({
            "name": s.name,
            "batches": s.batches.iter().map(|b| b.iter().map(site).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "unchanged": s.unchanged,
            "max_parallel": s.max_parallel,
            "soak_ms": s.soak.as_millis() as u64,
        })).collect::<Vec<_>>(),
        "resumes": r.resumes.as_ref().map(|p| json!({
            "status": p.status.as_str(),
            "stage": p.stage,
            "batch": p.batch,
            "done": p.done,
            "failed": p.failed,
            "halted": p.halted,
            "updated": p.updated,
        })),
    })
}

/// Reads back what [`encode`] wrote.
pub(super) fn decode(doc: &Json) -> Result<RolloutPlan, String> {
    let site = |v: &Json| -> Result<SitePlan, String> {
        let text = v["site"]
            .as_str()
            .ok_or("a rollout site without an address")?;
        Ok(SitePlan {
            site: parse_module_instance(text).map_err(|e| format!("bad site {text:?}: {e}"))?,
            changes: v["changes"].as_u64().unwrap_or(0) as usize,
            recheck: v["recheck"].as_bool().unwrap_or(false),
        })
    };
    let sites = |v: &Json| -> Result<Vec<SitePlan>, String> {
        v.as_array().into_iter().flatten().map(site).collect()
    };
    let ms = |v: &Json| Duration::from_millis(v.as_u64().unwrap_or(0));
    let strings = |v: &Json| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let mut stages = Vec::new();
    for s in doc["stages"].as_array().into_iter().flatten() {
        stages.push(StagePlan {
            name: s["name"].as_str().unwrap_or_default().to_owned(),
            batches: s["batches"]
                .as_array()
                .into_iter()
                .flatten()
                .map(sites)
                .collect::<Result<_, _>>()?,
            unchanged: s["unchanged"].as_u64().unwrap_or(0) as usize,
            max_parallel: s["max_parallel"].as_u64(),
            soak: ms(&s["soak_ms"]),
        });
    }
    let resumes = doc["resumes"].as_object().map(|p| RolloutProgress {
        status: match p["status"].as_str() {
            Some("halted") => RolloutStatus::Halted,
            Some("completed") => RolloutStatus::Completed,
            _ => RolloutStatus::Running,
        },
        stage: p["stage"].as_str().unwrap_or_default().to_owned(),
        batch: p["batch"].as_u64().unwrap_or(0) as usize,
        done: strings(&p["done"]).into_iter().collect(),
        failed: p["failed"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        halted: p["halted"].as_str().map(str::to_owned),
        updated: p["updated"].as_str().unwrap_or_default().to_owned(),
    });
    Ok(RolloutPlan {
        name: doc["name"]
            .as_str()
            .ok_or("a rollout without a name")?
            .to_owned(),
        stages,
        failure_budget: doc["failure_budget"].as_u64().unwrap_or(0),
        health_gates: strings(&doc["health_gates"]),
        gate_timeout: ms(&doc["gate_timeout_ms"]),
        skipped: sites(&doc["skipped"])?,
        resumes,
    })
}

/// `5m`, `90s`, `250ms`: durations as users write them.
pub fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if d.subsec_millis() == 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", d.as_millis())
    }
}
