//! Bounds on what a configuration may build, so that a hostile or mistaken one (a string
//! doubled forty times, `count = 1000000`, `file("/dev/zero")`) ends in a diagnostic that
//! names the numbers instead of exhausting memory.
//!
//! The bounds are process-wide (the function library's functions are plain `fn`s) and read
//! once from the environment: `FLEETFORM_MAX_STRING_BYTES`, `FLEETFORM_MAX_COLLECTION_LENGTH`,
//! `FLEETFORM_MAX_INSTANCES` and `FLEETFORM_MAX_CONFIG_BYTES`.

use std::sync::OnceLock;

/// The bounds in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest string an expression may produce or `file()` may read, in bytes.
    pub max_string_bytes: usize,
    /// Most elements a list, set, tuple, map or object may have.
    pub max_collection_length: usize,
    /// Most instances one `count` or `for_each` may make.
    pub max_instances: usize,
    /// Most bytes of configuration files (all modules together) a configuration may have:
    /// parsed trees take some forty times their text, so a generated configuration of
    /// tens of megabytes would need gigabytes before any check could run.
    pub max_config_bytes: usize,
}

/// The variables that raise (or lower) each bound.
pub const STRING_VAR: &str = "FLEETFORM_MAX_STRING_BYTES";
/// See [`STRING_VAR`].
pub const COLLECTION_VAR: &str = "FLEETFORM_MAX_COLLECTION_LENGTH";
/// See [`STRING_VAR`].
pub const INSTANCES_VAR: &str = "FLEETFORM_MAX_INSTANCES";
/// See [`STRING_VAR`].
pub const CONFIG_VAR: &str = "FLEETFORM_MAX_CONFIG_BYTES";

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_string_bytes: 16 * 1024 * 1024,
            max_collection_length: 1024 * 1024,
            max_instances: 200_000,
            max_config_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The bounds of this process: the defaults, with each variable that is set to a number
/// taking its place.
pub fn limits() -> Limits {
    static LIMITS: OnceLock<Limits> = OnceLock::new();
    *LIMITS.get_or_init(|| {
        let read = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().replace('_', "").parse().ok())
                .unwrap_or(default)
        };
        let d = Limits::default();
        Limits {
            max_string_bytes: read(STRING_VAR, d.max_string_bytes),
            max_collection_length: read(COLLECTION_VAR, d.max_collection_length),
            max_instances: read(INSTANCES_VAR, d.max_instances),
            max_config_bytes: read(CONFIG_VAR, d.max_config_bytes),
        }
    })
}

/// Why `value` itself (not what is inside it) is beyond the bounds, if it is.
pub fn exceeded(value: &fleetform_sdk::Value) -> Option<String> {
    use fleetform_sdk::Value;
    let l = limits();
    match value {
        Value::String(s) if s.len() > l.max_string_bytes => Some(format!(
            "The result is a string of {} bytes, more than the limit of {} bytes. Set {STRING_VAR} to allow more.",
            s.len(),
            l.max_string_bytes
        )),
        Value::List(items) if items.len() > l.max_collection_length => Some(format!(
            "The result is a collection of {} elements, more than the limit of {}. Set {COLLECTION_VAR} to allow more.",
            items.len(),
            l.max_collection_length
        )),
        Value::Object(map) if map.len() > l.max_collection_length => Some(format!(
            "The result is an object or map of {} elements, more than the limit of {}. Set {COLLECTION_VAR} to allow more.",
            map.len(),
            l.max_collection_length
        )),
        Value::Sensitive(inner) => exceeded(inner),
        _ => None,
    }
}
