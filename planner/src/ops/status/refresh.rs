//! Status's refresh: the configuration is expanded with a hook that reads each recorded
//! object through its provider (`Provider::read`, as the plan's refresh does; providers
//! configured on first use by the plan's [`ProviderSetup`]) and hands dependents the value
//! it read. An object that changed is drift when the provider's plan for it, from what was
//! read, would change it back (as a no-change plan would find). Every site's reads run at
//! once, each site bounded by its own deadline from its
//! first read; a read that fails to reach its object, or the deadline, makes the site
//! unreachable and leaves what was not read as recorded. Nothing is written.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fleetform_sdk::{
    CancellationToken, Diagnostics, ErrorKind, PlanRequest, ReadRequest, Secrets, Value,
};
use futures::FutureExt;
use futures::future::LocalBoxFuture;

use super::StatusOptions;
use crate::addrs::{AbsResourceInstance, ResourceMode};
use crate::expand::hook::unknown_computed;
use crate::expand::{self, Hook, InstanceRequest, Outcome};
use crate::ops::Session;
use crate::plan::configure::{ProviderSetup, observe_state};
use crate::plan::diff::{carry_marks, changed_paths, values_equal};
use crate::plan::hook::propose;
use crate::providers::Providers;
use crate::state::State;
use crate::state::partition::PartitionKey;

/// What the refresh found.
pub(super) struct Refreshed {
    /// The objects read, by address.
    pub values: HashMap<AbsResourceInstance, Value>,
    /// Each site that had something to read.
    pub sites: BTreeMap<String, SiteRefresh>,
}

/// How one site's reads went.
#[derive(Debug, Clone)]
pub(super) struct SiteRefresh {
    /// The site's first read.
    pub started: Instant,
    /// Its last answer (or when it was given up).
    pub last: Instant,
    /// Why the site counts as unreachable, if it does.
    pub unreachable: Option<String>,
    /// Objects found different from their recorded values (or gone).
    pub drift: Vec<String>,
    /// Reads that failed for another reason.
    pub errors: Vec<String>,
}

impl SiteRefresh {
    /// A site whose first read starts `now`.
    fn started(now: Instant) -> SiteRefresh {
        SiteRefresh {
            started: now,
            last: now,
            unreachable: None,
            drift: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn outcome(&self) -> super::Refresh {
        let elapsed = self.last.saturating_duration_since(self.started);
        match &self.unreachable {
            Some(reason) => super::Refresh::Unreachable {
                reason: reason.clone(),
                elapsed,
            },
            None => super::Refresh::Done { elapsed },
        }
    }
}

/// Refreshes every site of `session`'s state. `None` when the configuration cannot be
/// expanded; `diags` says why.
pub(super) fn refresh(
    session: &Session,
    providers: &Providers,
    options: &StatusOptions,
    runtime: &tokio::runtime::Handle,
    diags: &mut Diagnostics,
) -> Option<Refreshed> {
    let cancel = CancellationToken::new();
    let hook = StatusHook {
        state: &session.state,
        providers,
        key: &session.key,
        timeout: options.site_timeout,
        cancel: cancel.clone(),
        setup: ProviderSetup::new(
            providers,
            observe_state(providers, &session.state),
            options.site_timeout,
            cancel.clone(),
        ),
        found: Mutex::new(Found::default()),
    };
    let expansion = expand::expand(
        &session.config,
        providers,
        &session.inputs,
        expand::Options {
            workspace: session.workspace.clone(),
            inputs_complete: true,
        },
        &hook,
        // Reads are I/O: every site at once, each bounded by its own deadline.
        expand::WalkOptions {
            parallelism: 0,
            runtime: Some(runtime),
            frozen: None,
            omit_unread: false,
        },
        diags,
    );
    // Reads still running past their deadline (a connection to a cut host) are dropped.
    cancel.cancel();
    let found = hook.found.into_inner().unwrap_or_else(|p| p.into_inner());
    let exp = expansion?;
    exp.discard();
    Some(Refreshed {
        values: found.values,
        sites: found.sites,
    })
}

#[derive(Default)]
struct Found {
    values: HashMap<AbsResourceInstance, Value>,
    sites: BTreeMap<String, SiteRefresh>,
}

struct StatusHook<'a> {
    state: &'a State,
    providers: &'a Providers,
    key: &'a PartitionKey,
    timeout: Duration,
    cancel: CancellationToken,
    setup: ProviderSetup<'a>,
    found: Mutex<Found>,
}

/// What one read came to.
enum Read {
    /// The object now, and whether it drifted: apply would change it back.
    Now(Value, bool),
    Gone,
    Unreachable(String),
    Failed(String),
}

impl Hook for StatusHook<'_> {
    fn instance<'a>(&'a self, request: InstanceRequest<'a>) -> LocalBoxFuture<'a, Outcome> {
        async move {
            let recorded = self.state.resources.get(&request.addr);
            let data = request.addr.resource.resource.mode == ResourceMode::Data;
            let Some(recorded) = recorded.filter(|_| !data) else {
                // Data sources and objects not created yet: what state says, else what the
                // configuration says, for the provider blocks that may refer to them.
                let value = match recorded {
                    Some(r) => r.value.clone(),
                    None => unknown_computed(request.config, &request.schema.block, data),
                };
                return Outcome::value(value);
            };
            let site = self.key.partition_of(&request.addr.module);
            let Some(deadline) = self.deadline(&site) else {
                return Outcome::value(recorded.value.clone());
            };
            let secrets = Secrets::of(&recorded.value);
            let read = self
                .read(&request, &recorded.value, deadline, &secrets)
                .await;
            let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
            // `deadline` made the entry; made again here rather than assumed.
            let entry = found
                .sites
                .entry(site.clone())
                .or_insert_with(|| SiteRefresh::started(Instant::now()));
            entry.last = entry.last.max(Instant::now());
            let addr = request.addr.to_string();
            let value = match read {
                Read::Now(now, drifted) => {
                    if drifted {
                        entry.drift.push(addr);
                    }
                    found.values.insert(request.addr.clone(), now.clone());
                    now
                }
                Read::Gone => {
                    entry.drift.push(addr);
                    recorded.value.clone()
                }
                Read::Unreachable(reason) => {
                    tracing::debug!(address = %request.addr, %reason, "unreachable");
                    entry.unreachable.get_or_insert(reason);
                    recorded.value.clone()
                }
                Read::Failed(message) => {
                    entry.errors.push(format!("{addr}: {message}"));
                    recorded.value.clone()
                }
            };
            Outcome::value(value)
        }
        .boxed_local()
    }
}

impl StatusHook<'_> {
    /// The site's deadline, counted from its first read; `None` once it has passed (the
    /// site is then marked unreachable).
    fn deadline(&self, site: &str) -> Option<tokio::time::Instant> {
        let now = Instant::now();
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        let entry = found
            .sites
            .entry(site.to_owned())
            .or_insert_with(|| SiteRefresh::started(now));
        let deadline = entry.started + self.timeout;
        if now >= deadline {
            entry.last = now;
            entry
                .unreachable
                .get_or_insert_with(|| no_answer(self.timeout));
            return None;
        }
        Some(tokio::time::Instant::from_std(deadline))
    }

    async fn read(
        &self,
        request: &InstanceRequest<'_>,
        current: &Value,
        deadline: tokio::time::Instant,
        secrets: &Secrets,
    ) -> Read {
        let Some(provider) = self.providers.get(&request.provider.name) else {
            return Read::Failed(format!("no provider {:?}", request.provider.name));
        };
        let configured = tokio::time::timeout_at(
            deadline,
            self.setup
                .ensure(&request.provider, &request.provider_config),
        )
        .await;
        match configured {
            Err(_) => return Read::Unreachable(no_answer(self.timeout)),
            Ok(Some(problem)) => return Read::Failed(secrets.redact(&problem.detail)),
            Ok(None) => {}
        }
        let read = provider.read(ReadRequest {
            type_name: request.addr.resource.resource.ty.clone(),
            current: current.clone(),
            cancel: self.cancel.clone(),
        });
        match tokio::time::timeout_at(deadline, read).await {
            Err(_) => Read::Unreachable(no_answer(self.timeout)),
            Ok(Ok(Some(now))) => {
                let now = carry_marks(&request.schema.block, now, &[Some(current)]);
                let drifted = !values_equal(current, &now)
                    && self
                        .reverts(request, provider.as_ref(), &now, deadline)
                        .await;
                Read::Now(now, drifted)
            }
            Ok(Ok(None)) => Read::Gone,
            Ok(Err(e)) => {
                let e = e.redact(secrets);
                if e.kind == ErrorKind::Unreachable {
                    Read::Unreachable(e.message)
                } else {
                    Read::Failed(e.message)
                }
            }
        }
    }
}

impl StatusHook<'_> {
    /// Whether applying the configuration to the object as it now is would change it:
    /// what changed outside fleetform is drift only then. What a provider only observes
    /// (a connectivity status, the nodes Ready) changes without being drift. When the
    /// provider cannot tell, the change counts.
    async fn reverts(
        &self,
        request: &InstanceRequest<'_>,
        provider: &dyn fleetform_sdk::Provider,
        now: &Value,
        deadline: tokio::time::Instant,
    ) -> bool {
        if !request.config.is_wholly_known() {
            return true;
        }
        let plan = provider.plan(PlanRequest {
            type_name: request.addr.resource.resource.ty.clone(),
            prior: Some(now.clone()),
            config: request.config.clone(),
            proposed: propose(request, Some(now)),
            cancel: self.cancel.clone(),
        });
        match tokio::time::timeout_at(deadline, plan).await {
            Ok(Ok(response)) => {
                let planned = carry_marks(
                    &request.schema.block,
                    response.planned,
                    &[Some(&request.config)],
                );
                !changed_paths(now, &planned).is_empty()
            }
            _ => true,
        }
    }
}

fn no_answer(timeout: Duration) -> String {
    if timeout.subsec_millis() == 0 {
        format!("no answer within {}s", timeout.as_secs())
    } else {
        format!("no answer within {}ms", timeout.as_millis())
    }
}
