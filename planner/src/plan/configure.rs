//! Provider configurations are configured once per run, before their first operation,
//! whichever instance gets there first; right after its first configuration a provider is
//! shown the objects of its types recorded in state (`Provider::observe`), so that it can
//! use what the run leaves unchanged (a host the files on it connect through) with the
//! settings of its provider block.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetform_sdk::{CancellationToken, ConfigureRequest, Diagnostic, Value};
use tokio::sync::OnceCell;

use super::hook::bounded;
use crate::expand::ProviderConfigAddr;
use crate::providers::Providers;
use crate::state::State;

/// Observes the objects of `state` for a [`ProviderSetup`].
pub fn observe_state<'a>(providers: &'a Providers, state: &'a State) -> Observe<'a> {
    Box::new(move |name| providers.observe(name, state))
}

/// Observes the objects of the state an apply is changing, as it is when the provider is
/// first configured.
pub fn observe_recorded<'a>(
    providers: &'a Providers,
    recorder: &'a crate::apply::record::Recorder,
) -> Observe<'a> {
    Box::new(move |name| providers.observe(name, &recorder.state()))
}

/// Shows the provider of the given name the objects of its types recorded in state.
pub type Observe<'a> = Box<dyn Fn(&str) + Send + Sync + 'a>;

/// Configures provider configurations on first use.
pub struct ProviderSetup<'a> {
    providers: &'a Providers,
    observe: Observe<'a>,
    timeout: Duration,
    cancel: CancellationToken,
    configured: Mutex<HashMap<ProviderConfigAddr, Arc<OnceCell<()>>>>,
    observed: Mutex<HashSet<String>>,
}

impl<'a> ProviderSetup<'a> {
    pub fn new(
        providers: &'a Providers,
        observe: Observe<'a>,
        timeout: Duration,
        cancel: CancellationToken,
    ) -> ProviderSetup<'a> {
        ProviderSetup {
            providers,
            observe,
            timeout,
            cancel,
            configured: Mutex::new(HashMap::new()),
            observed: Mutex::new(HashSet::new()),
        }
    }

    /// Configures `addr` with its evaluated block unless that was done; the caller that
    /// does it gets the diagnostic of a failure, the others go on.
    pub async fn ensure(&self, addr: &ProviderConfigAddr, block: &Value) -> Option<Diagnostic> {
        let cell = {
            let mut configured = self.configured.lock().unwrap_or_else(|p| p.into_inner());
            configured.entry(addr.clone()).or_default().clone()
        };
        let mut failure = None;
        cell.get_or_init(|| async {
            failure = self.configure(addr, block).await;
        })
        .await;
        failure
    }

    async fn configure(&self, addr: &ProviderConfigAddr, block: &Value) -> Option<Diagnostic> {
        let provider = self.providers.get(&addr.name)?;
        let started = std::time::Instant::now();
        let call = provider.configure(ConfigureRequest {
            config: block.clone(),
        });
        let result = bounded(self.timeout, &self.cancel, call).await;
        tracing::debug!(provider = %addr, elapsed = ?started.elapsed(), ok = result.is_ok(), "configured provider");
        let first = self
            .observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(addr.name.clone());
        if first {
            (self.observe)(&addr.name);
        }
        result.err().map(|e| {
            let e = e.redact(&fleetform_sdk::Secrets::of(block));
            Diagnostic::error("Failed to configure provider", format!("{addr}: {e}."))
        })
    }
}
