//! Collection functions over lists, sets (sorted, duplicate-free arrays),
//! tuples, maps and objects: `length`, `concat`, `merge`, `keys`, `values`,
//! `lookup`, `contains`, `flatten`, `distinct`, `zipmap`, `range`,
//! `element`, `slice`, `sort`, the `set*` functions, `coalesce`,
//! `coalescelist`, `one`, `alltrue`, `anytrue`, `compact`, `index`,
//! `reverse`, `chunklist` and `sum`.

use hcl::eval::FuncArgs;
use hcl::{Map, Value};

use super::conversion::{param_err, to_bool, type_name, unify, want_seq, want_str, want_str_list};
use super::strings::graphemes;

mod lists;
mod sets;
use lists::seq_of;
pub(crate) use lists::{
    chunklist, compact, concat, distinct, element, flatten, index, range, reverse, slice, sort, sum,
};
pub(crate) use sets::{setintersection, setsubtract, setunion};

pub(crate) fn length(args: FuncArgs) -> Result<Value, String> {
    let n = match &args[0] {
        Value::String(s) => graphemes(s).len(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        Value::Null => return Err(param_err("value", "argument must not be null")),
        _ => {
            // cty reports this one as the call's failure, not as the argument's.
            return Err(
                "argument must be a string, a collection type, or a structural type".to_string(),
            );
        }
    };
    Ok(Value::from(n))
}

fn bools(args: &FuncArgs) -> Result<Vec<Option<bool>>, String> {
    want_seq(&args[0], "list")?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            to_bool(v).map_err(|_| param_err("list", &format!("element {i}: bool required")))
        })
        .collect()
}

pub(crate) fn alltrue(args: FuncArgs) -> Result<Value, String> {
    // A null element counts as false, as in Terraform.
    Ok(Value::Bool(bools(&args)?.iter().all(|b| *b == Some(true))))
}

pub(crate) fn anytrue(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(bools(&args)?.contains(&Some(true))))
}

pub(crate) fn coalesce(args: FuncArgs) -> Result<Value, String> {
    let vals = unify(&args).ok_or_else(|| "all arguments must have the same type".to_string())?;
    // Empty strings are skipped only when the unified type is string.
    let all_strings = vals
        .iter()
        .all(|v| matches!(v, Value::String(_) | Value::Null));
    vals.into_iter()
        .find(|v| !(v.is_null() || (all_strings && v.as_str() == Some(""))))
        .ok_or_else(|| "no non-null, non-empty-string arguments".to_string())
}

pub(crate) fn coalescelist(args: FuncArgs) -> Result<Value, String> {
    if args.is_empty() {
        return Err("at least one argument is required".to_string());
    }
    for arg in args.iter() {
        match arg {
            Value::Array(items) if !items.is_empty() => return Ok(arg.clone()),
            Value::Array(_) | Value::Null => {}
            _ => return Err("coalescelist arguments must be lists or tuples".to_string()),
        }
    }
    Err("no non-null arguments".to_string())
}

pub(crate) fn contains(args: FuncArgs) -> Result<Value, String> {
    let list = seq_of(&args[0], "argument must be list, tuple, or set")?;
    Ok(Value::Bool(list.contains(&args[1])))
}

fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

pub(crate) fn keys(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Object(map) => Ok(Value::Array(
            sorted_entries(map)
                .into_iter()
                .map(|(k, _)| Value::from(k.as_str()))
                .collect(),
        )),
        _ => Err(param_err("inputMap", "must have map or object type")),
    }
}

pub(crate) fn values(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Object(map) => Ok(Value::Array(
            sorted_entries(map)
                .into_iter()
                .map(|(_, v)| v.clone())
                .collect(),
        )),
        _ => Err("values() requires a map as the first argument".to_string()),
    }
}

pub(crate) fn lookup(args: FuncArgs) -> Result<Value, String> {
    if args.len() > 3 {
        return Err(format!(
            "lookup() takes two or three arguments, got {}",
            args.len()
        ));
    }
    let map = match &args[0] {
        Value::Object(map) => map,
        _ => {
            return Err(param_err(
                "inputMap",
                "lookup() requires a map as the first argument",
            ));
        }
    };
    let key = want_str(&args[1], "key")?;
    match (map.get(&key), args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!("lookup failed to find key {key:?}")),
    }
}

pub(crate) fn merge(args: FuncArgs) -> Result<Value, String> {
    let mut out: Map<String, Value> = Map::new();
    let mut all_null = !args.is_empty();
    for arg in args.iter() {
        match arg {
            Value::Null => {}
            Value::Object(map) => {
                all_null = false;
                for (k, v) in map {
                    out.insert(k.clone(), v.clone());
                }
            }
            other => {
                return Err(format!(
                    "arguments must be maps or objects, got {:?}",
                    type_name(other)
                ));
            }
        }
    }
    if all_null {
        return Ok(Value::Null);
    }
    out.sort_keys();
    Ok(Value::Object(out))
}

pub(crate) fn one(args: FuncArgs) -> Result<Value, String> {
    let err = || {
        param_err(
            "list",
            "must be a list, set, or tuple value with either zero or one elements",
        )
    };
    match want_seq(&args[0], "list").map_err(|_| err())?.as_slice() {
        [] => Ok(Value::Null),
        [only] => Ok(only.clone()),
        _ => Err(err()),
    }
}

pub(crate) fn zipmap(args: FuncArgs) -> Result<Value, String> {
    let keys = want_str_list(&args[0], "keys")?;
    let values = seq_of(&args[1], "values argument must be a list or tuple value")?;
    if keys.len() != values.len() {
        return Err(format!(
            "number of keys ({}) does not match number of values ({})",
            keys.len(),
            values.len()
        ));
    }
    let mut out = Map::new();
    for (i, (k, v)) in keys.into_iter().zip(values).enumerate() {
        let k = k.ok_or_else(|| format!("keys list has null value at index {i}"))?;
        out.insert(k, v.clone());
    }
    out.sort_keys();
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::lang::functions::testing::*;
    use hcl::Value;

    #[test]
    fn length_docs() {
        assert_eq!(ok("length", vec![list(&[])]), 0.into());
        assert_eq!(ok("length", vec![list(&["a", "b"])]), 2.into());
        assert_eq!(ok("length", vec![Value::from_iter([("a", "b")])]), 1.into());
        assert_eq!(ok("length", vec![s("hello")]), 5.into());
        assert_eq!(ok("length", vec![s("👾🕹️")]), 2.into());
        assert_eq!(ok("length", vec![s("🇩🇪🇫🇷e\u{301}")]), 3.into());
        assert_eq!(
            err("length", vec![1.into()]),
            "argument must be a string, a collection type, or a structural type"
        );
    }

    #[test]
    fn concat_merge_docs() {
        assert_eq!(
            ok("concat", vec![list(&["a", ""]), list(&["b", "c"])]),
            list(&["a", "", "b", "c"])
        );
        assert_eq!(
            err("concat", vec![list(&["a"]), s("b")]),
            "all arguments must be lists or tuples; got string"
        );
        assert_eq!(err("concat", vec![]), "at least one argument is required");
        let a = Value::from_iter([("a", "b"), ("c", "d")]);
        let b = Value::from_iter([("e", "f"), ("c", "z")]);
        assert_eq!(
            ok("merge", vec![a, b]),
            Value::from_iter([("a", "b"), ("c", "z"), ("e", "f")])
        );
        let a = Value::from_iter([("a", s("b"))]);
        let b = Value::from_iter([("a", nums(&[1.0, 2.0])), ("c", s("z"))]);
        let c = Value::from_iter([("d", Value::from(3))]);
        assert_eq!(
            ok("merge", vec![a, b, c]),
            Value::from_iter([("a", nums(&[1.0, 2.0])), ("c", s("z")), ("d", 3.into())])
        );
        assert_eq!(
            ok("merge", vec![Value::Null, Value::from_iter([("x", 1)])]),
            Value::from_iter([("x", 1)])
        );
        assert_eq!(ok("merge", vec![Value::Null]), Value::Null);
        assert_eq!(
            err("merge", vec![list(&[])]),
            "arguments must be maps or objects, got \"tuple\""
        );
    }

    #[test]
    fn keys_values_lookup_docs() {
        let m = Value::from_iter([("d", 3), ("a", 1), ("c", 2)]);
        assert_eq!(ok("keys", vec![m.clone()]), list(&["a", "c", "d"]));
        assert_eq!(ok("values", vec![m]), nums(&[1.0, 2.0, 3.0]));
        assert_eq!(
            err("keys", vec![s("x")]),
            "invalid value for \"inputMap\" parameter: must have map or object type"
        );
        assert_eq!(
            err("values", vec![s("x")]),
            "values() requires a map as the first argument"
        );
        let m = Value::from_iter([("a", "ay"), ("b", "bee")]);
        assert_eq!(ok("lookup", vec![m.clone(), s("a"), s("what?")]), s("ay"));
        assert_eq!(
            ok("lookup", vec![m.clone(), s("c"), s("what?")]),
            s("what?")
        );
        assert_eq!(ok("lookup", vec![m.clone(), s("b")]), s("bee"));
        assert_eq!(
            err("lookup", vec![m.clone(), s("c")]),
            "lookup failed to find key \"c\""
        );
        assert_eq!(
            err("lookup", vec![list(&[]), s("c")]),
            "invalid value for \"inputMap\" parameter: lookup() requires a map as the first argument"
        );
        assert_eq!(
            err("lookup", vec![m, s("c"), s("x"), s("y")]),
            "lookup() takes two or three arguments, got 4"
        );
    }

    #[test]
    fn contains_index_element_docs() {
        assert_eq!(
            ok("contains", vec![list(&["a", "b", "c"]), s("a")]),
            true.into()
        );
        assert_eq!(
            ok("contains", vec![list(&["a", "b", "c"]), s("d")]),
            false.into()
        );
        assert_eq!(ok("contains", vec![nums(&[1.0]), s("1")]), false.into());
        assert_eq!(
            err("contains", vec![s("abc"), s("a")]),
            "argument must be list, tuple, or set"
        );
        assert_eq!(ok("index", vec![list(&["a", "b", "c"]), s("b")]), 1.into());
        assert_eq!(err("index", vec![list(&["a"]), s("z")]), "item not found");
        assert_eq!(
            err("index", vec![list(&[]), s("z")]),
            "cannot search an empty list"
        );
        let abc = list(&["a", "b", "c"]);
        assert_eq!(ok("element", vec![abc.clone(), 1.into()]), s("b"));
        assert_eq!(ok("element", vec![abc.clone(), 3.into()]), s("a"));
        assert_eq!(ok("element", vec![abc.clone(), 2.into()]), s("c"));
        assert_eq!(
            err("element", vec![abc, (-1).into()]),
            "cannot use element function with a negative index"
        );
        assert_eq!(
            err("element", vec![list(&[]), 0.into()]),
            "cannot use element function with an empty list"
        );
    }

    #[test]
    fn zipmap_docs() {
        let z = ok("zipmap", vec![list(&["a", "b"]), nums(&[1.0, 2.0])]);
        assert_eq!(z, Value::from_iter([("a", 1), ("b", 2)]));
        assert_eq!(
            err("zipmap", vec![list(&["a", "b"]), nums(&[1.0])]),
            "number of keys (2) does not match number of values (1)"
        );
        assert_eq!(
            err(
                "zipmap",
                vec![Value::Array(vec![Value::Null]), nums(&[1.0])]
            ),
            "keys list has null value at index 0"
        );
    }

    #[test]
    fn coalesce_docs() {
        assert_eq!(ok("coalesce", vec![s("a"), s("b")]), s("a"));
        assert_eq!(ok("coalesce", vec![s(""), s("b")]), s("b"));
        assert_eq!(ok("coalesce", vec![1.into(), 2.into()]), 1.into());
        assert_eq!(
            ok("coalesce", vec![Value::Null, 1.into(), s("hello")]),
            s("1")
        );
        assert_eq!(
            err("coalesce", vec![1.into(), list(&[])]),
            "all arguments must have the same type"
        );
        assert_eq!(
            err("coalesce", vec![Value::Null, s("")]),
            "no non-null, non-empty-string arguments"
        );
        assert_eq!(
            ok("coalescelist", vec![list(&["a", "b"]), list(&["c", "d"])]),
            list(&["a", "b"])
        );
        assert_eq!(
            ok("coalescelist", vec![list(&[]), list(&["c", "d"])]),
            list(&["c", "d"])
        );
        assert_eq!(
            err("coalescelist", vec![list(&[])]),
            "no non-null arguments"
        );
        assert_eq!(
            err("coalescelist", vec![s("a")]),
            "coalescelist arguments must be lists or tuples"
        );
    }

    #[test]
    fn one_alltrue_anytrue_docs() {
        assert_eq!(ok("one", vec![list(&[])]), Value::Null);
        assert_eq!(ok("one", vec![list(&["hello"])]), s("hello"));
        assert_eq!(
            err("one", vec![list(&["hello", "goodbye"])]),
            "invalid value for \"list\" parameter: must be a list, set, or tuple value with either zero or one elements"
        );
        assert_eq!(
            ok("alltrue", vec![Value::Array(vec![s("true"), true.into()])]),
            true.into()
        );
        assert_eq!(
            ok(
                "alltrue",
                vec![Value::Array(vec![true.into(), false.into()])]
            ),
            false.into()
        );
        assert_eq!(ok("alltrue", vec![list(&[])]), true.into());
        assert_eq!(ok("anytrue", vec![list(&["true"])]), true.into());
        assert_eq!(
            ok(
                "anytrue",
                vec![Value::Array(vec![true.into(), false.into()])]
            ),
            true.into()
        );
        assert_eq!(ok("anytrue", vec![list(&[])]), false.into());
        assert_eq!(
            err("alltrue", vec![list(&["x"])]),
            "invalid value for \"list\" parameter: element 0: bool required"
        );
        assert!(call("anytrue", vec![s("x")]).is_err());
    }
}
