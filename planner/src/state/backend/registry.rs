//! The backend kinds a `fleet { backend "KIND" {} }` block may name. The planner knows only
//! `local`; the CLI registers the others (PostgreSQL, Azure Blob Storage) from their own
//! crates, the way it registers providers, so the engine never links a database or cloud
//! client.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fleetform_sdk::Value;
use indexmap::IndexMap;

use super::Backend;
use super::codec::Codec;
use super::local::LocalBackend;

/// What a backend kind is configured from.
pub struct BackendRequest<'a> {
    /// The block's settings, with `-backend-config` values merged over them.
    pub settings: &'a IndexMap<String, Value>,
    /// The environment (`PG_CONN_STR`, `ARM_ACCESS_KEY`, ...).
    pub env: &'a [(String, String)],
    /// The fleet's root directory.
    pub dir: &'a Path,
    /// How states and journal records are encoded and encrypted.
    pub codec: Codec,
}

impl BackendRequest<'_> {
    /// A string setting, or else the first environment variable of `env_names` that is set.
    pub fn string(
        &self,
        name: &str,
        env_names: &[&str],
    ) -> Result<Option<String>, BackendConfigError> {
        match self.settings.get(name) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Null) | None => Ok(env_names
                .iter()
                .find_map(|n| self.env.iter().find(|(k, v)| k == n && !v.is_empty()))
                .map(|(_, v)| v.clone())),
            Some(other) => Err(BackendConfigError::at(
                name,
                format!("{name} must be a string, not {}", other.kind_name()),
            )),
        }
    }

    /// A boolean setting (`true`/`false`, also as strings, as environment values are), else
    /// the environment's, else `default`.
    pub fn bool(
        &self,
        name: &str,
        env_names: &[&str],
        default: bool,
    ) -> Result<bool, BackendConfigError> {
        let text = match self.settings.get(name) {
            Some(Value::Bool(b)) => return Ok(*b),
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => env_names
                .iter()
                .find_map(|n| self.env.iter().find(|(k, v)| k == n && !v.is_empty()))
                .map(|(_, v)| v.clone()),
            Some(other) => {
                return Err(BackendConfigError::at(
                    name,
                    format!("{name} must be true or false, not {}", other.kind_name()),
                ));
            }
        };
        match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(BackendConfigError::at(
                name,
                format!("{name} must be true or false, not {other:?}"),
            )),
        }
    }

    /// A whole-number setting, else `default`.
    pub fn number(&self, name: &str, default: u64) -> Result<u64, BackendConfigError> {
        match self.settings.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(default)),
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().unwrap_or(default)),
            Some(_) => Err(BackendConfigError::at(
                name,
                format!("{name} must be a whole number"),
            )),
        }
    }
}

/// A setting that cannot be used, or a backend that cannot be reached while configuring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendConfigError {
    /// The setting at fault, when one is.
    pub attribute: Option<String>,
    /// What is wrong (never a secret's value).
    pub message: String,
}

impl BackendConfigError {
    /// An error about the setting `attribute`.
    pub fn at(attribute: &str, message: impl Into<String>) -> BackendConfigError {
        BackendConfigError {
            attribute: Some(attribute.to_owned()),
            message: message.into(),
        }
    }

    /// An error about the backend as a whole.
    pub fn general(message: impl Into<String>) -> BackendConfigError {
        BackendConfigError {
            attribute: None,
            message: message.into(),
        }
    }
}

/// One kind of backend.
pub trait BackendKind: Send + Sync {
    /// The settings it accepts (anything else is refused with the list).
    fn attributes(&self) -> &'static [&'static str];
    /// Settings that hold secrets: never saved under `.fleetform/` from the configuration's
    /// own text and never shown.
    fn secret_attributes(&self) -> &'static [&'static str] {
        &[]
    }
    /// Opens the backend. Checks the settings and may connect.
    fn configure(
        &self,
        request: &BackendRequest<'_>,
    ) -> Result<Box<dyn Backend>, BackendConfigError>;
}

/// The backend kinds known to a run, by name; `local` always.
#[derive(Clone)]
pub struct Backends {
    kinds: BTreeMap<String, Arc<dyn BackendKind>>,
}

impl fmt::Debug for Backends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.kinds.keys()).finish()
    }
}

impl Default for Backends {
    fn default() -> Backends {
        let mut kinds: BTreeMap<String, Arc<dyn BackendKind>> = BTreeMap::new();
        kinds.insert("local".into(), Arc::new(LocalKind));
        Backends { kinds }
    }
}

impl Backends {
    /// `local` only.
    pub fn new() -> Backends {
        Backends::default()
    }

    /// Adds (or replaces) the kind `name`.
    pub fn register(&mut self, name: &str, kind: Arc<dyn BackendKind>) {
        self.kinds.insert(name.to_owned(), kind);
    }

    /// The kind `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn BackendKind>> {
        self.kinds.get(name)
    }

    /// Every kind's name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.kinds.keys().map(String::as_str).collect()
    }
}

/// `backend "local" { path = "..." }`.
struct LocalKind;

impl BackendKind for LocalKind {
    fn attributes(&self) -> &'static [&'static str] {
        &["path"]
    }

    fn configure(
        &self,
        request: &BackendRequest<'_>,
    ) -> Result<Box<dyn Backend>, BackendConfigError> {
        let path = request.string("path", &[])?.map(PathBuf::from);
        Ok(Box::new(
            LocalBackend::new(request.dir, path).with_codec(request.codec.clone()),
        ))
    }
}
