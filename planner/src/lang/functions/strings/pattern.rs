//! The regular expression functions `regex` and `regexall`, plus the
//! Go-compatible pattern compiler that `replace` also uses.

use hcl::eval::FuncArgs;
use hcl::{Map, Value};
use regex::Regex;

use super::super::conversion::{param_err, want_str};

/// Compiles a pattern with Go's RE2 meaning of the Perl classes: `\d`, `\w`,
/// `\s` and `\b` are ASCII-only in Go but Unicode-aware in Rust's regex.
pub(crate) fn go_regex(pattern: &str) -> Result<Regex, String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("[0-9]"),
            Some('D') => out.push_str("[^0-9]"),
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('s') => out.push_str("[\\t\\n\\f\\r ]"),
            Some('S') => out.push_str("[^\\t\\n\\f\\r ]"),
            Some('b') => out.push_str("(?-u:\\b)"),
            Some('B') => out.push_str("(?-u:\\B)"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Regex::new(&out).map_err(|e| {
        let text = e.to_string();
        let reason = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(&text)
            .to_string();
        format!("{reason} in {pattern}")
    })
}

enum Shape {
    Whole,
    List,
    Named(Vec<String>),
}

fn regex_shape(pattern: &str) -> Result<(Regex, Shape), String> {
    let re = go_regex(pattern)
        .map_err(|e| param_err("pattern", &format!("invalid regexp pattern: {e}")))?;
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    let named = names.iter().filter(|n| n.is_some()).count();
    let shape = if names.is_empty() {
        Shape::Whole
    } else if named == 0 {
        Shape::List
    } else if named == names.len() {
        Shape::Named(names.iter().flatten().map(|s| s.to_string()).collect())
    } else {
        return Err(param_err(
            "pattern",
            "invalid regexp pattern: cannot mix both named and unnamed capture groups",
        ));
    };
    Ok((re, shape))
}

fn capture_value(caps: &regex::Captures<'_>, shape: &Shape) -> Value {
    let get = |m: Option<regex::Match<'_>>| m.map_or(Value::Null, |m| Value::from(m.as_str()));
    match shape {
        Shape::Whole => get(caps.get(0)),
        Shape::List => Value::Array(caps.iter().skip(1).map(get).collect()),
        Shape::Named(names) => {
            let mut sorted = names.clone();
            sorted.sort();
            let map: Map<String, Value> = sorted
                .into_iter()
                .map(|n| {
                    let v = get(caps.name(&n));
                    (n, v)
                })
                .collect();
            Value::Object(map)
        }
    }
}

pub(crate) fn regex(args: FuncArgs) -> Result<Value, String> {
    let pattern = want_str(&args[0], "pattern")?;
    let s = want_str(&args[1], "string")?;
    let (re, shape) = regex_shape(&pattern)?;
    let caps = re
        .captures(&s)
        .ok_or_else(|| "pattern did not match any part of the given string".to_string())?;
    Ok(capture_value(&caps, &shape))
}

pub(crate) fn regexall(args: FuncArgs) -> Result<Value, String> {
    let pattern = want_str(&args[0], "pattern")?;
    let s = want_str(&args[1], "string")?;
    let (re, shape) = regex_shape(&pattern)?;
    Ok(Value::Array(
        re.captures_iter(&s)
            .map(|c| capture_value(&c, &shape))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::lang::functions::testing::*;
    use hcl::Value;

    #[test]
    fn regex_docs() {
        assert_eq!(
            ok(
                "regex",
                vec![s("[a-z]+"), s("53453453.345345aaabbbccc23454")]
            ),
            s("aaabbbccc")
        );
        assert_eq!(
            ok(
                "regex",
                vec![s("(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)"), s("2019-02-01")]
            ),
            list(&["2019", "02", "01"])
        );
        let got = ok(
            "regex",
            vec![
                s("^(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?"),
                s("https://terraform.io/docs/"),
            ],
        );
        assert_eq!(
            got,
            Value::from_iter([("authority", "terraform.io"), ("scheme", "https")])
        );
        assert_eq!(
            ok("regex", vec![s("(a)?(b)"), s("b")]),
            Value::Array(vec![Value::Null, s("b")])
        );
        assert_eq!(
            call("regex", vec![s("[a-z]+"), s("53453453.34534523454")]).unwrap_err(),
            "pattern did not match any part of the given string"
        );
        assert_eq!(
            call("regex", vec![s("(a)(?P<x>b)"), s("ab")]).unwrap_err(),
            "invalid value for \"pattern\" parameter: invalid regexp pattern: cannot mix both named and unnamed capture groups"
        );
        assert!(
            call("regex", vec![s("(a"), s("a")])
                .unwrap_err()
                .contains("invalid regexp pattern")
        );
        assert_eq!(ok("regex", vec![s("\\d+"), s("٣3")]), s("3"));
    }

    #[test]
    fn regexall_docs() {
        assert_eq!(
            ok("regexall", vec![s("[a-z]+"), s("1234abcd5678efgh9")]),
            list(&["abcd", "efgh"])
        );
        assert_eq!(ok("regexall", vec![s("[a-z]+"), s("123456789")]), list(&[]));
        assert_eq!(
            ok("regexall", vec![s("(\\d)([a-z])"), s("1a2b")]),
            Value::Array(vec![list(&["1", "a"]), list(&["2", "b"])])
        );
        assert!(call("regexall", vec![s("["), s("a")]).is_err());
    }
}
