//! Type conversion functions (`tostring`, `tonumber`, `tobool`, `tolist`,
//! `toset`, `tomap`) and the conversion helpers every other family uses to
//! read its arguments with Terraform's automatic conversion rules.

use std::cmp::Ordering;

use hcl::eval::FuncArgs;
use hcl::{Number, Value};

/// Terraform's friendly name for the type of a value. HCL literals are tuples
/// and objects, which is also what Terraform reports for them.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "tuple",
        Value::Object(_) => "object",
    }
}

/// The body of Terraform's "Invalid value for "x" parameter" diagnostics.
pub(crate) fn param_err(param: &str, msg: &str) -> String {
    format!("invalid value for \"{param}\" parameter: {msg}")
}

fn not_null<'a>(v: &'a Value, param: &str) -> Result<&'a Value, String> {
    match v {
        Value::Null => Err(param_err(param, "argument must not be null")),
        other => Ok(other),
    }
}

/// Renders a number the way cty converts numbers to strings: integers
/// without a fraction, other values in shortest form without an exponent.
pub(crate) fn num_to_string(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        format!("{}", n.as_f64().unwrap_or(0.0))
    }
}

/// Builds a number result; Terraform can hold infinities and NaN but
/// `hcl::Number` cannot, so those become an error instead of a panic.
pub(crate) fn make_number(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("the result ({f}) is not a finite number"))
}

/// Parses a decimal number the way cty does for string-to-number
/// conversion, keeping integers exact.
pub(crate) fn parse_number(s: &str) -> Option<Number> {
    let valid = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
        && s.chars().any(|c| c.is_ascii_digit());
    if !valid {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = s.parse::<u64>() {
        return Some(Number::from(u));
    }
    s.parse::<f64>().ok().and_then(Number::from_f64)
}

/// cty's conversion of a primitive to string; `Ok(None)` for null.
pub(crate) fn to_str(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(num_to_string(n))),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err("string required".to_string()),
    }
}

/// cty's conversion to number; the messages are the ones `format` and the
/// parameter checks show.
pub(crate) fn to_num(v: &Value) -> Result<Option<Number>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(Some(*n)),
        Value::String(s) => parse_number(s)
            .map(Some)
            .ok_or_else(|| "a number is required".to_string()),
        _ => Err("number required".to_string()),
    }
}

pub(crate) fn to_bool(v: &Value) -> Result<Option<bool>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s == "true" => Ok(Some(true)),
        Value::String(s) if s == "false" => Ok(Some(false)),
        Value::String(_) => Err("a bool is required".to_string()),
        _ => Err("bool required".to_string()),
    }
}

pub(crate) fn want_str(v: &Value, param: &str) -> Result<String, String> {
    to_str(not_null(v, param)?)
        .map(Option::unwrap_or_default)
        .map_err(|e| param_err(param, &e))
}

pub(crate) fn want_num(v: &Value, param: &str) -> Result<Number, String> {
    match to_num(not_null(v, param)?) {
        Ok(Some(n)) => Ok(n),
        Ok(None) => Err(param_err(param, "argument must not be null")),
        Err(e) => Err(param_err(param, &e)),
    }
}

pub(crate) fn want_f64(v: &Value, param: &str) -> Result<f64, String> {
    Ok(want_num(v, param)?.as_f64().unwrap_or(0.0))
}

/// A whole number that fits an i64, as gocty requires for Go `int` targets.
pub(crate) fn want_int(v: &Value, param: &str) -> Result<i64, String> {
    let n = want_num(v, param)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let f = n.as_f64().unwrap_or(0.5);
    if f.fract() != 0.0 {
        Err(param_err(param, "value must be a whole number"))
    } else {
        Err(param_err(
            param,
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807",
        ))
    }
}

/// A list, set or tuple argument (all are arrays here).
pub(crate) fn want_seq<'a>(v: &'a Value, param: &str) -> Result<&'a Vec<Value>, String> {
    match not_null(v, param)? {
        Value::Array(items) => Ok(items),
        _ => Err(param_err(param, "list of any single type required")),
    }
}

/// A `list(string)` argument; null elements stay `None` so callers can give
/// their own Terraform message for them.
pub(crate) fn want_str_list(v: &Value, param: &str) -> Result<Vec<Option<String>>, String> {
    let items = match not_null(v, param)? {
        Value::Array(items) => items,
        _ => return Err(param_err(param, "list of string required")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| to_str(item).map_err(|e| param_err(param, &format!("element {i}: {e}"))))
        .collect()
}

/// Total order used for set elements: cty orders strings lexically and
/// numbers numerically; other kinds fall back to their JSON form.
pub(crate) fn value_cmp(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Bool(_) => 0,
            Value::Number(_) => 1,
            Value::String(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (x, y) if rank(x) == rank(y) => x.to_string().cmp(&y.to_string()),
        (x, y) => rank(x).cmp(&rank(y)),
    }
}

/// Finds the single element type cty would unify a collection to. Mixed
/// primitives become strings; anything else mixed cannot be unified.
pub(crate) fn unify(items: &[Value]) -> Option<Vec<Value>> {
    let kinds: Vec<&str> = items
        .iter()
        .filter(|v| !v.is_null())
        .map(type_name)
        .collect();
    let first = match kinds.first() {
        Some(k) => *k,
        None => return Some(items.to_vec()),
    };
    if kinds.iter().all(|k| *k == first) {
        return Some(items.to_vec());
    }
    if kinds.iter().any(|k| matches!(*k, "tuple" | "object")) {
        return None;
    }
    items
        .iter()
        .map(|v| to_str(v).ok().map(|s| s.map_or(Value::Null, Value::String)))
        .collect()
}

/// Turns a list into Terraform's set representation: unified, sorted and
/// without duplicates.
pub(crate) fn make_set(items: &[Value]) -> Option<Vec<Value>> {
    let mut out = unify(items)?;
    out.sort_by(value_cmp);
    out.dedup();
    Some(out)
}

fn conv_err(v: &Value, want: &str) -> String {
    match v {
        Value::String(s) if want == "bool" => format!(
            "cannot convert {} to bool; only the strings \"true\" or \"false\" are allowed",
            quote(s)
        ),
        Value::String(s) if want == "number" => format!(
            "cannot convert {} to number; given string must be a decimal representation of a number",
            quote(s)
        ),
        other => format!("cannot convert {} to {want}", type_name(other)),
    }
}

/// Go's `%q` for strings, which Terraform uses to echo values in errors.
pub(crate) fn quote(s: &str) -> String {
    format!("{s:?}")
}

pub(crate) fn tostring(args: FuncArgs) -> Result<Value, String> {
    match to_str(&args[0]) {
        Ok(s) => Ok(s.map_or(Value::Null, Value::String)),
        Err(_) => Err(conv_err(&args[0], "string")),
    }
}

pub(crate) fn tonumber(args: FuncArgs) -> Result<Value, String> {
    match to_num(&args[0]) {
        Ok(n) => Ok(n.map_or(Value::Null, Value::Number)),
        Err(_) => Err(conv_err(&args[0], "number")),
    }
}

pub(crate) fn tobool(args: FuncArgs) -> Result<Value, String> {
    match to_bool(&args[0]) {
        Ok(b) => Ok(b.map_or(Value::Null, Value::Bool)),
        Err(_) => Err(conv_err(&args[0], "bool")),
    }
}

pub(crate) fn tolist(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => unify(items)
            .map(Value::Array)
            .ok_or_else(|| "cannot convert tuple to list of any single type".to_string()),
        other => Err(conv_err(other, "list of any single type")),
    }
}

pub(crate) fn toset(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => make_set(items)
            .map(Value::Array)
            .ok_or_else(|| "cannot convert tuple to set of any single type".to_string()),
        other => Err(conv_err(other, "set of any single type")),
    }
}

pub(crate) fn tomap(args: FuncArgs) -> Result<Value, String> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Object(map) => {
            let vals: Vec<Value> = map.values().cloned().collect();
            let unified = unify(&vals)
                .ok_or_else(|| "cannot convert object to map of any single type".to_string())?;
            let mut out: Vec<(String, Value)> = map.keys().cloned().zip(unified).collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Value::Object(out.into_iter().collect()))
        }
        other => Err(conv_err(other, "map of any single type")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use hcl::Value;

    fn v(s: &str) -> Value {
        Value::from(s)
    }

    #[test]
    fn tostring_docs() {
        assert_eq!(call("tostring", vec![v("hello")]), Ok(v("hello")));
        assert_eq!(call("tostring", vec![Value::from(1)]), Ok(v("1")));
        assert_eq!(call("tostring", vec![Value::from(true)]), Ok(v("true")));
        assert_eq!(call("tostring", vec![Value::from(1.5)]), Ok(v("1.5")));
        assert_eq!(call("tostring", vec![Value::Null]), Ok(Value::Null));
        assert_eq!(
            call("tostring", vec![Value::from_iter([v("a")])]),
            Err("cannot convert tuple to string".into())
        );
    }

    #[test]
    fn tonumber_docs() {
        assert_eq!(call("tonumber", vec![Value::from(1)]), Ok(Value::from(1)));
        assert_eq!(call("tonumber", vec![v("1")]), Ok(Value::from(1)));
        assert_eq!(call("tonumber", vec![v("2.5")]), Ok(Value::from(2.5)));
        assert_eq!(call("tonumber", vec![v("1e2")]), Ok(Value::from(100)));
        assert_eq!(call("tonumber", vec![Value::Null]), Ok(Value::Null));
        assert_eq!(
            call("tonumber", vec![v("no")]),
            Err("cannot convert \"no\" to number; given string must be a decimal representation of a number".into())
        );
        assert_eq!(
            call("tonumber", vec![Value::from(true)]),
            Err("cannot convert bool to number".into())
        );
    }

    #[test]
    fn tobool_docs() {
        assert_eq!(
            call("tobool", vec![Value::from(true)]),
            Ok(Value::from(true))
        );
        assert_eq!(call("tobool", vec![v("true")]), Ok(Value::from(true)));
        assert_eq!(call("tobool", vec![v("false")]), Ok(Value::from(false)));
        assert_eq!(call("tobool", vec![Value::Null]), Ok(Value::Null));
        assert_eq!(
            call("tobool", vec![v("no")]),
            Err(
                "cannot convert \"no\" to bool; only the strings \"true\" or \"false\" are allowed"
                    .into()
            )
        );
        assert_eq!(
            call("tobool", vec![Value::from(1)]),
            Err("cannot convert number to bool".into())
        );
    }

    #[test]
    fn tolist_docs() {
        let arr = |xs: &[&str]| Value::from_iter(xs.iter().map(|s| v(s)));
        assert_eq!(
            call("tolist", vec![arr(&["a", "b", "c"])]),
            Ok(arr(&["a", "b", "c"]))
        );
        let mixed = Value::Array(vec![v("a"), v("b"), Value::from(3)]);
        assert_eq!(call("tolist", vec![mixed]), Ok(arr(&["a", "b", "3"])));
        let bad = Value::Array(vec![v("a"), Value::Array(vec![])]);
        assert_eq!(
            call("tolist", vec![bad]),
            Err("cannot convert tuple to list of any single type".into())
        );
        assert_eq!(
            call("tolist", vec![v("a")]),
            Err("cannot convert string to list of any single type".into())
        );
    }

    #[test]
    fn toset_docs() {
        let arr = |xs: &[&str]| Value::from_iter(xs.iter().map(|s| v(s)));
        assert_eq!(
            call("toset", vec![arr(&["a", "b", "c"])]),
            Ok(arr(&["a", "b", "c"]))
        );
        assert_eq!(
            call("toset", vec![arr(&["c", "b", "b"])]),
            Ok(arr(&["b", "c"]))
        );
        let mixed = Value::Array(vec![v("a"), v("b"), Value::from(3)]);
        assert_eq!(call("toset", vec![mixed]), Ok(arr(&["3", "a", "b"])));
        assert_eq!(
            call("toset", vec![Value::from(1)]),
            Err("cannot convert number to set of any single type".into())
        );
    }

    #[test]
    fn tomap_docs() {
        let m = Value::from_iter([("a", Value::from("b")), ("c", Value::from("d"))]);
        assert_eq!(call("tomap", vec![m.clone()]), Ok(m));
        let mixed = Value::from_iter([("b", Value::from(1)), ("a", Value::from("foo"))]);
        let want = Value::from_iter([("a", Value::from("foo")), ("b", Value::from("1"))]);
        assert_eq!(call("tomap", vec![mixed]), Ok(want));
        let bad = Value::from_iter([("a", Value::from("foo")), ("b", Value::Array(vec![]))]);
        assert_eq!(
            call("tomap", vec![bad]),
            Err("cannot convert object to map of any single type".into())
        );
        assert_eq!(
            call("tomap", vec![Value::Array(vec![])]),
            Err("cannot convert tuple to map of any single type".into())
        );
    }
}
