//! Which backend a run uses: the `fleet { backend }` block, as `fleetform init` last saved
//! it (with its `-backend-config` values) in `.fleetform/backend.json`, the way Terraform
//! keeps `.terraform/terraform.tfstate`. A run refuses a backend block that changed since
//! `init` (the state would silently move), and a remote backend that was never initialized.
//!
//! The saved file is written 0600: values given with `-backend-config` may be secrets, as
//! in Terraform. This file and [`crate::state::format`] are the only places that define
//! what goes on disk under `.fleetform/`.

use std::path::{Path, PathBuf};

use fleetform_sdk::{Diagnostic, Value};
use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::state::backend::Backend;
use crate::state::backend::codec::Codec;
use crate::state::backend::registry::{BackendRequest, Backends};

/// The working directory's files, as Terraform's `.terraform/`.
pub const WORK_DIR: &str = ".fleetform";
const SAVED_FILE: &str = "backend.json";

/// A backend and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendSettings {
    /// `local`, `postgres`, `azurerm`.
    pub kind: String,
    /// Settings (the block's, with `-backend-config` merged over them).
    pub settings: IndexMap<String, Value>,
    /// A hash of the block as written in the configuration, to notice it changed.
    pub config_hash: String,
}

impl BackendSettings {
    /// The settings the configuration's block declares, with `overrides` merged over them.
    pub fn from_config(config: &Config, overrides: &[(String, Value)]) -> BackendSettings {
        let block = config
            .root()
            .and_then(|r| r.fleet.as_ref())
            .and_then(|f| f.backend.as_ref());
        let (kind, mut settings) = match block {
            Some(b) => (b.kind.clone(), b.settings.clone()),
            None => ("local".to_owned(), IndexMap::new()),
        };
        let config_hash = hash(&kind, &settings);
        for (k, v) in overrides {
            settings.insert(k.clone(), v.clone());
        }
        BackendSettings {
            kind,
            settings,
            config_hash,
        }
    }

    /// Whether these are the implicit default: a local backend with nothing set.
    pub fn is_default_local(&self) -> bool {
        self.kind == "local" && self.settings.is_empty()
    }
}

fn hash(kind: &str, settings: &IndexMap<String, Value>) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    for (k, v) in settings {
        h.update([0]);
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.to_json().to_string().as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn saved_path(dir: &Path) -> PathBuf {
    dir.join(WORK_DIR).join(SAVED_FILE)
}

/// What `init` saved, if anything.
pub fn saved(dir: &Path) -> Result<Option<BackendSettings>, String> {
    let path = saved_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let doc: Json = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{} is not valid: {e}; run fleetform init -reconfigure",
            path.display()
        )
    })?;
    let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
    let config_hash = doc["config_hash"].as_str().unwrap_or_default().to_owned();
    let mut settings = IndexMap::new();
    if let Some(obj) = doc["settings"].as_object() {
        for (k, v) in obj {
            settings.insert(k.clone(), from_json(v));
        }
    }
    if kind.is_empty() {
        return Err(format!(
            "{} names no backend; run fleetform init -reconfigure",
            path.display()
        ));
    }
    Ok(Some(BackendSettings {
        kind,
        settings,
        config_hash,
    }))
}

/// Saves `settings` as what `init` chose.
pub fn save(dir: &Path, settings: &BackendSettings) -> Result<(), String> {
    let path = saved_path(dir);
    let work = dir.join(WORK_DIR);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let doc = json!({
        "version": 1,
        "kind": settings.kind,
        "config_hash": settings.config_hash,
        "settings": settings.settings.iter().map(|(k, v)| (k.clone(), v.to_json())).collect::<Map<_, _>>(),
    });
    let mut tmp =
        tempfile::NamedTempFile::new_in(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    use std::io::Write;
    tmp.write_all(&serde_json::to_vec_pretty(&doc).unwrap_or_default())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    tmp.persist(&path)
        .map_err(|e| format!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// The backend a run (other than `init`) uses: what `init` saved, checked against the
/// configuration; a local backend needs no `init`.
pub fn for_run(config: &Config, dir: &Path) -> Result<BackendSettings, Box<Diagnostic>> {
    let wanted = BackendSettings::from_config(config, &[]);
    let at = || {
        config
            .root()
            .and_then(|r| r.fleet.as_ref())
            .and_then(|f| f.backend.as_ref())
            .map(|b| config.range(&b.loc))
    };
    match saved(dir).map_err(|e| Box::new(Diagnostic::error("Cannot read the saved backend configuration", e)))? {
        Some(saved) if saved.kind == wanted.kind && saved.config_hash == wanted.config_hash => Ok(saved),
        Some(saved) => Err(Box::new(
            Diagnostic::error(
                "Backend configuration changed",
                format!("The backend configuration changed since fleetform init last ran (it was {:?}, it is now {:?} with other settings, or the other way round).", saved.kind, wanted.kind),
            )
            .at(at())
            .help("run `fleetform init -migrate-state` to move the existing state to the new backend, or `fleetform init -reconfigure` to use the new backend without moving it"),
        )),
        None if wanted.kind == "local" => Ok(wanted),
        None => Err(Box::new(
            Diagnostic::error(
                "Backend initialization required",
                format!("The {:?} backend has not been initialized in this working directory.", wanted.kind),
            )
            .at(at())
            .help("run `fleetform init` (with -backend-config for settings kept out of the files)"),
        )),
    }
}

/// Opens the backend `settings` describe.
pub fn open_backend(
    config: &Config,
    backends: &Backends,
    settings: &BackendSettings,
    dir: &Path,
    env: &[(String, String)],
    codec: Codec,
) -> Result<Box<dyn Backend>, Box<Diagnostic>> {
    let block = config
        .root()
        .and_then(|r| r.fleet.as_ref())
        .and_then(|f| f.backend.as_ref());
    let block_range = block.map(|b| config.range(&b.loc));
    let Some(kind) = backends.get(&settings.kind) else {
        return Err(Box::new(
            Diagnostic::error(
                "Backend not available",
                format!(
                    "The {:?} state backend is not available in this build of fleetform; it has {}.",
                    settings.kind,
                    backends.names().join(", ")
                ),
            )
            .at(block_range),
        ));
    };
    let range_of = |attribute: &str| {
        block
            .and_then(|b| b.setting_locs.get(attribute))
            .map(|loc| config.range(loc))
            .or(block_range.clone())
    };
    for name in settings.settings.keys() {
        if !kind.attributes().contains(&name.as_str()) {
            return Err(Box::new(
                Diagnostic::error(
                    "Unsupported backend argument",
                    format!(
                        "The {:?} backend has no argument {name:?}; it takes {}.",
                        settings.kind,
                        kind.attributes().join(", ")
                    ),
                )
                .at(range_of(name)),
            ));
        }
    }
    let request = BackendRequest {
        settings: &settings.settings,
        env,
        dir,
        codec,
    };
    kind.configure(&request).map_err(|e| {
        let mut d = Diagnostic::error(
            "Backend configuration error",
            format!("The {:?} backend: {}.", settings.kind, e.message),
        );
        if let Some(a) = &e.attribute {
            d = d.at(range_of(a));
        } else {
            d = d.at(block_range.clone());
        }
        Box::new(d)
    })
}

fn from_json(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_u64()
            .map(|u| Value::Number(u.into()))
            .or_else(|| n.as_i64().map(|i| Value::Number(i.into())))
            .or_else(|| {
                n.as_f64()
                    .and_then(fleetform_sdk::value::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(Value::Null),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect()),
        Json::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}
