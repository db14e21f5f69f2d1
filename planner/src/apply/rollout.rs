//! Taking a plan's rollouts through their stages while the apply walks.
//!
//! Instances in a rollout's site wait (outside the walk's parallelism) until the site's
//! batch opens. A batch is done when each of its sites' changes has finished; then the
//! health gates are polled on what the sites hold until they pass or `gate_timeout` ends,
//! the stage soaks after its last batch, and the next batch opens. A site whose change
//! failed, or whose gates did not pass, counts against the failure budget; past it the
//! rollout halts: the instances of sites it had not reached are skipped and their deletes
//! held, so those sites stay exactly as they were. Progress goes to the state journal as it
//! happens, so a killed run leaves it too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fleetform_sdk::{CancellationToken, GateRequest};
use futures::FutureExt;
use futures::future::LocalBoxFuture;
use tokio::sync::watch;

use super::Changes;
use super::progress::{Progress, RolloutEvent};
use super::record::{Recorder, now_rfc3339};
use crate::addrs::{AbsResourceInstance, ModuleInstance, ResourceMode};
use crate::plan::Action;
use crate::plan::rollout::{RolloutPlan, humanize, site_of};
use crate::providers::Providers;
use crate::state::{JournalEntry, RolloutProgress, RolloutStatus};

/// How often gates are read again while they do not pass.
const GATE_POLL: Duration = Duration::from_secs(2);

/// Where a site is in its rollout.
#[derive(Debug, Clone, Copy)]
struct Place {
    rollout: usize,
    stage: usize,
    batch: usize,
}

#[derive(Debug, Default)]
struct SiteRun {
    /// Forward changes (creates, updates, replacements) not finished yet.
    remaining: usize,
    /// It was let in (counts against `max_parallel` until it is done).
    started: bool,
    /// One of its changes failed or was skipped.
    failed: Option<String>,
    /// One of its changes was deferred: the site could not be reached.
    deferred: Option<String>,
}

/// How one forward change of a site ended.
pub enum Finished<'a> {
    /// It was made.
    Made,
    /// It failed, or was skipped because something it needs failed.
    Failed(&'a str),
    /// Its object could not be reached: it waits for a later apply.
    Deferred(&'a str),
}

#[derive(Debug)]
enum Phase {
    /// Not started: the driver opens the first batch.
    Waiting,
    /// This batch is open.
    Batch { stage: usize, batch: usize },
    /// Halted: nothing more is let in.
    Halted(String),
    /// Every batch went through.
    Done,
}

struct RolloutRun {
    plan: RolloutPlan,
    phase: Phase,
    progress: RolloutProgress,
    failures: usize,
}

struct Shared {
    runs: Vec<RolloutRun>,
    sites: HashMap<ModuleInstance, SiteRun>,
    /// Nothing runs in the walk while sites of an open batch are unfinished: they never
    /// will (they wait on something held back), so they count as failed.
    stalled: bool,
}

/// The rollouts of one apply.
pub struct Coordinator<'a> {
    places: HashMap<ModuleInstance, Place>,
    shared: Mutex<Shared>,
    changed: watch::Sender<u64>,
    providers: &'a Providers,
    recorder: &'a Recorder,
    progress: &'a dyn Progress,
    cancel: CancellationToken,
    /// Whether progress may be written (a partitioned run holds the root partition).
    record: bool,
}

impl<'a> Coordinator<'a> {
    /// A coordinator for `plans`, or `None` when no rollout has work.
    pub fn new(
        plans: &[RolloutPlan],
        changes: &Changes<'_>,
        providers: &'a Providers,
        recorder: &'a Recorder,
        progress: &'a dyn Progress,
        cancel: CancellationToken,
        record: bool,
    ) -> Option<Coordinator<'a>> {
        let mut places = HashMap::new();
        let mut sites = HashMap::new();
        let mut runs = Vec::new();
        for plan in plans {
            let r = runs.len();
            for (s, stage) in plan.stages.iter().enumerate() {
                for (b, batch) in stage.batches.iter().enumerate() {
                    for site in batch {
                        places.insert(
                            site.site.clone(),
                            Place {
                                rollout: r,
                                stage: s,
                                batch: b,
                            },
                        );
                        sites.insert(site.site.clone(), SiteRun::default());
                    }
                }
            }
            // Skipped sites are held for the whole run.
            for site in &plan.skipped {
                places.insert(
                    site.site.clone(),
                    Place {
                        rollout: r,
                        stage: usize::MAX,
                        batch: 0,
                    },
                );
            }
            let mut progress = match &plan.resumes {
                Some(p) => p.clone(),
                None => RolloutProgress::default(),
            };
            progress.status = RolloutStatus::Running;
            progress.halted = None;
            let has_work = plan.sites().next().is_some();
            runs.push(RolloutRun {
                plan: plan.clone(),
                phase: if has_work {
                    Phase::Waiting
                } else {
                    Phase::Done
                },
                progress,
                failures: 0,
            });
        }
        for change in changes.values() {
            let forward = matches!(
                change.action,
                Action::Create
                    | Action::Update
                    | Action::DeleteThenCreate
                    | Action::CreateThenDelete
            );
            if !forward {
                continue;
            }
            if let Some((site, _)) = site_of(&places, &change.addr.module)
                && let Some(run) = sites.get_mut(site)
            {
                run.remaining += 1;
            }
        }
        // Every site with work, and every skipped one, has a place.
        if places.is_empty() {
            return None;
        }
        let (changed, _) = watch::channel(0);
        Some(Coordinator {
            places,
            shared: Mutex::new(Shared {
                runs,
                sites,
                stalled: false,
            }),
            changed,
            providers,
            recorder,
            progress,
            cancel,
            record,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// The site an instance is in, when it is in a rollout.
    pub fn site(&self, addr: &AbsResourceInstance) -> Option<&ModuleInstance> {
        site_of(&self.places, &addr.module).map(|(site, _)| site)
    }

    /// Whether an instance of `site` may start now: `Some(Ok)` yes, `Some(Err(why))` never
    /// (halted or skipped), `None` not yet.
    fn admit(&self, site: &ModuleInstance) -> Option<Result<(), String>> {
        let place = self.places.get(site)?;
        let mut shared = self.lock();
        let shared = &mut *shared;
        let run = &shared.runs[place.rollout];
        if place.stage == usize::MAX {
            return Some(Err(format!("rollout {:?} skips {site}", run.plan.name)));
        }
        let (stage, batch) = match &run.phase {
            Phase::Halted(why) => return Some(Err(why.clone())),
            Phase::Done => return Some(Ok(())),
            Phase::Waiting => return None,
            Phase::Batch { stage, batch } => (*stage, *batch),
        };
        if (place.stage, place.batch) < (stage, batch) {
            return Some(Ok(()));
        }
        if (place.stage, place.batch) > (stage, batch) {
            return None;
        }
        let limit = run.plan.stages[stage]
            .max_parallel
            .map_or(usize::MAX, |n| n as usize);
        let batch_sites = &run.plan.stages[stage].batches[batch];
        let busy = batch_sites
            .iter()
            .filter(|s| {
                shared
                    .sites
                    .get(&s.site)
                    .is_some_and(|r| r.started && r.remaining > 0)
            })
            .count();
        let me = shared.sites.get_mut(site)?;
        if me.started {
            return Some(Ok(()));
        }
        if busy < limit {
            me.started = true;
            return Some(Ok(()));
        }
        None
    }

    /// A future that resolves when an instance with `change` may start, or `None` when it
    /// may start at once.
    pub fn admission(&self, addr: &AbsResourceInstance) -> Option<LocalBoxFuture<'_, ()>> {
        let site = self.site(addr)?.clone();
        if self.admit(&site).is_some() {
            return None;
        }
        let mut rx = self.changed.subscribe();
        Some(
            async move {
                loop {
                    if self.admit(&site).is_some() {
                        return;
                    }
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            }
            .boxed_local(),
        )
    }

    /// Called by the apply hook before a forward change of `site`: `Err(why)` when the
    /// rollout will not take it (halted, skipped).
    pub fn enter(&self, site: &ModuleInstance) -> Result<(), String> {
        self.admit(site).unwrap_or(Ok(()))
    }

    /// A forward change of `site` finished (`failure`: why it did not succeed).
    pub fn finished(&self, site: &ModuleInstance, outcome: Finished<'_>) {
        {
            let mut shared = self.lock();
            if let Some(run) = shared.sites.get_mut(site) {
                run.remaining = run.remaining.saturating_sub(1);
                match outcome {
                    Finished::Made => {}
                    Finished::Failed(why) => {
                        run.failed.get_or_insert_with(|| why.to_owned());
                    }
                    Finished::Deferred(why) => {
                        run.deferred.get_or_insert_with(|| why.to_owned());
                    }
                }
            }
        }
        self.notify();
    }

    /// The walk has nothing running: sites of the open batch that are not finished never
    /// will be.
    pub fn stalled(&self) {
        self.lock().stalled = true;
        self.notify();
    }

    /// Why a delete of an object in `module` is held back (its site was not reached, or the
    /// rollout halted before it), if it is.
    pub fn holds_delete(&self, module: &ModuleInstance) -> Option<String> {
        let (site, place) = site_of(&self.places, module)?;
        let shared = self.lock();
        let run = &shared.runs[place.rollout];
        if place.stage == usize::MAX {
            return Some(format!("rollout {:?} skips {site}", run.plan.name));
        }
        let reached = |stage: usize, batch: usize| (place.stage, place.batch) <= (stage, batch);
        match &run.phase {
            Phase::Done => None,
            Phase::Batch { stage, batch } if reached(*stage, *batch) => None,
            Phase::Halted(why) if run.progress.done.contains(&site.to_string()) => {
                let _ = why;
                None
            }
            Phase::Halted(why) => Some(why.clone()),
            Phase::Batch { .. } | Phase::Waiting => {
                Some(format!("rollout {:?} did not reach {site}", run.plan.name))
            }
        }
    }

    /// Why the rollouts that halted did, for the apply's diagnostics.
    pub fn halted(&self) -> Vec<(String, String)> {
        self.lock()
            .runs
            .iter()
            .filter_map(|r| match &r.phase {
                Phase::Halted(why) => Some((r.plan.name.clone(), why.clone())),
                _ => None,
            })
            .collect()
    }

    /// Takes every rollout through its batches; runs beside the walk until all are done.
    pub async fn drive(&self) {
        let count = self.lock().runs.len();
        let all = (0..count).map(|r| self.drive_one(r));
        futures::future::join_all(all).await;
        self.notify();
    }

    async fn drive_one(&self, r: usize) {
        let plan = self.lock().runs[r].plan.clone();
        if plan.sites().next().is_none() {
            return;
        }
        let mut rx = self.changed.subscribe();
        for (s, stage) in plan.stages.iter().enumerate() {
            let mut deferred_in_stage = 0;
            for (b, batch) in stage.batches.iter().enumerate() {
                {
                    let mut shared = self.lock();
                    // Only a stall seen while this batch is open counts against it.
                    shared.stalled = false;
                    let run = &mut shared.runs[r];
                    run.phase = Phase::Batch { stage: s, batch: b };
                    run.progress.stage.clone_from(&stage.name);
                    run.progress.batch = b + 1;
                }
                self.save(r);
                self.progress.rollout(&RolloutEvent::Batch {
                    rollout: &plan.name,
                    stage: &stage.name,
                    batch: b + 1,
                    batches: stage.batches.len(),
                    sites: batch.iter().map(|s| s.site.to_string()).collect(),
                });
                self.notify();
                // Wait for the batch's changes.
                loop {
                    let unfinished: Vec<ModuleInstance> = {
                        let shared = self.lock();
                        batch
                            .iter()
                            .filter(|s| shared.sites.get(&s.site).is_some_and(|x| x.remaining > 0))
                            .map(|s| s.site.clone())
                            .collect()
                    };
                    if unfinished.is_empty() {
                        break;
                    }
                    let stalled = std::mem::take(&mut self.lock().stalled);
                    if stalled {
                        let mut shared = self.lock();
                        for site in unfinished {
                            if let Some(x) = shared.sites.get_mut(&site) {
                                x.remaining = 0;
                                x.failed.get_or_insert_with(|| {
                                    "some of its changes could not start".into()
                                });
                            }
                        }
                        break;
                    }
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
                // Gates on the sites whose changes went through.
                // A site that failed counts against the budget; one that could not be
                // reached waits for a later apply and counts for nothing.
                let mut failed: BTreeMap<String, String> = BTreeMap::new();
                let mut passed = Vec::new();
                let mut judged = Vec::new();
                for site in batch {
                    let (failure, deferral) = self
                        .lock()
                        .sites
                        .get(&site.site)
                        .map(|x| (x.failed.clone(), x.deferred.clone()))
                        .unwrap_or_default();
                    match (failure, deferral) {
                        (Some(why), _) => {
                            failed.insert(site.site.to_string(), why);
                            judged.push(site.site.clone());
                        }
                        (None, Some(why)) => {
                            deferred_in_stage += 1;
                            self.progress.rollout(&RolloutEvent::SiteDeferred {
                                rollout: &plan.name,
                                site: &site.site.to_string(),
                                why: &why,
                            });
                        }
                        (None, None) => {
                            passed.push(site.site.clone());
                            judged.push(site.site.clone());
                        }
                    }
                }
                for (site, why) in self.gates(&plan, &passed).await {
                    failed.insert(site.to_string(), why);
                }
                if self.judge(r, &plan, &stage.name, &judged, &failed) {
                    return;
                }
                let with_work: usize = stage.batches.iter().map(Vec::len).sum();
                if b + 1 == stage.batches.len() && deferred_in_stage == with_work {
                    // Nothing of this stage could be reached: what comes after has no
                    // evidence that the change is good, so it waits.
                    let why = format!(
                        "rollout {:?} halted in stage {:?}: none of its sites could be reached, so the stages after it wait",
                        plan.name, stage.name
                    );
                    self.halt(r, &plan, why);
                    return;
                }
                if b + 1 == stage.batches.len()
                    && !stage.soak.is_zero()
                    && s + 1 < plan.stages.len()
                {
                    self.progress.rollout(&RolloutEvent::Soak {
                        rollout: &plan.name,
                        stage: &stage.name,
                        soak: stage.soak,
                    });
                    tokio::select! {
                        _ = tokio::time::sleep(stage.soak) => {}
                        _ = self.cancel.cancelled() => {}
                    }
                    // The stage's sites must still be healthy after the soak.
                    let soaked: Vec<ModuleInstance> = {
                        let shared = self.lock();
                        let done = &shared.runs[r].progress.done;
                        stage
                            .batches
                            .iter()
                            .flatten()
                            .map(|s| s.site.clone())
                            .filter(|s| done.contains(&s.to_string()))
                            .collect()
                    };
                    let failed: BTreeMap<String, String> = self
                        .gates(&plan, &soaked)
                        .await
                        .into_iter()
                        .map(|(site, why)| {
                            (
                                site.to_string(),
                                format!("after soaking {}: {why}", humanize(stage.soak)),
                            )
                        })
                        .collect();
                    if self.judge(r, &plan, &stage.name, &soaked, &failed) {
                        return;
                    }
                }
            }
        }
        {
            let mut shared = self.lock();
            let run = &mut shared.runs[r];
            run.phase = Phase::Done;
            run.progress.status = RolloutStatus::Completed;
        }
        self.save(r);
        self.progress.rollout(&RolloutEvent::Completed {
            rollout: &plan.name,
        });
    }

    /// Halts rollout `r` for `why` and reports it.
    fn halt(&self, r: usize, plan: &RolloutPlan, why: String) {
        {
            let mut shared = self.lock();
            let run = &mut shared.runs[r];
            run.phase = Phase::Halted(why.clone());
            run.progress.status = RolloutStatus::Halted;
            run.progress.halted = Some(why.clone());
        }
        self.save(r);
        self.progress.rollout(&RolloutEvent::Halted {
            rollout: &plan.name,
            why: &why,
        });
        self.notify();
    }

    /// Records how `sites` came out (`failed`: those that did not pass, with why), reports
    /// it, and halts the rollout when its failures exceed the budget. True when it halted.
    fn judge(
        &self,
        r: usize,
        plan: &RolloutPlan,
        stage: &str,
        sites: &[ModuleInstance],
        failed: &BTreeMap<String, String>,
    ) -> bool {
        let halted = {
            let mut shared = self.lock();
            let run = &mut shared.runs[r];
            for site in sites {
                let name = site.to_string();
                match failed.get(&name) {
                    Some(why) => {
                        run.progress.done.remove(&name);
                        run.progress.failed.insert(name, why.clone());
                        run.failures += 1;
                    }
                    None => {
                        run.progress.failed.remove(&name);
                        run.progress.done.insert(name);
                    }
                }
            }
            (run.failures as u64 > plan.failure_budget).then(|| {
                let why = format!(
                    "rollout {:?} halted in stage {stage:?}: {} site(s) failed, more than its failure budget of {}",
                    plan.name, run.failures, plan.failure_budget
                );
                run.phase = Phase::Halted(why.clone());
                run.progress.status = RolloutStatus::Halted;
                run.progress.halted = Some(why.clone());
                why
            })
        };
        for (site, why) in failed {
            self.progress.rollout(&RolloutEvent::SiteFailed {
                rollout: &plan.name,
                site,
                why,
            });
        }
        self.save(r);
        if let Some(why) = &halted {
            self.progress.rollout(&RolloutEvent::Halted {
                rollout: &plan.name,
                why,
            });
            self.notify();
        }
        halted.is_some()
    }

    /// Polls the rollout's gates on `sites` until each site passes or the gate timeout
    /// ends; returns the sites that did not pass, with what was seen.
    async fn gates(
        &self,
        plan: &RolloutPlan,
        sites: &[ModuleInstance],
    ) -> Vec<(ModuleInstance, String)> {
        if plan.health_gates.is_empty() || sites.is_empty() {
            return Vec::new();
        }
        let started = Instant::now();
        let mut pending: Vec<ModuleInstance> = sites.to_vec();
        let mut last: HashMap<ModuleInstance, String> = HashMap::new();
        loop {
            let checks = pending
                .iter()
                .map(|site| async move { (site.clone(), self.site_health(plan, site).await) });
            let results = futures::future::join_all(checks).await;
            pending = results
                .into_iter()
                .filter_map(|(site, outcome)| match outcome {
                    Ok(()) => None,
                    Err(why) => {
                        last.insert(site.clone(), why);
                        Some(site)
                    }
                })
                .collect();
            if pending.is_empty() || self.cancel.is_cancelled() {
                break;
            }
            let left = plan.gate_timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(GATE_POLL.min(left)) => {}
                _ = self.cancel.cancelled() => break,
            }
        }
        pending
            .into_iter()
            .map(|site| {
                let why = last.remove(&site).unwrap_or_default();
                (
                    site,
                    format!(
                        "health gates did not pass within {}: {why}",
                        humanize(plan.gate_timeout)
                    ),
                )
            })
            .collect()
    }

    /// Reads the gates of every object in `site` that reports one of the rollout's gates.
    async fn site_health(&self, plan: &RolloutPlan, site: &ModuleInstance) -> Result<(), String> {
        let objects: Vec<(AbsResourceInstance, fleetform_sdk::Value)> = {
            let state = self.recorder.state();
            state
                .resources
                .iter()
                .filter(|(addr, _)| {
                    addr.resource.resource.mode == ResourceMode::Managed
                        && addr.module.0.starts_with(&site.0)
                })
                .map(|(addr, i)| (addr.clone(), i.value.clone()))
                .collect()
        };
        let mut problems = Vec::new();
        for (addr, value) in objects {
            let ty = &addr.resource.resource.ty;
            let Some((name, _)) = self.providers.resource_type(ResourceMode::Managed, ty) else {
                continue;
            };
            let Some(provider) = self.providers.get(name) else {
                continue;
            };
            let reported = provider.health_gates(ty);
            let gates: Vec<String> = plan
                .health_gates
                .iter()
                .filter(|g| reported.contains(&g.as_str()))
                .cloned()
                .collect();
            if gates.is_empty() {
                continue;
            }
            let request = GateRequest {
                type_name: ty.clone(),
                state: value,
                gates,
                cancel: self.cancel.clone(),
            };
            match provider.check_gates(request).await {
                Ok(statuses) => problems.extend(
                    statuses
                        .into_iter()
                        .filter(|g| !g.passed)
                        .map(|g| format!("{addr}: {} ({})", g.gate, g.detail)),
                ),
                Err(e) => problems.push(format!("{addr}: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Writes rollout `r`'s progress to the state journal.
    fn save(&self, r: usize) {
        if !self.record {
            return;
        }
        let (name, mut progress) = {
            let shared = self.lock();
            let run = &shared.runs[r];
            (run.plan.name.clone(), run.progress.clone())
        };
        progress.updated = now_rfc3339();
        if let Err(e) = self.recorder.record(JournalEntry::Rollout {
            name,
            progress: Some(progress),
        }) {
            tracing::warn!(error = %e, "rollout progress could not be recorded");
        }
    }
}
