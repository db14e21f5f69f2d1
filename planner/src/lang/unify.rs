//! Terraform's type unification (cty's `convert.Unify`): the one type several values can
//! all be converted to, used where a result may come from more than one expression
//! (the two branches of a conditional) or where elements must share a type (`tolist`).

use std::collections::BTreeMap;

use fleetform_sdk::types::ObjectAttribute;
use fleetform_sdk::{Type, Value};

/// The type of a known value as cty would infer it; `None` for null (any type).
pub fn type_of(v: &Value) -> Option<Type> {
    match v.unmark().0 {
        Value::Null | Value::Unknown => None,
        Value::Bool(_) => Some(Type::Bool),
        Value::Number(_) => Some(Type::Number),
        Value::String(_) => Some(Type::String),
        Value::List(items) => Some(Type::Tuple(
            items
                .iter()
                .map(|i| type_of(i).unwrap_or(Type::Any))
                .collect(),
        )),
        Value::Set(items) => Some(Type::set(element_type(items).unwrap_or(Type::Any))),
        Value::Object(map) => Some(Type::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        ObjectAttribute::required(type_of(v).unwrap_or(Type::Any)),
                    )
                })
                .collect(),
        )),
        Value::Sensitive(_) => None,
    }
}

/// The type both `a` and `b` convert to, if there is one.
pub fn unify(a: &Type, b: &Type) -> Option<Type> {
    if a == b {
        return Some(a.clone());
    }
    match (a, b) {
        (Type::Any, t) | (t, Type::Any) => Some(t.clone()),
        (Type::String, Type::Number | Type::Bool) | (Type::Number | Type::Bool, Type::String) => {
            Some(Type::String)
        }
        (Type::Tuple(x), Type::Tuple(y)) if x.len() == y.len() => Some(Type::Tuple(
            x.iter()
                .zip(y)
                .map(|(p, q)| unify(p, q))
                .collect::<Option<_>>()?,
        )),
        (Type::Tuple(x), Type::Tuple(y)) => {
            let elem = x
                .iter()
                .chain(y)
                .try_fold(Type::Any, |acc, t| unify(&acc, t))?;
            Some(Type::list(elem))
        }
        (Type::Object(x), Type::Object(y)) if x.keys().eq(y.keys()) => {
            let attrs: BTreeMap<String, ObjectAttribute> = x
                .iter()
                .zip(y.values())
                .map(|((k, p), q)| {
                    Some((k.clone(), ObjectAttribute::required(unify(&p.ty, &q.ty)?)))
                })
                .collect::<Option<_>>()?;
            Some(Type::Object(attrs))
        }
        (Type::Object(x), Type::Object(y)) => {
            let elem = x
                .values()
                .chain(y.values())
                .try_fold(Type::Any, |acc, t| unify(&acc, &t.ty))?;
            Some(Type::map(elem))
        }
        (Type::List(x), Type::List(y)) => Some(Type::list(unify(x, y)?)),
        (Type::Tuple(items), Type::Set(e) | Type::List(e))
        | (Type::Set(e) | Type::List(e), Type::Tuple(items)) => {
            let elem = items
                .iter()
                .try_fold((**e).clone(), |acc, t| unify(&acc, t))?;
            Some(Type::list(elem))
        }
        (Type::Set(x), Type::Set(y)) => Some(Type::set(unify(x, y)?)),
        (Type::Map(x), Type::Map(y)) => Some(Type::map(unify(x, y)?)),
        _ => None,
    }
}

/// The single element type of a list made of `items` (what `tolist` and `toset` need).
pub fn element_type<'a>(items: impl IntoIterator<Item = &'a Value>) -> Option<Type> {
    items
        .into_iter()
        .try_fold(Type::Any, |acc, v| match type_of(v) {
            None => Some(acc),
            Some(t) => unify(&acc, &t),
        })
}

/// Terraform's short name of a value's type in messages: `number`, `tuple`, `object`.
pub fn friendly(v: &Value) -> String {
    match type_of(v) {
        None => "null".into(),
        Some(Type::Tuple(_)) => "tuple".into(),
        Some(Type::Object(_)) => "object".into(),
        Some(Type::Set(_)) => "set".into(),
        Some(t) => t.friendly_name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_unify_to_string_and_numbers_refuse_bools() {
        assert_eq!(unify(&Type::Number, &Type::String), Some(Type::String));
        assert_eq!(unify(&Type::Number, &Type::Bool), None);
        assert_eq!(
            element_type(&[Value::from(1), Value::from("a")]),
            Some(Type::String)
        );
    }
}
