//! Managed resource types of the `fleetform` provider, one per file, each holding its
//! schema and its plan, apply, read and import logic.

pub mod fleetform_data;
pub mod local_file;

use fleetform_sdk::Value;

/// The attribute `name` of an object value; `Null` when it is absent or `value` is not an
/// object.
pub(crate) fn get<'a>(value: &'a Value, name: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    value
        .as_object()
        .and_then(|attrs| attrs.get(name))
        .unwrap_or(&NULL)
}
