//! String functions: `format`, `formatlist`, `join`, `split`, `lower`,
//! `upper`, `title`, `replace`, the `trim` family, `substr`, `startswith`,
//! `endswith`, `regex`, `regexall`, `chomp`, `indent` and `strrev`.
//!
//! Like Terraform, lengths and offsets count grapheme clusters, approximated
//! by `graphemes` because no segmentation crate is available.

mod format;
mod pattern;

pub(crate) use format::{format, formatlist};
use pattern::go_regex;
pub(crate) use pattern::{regex, regexall};

use hcl::Value;
use hcl::eval::FuncArgs;

use super::conversion::{param_err, want_int, want_str, want_str_list};

/// Code points that attach to the previous character: combining marks,
/// joiners, variation selectors, emoji skin tones and tag characters.
fn extends(c: char) -> bool {
    matches!(u32::from(c),
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A
        | 0x064B..=0x065F | 0x0900..=0x0903 | 0x093A..=0x094F | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF | 0x200C..=0x200D | 0x20D0..=0x20FF | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0xE0100..=0xE01EF)
}

fn is_regional_indicator(c: char) -> bool {
    matches!(u32::from(c), 0x1F1E6..=0x1F1FF)
}

/// Splits a string into (approximate) extended grapheme clusters: CR LF,
/// combining sequences, ZWJ emoji sequences and flag pairs stay together.
pub(crate) fn graphemes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    let mut flags_in_run = 0;
    for (i, c) in s.char_indices() {
        let joins = match prev {
            None => false,
            Some(p) => {
                extends(c)
                    || p == '\u{200D}'
                    || (p == '\r' && c == '\n')
                    || (is_regional_indicator(p)
                        && is_regional_indicator(c)
                        && flags_in_run % 2 == 1)
            }
        };
        if !joins && i > 0 {
            out.push(&s[start..i]);
            start = i;
        }
        flags_in_run = if is_regional_indicator(c) {
            flags_in_run + 1
        } else {
            0
        };
        prev = Some(c);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

fn str_list(items: impl IntoIterator<Item = String>) -> Value {
    Value::Array(items.into_iter().map(Value::String).collect())
}

pub(crate) fn join(args: FuncArgs) -> Result<Value, String> {
    let sep = want_str(&args[0], "separator")?;
    let lists = &args[1..];
    if lists.is_empty() {
        return Err("at least one list is required".to_string());
    }
    let mut parts = Vec::new();
    for (li, list) in lists.iter().enumerate() {
        for (ei, item) in want_str_list(list, "lists")?.into_iter().enumerate() {
            match item {
                Some(s) => parts.push(s),
                None if lists.len() > 1 => {
                    return Err(param_err(
                        "lists",
                        &format!(
                            "element {ei} of list {} is null; cannot concatenate null values",
                            li + 1
                        ),
                    ));
                }
                None => {
                    return Err(param_err(
                        "lists",
                        &format!("element {ei} is null; cannot concatenate null values"),
                    ));
                }
            }
        }
    }
    Ok(Value::String(parts.join(&sep)))
}

pub(crate) fn split(args: FuncArgs) -> Result<Value, String> {
    let sep = want_str(&args[0], "separator")?;
    let s = want_str(&args[1], "str")?;
    // Go's strings.Split with an empty separator splits into characters.
    if sep.is_empty() {
        return Ok(str_list(s.chars().map(String::from)));
    }
    Ok(str_list(s.split(sep.as_str()).map(String::from)))
}

pub(crate) fn lower(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(want_str(&args[0], "str")?.to_lowercase()))
}

pub(crate) fn upper(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(want_str(&args[0], "str")?.to_uppercase()))
}

/// Go's `strings.Title`: a letter is capitalised when the previous
/// character is a separator (ASCII punctuation, spaces, or the start).
pub(crate) fn title(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let is_sep = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            !c.is_alphanumeric() && c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            // Go's title case maps one character to one (ß stays ß), not Unicode's full
            // upper-casing (ß to SS).
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(single), None) => out.push(single),
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
        prev_sep = is_sep(c);
    }
    Ok(Value::String(out))
}

pub(crate) fn replace(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let substr = want_str(&args[1], "substr")?;
    let replacement = want_str(&args[2], "replace")?;
    if substr.len() > 1 && substr.starts_with('/') && substr.ends_with('/') {
        let re = go_regex(&substr[1..substr.len() - 1])
            .map_err(|e| format!("error parsing regexp: {e}"))?;
        return Ok(Value::String(
            re.replace_all(&s, replacement.as_str()).into_owned(),
        ));
    }
    Ok(Value::String(s.replace(substr.as_str(), &replacement)))
}

pub(crate) fn trim(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let cutset: Vec<char> = want_str(&args[1], "cutset")?.chars().collect();
    Ok(Value::String(s.trim_matches(cutset.as_slice()).to_string()))
}

pub(crate) fn trimprefix(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let prefix = want_str(&args[1], "prefix")?;
    Ok(Value::String(
        s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_string(),
    ))
}

pub(crate) fn trimsuffix(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let suffix = want_str(&args[1], "suffix")?;
    Ok(Value::String(
        s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_string(),
    ))
}

pub(crate) fn trimspace(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::String(want_str(&args[0], "str")?.trim().to_string()))
}

pub(crate) fn chomp(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    Ok(Value::String(s.trim_end_matches(['\r', '\n']).to_string()))
}

pub(crate) fn strrev(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    Ok(Value::String(graphemes(&s).into_iter().rev().collect()))
}

pub(crate) fn startswith(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let prefix = want_str(&args[1], "prefix")?;
    Ok(Value::Bool(s.starts_with(prefix.as_str())))
}

pub(crate) fn endswith(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let suffix = want_str(&args[1], "suffix")?;
    Ok(Value::Bool(s.ends_with(suffix.as_str())))
}

/// Terraform's `indent` puts the padding after every newline, including a
/// trailing one.
pub(crate) fn indent(args: FuncArgs) -> Result<Value, String> {
    let spaces = want_int(&args[0], "spaces")?;
    let s = want_str(&args[1], "str")?;
    let spaces =
        usize::try_from(spaces).map_err(|_| param_err("spaces", "must not be negative"))?;
    let lines = s.matches('\n').count();
    if lines == 0 {
        return Ok(Value::String(s));
    }
    if spaces.saturating_mul(lines) > 64 << 20 {
        return Err(param_err("spaces", "the result would be too large"));
    }
    let pad = format!("\n{}", " ".repeat(spaces));
    Ok(Value::String(s.replace('\n', &pad)))
}

pub(crate) fn substr(args: FuncArgs) -> Result<Value, String> {
    let s = want_str(&args[0], "str")?;
    let offset = want_int(&args[1], "offset")?;
    let length = want_int(&args[2], "length")?;
    let chars = graphemes(&s);
    let total = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    // A negative offset counts from the end; past the start it clamps to 0.
    let start = if offset < 0 {
        offset.saturating_add(total).max(0)
    } else {
        offset
    };
    if start >= total || length == 0 {
        return Ok(Value::String(String::new()));
    }
    let start = usize::try_from(start).unwrap_or(0);
    let take = if length < 0 {
        chars.len()
    } else {
        usize::try_from(length).unwrap_or(usize::MAX)
    };
    Ok(Value::String(
        chars[start..].iter().take(take).copied().collect(),
    ))
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::lang::functions::testing::*;
    use hcl::Value;

    #[test]
    fn join_split_docs() {
        assert_eq!(
            ok("join", vec![s(", "), list(&["foo", "bar", "baz"])]),
            s("foo, bar, baz")
        );
        assert_eq!(ok("join", vec![s(", "), list(&["foo"])]), s("foo"));
        assert_eq!(
            ok("join", vec![s("-"), list(&["a"]), list(&["b"])]),
            s("a-b")
        );
        assert_eq!(
            ok(
                "join",
                vec![s(","), Value::Array(vec![1.into(), true.into()])]
            ),
            s("1,true")
        );
        assert_eq!(
            call("join", vec![s(",")]).unwrap_err(),
            "at least one list is required"
        );
        assert_eq!(
            call(
                "join",
                vec![s(","), Value::Array(vec![s("a"), Value::Null])]
            )
            .unwrap_err(),
            "invalid value for \"lists\" parameter: element 1 is null; cannot concatenate null values"
        );
        assert_eq!(
            call("join", vec![s(","), s("a")]).unwrap_err(),
            "invalid value for \"lists\" parameter: list of string required"
        );
        assert_eq!(
            ok("split", vec![s(","), s("foo,bar,baz")]),
            list(&["foo", "bar", "baz"])
        );
        assert_eq!(ok("split", vec![s(","), s("foo")]), list(&["foo"]));
        assert_eq!(ok("split", vec![s(","), s("")]), list(&[""]));
        assert_eq!(ok("split", vec![s(""), s("ab")]), list(&["a", "b"]));
        assert_eq!(
            call("split", vec![s(","), list(&[])]).unwrap_err(),
            "invalid value for \"str\" parameter: string required"
        );
    }

    #[test]
    fn case_docs() {
        assert_eq!(ok("lower", vec![s("HELLO")]), s("hello"));
        assert_eq!(ok("lower", vec![s("АЛЛО!")]), s("алло!"));
        assert_eq!(ok("upper", vec![s("hello")]), s("HELLO"));
        assert_eq!(ok("upper", vec![s("алло!")]), s("АЛЛО!"));
        assert_eq!(ok("title", vec![s("hello world")]), s("Hello World"));
        assert_eq!(
            ok("title", vec![s("hello-world o'neil")]),
            s("Hello-World O'Neil")
        );
        assert_eq!(
            call("lower", vec![list(&[])]).unwrap_err(),
            "invalid value for \"str\" parameter: string required"
        );
        assert!(call("title", vec![Value::Null]).is_err());
        assert_eq!(
            call("upper", vec![Value::Null]).unwrap_err(),
            "invalid value for \"str\" parameter: argument must not be null"
        );
    }

    #[test]
    fn replace_docs() {
        assert_eq!(
            ok("replace", vec![s("1 + 2 + 3"), s("+"), s("-")]),
            s("1 - 2 - 3")
        );
        assert_eq!(
            ok(
                "replace",
                vec![s("hello world"), s("/w.*d/"), s("everybody")]
            ),
            s("hello everybody")
        );
        assert_eq!(
            ok("replace", vec![s("a1b22"), s("/(\\d+)/"), s("<$1>")]),
            s("a<1>b<22>")
        );
        assert_eq!(ok("replace", vec![s("a/b"), s("/"), s("|")]), s("a|b"));
        assert!(
            call("replace", vec![s("x"), s("/(/"), s("y")])
                .unwrap_err()
                .starts_with("error parsing regexp: ")
        );
    }

    #[test]
    fn trim_docs() {
        assert_eq!(ok("trim", vec![s("?!hello?!"), s("!?")]), s("hello"));
        assert_eq!(ok("trim", vec![s("foobar"), s("far")]), s("oob"));
        assert_eq!(
            ok("trim", vec![s("   hello! world.!  "), s("! ")]),
            s("hello! world.")
        );
        assert_eq!(
            ok("trimprefix", vec![s("helloworld"), s("hello")]),
            s("world")
        );
        assert_eq!(
            ok("trimprefix", vec![s("helloworld"), s("cat")]),
            s("helloworld")
        );
        assert_eq!(
            ok("trimsuffix", vec![s("helloworld"), s("world")]),
            s("hello")
        );
        assert_eq!(ok("trimspace", vec![s("  hello\n\n")]), s("hello"));
        assert_eq!(ok("chomp", vec![s("hello\n")]), s("hello"));
        assert_eq!(ok("chomp", vec![s("hello\r\n")]), s("hello"));
        assert_eq!(ok("chomp", vec![s("hello\n\n")]), s("hello"));
        assert_eq!(ok("strrev", vec![s("hello")]), s("olleh"));
        assert_eq!(ok("strrev", vec![s("a ☃")]), s("☃ a"));
        assert!(call("trim", vec![s("x"), list(&[])]).is_err());
        assert!(call("chomp", vec![list(&[])]).is_err());
        assert!(call("strrev", vec![Value::Null]).is_err());
        assert!(call("trimspace", vec![list(&[])]).is_err());
        assert!(call("trimprefix", vec![Value::Null, s("a")]).is_err());
        assert!(call("trimsuffix", vec![s("a"), list(&[])]).is_err());
    }

    #[test]
    fn startswith_endswith_docs() {
        assert_eq!(
            ok("startswith", vec![s("hello world"), s("hello")]),
            true.into()
        );
        assert_eq!(
            ok("startswith", vec![s("hello world"), s("world")]),
            false.into()
        );
        assert_eq!(
            ok("endswith", vec![s("hello world"), s("world")]),
            true.into()
        );
        assert_eq!(
            ok("endswith", vec![s("hello world"), s("hello")]),
            false.into()
        );
        assert!(call("startswith", vec![Value::Null, s("a")]).is_err());
        assert!(call("endswith", vec![s("a"), Value::Null]).is_err());
    }

    #[test]
    fn indent_docs() {
        assert_eq!(
            ok("indent", vec![2.into(), s("[\n  foo,\n  bar,\n]\n")]),
            s("[\n    foo,\n    bar,\n  ]\n  ")
        );
        assert_eq!(
            call("indent", vec![(-1).into(), s("a")]).unwrap_err(),
            "invalid value for \"spaces\" parameter: must not be negative"
        );
        assert!(call("indent", vec![i64::MAX.into(), s("a\nb")]).is_err());
        assert_eq!(ok("indent", vec![i64::MAX.into(), s("ab")]), s("ab"));
    }

    #[test]
    fn substr_docs() {
        assert_eq!(
            ok("substr", vec![s("hello world"), 1.into(), 4.into()]),
            s("ello")
        );
        assert_eq!(ok("substr", vec![s("🤔🤷"), 0.into(), 1.into()]), s("🤔"));
        assert_eq!(
            ok("substr", vec![s("hello world"), (-5).into(), (-1).into()]),
            s("world")
        );
        assert_eq!(
            ok("substr", vec![s("hello world"), 6.into(), 10.into()]),
            s("world")
        );
        assert_eq!(ok("substr", vec![s("abc"), 5.into(), 1.into()]), s(""));
        assert_eq!(
            ok("substr", vec![s("abc"), (-10).into(), 2.into()]),
            s("ab")
        );
        assert_eq!(
            ok("substr", vec![s("abc"), i64::MIN.into(), i64::MAX.into()]),
            s("abc")
        );
        assert_eq!(
            call("substr", vec![s("abc"), 0.5.into(), 1.into()]).unwrap_err(),
            "invalid value for \"offset\" parameter: value must be a whole number"
        );
    }
}
