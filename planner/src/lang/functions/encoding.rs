//! Encoding functions: `jsonencode`, `jsondecode`, `yamlencode`,
//! `yamldecode`, `base64encode`, `base64decode` and `urlencode`.

use base64::Engine;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use hcl::eval::FuncArgs;
use hcl::{Map, Value};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::conversion::{make_number, num_to_string, quote, want_str};

/// Go's `base64.StdEncoding`: padded, but lenient about trailing bits.
const STD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

pub(crate) fn base64_std(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map(serde_json::Value::from)
            .or_else(|| n.as_u64().map(serde_json::Value::from))
            .or_else(|| {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(serde_json::Value::Number)
            })
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(json_value).collect()),
        Value::Object(map) => {
            // Terraform objects and maps always encode with sorted keys.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), json_value(v)))
                    .collect(),
            )
        }
    }
}

/// Compact JSON as Go's encoder writes it, including its HTML-safe escapes
/// (these characters can only occur inside JSON strings).
pub(crate) fn to_json(v: &Value) -> String {
    html_safe(&serde_json::to_string(&json_value(v)).unwrap_or_default())
}

/// Go's HTML-safe escapes (these characters can only occur inside JSON strings).
pub(crate) fn html_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

pub(crate) fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(to_json(&args[0])))
}

fn from_json(v: serde_json::Value) -> Result<Value, String> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (_, Some(u), _) => Value::from(u),
            (_, _, Some(f)) => make_number(f)?,
            _ => Value::Null,
        },
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(items) => {
            Value::Array(items.into_iter().map(from_json).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(map) => {
            let mut out: Map<String, Value> = Map::new();
            for (k, v) in map {
                out.insert(k, from_json(v)?);
            }
            out.sort_keys();
            Value::Object(out)
        }
    })
}

pub(crate) fn jsondecode(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let parsed: serde_json::Value = serde_json::from_str(&s).map_err(|e| e.to_string())?;
    from_json(parsed)
}

pub(crate) fn base64encode(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(base64_std(
        want_str(&args[0], "str")?.as_bytes(),
    )))
}

/// Gzip as Terraform's `base64gzip` writes it: no name, time zero, then base64. The
/// compressed bytes are DEFLATE's, though not those of Go's encoder.
pub(crate) fn base64gzip(args: FuncArgs) -> Result<Value, String> {
    use std::io::Write;
    let text = want_str(&args[0], "str")?;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("failed to write gzip raw data: {e}"))?;
    Ok(Value::String(base64_std(&compressed)))
}

pub(crate) fn base64decode(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    // Go's decoder skips line breaks, so wrapped base64 is accepted.
    let compact: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let bytes = STD_LENIENT
        .decode(compact)
        .map_err(|_| format!("failed to decode base64 data {}", quote(&s)))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "the result of decoding the provided string is not valid UTF-8".to_string())
}

/// Everything but Go's `url.QueryEscape` unreserved set is escaped; spaces
/// become `+` separately.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(crate) fn urlencode(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let parts: Vec<String> = s
        .split(' ')
        .map(|p| utf8_percent_encode(p, QUERY).to_string())
        .collect();
    Ok(Value::String(parts.join("+")))
}

fn yaml_key(k: &serde_yaml_ng::Value) -> Result<String, String> {
    match k {
        serde_yaml_ng::Value::String(s) => Ok(s.clone()),
        serde_yaml_ng::Value::Bool(b) => Ok(b.to_string()),
        serde_yaml_ng::Value::Number(n) => Ok(n.to_string()),
        serde_yaml_ng::Value::Null => Ok("null".to_string()),
        _ => Err("only scalar values can be used as mapping keys".to_string()),
    }
}

fn from_yaml(v: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (_, Some(u), _) => Value::from(u),
            (_, _, Some(f)) => make_number(f)?,
            _ => Value::Null,
        },
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(from_yaml).collect::<Result<_, _>>()?)
        }
        Y::Mapping(map) => {
            let mut out: Map<String, Value> = Map::new();
            for (k, v) in map {
                out.insert(yaml_key(&k)?, from_yaml(v)?);
            }
            out.sort_keys();
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let inner = from_yaml(tagged.value)?;
            match tag.trim_start_matches('!') {
                "str" | "int" | "float" | "bool" | "null" | "seq" | "map" => inner,
                _ => return Err(format!("unsupported tag {}", quote(&tag))),
            }
        }
    })
}

pub(crate) fn yamldecode(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "src")?;
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&s).map_err(|e| e.to_string())?;
    from_yaml(parsed)
}

#[derive(Clone, Copy, PartialEq)]
enum Pos {
    Top,
    Key,
    Dash,
}

/// go-yaml's test for characters it can print inside a scalar.
fn printable(c: char) -> bool {
    matches!(u32::from(c), 0x0A | 0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
        && c != '\u{FEFF}'
}

/// A double-quoted YAML scalar with go-yaml's escapes.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{B}' => out.push_str("\\v"),
            '\u{C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1B}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{A0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if printable(c) => out.push(c),
            c if u32::from(c) <= 0xFF => out.push_str(&format!("\\x{:02X}", u32::from(c))),
            c if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Multi-line strings use the literal block style when go-yaml allows it:
/// no trailing space, no space before a line break, only printable text.
fn literal_allowed(s: &str) -> bool {
    s.contains('\n')
        && !s.ends_with(' ')
        && !s.contains(" \n")
        && s.chars()
            .all(|c| printable(c) && c != '\u{85}' && c != '\u{2028}' && c != '\u{2029}')
}

fn yaml_literal(s: &str, indent: usize, out: &mut String) {
    out.push('|');
    if s.starts_with([' ', '\n']) {
        out.push('2');
    }
    if !s.ends_with('\n') {
        out.push('-');
    } else if s == "\n" || s.ends_with("\n\n") {
        out.push('+');
    }
    out.push('\n');
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn emit(v: &Value, col: usize, pos: Pos, out: &mut String) {
    let lead = match pos {
        Pos::Key => " ",
        Pos::Top | Pos::Dash => "",
    };
    // Block content after a dash starts two columns further in.
    let child_col = if pos == Pos::Dash { col + 2 } else { col };
    match v {
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if i == 0 && pos == Pos::Dash {
                    // first item stays on the dash's line
                } else if i == 0 && pos == Pos::Key {
                    out.push('\n');
                    out.push_str(&" ".repeat(col));
                } else if i > 0 {
                    out.push_str(&" ".repeat(child_col));
                }
                out.push_str("- ");
                emit(item, child_col, Pos::Dash, out);
            }
        }
        Value::Object(map) if !map.is_empty() => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner = if pos == Pos::Key { col + 2 } else { child_col };
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i == 0 && pos == Pos::Key {
                    out.push('\n');
                }
                if i > 0 || pos != Pos::Dash {
                    out.push_str(&" ".repeat(inner));
                }
                out.push_str(&yaml_quoted(k));
                out.push(':');
                emit(item, inner, Pos::Key, out);
            }
        }
        Value::Array(_) => out.push_str(&format!("{lead}[]\n")),
        Value::Object(_) => out.push_str(&format!("{lead}{{}}\n")),
        Value::Null => out.push_str(&format!("{lead}null\n")),
        Value::Bool(b) => out.push_str(&format!("{lead}{b}\n")),
        Value::Number(n) => out.push_str(&format!("{lead}{}\n", num_to_string(n))),
        Value::String(s) if literal_allowed(s) => {
            out.push_str(lead);
            let indent = if pos == Pos::Key {
                col + 2
            } else {
                child_col.max(2)
            };
            yaml_literal(s, indent, out);
        }
        Value::String(s) => out.push_str(&format!("{lead}{}\n", yaml_quoted(s))),
    }
}

pub(crate) fn yamlencode(args: FuncArgs) -> Result<Value, String> {
    let mut out = String::new();
    emit(&args[0], 0, Pos::Top, &mut out);
    // A document that is a lone null, number or bool ends with YAML's document end
    // marker, as Go's encoder writes it.
    if matches!(args[0], Value::Null | Value::Number(_) | Value::Bool(_)) {
        out.push_str("...\n");
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use hcl::Value;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn jsonencode_docs() {
        let obj = Value::from_iter([("hello", "world")]);
        assert_eq!(
            call("jsonencode", vec![obj]),
            Ok(s("{\"hello\":\"world\"}"))
        );
        let nested = Value::from_iter([
            ("b", Value::from(1.5)),
            ("a", Value::Array(vec![true.into(), Value::Null])),
        ]);
        assert_eq!(
            call("jsonencode", vec![nested]),
            Ok(s("{\"a\":[true,null],\"b\":1.5}"))
        );
        assert_eq!(
            call("jsonencode", vec![s("<a&b>")]),
            Ok(s("\"\\u003ca\\u0026b\\u003e\""))
        );
        assert!(call("jsonencode", vec![]).is_err());
    }

    /// Terraform's header (no name, time zero) and a body that decompresses to the text.
    #[test]
    fn base64gzip_round_trips() {
        use base64::Engine;
        use std::io::Read;
        let text = "#cloud-config\nruncmd: [echo hello]\n".repeat(20);
        let Ok(Value::String(encoded)) = call("base64gzip", vec![s(&text)]) else {
            panic!("base64gzip gives a string");
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64");
        assert_eq!(bytes[..8], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
        let mut decoded = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut decoded)
            .expect("gzip");
        assert_eq!(decoded, text);
    }

    #[test]
    fn jsondecode_docs() {
        assert_eq!(
            call("jsondecode", vec![s("{\"hello\": \"world\"}")]),
            Ok(Value::from_iter([("hello", "world")]))
        );
        assert_eq!(call("jsondecode", vec![s("true")]), Ok(true.into()));
        let want = Value::from_iter([("a", Value::Array(vec![2.5.into()])), ("b", 1.into())]);
        let got = call("jsondecode", vec![s("{\"b\":1,\"a\":[2.5]}")]).unwrap();
        assert_eq!(got, want);
        let keys: Vec<String> = got.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["a", "b"]);
        assert!(call("jsondecode", vec![s("{")]).is_err());
    }

    #[test]
    fn base64_docs() {
        assert_eq!(
            call("base64encode", vec![s("Hello World")]),
            Ok(s("SGVsbG8gV29ybGQ="))
        );
        assert_eq!(
            call("base64decode", vec![s("SGVsbG8gV29ybGQ=")]),
            Ok(s("Hello World"))
        );
        assert_eq!(
            call("base64decode", vec![s("SGVsbG8g\nV29ybGQ=")]),
            Ok(s("Hello World"))
        );
        assert_eq!(
            call("base64decode", vec![s("SGVsbG8=x")]),
            Err("failed to decode base64 data \"SGVsbG8=x\"".into())
        );
        assert_eq!(
            call("base64decode", vec![s("/w==")]),
            Err("the result of decoding the provided string is not valid UTF-8".into())
        );
        assert!(call("base64encode", vec![Value::Null]).is_err());
    }

    #[test]
    fn urlencode_docs() {
        assert_eq!(
            call("urlencode", vec![s("Hello World!")]),
            Ok(s("Hello+World%21"))
        );
        assert_eq!(call("urlencode", vec![s("☃")]), Ok(s("%E2%98%83")));
        assert_eq!(
            call("urlencode", vec![s("foo:bar@localhost?foo=bar&bar=baz")]),
            Ok(s("foo%3Abar%40localhost%3Ffoo%3Dbar%26bar%3Dbaz"))
        );
        assert_eq!(
            call("urlencode", vec![s("a-b_c.d~e+f")]),
            Ok(s("a-b_c.d~e%2Bf"))
        );
        assert!(call("urlencode", vec![Value::Array(vec![])]).is_err());
    }

    #[test]
    fn yamlencode_docs() {
        let enc = |v: Value| call("yamlencode", vec![v]).unwrap();
        assert_eq!(
            enc(Value::from_iter([("a", "b"), ("c", "d")])),
            s("\"a\": \"b\"\n\"c\": \"d\"\n")
        );
        let v = Value::from_iter([
            ("foo", Value::Array(vec![1.into(), 2.into(), 3.into()])),
            ("bar", s("baz")),
        ]);
        assert_eq!(enc(v), s("\"bar\": \"baz\"\n\"foo\":\n- 1\n- 2\n- 3\n"));
        let v = Value::from_iter([
            (
                "foo",
                Value::Array(vec![
                    1.into(),
                    Value::from_iter([("a", "b"), ("c", "d")]),
                    3.into(),
                ]),
            ),
            ("bar", s("baz")),
        ]);
        assert_eq!(
            enc(v),
            s("\"bar\": \"baz\"\n\"foo\":\n- 1\n- \"a\": \"b\"\n  \"c\": \"d\"\n- 3\n")
        );
        let nested = Value::from_iter([("a", Value::from_iter([("b", Value::Array(vec![]))]))]);
        assert_eq!(enc(nested), s("\"a\":\n  \"b\": []\n"));
        let lists = Value::Array(vec![Value::Array(vec![1.into(), 2.into()]), Value::Null]);
        assert_eq!(enc(lists), s("- - 1\n  - 2\n- null\n"));
        let multi = Value::from_iter([("k", "line1\nline2\n")]);
        assert_eq!(enc(multi), s("\"k\": |\n  line1\n  line2\n"));
        assert_eq!(enc(s("tab\there")), s("\"tab\\there\"\n"));
        assert_eq!(enc(Value::from_iter([("x", true)])), s("\"x\": true\n"));
        assert!(call("yamlencode", vec![]).is_err());
    }

    #[test]
    fn yamldecode_docs() {
        assert_eq!(
            call("yamldecode", vec![s("hello: world")]),
            Ok(Value::from_iter([("hello", "world")]))
        );
        assert_eq!(call("yamldecode", vec![s("true")]), Ok(true.into()));
        let list = Value::Array(vec![1.into(), 2.into(), 3.into()]);
        assert_eq!(
            call("yamldecode", vec![s("{a: &foo [1, 2, 3], b: *foo}")]),
            Ok(Value::from_iter([("a", list.clone()), ("b", list)]))
        );
        assert_eq!(
            call("yamldecode", vec![s("{a: !not-supported foo}")]),
            Err("unsupported tag \"!not-supported\"".into())
        );
        assert!(call("yamldecode", vec![s("a: [")]).is_err());
        assert_eq!(
            call("yamldecode", vec![s("1: x")]),
            Ok(Value::from_iter([("1", "x")]))
        );
    }
}
