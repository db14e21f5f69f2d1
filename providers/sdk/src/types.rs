//! Type constraints, as written after `type =` in a variable and declared by provider
//! schemas, and the conversion of values to them with Terraform's rules.

use std::collections::BTreeMap;
use std::fmt;

use crate::value::{Number, Value};

/// A type constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// Any value; the type is taken from the value.
    Any,
    /// A string.
    String,
    /// A number.
    Number,
    /// A boolean.
    Bool,
    /// A list of one element type.
    List(Box<Type>),
    /// A set of one element type; kept sorted and free of duplicates.
    Set(Box<Type>),
    /// A map from strings to one element type.
    Map(Box<Type>),
    /// A fixed-length sequence with a type per position.
    Tuple(Vec<Type>),
    /// An object with named, typed attributes.
    Object(BTreeMap<String, ObjectAttribute>),
}

/// One attribute of an object type.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectAttribute {
    /// The attribute's type.
    pub ty: Type,
    /// Declared with `optional(...)`: may be left out.
    pub optional: bool,
    /// The default of an optional attribute, used when it is left out or null.
    pub default: Option<Value>,
}

impl ObjectAttribute {
    /// A required attribute of type `ty`.
    pub fn required(ty: Type) -> ObjectAttribute {
        ObjectAttribute {
            ty,
            optional: false,
            default: None,
        }
    }
}

/// Why a value does not fit a type, with the path to the offending part.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", path_prefix(.path))]
pub struct ConversionError {
    /// Steps from the top of the value to the part that failed, e.g. `["clinics", "north"]`.
    pub path: Vec<String>,
    /// What was required, in Terraform's words: `string required`, `attribute "name" is required`.
    pub message: String,
}

fn path_prefix(path: &[String]) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{}: ", path.join("."))
    }
}

impl Type {
    /// Shorthand for `list(T)`.
    pub fn list(of: Type) -> Type {
        Type::List(Box::new(of))
    }

    /// Shorthand for `set(T)`.
    pub fn set(of: Type) -> Type {
        Type::Set(Box::new(of))
    }

    /// Shorthand for `map(T)`.
    pub fn map(of: Type) -> Type {
        Type::Map(Box::new(of))
    }

    /// The phrase used in "... required" messages: `list of string`, `object`.
    pub fn friendly_name(&self) -> String {
        match self {
            Type::Any => "any value".into(),
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::List(t) => format!("list of {}", t.friendly_name()),
            Type::Set(t) => format!("set of {}", t.friendly_name()),
            Type::Map(t) => format!("map of {}", t.friendly_name()),
            Type::Tuple(_) => "tuple".into(),
            Type::Object(_) => "object".into(),
        }
    }

    /// Converts `value` to this type, applying optional attribute defaults.
    ///
    /// Unknown values stay unknown and sensitive marks are kept. `null` fits every type; a
    /// caller that forbids it (a non-nullable variable, a required attribute) checks first.
    pub fn convert(&self, value: &Value) -> Result<Value, ConversionError> {
        let mut path = Vec::new();
        self.convert_at(value, &mut path)
    }

    fn convert_at(&self, value: &Value, path: &mut Vec<String>) -> Result<Value, ConversionError> {
        let fail = |path: &Vec<String>, message: String| ConversionError {
            path: path.clone(),
            message,
        };
        let required =
            |path: &Vec<String>| fail(path, format!("{} required", self.friendly_name()));
        match value {
            Value::Sensitive(inner) => return Ok(self.convert_at(inner, path)?.into_sensitive()),
            Value::Unknown | Value::Null => return Ok(value.clone()),
            _ => {}
        }
        match self {
            Type::Any => Ok(value.clone()),
            Type::String => match value {
                Value::String(_) => Ok(value.clone()),
                Value::Number(n) => Ok(Value::String(n.to_string())),
                Value::Bool(b) => Ok(Value::String(b.to_string())),
                _ => Err(required(path)),
            },
            Type::Number => match value {
                Value::Number(_) => Ok(value.clone()),
                Value::String(s) => parse_number(s).map(Value::Number).ok_or_else(|| {
                    fail(
                        path,
                        format!("a number is required, but {s:?} is not a decimal number"),
                    )
                }),
                _ => Err(fail(path, "a number is required".into())),
            },
            Type::Bool => match value {
                Value::Bool(_) => Ok(value.clone()),
                Value::String(s) if s == "true" => Ok(Value::Bool(true)),
                Value::String(s) if s == "false" => Ok(Value::Bool(false)),
                _ => Err(fail(path, "a bool is required".into())),
            },
            Type::List(elem) | Type::Set(elem) => {
                let (Value::List(items) | Value::Set(items)) = value else {
                    return Err(required(path));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(format!("[{i}]"));
                    out.push(elem.convert_at(item, path)?);
                    path.pop();
                }
                if matches!(self, Type::Set(_)) {
                    make_set(&mut out);
                    return Ok(Value::Set(out));
                }
                Ok(Value::List(out))
            }
            Type::Map(elem) => {
                let Value::Object(map) = value else {
                    return Err(required(path));
                };
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    path.push(k.clone());
                    out.insert(k.clone(), elem.convert_at(v, path)?);
                    path.pop();
                }
                Ok(Value::Object(out.into()))
            }
            Type::Tuple(types) => {
                let Value::List(items) = value else {
                    return Err(required(path));
                };
                if items.len() != types.len() {
                    return Err(fail(
                        path,
                        format!("tuple required with {} elements", types.len()),
                    ));
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, (item, ty)) in items.iter().zip(types).enumerate() {
                    path.push(format!("[{i}]"));
                    out.push(ty.convert_at(item, path)?);
                    path.pop();
                }
                Ok(Value::List(out))
            }
            Type::Object(attrs) => {
                let Value::Object(map) = value else {
                    return Err(required(path));
                };
                let mut out = BTreeMap::new();
                for (name, attr) in attrs {
                    let given = map.get(name).filter(|v| !v.is_null());
                    let converted = match (given, &attr.default) {
                        (Some(v), _) => {
                            path.push(name.clone());
                            let c = attr.ty.convert_at(v, path)?;
                            path.pop();
                            c
                        }
                        (None, Some(default)) if attr.optional => {
                            attr.ty.convert_at(default, path)?
                        }
                        (None, _) if attr.optional || map.contains_key(name) => Value::Null,
                        (None, _) => {
                            return Err(fail(path, format!("attribute {name:?} is required")));
                        }
                    };
                    out.insert(name.clone(), converted);
                }
                Ok(Value::Object(out.into()))
            }
        }
    }
}

/// Sorts and removes duplicates, which is how sets are kept.
pub fn make_set(items: &mut Vec<Value>) {
    items.sort_by(compare_for_set);
    items.dedup();
}

fn compare_for_set(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.cmp_value(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn parse_number(s: &str) -> Option<Number> {
    Number::parse(s)
}

/// Prints the constraint in the syntax users write: `list(object({name=string}))`.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (name, attr)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if attr.optional {
                        write!(f, "{name}=optional({})", attr.ty)?;
                    } else {
                        write!(f, "{name}={}", attr.ty)?;
                    }
                }
                f.write_str("})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    #[test]
    fn primitives_convert_like_terraform() {
        assert_eq!(
            Type::String.convert(&Value::from(5)).unwrap(),
            Value::from("5")
        );
        assert_eq!(
            Type::Number.convert(&Value::from("12")).unwrap(),
            Value::from(12)
        );
        assert_eq!(
            Type::Bool.convert(&Value::from("true")).unwrap(),
            Value::Bool(true)
        );
        let err = Type::Number.convert(&Value::from("twelve")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a number is required, but \"twelve\" is not a decimal number"
        );
        let err = Type::String.convert(&Value::List(vec![])).unwrap_err();
        assert_eq!(err.to_string(), "string required");
    }

    #[test]
    fn optional_attributes_take_defaults_and_required_ones_are_named() {
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), ObjectAttribute::required(Type::String));
        attrs.insert(
            "hosts".to_string(),
            ObjectAttribute {
                ty: Type::Number,
                optional: true,
                default: Some(Value::from(1)),
            },
        );
        let ty = Type::map(Type::Object(attrs));
        let given = obj(&[("north", obj(&[("name", Value::from("n"))]))]);
        let out = ty.convert(&given).unwrap();
        assert_eq!(
            out,
            obj(&[(
                "north",
                obj(&[("hosts", Value::from(1)), ("name", Value::from("n"))])
            )])
        );
        let missing = obj(&[("south", obj(&[("hosts", Value::from(2))]))]);
        let err = ty.convert(&missing).unwrap_err();
        assert_eq!(err.to_string(), "south: attribute \"name\" is required");
    }

    #[test]
    fn sets_are_sorted_and_unique_and_marks_survive() {
        let v = Value::List(vec![Value::from("b"), Value::from("a"), Value::from("b")]);
        let out = Type::set(Type::String).convert(&v).unwrap();
        assert_eq!(out, Value::Set(vec![Value::from("a"), Value::from("b")]));
        let secret = Value::from(3).into_sensitive();
        assert_eq!(
            Type::String.convert(&secret).unwrap(),
            Value::from("3").into_sensitive()
        );
        assert_eq!(
            Type::String.convert(&Value::Unknown).unwrap(),
            Value::Unknown
        );
    }

    #[test]
    fn display_round_trips_constraint_syntax() {
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "a".to_string(),
            ObjectAttribute::required(Type::list(Type::String)),
        );
        assert_eq!(Type::Object(attrs).to_string(), "object({a=list(string)})");
    }
}
