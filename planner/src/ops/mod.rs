//! The operations the CLI calls. Each takes plain options and returns plain results with
//! diagnostics; none prints.

use std::path::PathBuf;

use fleetform_sdk::Diagnostics;

use crate::config::{self, Config};
use crate::expand::{self, Options};
use crate::graph::Graph;
use crate::inputs::{self, VarArg};
use crate::providers::Providers;

/// Where the configuration is and what inputs it gets.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The root module directory.
    pub dir: PathBuf,
    /// `-var` and `-var-file` options in command-line order.
    pub vars: Vec<VarArg>,
    /// The environment, for `FLEETFORM_VAR_*`.
    pub env: Vec<(String, String)>,
    /// The workspace.
    pub workspace: String,
    /// The state backend kinds a `fleet { backend }` block may name.
    pub backends: crate::state::backend::registry::Backends,
}

/// The outcome of loading, expanding and checking a configuration.
pub struct Validated {
    /// The configuration, with the text of every file read.
    pub config: Config,
    /// Every problem found, sorted by place.
    pub diagnostics: Diagnostics,
    /// The instance graph, when the configuration could be expanded.
    pub graph: Option<Graph>,
}

/// Loads, expands and checks the configuration, and builds its instance graph
/// (`fleetform graph`).
///
/// Root variables without a value are taken as unknown, so a configuration can be checked
/// without its secrets, as with `terraform validate`; values that are given are checked
/// against their types and validation rules.
pub fn validate(options: &LoadOptions, providers: &Providers) -> Validated {
    validate_with(options, providers, true)
}

/// [`validate`] without the instance graph: `fleetform validate`. The graph has an edge per
/// pair of dependent instances, which a flat fleet (every cluster referring to hosts by a
/// computed key) makes quadratic, and checking needs none of it.
pub fn check(options: &LoadOptions, providers: &Providers) -> Validated {
    validate_with(options, providers, false)
}

fn validate_with(options: &LoadOptions, providers: &Providers, want_graph: bool) -> Validated {
    let _span = tracing::debug_span!("validate", dir = %options.dir.display()).entered();
    let (mut config, mut diagnostics) = config::load(&options.dir);
    if diagnostics.has_errors() {
        diagnostics.sort_and_dedup();
        return Validated {
            config,
            diagnostics,
            graph: None,
        };
    }
    let (inputs, input_diags) =
        inputs::gather(&mut config, &options.dir, &options.vars, &options.env);
    diagnostics.extend(input_diags);
    let inputs_complete = config.root().is_some_and(|root| {
        root.variables
            .values()
            .all(|v| v.default.is_some() || inputs.contains_key(&v.name))
    });
    let workspace = if options.workspace.is_empty() {
        "default".to_owned()
    } else {
        options.workspace.clone()
    };
    let expansion = expand::expand(
        &config,
        providers,
        &inputs,
        Options {
            workspace,
            inputs_complete,
        },
        &expand::ProviderValidateHook {
            config: &config,
            providers,
        },
        expand::WalkOptions {
            parallelism: 0,
            runtime: None,
            frozen: None,
            omit_unread: false,
        },
        &mut diagnostics,
    );
    let graph = expansion.as_ref().filter(|_| want_graph).map(Graph::build);
    if let Some(exp) = expansion {
        exp.discard();
    }
    diagnostics.sort_and_dedup();
    Validated {
        config,
        diagnostics,
        graph,
    }
}

/// Validates one in-memory file as a root module: for fuzzing and tests. Root variables
/// without defaults are unknown, as in [`validate`].
pub fn validate_source(name: &str, text: &str, providers: &Providers) -> Validated {
    let (config, mut diagnostics) = config::load_source(name, text);
    if diagnostics.has_errors() {
        return Validated {
            config,
            diagnostics,
            graph: None,
        };
    }
    let inputs = Default::default();
    let inputs_complete = config
        .root()
        .is_some_and(|root| root.variables.values().all(|v| v.default.is_some()));
    let options = Options {
        workspace: "default".into(),
        inputs_complete,
    };
    let expansion = expand::expand(
        &config,
        providers,
        &inputs,
        options,
        &expand::ProviderValidateHook {
            config: &config,
            providers,
        },
        expand::WalkOptions {
            parallelism: 0,
            runtime: None,
            frozen: None,
            omit_unread: false,
        },
        &mut diagnostics,
    );
    let graph = expansion.as_ref().map(Graph::build);
    if let Some(exp) = expansion {
        exp.discard();
    }
    diagnostics.sort_and_dedup();
    Validated {
        config,
        diagnostics,
        graph,
    }
}

pub mod backend;
mod console;
pub mod init;
mod last_apply;
mod partitioned;
mod prepare;
mod run;
pub mod status;

pub use console::Console;
pub use partitioned::PartitionInfo;
pub use prepare::{Prepared, prepare};
pub use run::{Control, RunOptions, Session, open, open_selecting};
