//! `format` and `formatlist`, and the printf-like engine behind them, following
//! cty's format verbs, flags, widths, precisions and error texts.

use hcl::Value;
use hcl::eval::FuncArgs;

use super::super::conversion::{param_err, quote, to_bool, to_num, to_str, want_str};
use super::super::encoding::to_json;
use super::graphemes;

#[derive(Default)]
struct Verb {
    raw: String,
    offset: usize,
    arg: usize,
    mode: char,
    zero: bool,
    sharp: bool,
    plus: bool,
    minus: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Reads a decimal number; width and precision are bounded so a hostile
/// format string cannot request gigabytes of padding.
fn read_num(b: &[u8], i: &mut usize) -> Result<usize, String> {
    let mut n: usize = 0;
    while let Some(c) = b.get(*i).filter(|c| c.is_ascii_digit()) {
        n = n * 10 + usize::from(c - b'0');
        if n > 1_000_000 {
            return Err("format width or precision is too large".to_string());
        }
        *i += 1;
    }
    Ok(n)
}

fn unrecognized(fmt: &str, i: usize) -> String {
    match fmt.get(i..).and_then(|s| s.chars().next()) {
        Some(c) => format!("unrecognized format character '{c}' at offset {i}"),
        None => format!("invalid format string starting at offset {i}"),
    }
}

/// Formats `args` according to `fmt`, as cty's `format` does.
pub(crate) fn format_values(fmt: &str, args: &[Value]) -> Result<String, String> {
    let b = fmt.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut next_arg = 1;
    while i < b.len() {
        if b[i] != b'%' {
            let end = fmt[i..].find('%').map_or(b.len(), |p| i + p);
            out.push_str(&fmt[i..end]);
            i = end;
            continue;
        }
        if b.get(i + 1) == Some(&b'%') {
            out.push('%');
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let mut verb = Verb {
            offset: start,
            arg: next_arg,
            ..Verb::default()
        };
        while let Some(c) = b.get(i) {
            match c {
                b'0' => verb.zero = true,
                b'#' => verb.sharp = true,
                b'-' => verb.minus = true,
                b'+' => verb.plus = true,
                b' ' => verb.space = true,
                _ => break,
            }
            i += 1;
        }
        if b.get(i) == Some(&b'[') {
            i += 1;
            if !matches!(b.get(i), Some(b'1'..=b'9')) {
                return Err(unrecognized(fmt, i));
            }
            verb.arg = read_num(b, &mut i)?;
            if b.get(i) != Some(&b']') {
                return Err(unrecognized(fmt, i));
            }
            i += 1;
        }
        if matches!(b.get(i), Some(b'1'..=b'9')) {
            verb.width = Some(read_num(b, &mut i)?);
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            verb.prec = Some(read_num(b, &mut i)?);
        }
        match b.get(i) {
            Some(c) if c.is_ascii_alphabetic() => verb.mode = char::from(*c),
            _ => return Err(unrecognized(fmt, i)),
        }
        i += 1;
        verb.raw = fmt[start..i].to_string();
        next_arg = verb.arg + 1;
        append(&verb, &mut out, args)?;
    }
    Ok(out)
}

fn append(verb: &Verb, out: &mut String, args: &[Value]) -> Result<(), String> {
    let arg = args.get(verb.arg - 1).ok_or_else(|| {
        format!(
            "not enough arguments for {} at {}: need index {} but have {} total",
            quote(&verb.raw),
            verb.offset,
            verb.arg,
            args.len()
        )
    })?;
    let unsupported = |msg: &str| {
        format!(
            "unsupported value for {} at {}: {msg}",
            quote(&verb.raw),
            verb.offset
        )
    };
    if verb.mode != 'v' && arg.is_null() {
        return Err(unsupported("null value cannot be formatted"));
    }
    match verb.mode {
        'v' => {
            let s = match arg {
                Value::String(s) if !verb.sharp => s.clone(),
                Value::Number(n) if !verb.sharp => shortest_g(n.as_f64().unwrap_or(0.0), 'e'),
                other => to_json(other),
            };
            out.push_str(&pad(verb, s));
        }
        't' => {
            let b = to_bool(arg).map_err(|e| unsupported(&e))?;
            out.push_str(if b == Some(true) { "true" } else { "false" });
        }
        'b' | 'd' | 'o' | 'x' | 'X' => {
            let n = to_num(arg)
                .map_err(|e| unsupported(&e))?
                .unwrap_or(hcl::Number::from(0));
            let int = match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i128::from(i),
                (_, Some(u), _) => i128::from(u),
                (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e38 => f as i128,
                _ => return Err(unsupported("an integer is required")),
            };
            out.push_str(&format_int(verb, int));
        }
        'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = to_num(arg)
                .map_err(|e| unsupported(&e))?
                .unwrap_or(hcl::Number::from(0));
            out.push_str(&format_float(verb, n.as_f64().unwrap_or(0.0)));
        }
        's' | 'q' => {
            let mut s = to_str(arg)
                .map_err(|e| unsupported(&e))?
                .unwrap_or_default();
            if let Some(p) = verb.prec.filter(|p| *p > 0) {
                s = graphemes(&s).into_iter().take(p).collect();
            }
            if verb.mode == 'q' {
                s = to_json(&Value::String(s));
            }
            out.push_str(&pad(verb, s));
        }
        m => {
            return Err(format!(
                "unsupported format verb '{m}' in {} at offset {}",
                quote(&verb.raw),
                verb.offset
            ));
        }
    }
    Ok(())
}

/// cty pads strings and `%v` results by character count.
fn pad(verb: &Verb, s: String) -> String {
    let len = graphemes(&s).len();
    match verb.width {
        Some(w) if w > len => {
            let fill = if verb.zero { "0" } else { " " }.repeat(w - len);
            if verb.minus { s + &fill } else { fill + &s }
        }
        _ => s,
    }
}

/// Go's integer formatting for `%b %d %o %x %X` with flags and precision.
fn format_int(verb: &Verb, n: i128) -> String {
    let mag = n.unsigned_abs();
    let mut digits = match verb.mode {
        'b' => format!("{mag:b}"),
        'o' => format!("{mag:o}"),
        'x' => format!("{mag:x}"),
        'X' => format!("{mag:X}"),
        _ => mag.to_string(),
    };
    if let Some(p) = verb.prec {
        if p == 0 && mag == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    let prefix = match (verb.sharp, verb.mode) {
        (true, 'b') => "0b",
        (true, 'o') if !digits.starts_with('0') => "0",
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        _ => "",
    };
    let sign = sign_of(verb, n < 0);
    finish_number(verb, sign, prefix, &digits, verb.prec.is_none())
}

fn sign_of(verb: &Verb, negative: bool) -> &'static str {
    match (negative, verb.plus, verb.space) {
        (true, _, _) => "-",
        (false, true, _) => "+",
        (false, false, true) => " ",
        _ => "",
    }
}

fn finish_number(verb: &Verb, sign: &str, prefix: &str, body: &str, zero_ok: bool) -> String {
    let len = sign.len() + prefix.len() + body.chars().count();
    let padding = verb.width.map_or(0, |w| w.saturating_sub(len));
    if verb.minus {
        format!("{sign}{prefix}{body}{}", " ".repeat(padding))
    } else if verb.zero && zero_ok {
        format!("{sign}{prefix}{}{body}", "0".repeat(padding))
    } else {
        format!("{}{sign}{prefix}{body}", " ".repeat(padding))
    }
}

/// Go writes exponents with a sign and at least two digits (`e+06`).
fn go_exponent(rust: &str, e: char) -> String {
    match rust.split_once('e') {
        Some((mant, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mant}{e}{sign}{digits:0>2}")
        }
        None => rust.to_string(),
    }
}

/// Significant digits and decimal exponent (value = 0.DIGITS x 10^exp),
/// either shortest or rounded to `sig` digits, with trailing zeros removed.
fn decimal_digits(f: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        Some(p) => format!("{:.*e}", p.saturating_sub(1), f.abs()),
        None => format!("{:e}", f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0').to_string();
    (digits, exp.parse::<i32>().unwrap_or(0) + 1)
}

/// big.Float's `%g`: `%e` when the exponent is < -4 or >= the precision
/// (6 for the shortest form), `%f` otherwise, without trailing zeros.
fn shortest_g(f: f64, e: char) -> String {
    g_format(f, None, e)
}

fn g_format(f: f64, prec: Option<usize>, e: char) -> String {
    let sign = if f < 0.0 { "-" } else { "" };
    if f == 0.0 {
        return "0".to_string();
    }
    let sig = prec.map(|p| p.max(1));
    let (digits, exp) = decimal_digits(f, sig);
    let eprec = match sig {
        None => 6,
        Some(p) if p > digits.len() && digits.len() as i32 >= exp => digits.len() as i32,
        Some(p) => p as i32,
    };
    let x = exp - 1;
    if x < -4 || x >= eprec {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let xs = if x < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}{rest}{e}{xs}{:02}", x.abs())
    } else {
        let frac = (digits.len() as i32 - exp).max(0) as usize;
        format!("{sign}{:.*}", frac, f.abs())
    }
}

fn format_float(verb: &Verb, f: f64) -> String {
    let upper = matches!(verb.mode, 'E' | 'G');
    let e = if upper { 'E' } else { 'e' };
    let body = match verb.mode {
        'f' => format!("{:.*}", verb.prec.unwrap_or(6), f.abs()),
        'e' | 'E' => go_exponent(&format!("{:.*e}", verb.prec.unwrap_or(6), f.abs()), e),
        _ => g_format(f.abs(), verb.prec, e),
    };
    finish_number(verb, sign_of(verb, f < 0.0), "", &body, true)
}

pub(crate) fn format(args: FuncArgs) -> Result<Value, String> {
    let fmt = want_str(&args[0], "format")?;
    format_values(&fmt, &args[1..]).map(Value::String)
}

pub(crate) fn formatlist(args: FuncArgs) -> Result<Value, String> {
    let fmt = want_str(&args[0], "format")?;
    let rest = &args[1..];
    // Every list argument must have the same length; the first one found sets it.
    let mut len: Option<(usize, usize)> = None;
    for (i, arg) in rest.iter().enumerate() {
        if let Value::Array(items) = arg {
            match len {
                None => len = Some((items.len(), i)),
                Some((l, first)) if l != items.len() => {
                    return Err(param_err(
                        "args",
                        &format!(
                            "argument {} has length {}, which is inconsistent with argument {} of length {l}",
                            i + 1,
                            items.len(),
                            first + 1
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    let count = len.map_or(1, |(l, _)| l);
    let mut out = Vec::with_capacity(count);
    for iter in 0..count {
        let row: Vec<Value> = rest
            .iter()
            .map(|a| match a {
                Value::Array(items) => items[iter].clone(),
                other => other.clone(),
            })
            .collect();
        let s = format_values(&fmt, &row)
            .map_err(|e| format!("error on format iteration {iter}: {e}"))?;
        out.push(Value::String(s));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use crate::lang::functions::testing::*;
    use hcl::Value;

    #[test]
    fn format_docs() {
        assert_eq!(
            ok("format", vec![s("Hello, %s!"), s("Ander")]),
            s("Hello, Ander!")
        );
        assert_eq!(
            ok("format", vec![s("There are %d lights"), 4.into()]),
            s("There are 4 lights")
        );
        assert_eq!(ok("format", vec![s("%.2f"), 1.23456.into()]), s("1.23"));
        assert_eq!(ok("format", vec![s("%f"), 3.5.into()]), s("3.500000"));
        assert_eq!(ok("format", vec![s("%t"), true.into()]), s("true"));
        assert_eq!(ok("format", vec![s("%q"), s("a\"b")]), s("\"a\\\"b\""));
        assert_eq!(ok("format", vec![s("100%%")]), s("100%"));
        assert_eq!(
            ok("format", vec![s("%5s|%-5s|"), s("ab"), s("cd")]),
            s("   ab|cd   |")
        );
        assert_eq!(
            ok(
                "format",
                vec![
                    s("%05d|%x|%#x|%+d"),
                    42.into(),
                    255.into(),
                    255.into(),
                    3.into()
                ]
            ),
            s("00042|ff|0xff|+3")
        );
        assert_eq!(ok("format", vec![s("%.3s"), s("abcdef")]), s("abc"));
        assert_eq!(ok("format", vec![s("%e"), 12345.into()]), s("1.234500e+04"));
        assert_eq!(
            ok("format", vec![s("%g|%g"), 0.5.into(), 1000000.into()]),
            s("0.5|1e+06")
        );
        assert_eq!(
            ok(
                "format",
                vec![s("%v|%v|%v"), s("x"), 1.5.into(), true.into()]
            ),
            s("x|1.5|true")
        );
        assert_eq!(ok("format", vec![s("%#v"), s("hello")]), s("\"hello\""));
        assert_eq!(ok("format", vec![s("%v"), Value::Null]), s("null"));
        let obj = Value::from_iter([("b", 1), ("a", 2)]);
        assert_eq!(ok("format", vec![s("%v"), obj]), s("{\"a\":2,\"b\":1}"));
        assert_eq!(
            ok("format", vec![s("%[2]s %[1]s %s"), s("a"), s("b")]),
            s("b a b")
        );
        assert_eq!(ok("format", vec![s("%s"), 1.5.into()]), s("1.5"));
    }

    #[test]
    fn format_errors() {
        let err = |args: Vec<Value>| call("format", args).unwrap_err();
        assert_eq!(
            err(vec![s("%d")]),
            "not enough arguments for \"%d\" at 0: need index 1 but have 0 total"
        );
        assert_eq!(
            err(vec![s("%d"), s("x")]),
            "unsupported value for \"%d\" at 0: a number is required"
        );
        assert_eq!(
            err(vec![s("%d"), 1.5.into()]),
            "unsupported value for \"%d\" at 0: an integer is required"
        );
        assert_eq!(
            err(vec![s("%s"), Value::Null]),
            "unsupported value for \"%s\" at 0: null value cannot be formatted"
        );
        assert_eq!(
            err(vec![s("%s"), list(&["a"])]),
            "unsupported value for \"%s\" at 0: string required"
        );
        assert_eq!(
            err(vec![s("%z"), 1.into()]),
            "unsupported format verb 'z' in \"%z\" at offset 0"
        );
        assert_eq!(
            err(vec![s("ab%!")]),
            "unrecognized format character '!' at offset 3"
        );
        assert_eq!(
            err(vec![s("ab%")]),
            "invalid format string starting at offset 3"
        );
        assert_eq!(
            err(vec![s("%t"), s("yes")]),
            "unsupported value for \"%t\" at 0: a bool is required"
        );
    }

    #[test]
    fn formatlist_docs() {
        let names = list(&["Valentina", "Ander", "Olivia", "Sam"]);
        assert_eq!(
            ok("formatlist", vec![s("Hello, %s!"), names.clone()]),
            list(&[
                "Hello, Valentina!",
                "Hello, Ander!",
                "Hello, Olivia!",
                "Hello, Sam!"
            ])
        );
        assert_eq!(
            ok("formatlist", vec![s("%s, %s!"), s("Salutations"), names]),
            list(&[
                "Salutations, Valentina!",
                "Salutations, Ander!",
                "Salutations, Olivia!",
                "Salutations, Sam!"
            ])
        );
        assert_eq!(ok("formatlist", vec![s("x")]), list(&["x"]));
        assert_eq!(ok("formatlist", vec![s("%s"), list(&[])]), list(&[]));
        assert_eq!(
            call(
                "formatlist",
                vec![s("%s%s"), list(&["a"]), list(&["b", "c"])]
            )
            .unwrap_err(),
            "invalid value for \"args\" parameter: argument 2 has length 2, which is inconsistent with argument 1 of length 1"
        );
        assert_eq!(
            call("formatlist", vec![s("%d"), list(&["a"])]).unwrap_err(),
            "error on format iteration 0: unsupported value for \"%d\" at 0: a number is required"
        );
    }
}
