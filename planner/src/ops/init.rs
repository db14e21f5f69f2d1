//! `fleetform init`: choose the state backend (the configuration's block, with
//! `-backend-config` values over it), save the choice under `.fleetform/`, and move the
//! states of every workspace from the previous backend when asked (`-migrate-state`),
//! which also rewrites them with the current encryption (plain to encrypted, key rotation).

use std::time::Duration;

use fleetform_sdk::{Diagnostic, Diagnostics, Value};

use super::LoadOptions;
use super::backend::{self, BackendSettings};
use crate::config::{self, Config};
use crate::inputs;
use crate::state::State;
use crate::state::backend::codec::Codec;
use crate::state::backend::{Backend, LockInfo};

/// What `init` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// `-backend-config` values, merged over the block's settings in order.
    pub backend_config: Vec<(String, Value)>,
    /// `-backend=false`: leave the backend alone.
    pub skip_backend: bool,
    /// `-reconfigure`: use the new backend, leaving the old one's states where they are.
    pub reconfigure: bool,
    /// `-migrate-state`: copy every workspace's state to the new backend (or rewrite it in
    /// place with the current encryption when the backend did not change).
    pub migrate_state: bool,
    /// How long to wait for each state lock.
    pub lock_timeout: Duration,
}

/// What `init` did.
pub struct Initialized {
    /// The configuration, for rendering diagnostics.
    pub config: Config,
    /// Problems.
    pub diagnostics: Diagnostics,
    /// What happened, one line each, for the user.
    pub messages: Vec<String>,
    /// The number of local module calls.
    pub modules: usize,
}

/// Runs `init` in `options.dir`.
pub fn init(options: &LoadOptions, init: &InitOptions) -> Initialized {
    let (mut config, mut diagnostics) = config::load(&options.dir);
    let done = |config: Config, diagnostics: Diagnostics, messages: Vec<String>| {
        let modules = config.modules.len().saturating_sub(1);
        Initialized {
            config,
            diagnostics,
            messages,
            modules,
        }
    };
    if diagnostics.has_errors() {
        return done(config, diagnostics, Vec::new());
    }
    let (inputs, input_diags) =
        inputs::gather(&mut config, &options.dir, &options.vars, &options.env);
    diagnostics.extend(input_diags);
    if init.skip_backend || diagnostics.has_errors() {
        return done(config, diagnostics, Vec::new());
    }
    let encryption = match crate::encryption::configure(&config, &inputs, &options.env) {
        Ok(e) => e,
        Err(d) => {
            diagnostics.extend(d);
            return done(config, diagnostics, Vec::new());
        }
    };
    let codec = Codec::new(encryption.state.clone());
    let mut messages = Vec::new();
    match choose(&config, options, init, codec, &mut messages) {
        Ok(()) => {}
        Err(d) => diagnostics.push(*d),
    }
    done(config, diagnostics, messages)
}

fn choose(
    config: &Config,
    options: &LoadOptions,
    init: &InitOptions,
    codec: Codec,
    messages: &mut Vec<String>,
) -> Result<(), Box<Diagnostic>> {
    let dir = &options.dir;
    let open = |settings: &BackendSettings| {
        backend::open_backend(
            config,
            &options.backends,
            settings,
            dir,
            &options.env,
            codec.clone(),
        )
    };
    let wanted = BackendSettings::from_config(config, &init.backend_config);
    let new = open(&wanted)?;
    let previous = backend::saved(dir)
        .map_err(|e| {
            Box::new(Diagnostic::error(
                "Cannot read the saved backend configuration",
                e,
            ))
        })?
        .unwrap_or_else(|| BackendSettings::from_config(&Config::default(), &[]));
    let save = |messages: &mut Vec<String>| {
        backend::save(dir, &wanted).map_err(|e| {
            Box::new(Diagnostic::error(
                "Cannot save the backend configuration",
                e,
            ))
        })?;
        messages.push(format!(
            "Successfully configured the backend {:?}! fleetform will automatically use this backend unless the backend configuration changes.",
            wanted.kind
        ));
        Ok::<(), Box<Diagnostic>>(())
    };
    let same = previous.kind == wanted.kind && previous.settings == wanted.settings;
    let relayout = |messages: &mut Vec<String>| {
        if !init.migrate_state {
            return Ok::<(), Box<Diagnostic>>(());
        }
        let key = crate::state::partition::PartitionKey::of(config);
        let apart = crate::state::partition::PartitionKey::stored_apart(config);
        for ws in workspaces(new.as_ref())? {
            let store = new.store(&ws).map_err(state_error)?;
            if let Some(done) =
                super::partitioned::relayout(store.as_ref(), &key, apart, init.lock_timeout)
                    .map_err(state_error)?
            {
                messages.push(format!("The state of workspace {ws:?} {done}."));
            }
        }
        Ok(())
    };
    if same {
        if init.migrate_state {
            for ws in workspaces(new.as_ref())? {
                if let Some(serial) = rewrite(new.as_ref(), &ws, init.lock_timeout)? {
                    messages.push(format!(
                        "Rewrote the state of workspace {ws:?} with encryption {} (serial {serial}).",
                        codec.encryption().describe()
                    ));
                }
            }
        }
        relayout(messages)?;
        return save(messages);
    }
    if init.reconfigure {
        return save(messages);
    }
    let old = open(&previous)?;
    let mut with_state = Vec::new();
    for ws in workspaces(old.as_ref())? {
        let store = old.store(&ws).map_err(state_error)?;
        if store.read().map_err(state_error)?.is_some() {
            with_state.push(ws);
        }
    }
    if with_state.is_empty() {
        return save(messages);
    }
    if !init.migrate_state {
        return Err(Box::new(
            Diagnostic::error(
                "Backend configuration changed",
                format!(
                    "The backend changed from {:?} to {:?}, and the previous backend holds the state of {} workspace(s) ({}).",
                    previous.kind,
                    wanted.kind,
                    with_state.len(),
                    with_state.join(", ")
                ),
            )
            .help("run `fleetform init -migrate-state` to copy the existing state to the new backend, or `fleetform init -reconfigure` to use the new backend without it"),
        ));
    }
    for ws in with_state {
        let serial = copy(old.as_ref(), new.as_ref(), &ws, init.lock_timeout)?;
        messages.push(format!(
            "Copied the state of workspace {ws:?} from {:?} to {:?} (serial {serial}).",
            previous.kind, wanted.kind
        ));
    }
    relayout(messages)?;
    save(messages)
}

fn state_error(e: crate::state::StateError) -> Box<Diagnostic> {
    Box::new(Diagnostic::error("State migration failed", e.to_string()))
}

fn workspaces(backend: &dyn Backend) -> Result<Vec<String>, Box<Diagnostic>> {
    backend.workspaces().map_err(state_error)
}

/// Rewrites a workspace's state with the current encryption. Written twice, so that the
/// backup the first write keeps (the old, perhaps plain, state) is replaced by a copy in
/// the new form.
fn rewrite(
    backend: &dyn Backend,
    ws: &str,
    timeout: Duration,
) -> Result<Option<u64>, Box<Diagnostic>> {
    let store = backend.store(ws).map_err(state_error)?;
    if let Some(serial) =
        super::partitioned::rewrite_partitions(store.as_ref(), timeout).map_err(state_error)?
    {
        return Ok(Some(serial));
    }
    let _lock = store
        .lock(LockInfo::new("OperationTypeInit"), timeout)
        .map_err(state_error)?;
    let Some(mut state) = store.read().map_err(state_error)? else {
        return Ok(None);
    };
    for _ in 0..2 {
        state.serial += 1;
        store.write(&state).map_err(state_error)?;
    }
    Ok(Some(state.serial))
}

/// Copies a workspace's state (journal replayed) from `old` to `new`, both locked; the copy
/// keeps its lineage, resources and outputs.
fn copy(
    old: &dyn Backend,
    new: &dyn Backend,
    ws: &str,
    timeout: Duration,
) -> Result<u64, Box<Diagnostic>> {
    let source = old.store(ws).map_err(state_error)?;
    let _source_lock = source
        .lock(LockInfo::new("OperationTypeInit"), timeout)
        .map_err(state_error)?;
    let Some(state) = source.read().map_err(state_error)? else {
        return Ok(0);
    };
    let target = new.store(ws).map_err(state_error)?;
    let _target_lock = target
        .lock(LockInfo::new("OperationTypeInit"), timeout)
        .map_err(state_error)?;
    let existing: Option<State> = target.read().map_err(state_error)?;
    let serial = match &existing {
        Some(e) if e.lineage != state.lineage => {
            if e.resources.is_empty()
                && e.outputs.is_empty()
                && ws != crate::state::backend::DEFAULT_WORKSPACE
            {
                // An empty workspace made by `workspace new`: replace it.
                new.delete_workspace(ws).map_err(state_error)?;
                state.serial.max(1)
            } else {
                return Err(Box::new(Diagnostic::error(
                    "State migration failed",
                    format!(
                        "The new backend already holds a different state for workspace {ws:?} (lineage {}, serial {}); delete it there or choose another backend.",
                        e.lineage, e.serial
                    ),
                )));
            }
        }
        Some(e) => state.serial.max(e.serial + 1),
        None => state.serial.max(1),
    };
    let copy = State { serial, ..state };
    target.write(&copy).map_err(state_error)?;
    Ok(serial)
}
