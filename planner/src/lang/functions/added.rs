//! Functions of Terraform's reference that work on the evaluator's own values:
//! `matchkeys`, `setproduct`, `transpose`, `csvdecode`, `textencodebase64`,
//! `textdecodebase64`, `pathexpand`, `timecmp`, `base64sha512`, `parseint` (any size),
//! `ephemeralasnull`, and `flatten`, `keys` and `length` (which hcl-rs also runs inside
//! `templatefile` templates). Signatures and dispatch are in `typed.rs`.

use base64::Engine;
use fleetform_sdk::number::Number;
use fleetform_sdk::types::make_set;
use fleetform_sdk::{Type, Value};
use num_bigint::BigInt;
use sha2::Digest;

use super::typed::{CallError, failed, invalid, number, string};
use crate::lang::unify::friendly;

fn list<'v>(v: &'v Value, param: &str) -> Result<&'v [Value], CallError> {
    match v {
        Value::List(items) | Value::Set(items) => Ok(items),
        other => Err(invalid(
            param,
            format!(
                "list of any single type required, but have {}",
                friendly(other)
            ),
        )),
    }
}

pub(super) fn matchkeys(args: &[Value]) -> Result<Value, CallError> {
    let values = list(&args[0], "values")?;
    let keys = list(&args[1], "keys")?;
    let search = list(&args[2], "searchset")?;
    if values.len() != keys.len() {
        return Err(failed(
            "matchkeys",
            "length of keys and values should be equal",
        ));
    }
    let out = values
        .iter()
        .zip(keys)
        .filter(|(_, k)| search.iter().any(|s| crate::lang::ops::equal(k, s)))
        .map(|(v, _)| v.clone())
        .collect();
    Ok(Value::List(out))
}

pub(super) fn setproduct(args: &[Value]) -> Result<Value, CallError> {
    if args.is_empty() {
        return Err(failed("setproduct", "at least one argument is required"));
    }
    let mut product: Vec<Vec<Value>> = vec![Vec::new()];
    let mut any_set = false;
    for (i, arg) in args.iter().enumerate() {
        any_set |= matches!(arg, Value::Set(_));
        let items = list(arg, &format!("sets[{i}]"))?;
        let mut next = Vec::with_capacity(product.len().saturating_mul(items.len()));
        for prefix in &product {
            for item in items {
                let mut row = prefix.clone();
                row.push(item.clone());
                next.push(row);
            }
        }
        if next.len() > 1_000_000 {
            return Err(failed(
                "setproduct",
                "the product has more than 1,000,000 elements",
            ));
        }
        product = next;
    }
    let mut rows: Vec<Value> = product.into_iter().map(Value::List).collect();
    if any_set {
        make_set(&mut rows);
        return Ok(Value::Set(rows));
    }
    Ok(Value::List(rows))
}

pub(super) fn transpose(args: &[Value]) -> Result<Value, CallError> {
    let Value::Object(map) = &args[0] else {
        return Err(invalid("values", "map of list of string required"));
    };
    let mut out: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for (key, items) in map {
        for item in list(items, "values")? {
            let Ok(Value::String(s)) = Type::String.convert(item) else {
                return Err(invalid("values", "map of list of string required"));
            };
            out.entry(s).or_default().push(Value::from(key.as_str()));
        }
    }
    Ok(Value::Object(
        out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
    ))
}

/// RFC 4180 records: fields separated by commas, quoted fields may hold commas, quotes
/// (doubled) and newlines.
fn csv_records(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, '"') => {
                return Err(format!(
                    "parse error on line {line}, column {}: bare \" in non-quoted-field",
                    field.len() + 1
                ));
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "parse error on line {line}: extraneous or missing \" in quoted-field"
        ));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

pub(super) fn csvdecode(args: &[Value]) -> Result<Value, CallError> {
    let text = string(&args[0], "str")?;
    let records = csv_records(&text).map_err(|e| failed("csvdecode", e))?;
    let mut rows = records.into_iter();
    let Some(header) = rows.next() else {
        return Err(failed("csvdecode", "missing header line"));
    };
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(failed(
            "csvdecode",
            format!("duplicate column name {dup:?}"),
        ));
    }
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        if row.len() != header.len() {
            return Err(failed(
                "csvdecode",
                format!("record on line {}: wrong number of fields", i + 2),
            ));
        }
        out.push(Value::Object(
            header
                .iter()
                .cloned()
                .zip(row.into_iter().map(Value::String))
                .collect(),
        ));
    }
    Ok(Value::List(out))
}

enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Latin1,
}

fn text_encoding(name: &str) -> Result<TextEncoding, CallError> {
    match name.to_ascii_uppercase().replace('_', "-").as_str() {
        "UTF-8" | "UTF8" => Ok(TextEncoding::Utf8),
        "UTF-16LE" => Ok(TextEncoding::Utf16Le),
        "UTF-16BE" | "UTF-16" => Ok(TextEncoding::Utf16Be),
        "ISO-8859-1" | "LATIN1" | "L1" => Ok(TextEncoding::Latin1),
        _ => Err(invalid(
            "encoding",
            format!(
                "{name:?} is not a supported IANA encoding name or alias in this Terraform version"
            ),
        )),
    }
}

pub(super) fn textencodebase64(args: &[Value]) -> Result<Value, CallError> {
    let text = string(&args[0], "string")?;
    let bytes: Vec<u8> = match text_encoding(&string(&args[1], "encoding")?)? {
        TextEncoding::Utf8 => text.into_bytes(),
        TextEncoding::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        TextEncoding::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        TextEncoding::Latin1 => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect(),
    };
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

pub(super) fn textdecodebase64(args: &[Value]) -> Result<Value, CallError> {
    let encoded = string(&args[0], "source")?;
    let encoding = text_encoding(&string(&args[1], "encoding")?)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .map_err(|_| invalid("source", "the given value is has an invalid base64 symbol"))?;
    let units = |le: bool| -> Vec<u16> {
        bytes
            .chunks(2)
            .map(|c| {
                let pair = [c[0], c.get(1).copied().unwrap_or(0)];
                if le {
                    u16::from_le_bytes(pair)
                } else {
                    u16::from_be_bytes(pair)
                }
            })
            .collect()
    };
    let text = match encoding {
        TextEncoding::Utf8 => String::from_utf8_lossy(&bytes).into_owned(),
        TextEncoding::Utf16Le => String::from_utf16_lossy(&units(true)),
        TextEncoding::Utf16Be => String::from_utf16_lossy(&units(false)),
        TextEncoding::Latin1 => bytes.iter().map(|b| char::from(*b)).collect(),
    };
    Ok(Value::String(text))
}

pub(super) fn pathexpand(args: &[Value]) -> Result<Value, CallError> {
    let path = string(&args[0], "path")?;
    let home = std::env::var("HOME").unwrap_or_default();
    let expanded = match path.strip_prefix('~') {
        Some("") => home,
        Some(rest) if rest.starts_with('/') => format!("{home}{rest}"),
        _ => path,
    };
    Ok(Value::String(expanded))
}

pub(super) fn timecmp(args: &[Value]) -> Result<Value, CallError> {
    let a = string(&args[0], "timestamp_a")?;
    let b = string(&args[1], "timestamp_b")?;
    let a = super::time::parse_timestamp(&a).map_err(|e| invalid("timestamp_a", e))?;
    let b = super::time::parse_timestamp(&b).map_err(|e| invalid("timestamp_b", e))?;
    Ok(Value::from(a.cmp(&b) as i64))
}

pub(super) fn base64sha512(args: &[Value]) -> Result<Value, CallError> {
    let s = string(&args[0], "str")?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(s.as_bytes())),
    ))
}

pub(super) fn ephemeralasnull(args: &[Value]) -> Result<Value, CallError> {
    Ok(args[0].clone())
}

/// Go's `big.Int.SetString` digits: up to base 36 letters in either case, beyond it
/// lowercase letters are 10-35 and uppercase 36-61.
fn digit(c: char, base: u32) -> Option<u32> {
    let d = match c {
        '0'..='9' => u32::from(c) - u32::from('0'),
        'a'..='z' => u32::from(c) - u32::from('a') + 10,
        'A'..='Z' if base <= 36 => u32::from(c) - u32::from('A') + 10,
        'A'..='Z' => u32::from(c) - u32::from('A') + 36,
        _ => return None,
    };
    (d < base).then_some(d)
}

pub(super) fn parseint(args: &[Value]) -> Result<Value, CallError> {
    let text = string(&args[0], "number")?;
    let base = match &args[1] {
        Value::Number(n) => n.as_i64(),
        other => Type::Number.convert(other).ok().and_then(|v| v.as_i64()),
    }
    .ok_or_else(|| invalid("base", "a whole number is required"))?;
    if !(2..=62).contains(&base) {
        return Err(invalid(
            "base",
            "base must be a whole number between 2 and 62 inclusive",
        ));
    }
    let base = base as u32;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let refuse = || {
        invalid(
            "number",
            format!("cannot parse {text:?} as a base {base} integer"),
        )
    };
    if digits.is_empty() {
        return Err(refuse());
    }
    let mut n = BigInt::from(0);
    for c in digits.chars() {
        n = n * base + digit(c, base).ok_or_else(refuse)?;
    }
    if negative {
        n = -n;
    }
    Ok(Value::Number(Number::from_bigint(n)))
}

/// `element(list, index)`: the index wraps around the list's length, negative ones
/// counting from the end.
pub(super) fn element(args: &[Value]) -> Result<Value, CallError> {
    let items = list(&args[0], "list")?;
    let index = number(&args[1], "index")?;
    let Some(index) = index.as_i64().filter(|_| index.is_integer()) else {
        return Err(invalid("index", "a whole number is required"));
    };
    if items.is_empty() {
        return Err(failed(
            "element",
            "cannot use element function with an empty list",
        ));
    }
    let len = items.len() as i64;
    Ok(items[index.rem_euclid(len) as usize].clone())
}

/// `log(num, base)`, computed in 64-bit floats as cty does: log of zero is -Inf and
/// base one gives an infinity.
pub(super) fn log(args: &[Value]) -> Result<Value, CallError> {
    let num = number(&args[0], "num")?.as_f64().unwrap_or(f64::NAN);
    let base = number(&args[1], "base")?.as_f64().unwrap_or(f64::NAN);
    let result = num.ln() / base.ln();
    Number::from_f64(result)
        .map(Value::Number)
        .ok_or_else(|| failed("log", "the result is not a number"))
}

/// `jsonencode(val)` with numbers in cty's exact digits.
pub(super) fn jsonencode(args: &[Value]) -> Result<Value, CallError> {
    fn write(v: &Value, out: &mut String) -> Result<(), CallError> {
        match v {
            Value::Null | Value::Unknown => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) if n.is_infinite() => {
                return Err(failed("jsonencode", "cannot serialize infinity as JSON"));
            }
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            Value::List(items) | Value::Set(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out)?;
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    write(item, out)?;
                }
                out.push('}');
            }
            Value::Sensitive(inner) => write(inner, out)?,
        }
        Ok(())
    }
    let mut out = String::new();
    write(&args[0], &mut out)?;
    Ok(Value::String(super::encoding::html_safe(&out)))
}

// The collection functions a fleet calls on large values (`flatten` over every site's
// hosts, `keys` of the site map, `length` in each instance): on the evaluator's own values,
// without the round trip through hcl-rs values, which copied each argument four times.

/// `flatten`: lists, sets and tuples inside are replaced by their elements, at any depth.
pub(super) fn flatten(args: &[Value]) -> Result<Value, CallError> {
    fn into(items: &[Value], out: &mut Vec<Value>) {
        for item in items {
            match item {
                Value::List(inner) | Value::Set(inner) => into(inner, out),
                other => out.push(other.clone()),
            }
        }
    }
    match &args[0] {
        Value::List(items) | Value::Set(items) => {
            let mut out = Vec::with_capacity(items.len());
            into(items, &mut out);
            Ok(Value::List(out))
        }
        _ => Err(failed("flatten", "can only flatten lists, sets and tuples")),
    }
}

/// `keys`: a map's or object's keys, in lexical order.
pub(super) fn keys(args: &[Value]) -> Result<Value, CallError> {
    match &args[0] {
        Value::Object(map) => Ok(Value::List(
            map.keys().map(|k| Value::String(k.clone())).collect(),
        )),
        _ => Err(invalid("inputMap", "must have map or object type")),
    }
}

/// `length`: elements of a collection, attributes of an object, characters (grapheme
/// clusters) of a string.
pub(super) fn length(args: &[Value]) -> Result<Value, CallError> {
    let n = match &args[0] {
        Value::String(s) => super::strings::graphemes(s).len(),
        Value::List(items) | Value::Set(items) => items.len(),
        Value::Object(map) => map.len(),
        Value::Null => return Err(invalid("value", "argument must not be null")),
        _ => {
            return Err(failed(
                "length",
                "argument must be a string, a collection type, or a structural type",
            ));
        }
    };
    Ok(Value::from(n as i64))
}
