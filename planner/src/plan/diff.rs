//! Comparing values: which attributes a change touches, and the engine's proposal of a new
//! object from the configuration and the prior object.

use std::collections::BTreeMap;

use fleetform_sdk::{Block, Nesting, Path, PathStep, Presence, Value};

/// The paths at which `before` and `after` differ, as deep as both are objects or lists of
/// the same length. Sensitive marks are not differences; an unknown is always one.
pub fn changed_paths(before: &Value, after: &Value) -> Vec<Path> {
    let mut out = Vec::new();
    walk(before, after, &mut Vec::new(), &mut out);
    out
}

fn walk(before: &Value, after: &Value, path: &mut Path, out: &mut Vec<Path>) {
    let (b, _) = before.unmark();
    let (a, _) = after.unmark();
    match (b, a) {
        (_, Value::Unknown) => out.push(path.clone()),
        (Value::Object(bm), Value::Object(am)) => {
            let keys: std::collections::BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
            for k in keys {
                path.push(PathStep::Attr(k.clone()));
                walk(
                    bm.get(k).unwrap_or(&Value::Null),
                    am.get(k).unwrap_or(&Value::Null),
                    path,
                    out,
                );
                path.pop();
            }
        }
        (Value::List(bl), Value::List(al)) if bl.len() == al.len() => {
            for (i, (bi, ai)) in bl.iter().zip(al).enumerate() {
                path.push(PathStep::Index(i));
                walk(bi, ai, path, out);
                path.pop();
            }
        }
        (b, a) if values_equal(b, a) => {}
        _ => out.push(path.clone()),
    }
}

/// Equality ignoring sensitive marks, with numbers compared by value (1 == 1.0).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a.unmark().0, b.unmark().0) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.shares(y)
                || x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        (x, y) => x == y,
    }
}

/// The engine's proposed new object: what the configuration sets, and for computed
/// attributes the user left unset, the prior object's value (unknown when creating).
pub fn proposed_new(schema: &Block, prior: Option<&Value>, config: &Value) -> Value {
    let config_map = config.as_object();
    let prior_map = prior.and_then(Value::as_object);
    let mut out = BTreeMap::new();
    for (name, attr) in &schema.attributes {
        let configured = config_map
            .and_then(|m| m.get(name))
            .filter(|v| !v.is_null());
        let value = match (configured, attr.presence) {
            (Some(v), _) => v.clone(),
            (None, Presence::Computed | Presence::OptionalComputed) => prior_map
                .and_then(|m| m.get(name))
                .cloned()
                .unwrap_or(Value::Unknown)
                .mark_if(attr.sensitive),
            (None, _) => Value::Null,
        };
        out.insert(name.clone(), value);
    }
    for (name, nested) in &schema.blocks {
        let c = config_map
            .and_then(|m| m.get(name))
            .cloned()
            .unwrap_or(Value::Null);
        let p = prior_map.and_then(|m| m.get(name));
        let value = match (nested.nesting, c) {
            (Nesting::Single, Value::Object(_)) => {
                let config_obj = config_map
                    .and_then(|m| m.get(name))
                    .cloned()
                    .unwrap_or(Value::Null);
                proposed_new(&nested.block, p, &config_obj)
            }
            (_, other) => other,
        };
        out.insert(name.clone(), value);
    }
    Value::Object(out.into())
}

/// A provider's result with the sensitive marks it owes its inputs: each top-level
/// attribute whose configured (or, for a refresh, recorded) value holds a sensitive value
/// is marked sensitive when the provider returned it without the mark, and so is each
/// attribute the schema declares sensitive. Providers mark what they derive; this keeps a
/// provider that drops a mark from showing a secret.
pub fn carry_marks(schema: &Block, result: Value, sources: &[Option<&Value>]) -> Value {
    let Value::Object(mut attrs) = result else {
        return result;
    };
    // Found first and marked after, so that an object nothing is missing from stays
    // shared with the copies it came from.
    let unmarked: Vec<String> = attrs
        .iter()
        .filter(|(name, value)| {
            if value.is_null() || value.contains_sensitive() {
                return false;
            }
            let declared = schema.attributes.get(*name).is_some_and(|a| a.sensitive);
            declared
                || sources
                    .iter()
                    .flatten()
                    .any(|source| source.get(name).contains_sensitive())
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in unmarked {
        if let Some(value) = attrs.get_mut(&name) {
            *value = std::mem::take(value).into_sensitive();
        }
    }
    Value::Object(attrs)
}

/// Replaces, in `value`, the attribute at `path` with the prior object's (for
/// `ignore_changes`). Missing paths are left alone.
pub fn keep_prior(value: &mut Value, prior: &Value, path: &[PathStep]) {
    let Some((first, rest)) = path.split_first() else {
        *value = prior.clone();
        return;
    };
    let (Some(v), Some(p)) = (step_mut(value, first), step(prior, first)) else {
        return;
    };
    keep_prior(v, p, rest);
}

fn step<'v>(value: &'v Value, s: &PathStep) -> Option<&'v Value> {
    match (value.unmark().0, s) {
        (Value::Object(m), PathStep::Attr(k) | PathStep::Key(k)) => m.get(k),
        (Value::List(l), PathStep::Index(i)) => l.get(*i),
        _ => None,
    }
}

fn step_mut<'v>(value: &'v mut Value, s: &PathStep) -> Option<&'v mut Value> {
    let value = match value {
        Value::Sensitive(inner) => inner.as_mut(),
        other => other,
    };
    match (value, s) {
        (Value::Object(m), PathStep::Attr(k) | PathStep::Key(k)) => m.get_mut(k),
        (Value::List(l), PathStep::Index(i)) => l.get_mut(*i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetform_sdk::{Attribute, Type};

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    #[test]
    fn changed_paths_finds_nested_changes_and_unknowns() {
        let before = obj(&[
            ("a", Value::from(1)),
            ("m", obj(&[("k", Value::from("x"))])),
        ]);
        let after = obj(&[
            ("a", Value::from(1)),
            ("m", obj(&[("k", Value::from("y"))])),
            ("id", Value::Unknown),
        ]);
        let paths = changed_paths(&before, &after);
        assert_eq!(
            paths,
            vec![
                vec![PathStep::Attr("id".into())],
                vec![PathStep::Attr("m".into()), PathStep::Attr("k".into())]
            ]
        );
        assert!(changed_paths(&before, &before.clone()).is_empty());
        let secret = obj(&[
            ("a", Value::from(1).into_sensitive()),
            ("m", obj(&[("k", Value::from("x"))])),
        ]);
        assert!(
            changed_paths(&before, &secret).is_empty(),
            "a sensitive mark alone is not a change"
        );
    }

    #[test]
    fn proposal_keeps_computed_values_from_prior_and_unknown_when_new() {
        let schema = Block::new()
            .attr("input", Attribute::optional(Type::Any))
            .attr("id", Attribute::computed(Type::String))
            .attr("mode", Attribute::optional_computed(Type::String));
        let config = obj(&[
            ("input", Value::from("x")),
            ("id", Value::Null),
            ("mode", Value::Null),
        ]);
        let created = proposed_new(&schema, None, &config);
        assert_eq!(
            created,
            obj(&[
                ("id", Value::Unknown),
                ("input", Value::from("x")),
                ("mode", Value::Unknown)
            ])
        );
        let prior = obj(&[
            ("id", Value::from("abc")),
            ("input", Value::from("old")),
            ("mode", Value::from("0644")),
        ]);
        let updated = proposed_new(&schema, Some(&prior), &config);
        assert_eq!(
            updated,
            obj(&[
                ("id", Value::from("abc")),
                ("input", Value::from("x")),
                ("mode", Value::from("0644"))
            ])
        );
    }
}
