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

/// Loads, expands and checks the configuration: `fleetform validate`.
///
/// Root variables without a value are taken as unknown, so a configuration can be checked
/// without its secrets, as with `terraform validate`; values that are given are checked
/// against their types and validation rules.
pub fn validate(options: &LoadOptions, providers: &Providers) -> Validated {
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
        &mut expand::ProviderValidateHook {
            config: &config,
            providers,
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
        &mut expand::ProviderValidateHook {
            config: &config,
            providers,
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

mod run;

pub use run::{Control, RunOptions, Session, open};
