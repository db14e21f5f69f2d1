//! Functions that need what hcl-rs values cannot carry: cty's exact numbers and type
//! unification. They take the evaluator's own values (known, without marks) and are
//! called before the hcl-rs table; each error is Terraform's summary and detail.

use fleetform_sdk::number::Number;
use fleetform_sdk::types::make_set;
use fleetform_sdk::{Type, Value};

use crate::lang::unify::{element_type, friendly, type_of, unify};

/// A failed call, in Terraform's words.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub summary: &'static str,
    pub detail: String,
}

/// An argument Terraform refuses: "Invalid function argument".
pub(super) fn invalid(param: &str, why: impl std::fmt::Display) -> CallError {
    CallError {
        summary: "Invalid function argument",
        detail: format!("Invalid value for \"{param}\" parameter: {why}."),
    }
}

/// A call that failed for another reason: "Error in function call".
pub(super) fn failed(name: &str, why: impl std::fmt::Display) -> CallError {
    CallError {
        summary: "Error in function call",
        detail: format!("Call to function \"{name}\" failed: {why}."),
    }
}

type Typed = fn(&[Value]) -> Result<Value, CallError>;

/// Parameter names and whether the last one repeats, for arity messages.
pub struct Signature {
    pub params: &'static [&'static str],
    pub variadic: bool,
}

const fn sig(params: &'static [&'static str], variadic: bool) -> Signature {
    Signature { params, variadic }
}

use super::added;

static TABLE: &[(&str, Typed, Signature)] = &[
    ("abs", abs, sig(&["num"], false)),
    ("base64sha512", added::base64sha512, sig(&["str"], false)),
    ("csvdecode", added::csvdecode, sig(&["str"], false)),
    (
        "ephemeralasnull",
        added::ephemeralasnull,
        sig(&["value"], false),
    ),
    (
        "matchkeys",
        added::matchkeys,
        sig(&["values", "keys", "searchset"], false),
    ),
    ("parseint", added::parseint, sig(&["number", "base"], false)),
    ("pathexpand", added::pathexpand, sig(&["path"], false)),
    ("setproduct", added::setproduct, sig(&["sets"], true)),
    (
        "textdecodebase64",
        added::textdecodebase64,
        sig(&["source", "encoding"], false),
    ),
    (
        "textencodebase64",
        added::textencodebase64,
        sig(&["string", "encoding"], false),
    ),
    (
        "timecmp",
        added::timecmp,
        sig(&["timestamp_a", "timestamp_b"], false),
    ),
    ("transpose", added::transpose, sig(&["values"], false)),
    (
        "fileset",
        super::files::fileset,
        sig(&["path", "pattern"], false),
    ),
    ("flatten", added::flatten, sig(&["list"], false)),
    ("keys", added::keys, sig(&["inputMap"], false)),
    ("length", added::length, sig(&["value"], false)),
    ("ceil", ceil, sig(&["num"], false)),
    ("element", added::element, sig(&["list", "index"], false)),
    ("floor", floor, sig(&["num"], false)),
    ("jsonencode", added::jsonencode, sig(&["val"], false)),
    ("log", added::log, sig(&["num", "base"], false)),
    ("max", max, sig(&["numbers"], true)),
    ("min", min, sig(&["numbers"], true)),
    ("signum", signum, sig(&["num"], false)),
    ("strcontains", strcontains, sig(&["str", "substr"], false)),
    ("sum", sum, sig(&["list"], false)),
    ("tolist", tolist, sig(&["v"], false)),
    ("tomap", tomap, sig(&["v"], false)),
    ("tonumber", tonumber, sig(&["v"], false)),
    ("toset", toset, sig(&["v"], false)),
    ("tostring", tostring, sig(&["v"], false)),
];

/// Every name this module implements.
pub fn names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(n, _, _)| *n)
}

/// The function's signature, if this module implements it.
pub fn signature(name: &str) -> Option<&'static Signature> {
    TABLE.iter().find(|(n, _, _)| *n == name).map(|(_, _, s)| s)
}

/// Calls `name` when this module implements it; arity is checked by the caller.
pub fn call(name: &str, args: &[Value]) -> Option<Result<Value, CallError>> {
    let (_, f, _) = TABLE.iter().find(|(n, _, _)| *n == name)?;
    Some(f(args))
}

pub(super) fn number(v: &Value, param: &str) -> Result<Number, CallError> {
    if v.is_null() {
        return Err(invalid(param, "argument must not be null"));
    }
    match Type::Number.convert(v) {
        Ok(Value::Number(n)) => Ok(n),
        _ => Err(invalid(param, "number required")),
    }
}

fn abs(args: &[Value]) -> Result<Value, CallError> {
    Ok(Value::Number(number(&args[0], "num")?.abs()))
}

fn ceil(args: &[Value]) -> Result<Value, CallError> {
    Ok(Value::Number(number(&args[0], "num")?.ceil()))
}

fn floor(args: &[Value]) -> Result<Value, CallError> {
    Ok(Value::Number(number(&args[0], "num")?.floor()))
}

fn signum(args: &[Value]) -> Result<Value, CallError> {
    // cty reads the argument as a Go int64 first.
    let whole = number(&args[0], "num")?.as_i64().ok_or_else(|| {
        failed(
            "signum",
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807",
        )
    })?;
    Ok(Value::from(whole.signum()))
}

fn extreme(args: &[Value], name: &str, want: std::cmp::Ordering) -> Result<Value, CallError> {
    if args.is_empty() {
        return Err(failed(name, "must pass at least one number"));
    }
    let mut best: Option<Number> = None;
    for a in args {
        let n = number(a, "numbers")?;
        if best.as_ref().is_none_or(|b| n.cmp_value(b) == want) {
            best = Some(n);
        }
    }
    Ok(best.map_or(Value::Null, Value::Number))
}

fn max(args: &[Value]) -> Result<Value, CallError> {
    extreme(args, "max", std::cmp::Ordering::Greater)
}

fn min(args: &[Value]) -> Result<Value, CallError> {
    extreme(args, "min", std::cmp::Ordering::Less)
}

fn sum(args: &[Value]) -> Result<Value, CallError> {
    let items = match &args[0] {
        Value::List(items) | Value::Set(items) => items,
        Value::Object(map) if !map.is_empty() => {
            return Err(invalid(
                "list",
                "argument must be list, set, or tuple. Received object",
            ));
        }
        other => {
            return Err(invalid(
                "list",
                format!(
                    "argument must be list, set, or tuple. Received {}",
                    friendly(other)
                ),
            ));
        }
    };
    if items.is_empty() {
        return Err(invalid("list", "cannot sum an empty list"));
    }
    let mut total = Number::from(0);
    for item in items {
        if item.is_null() {
            return Err(failed(
                "sum",
                "argument must be list, set, or tuple of number values",
            ));
        }
        let n = number(item, "list")?;
        total = total.add(&n).map_err(|e| failed("sum", e))?;
    }
    Ok(Value::Number(total))
}

fn strcontains(args: &[Value]) -> Result<Value, CallError> {
    let s = string(&args[0], "str")?;
    let sub = string(&args[1], "substr")?;
    Ok(Value::Bool(s.contains(&sub)))
}

pub(super) fn string(v: &Value, param: &str) -> Result<String, CallError> {
    if v.is_null() {
        return Err(invalid(param, "argument must not be null"));
    }
    match Type::String.convert(v) {
        Ok(Value::String(s)) => Ok(s),
        _ => Err(invalid(param, "string required")),
    }
}

fn tonumber(args: &[Value]) -> Result<Value, CallError> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Number(_) => Ok(args[0].clone()),
        Value::String(s) => Number::parse(s)
            .map(Value::Number)
            .ok_or_else(|| invalid("v", format!("cannot convert {s:?} to number"))),
        other => Err(invalid(
            "v",
            format!("cannot convert {} to number", friendly(other)),
        )),
    }
}

fn tostring(args: &[Value]) -> Result<Value, CallError> {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::String(_) => Ok(args[0].clone()),
        Value::Number(n) => Ok(Value::String(n.to_string())),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        other => Err(invalid(
            "v",
            format!("cannot convert {} to string", friendly(other)),
        )),
    }
}

/// The elements of a list-like argument converted to their one common type.
fn unified_elements(v: &Value, to: &str) -> Result<Vec<Value>, CallError> {
    let (Value::List(items) | Value::Set(items)) = v else {
        return Err(invalid(
            "v",
            format!("cannot convert {} to {to} of any single type", friendly(v)),
        ));
    };
    let elem = element_type(items).ok_or_else(|| {
        invalid(
            "v",
            format!("cannot convert tuple to {to} of any single type"),
        )
    })?;
    items
        .iter()
        .map(|i| elem.convert(i))
        .collect::<Result<_, _>>()
        .map_err(|e| invalid("v", e))
}

fn tolist(args: &[Value]) -> Result<Value, CallError> {
    if args[0].is_null() {
        return Ok(Value::Null);
    }
    Ok(Value::List(unified_elements(&args[0], "list")?))
}

fn toset(args: &[Value]) -> Result<Value, CallError> {
    if args[0].is_null() {
        return Ok(Value::Null);
    }
    let mut items = unified_elements(&args[0], "set")?;
    make_set(&mut items);
    Ok(Value::Set(items))
}

fn tomap(args: &[Value]) -> Result<Value, CallError> {
    let map = match &args[0] {
        Value::Null => return Ok(Value::Null),
        Value::Object(map) => map,
        other => {
            return Err(invalid(
                "v",
                format!(
                    "cannot convert {} to map of any single type",
                    friendly(other)
                ),
            ));
        }
    };
    let elem = map
        .values()
        .try_fold(Type::Any, |acc, v| match type_of(v) {
            None => Some(acc),
            Some(t) => unify(&acc, &t),
        })
        .ok_or_else(|| invalid("v", "cannot convert object to map of any single type"))?;
    let out = map
        .iter()
        .map(|(k, v)| Ok((k.clone(), elem.convert(v).map_err(|e| invalid("v", e))?)))
        .collect::<Result<_, CallError>>()?;
    Ok(Value::Object(out))
}
