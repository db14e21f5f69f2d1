//! The second half of `fleetform init` (after the backend, [`super::init`]): each
//! resource instance's provider prepares what its plans will read locally
//! (`Provider::init_resource`), e.g. the add-on sources it fetches and verifies.
//! Instances are evaluated as `validate` evaluates them (values of other resources are
//! unknown), so what depends only on inputs is known here.

use std::sync::Mutex;
use std::time::Duration;

use fleetform_sdk::{CancellationToken, Diagnostic, Diagnostics, InitRequest};
use futures::FutureExt;
use futures::future::LocalBoxFuture;

use super::LoadOptions;
use crate::addrs::ResourceMode;
use crate::config::{self, Config};
use crate::expand::hook::{Hook, InstanceRequest, Outcome, ValidateHook, locate};
use crate::expand::{self, Options, WalkOptions};
use crate::inputs;
use crate::plan::configure::ProviderSetup;
use crate::plan::hook::bounded;
use crate::providers::Providers;

/// The longest one provider's preparation may take.
const TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What the providers prepared.
pub struct Prepared {
    /// The configuration, with the text of every file read.
    pub config: Config,
    /// Providers' messages, in the order they came.
    pub messages: Vec<String>,
    pub diagnostics: Diagnostics,
}

struct InitHook<'a> {
    config: &'a Config,
    providers: &'a Providers,
    setup: ProviderSetup<'a>,
    cancel: CancellationToken,
    messages: &'a Mutex<Vec<String>>,
}

impl Hook for InitHook<'_> {
    fn instance<'a>(&'a self, request: InstanceRequest<'a>) -> LocalBoxFuture<'a, Outcome> {
        async move {
            let mut diags = Vec::new();
            let managed = request.addr.resource.resource.mode == ResourceMode::Managed;
            if managed && let Some(provider) = self.providers.get(&request.provider.name) {
                diags.extend(
                    self.setup
                        .ensure(&request.provider, &request.provider_config)
                        .await,
                );
                let call = provider.init_resource(InitRequest {
                    type_name: request.addr.resource.resource.ty.clone(),
                    config: request.config.clone(),
                    cancel: self.cancel.clone(),
                });
                match bounded(TIMEOUT, &self.cancel, async { Ok(call.await) }).await {
                    Ok(response) => {
                        if let Ok(mut messages) = self.messages.lock() {
                            messages.extend(response.messages);
                        }
                        diags.extend(
                            response
                                .diagnostics
                                .into_vec()
                                .into_iter()
                                .map(|d| locate(self.config, &request, d)),
                        );
                    }
                    Err(e) => diags.push(locate(
                        self.config,
                        &request,
                        Diagnostic::error("Initialization failed", format!("{e}.")),
                    )),
                }
            }
            let mut outcome = ValidateHook.instance(request).await;
            outcome.diags.extend(diags);
            outcome
        }
        .boxed_local()
    }
}

/// Loads the configuration and lets each resource's provider prepare for it.
pub fn prepare(
    options: &LoadOptions,
    providers: &Providers,
    runtime: &tokio::runtime::Handle,
    cancel: CancellationToken,
) -> Prepared {
    let (mut config, mut diagnostics) = config::load(&options.dir);
    if diagnostics.has_errors() {
        diagnostics.sort_and_dedup();
        return Prepared {
            config,
            messages: Vec::new(),
            diagnostics,
        };
    }
    let (inputs, input_diags) =
        inputs::gather(&mut config, &options.dir, &options.vars, &options.env);
    diagnostics.extend(input_diags);
    let workspace = if options.workspace.is_empty() {
        "default".to_owned()
    } else {
        options.workspace.clone()
    };
    // As with validate, a root variable without a value is unknown rather than an error:
    // init runs before every input is at hand.
    let inputs_complete = config.root().is_some_and(|root| {
        root.variables
            .values()
            .all(|v| v.default.is_some() || inputs.contains_key(&v.name))
    });
    let messages = Mutex::new(Vec::new());
    let hook = InitHook {
        config: &config,
        providers,
        // Nothing recorded matters to init: providers see no state.
        setup: ProviderSetup::new(providers, Box::new(|_| {}), TIMEOUT, cancel.clone()),
        cancel,
        messages: &messages,
    };
    let expansion = expand::expand(
        &config,
        providers,
        &inputs,
        Options {
            workspace,
            inputs_complete,
        },
        &hook,
        WalkOptions {
            parallelism: 4,
            runtime: Some(runtime),
            frozen: None,
            omit_unread: false,
        },
        &mut diagnostics,
    );
    if let Some(exp) = expansion {
        exp.discard();
    }
    drop(hook);
    let messages = messages.into_inner().unwrap_or_default();
    diagnostics.sort_and_dedup();
    Prepared {
        config,
        messages,
        diagnostics,
    }
}
