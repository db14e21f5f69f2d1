//! The engine's value: HCL's data model plus the two marks Terraform users rely on,
//! "known after apply" ([`Value::Unknown`]) and "sensitive" ([`Value::Sensitive`]).
//!
//! hcl-rs has neither mark, so a [`Value`] converts to an [`hcl::Value`] only when it is
//! wholly known; sensitivity is carried beside the converted value by the caller.

use std::collections::BTreeMap;
use std::fmt;

pub use crate::number::Number;
pub use object::Object;

mod object;

/// One step of a path into a value: an attribute, a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathStep {
    /// `.name`
    Attr(String),
    /// `["key"]`
    Key(String),
    /// `[0]`
    Index(usize),
}

/// A path into a value, such as `labels["site"]` or `taint[0].key`.
pub type Path = Vec<PathStep>;

/// Prints a path in HCL syntax: `taint[0].key`.
pub fn path_to_string(path: &[PathStep]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            PathStep::Attr(a) if out.is_empty() => out.push_str(a),
            PathStep::Attr(a) => {
                out.push('.');
                out.push_str(a);
            }
            PathStep::Key(k) => out.push_str(&format!("[{k:?}]")),
            PathStep::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A configuration or state value.
///
/// Objects and maps share one variant and keep their keys sorted, which is the order
/// Terraform iterates them in (`keys()`, `for` expressions, plan output). Lists and tuples
/// share [`Value::List`]; sets are [`Value::Set`], kept sorted and free of duplicates
/// (Terraform's order for a set of strings), and have no index.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// The absence of a value.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer or a float.
    Number(Number),
    /// A UTF-8 string.
    String(String),
    /// A list or tuple.
    List(Vec<Value>),
    /// A set: unordered to the language (no index), stored sorted and without duplicates.
    Set(Vec<Value>),
    /// An object or map, keys sorted; copies share it until one of them changes.
    Object(Object),
    /// A value that is known only after apply.
    Unknown,
    /// A value that must never be shown: plans, logs and errors print `(sensitive value)`.
    Sensitive(Box<Value>),
}

impl Value {
    /// Wraps `self` in the sensitive mark unless it already carries it.
    pub fn into_sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            other => Value::Sensitive(Box::new(other)),
        }
    }

    /// Marks `self` sensitive when `sensitive` is true.
    pub fn mark_if(self, sensitive: bool) -> Value {
        if sensitive {
            self.into_sensitive()
        } else {
            self
        }
    }

    /// The value without its outermost sensitive mark, and whether there was one.
    pub fn unmark(&self) -> (&Value, bool) {
        match self {
            Value::Sensitive(inner) => (inner.unmark().0, true),
            other => (other, false),
        }
    }

    /// The value without any sensitive marks anywhere inside it.
    pub fn unmark_deep(&self) -> Value {
        // Most values carry no mark at all: a copy of those shares their objects.
        if !self.contains_sensitive() {
            return self.clone();
        }
        match self {
            Value::Sensitive(inner) => inner.unmark_deep(),
            Value::List(items) => Value::List(items.iter().map(Value::unmark_deep).collect()),
            Value::Set(items) => Value::Set(items.iter().map(Value::unmark_deep).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.unmark_deep()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// True when the value, or anything inside it, is sensitive.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::List(items) | Value::Set(items) => items.iter().any(Value::contains_sensitive),
            Value::Object(map) => map.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    /// The value with every unknown part replaced by null (sensitive marks kept): what
    /// can be recorded of a planned object that never came back from its provider.
    pub fn known_or_null(&self) -> Value {
        match self {
            Value::Unknown => Value::Null,
            Value::Sensitive(inner) => inner.known_or_null().into_sensitive(),
            Value::List(items) => Value::List(items.iter().map(Value::known_or_null).collect()),
            Value::Set(items) => Value::Set(items.iter().map(Value::known_or_null).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.known_or_null()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// True when the value is entirely known: no part of it waits for apply.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Sensitive(inner) => inner.is_wholly_known(),
            Value::List(items) | Value::Set(items) => items.iter().all(Value::is_wholly_known),
            Value::Object(map) => map.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// True when the value itself (not its elements) is unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self.unmark().0, Value::Unknown)
    }

    /// The whole number inside (looking through a sensitive mark), however it is stored:
    /// `2` and `2.0` are the same number to the language.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// The attribute `name` of an object (looking through a sensitive mark); `Null` when
    /// it is absent or `self` is not an object.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.unmark()
            .0
            .as_object()
            .and_then(|attrs| attrs.get(name))
            .unwrap_or(&NULL)
    }

    /// True for `null`, looking through a sensitive mark.
    pub fn is_null(&self) -> bool {
        matches!(self.unmark().0, Value::Null)
    }

    /// The string inside, looking through a sensitive mark.
    pub fn as_str(&self) -> Option<&str> {
        match self.unmark().0 {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean inside, looking through a sensitive mark.
    pub fn as_bool(&self) -> Option<bool> {
        match self.unmark().0 {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number inside, looking through a sensitive mark.
    pub fn as_number(&self) -> Option<&Number> {
        match self.unmark().0 {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The elements of a list, tuple or set (in the set's sorted order), looking through
    /// a sensitive mark.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self.unmark().0 {
            Value::List(items) | Value::Set(items) => Some(items),
            _ => None,
        }
    }

    /// The strings of a list, in order, skipping elements that are not strings; empty when
    /// `self` is not a list.
    pub fn strings(&self) -> Vec<String> {
        self.as_list()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// The attributes of an object, looking through a sensitive mark.
    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self.unmark().0 {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// A short name of the value's kind for messages, in Terraform's words.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "tuple",
            Value::Set(_) => "set",
            Value::Object(_) => "object",
            Value::Unknown => "unknown",
            Value::Sensitive(inner) => inner.kind_name(),
        }
    }

    /// The value's type as messages name it: `list of string`, `object`, `tuple`.
    pub fn type_name(&self) -> String {
        match self {
            Value::List(items) => {
                let first = items.first().map(Value::type_name);
                match first {
                    None => "empty list".into(),
                    Some(t) if items.iter().all(|i| i.type_name() == t) => format!("list of {t}"),
                    Some(_) => "tuple".into(),
                }
            }
            Value::Set(items) => match items.first() {
                None => "empty set".into(),
                Some(first) => format!("set of {}", first.type_name()),
            },
            Value::Sensitive(inner) => inner.type_name(),
            other => other.kind_name().into(),
        }
    }

    /// Converts to an hcl-rs value when wholly known; sensitive marks are dropped, so the
    /// caller must remember [`Value::contains_sensitive`] beforehand.
    pub fn to_hcl(&self) -> Option<hcl::Value> {
        Some(match self {
            Value::Null => hcl::Value::Null,
            Value::Bool(b) => hcl::Value::Bool(*b),
            Value::Number(n) => number_to_hcl(n),
            Value::String(s) => hcl::Value::String(s.clone()),
            Value::List(items) | Value::Set(items) => {
                hcl::Value::Array(items.iter().map(Value::to_hcl).collect::<Option<_>>()?)
            }
            Value::Object(map) => hcl::Value::Object(
                map.iter()
                    .map(|(k, v)| Some((k.clone(), v.to_hcl()?)))
                    .collect::<Option<_>>()?,
            ),
            Value::Unknown => return None,
            Value::Sensitive(inner) => return inner.to_hcl(),
        })
    }

    /// Converts to an hcl-rs value, with unknowns as null and marks dropped: for handing a
    /// whole scope root to hcl-rs after checking that the parts used are known.
    pub fn to_hcl_lossy(&self) -> hcl::Value {
        match self {
            Value::Null | Value::Unknown => hcl::Value::Null,
            Value::Bool(b) => hcl::Value::Bool(*b),
            Value::Number(n) => number_to_hcl(n),
            Value::String(s) => hcl::Value::String(s.clone()),
            Value::List(items) | Value::Set(items) => {
                hcl::Value::Array(items.iter().map(Value::to_hcl_lossy).collect())
            }
            Value::Object(map) => hcl::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.to_hcl_lossy()))
                    .collect(),
            ),
            Value::Sensitive(inner) => inner.to_hcl_lossy(),
        }
    }

    /// Converts to JSON; unknowns become `null` and sensitive marks are dropped, so callers
    /// that print must redact first.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) | Value::Set(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
            Value::Sensitive(inner) => inner.to_json(),
        }
    }

    /// Builds an object from pairs.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

fn number_to_json(n: &Number) -> serde_json::Value {
    if let Some(i) = n.as_i64() {
        serde_json::Value::from(i)
    } else if let Some(u) = n.as_u64() {
        serde_json::Value::from(u)
    } else {
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// The nearest hcl-rs number: exact for `i64` and `u64`, a 64-bit float otherwise.
pub fn number_to_hcl(n: &Number) -> hcl::Value {
    if let Some(i) = n.as_i64() {
        hcl::Value::Number(hcl::Number::from(i))
    } else if let Some(u) = n.as_u64() {
        hcl::Value::Number(hcl::Number::from(u))
    } else {
        n.as_f64()
            .and_then(hcl::Number::from_f64)
            .map_or(hcl::Value::Null, hcl::Value::Number)
    }
}

/// A number from hcl-rs: integers exactly, floats as 64-bit floats (53 bits, as cty's
/// float functions give them).
pub fn number_from_hcl(n: &hcl::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Number(Number::from(i))
    } else if let Some(u) = n.as_u64() {
        Value::Number(Number::from(u))
    } else {
        n.as_f64()
            .and_then(Number::from_f64)
            .map_or(Value::Null, Value::Number)
    }
}

impl From<hcl::Value> for Value {
    fn from(value: hcl::Value) -> Value {
        match value {
            hcl::Value::Null => Value::Null,
            hcl::Value::Bool(b) => Value::Bool(b),
            hcl::Value::Number(n) => number_from_hcl(&n),
            hcl::Value::String(s) => Value::String(s),
            hcl::Value::Array(items) => Value::List(items.into_iter().map(Value::from).collect()),
            hcl::Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<&serde_json::Value> for Value {
    fn from(value: &serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Number::from)
                .or_else(|| n.as_u64().map(Number::from))
                .or_else(|| Number::parse(&n.to_string()))
                .map_or(Value::Null, Value::Number),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => Value::List(items.iter().map(Value::from).collect()),
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Number::from(n))
    }
}

/// Renders a value the way plan output and `output` show it, in HCL syntax, with
/// sensitive parts as `(sensitive value)` and unknown parts as `(known after apply)`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) | Value::Set(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Object(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str("}")
            }
            Value::Unknown => f.write_str("(known after apply)"),
            Value::Sensitive(_) => f.write_str("(sensitive value)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_redacts_sensitive_parts_and_names_unknowns() {
        let v = Value::object([
            ("name", Value::from("north")),
            ("password", Value::from("hunter2").into_sensitive()),
            ("id", Value::Unknown),
        ]);
        let shown = v.to_string();
        assert_eq!(
            shown,
            r#"{id = (known after apply), name = "north", password = (sensitive value)}"#
        );
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn unknown_anywhere_blocks_conversion_to_hcl() {
        let v = Value::List(vec![Value::from(1), Value::Unknown]);
        assert!(!v.is_wholly_known());
        assert!(v.to_hcl().is_none());
        let known = Value::List(vec![Value::from(1), Value::from("a").into_sensitive()]);
        assert!(known.contains_sensitive());
        assert_eq!(
            known.to_hcl(),
            Some(hcl::Value::Array(vec![1.into(), "a".into()]))
        );
    }
}
