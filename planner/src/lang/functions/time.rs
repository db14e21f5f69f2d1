//! Date and time functions: `timestamp`, `formatdate` and `timeadd`.
//! Timestamps are RFC 3339 strings, parsed with the `time` crate; errors
//! are worded as Terraform words Go's parse errors.

use ::time::format_description::well_known::Rfc3339;
use ::time::{Duration, OffsetDateTime, UtcOffset};
use hcl::Value;
use hcl::eval::FuncArgs;

use super::conversion::{param_err, quote, want_str};

/// Names the first part of `s` that does not follow RFC 3339's layout, in
/// the words Terraform uses for Go's parse errors.
fn diagnose(s: &str) -> String {
    let fail = |rest: &str, what: &str| {
        if rest.is_empty() {
            format!("end of string before {what}")
        } else {
            format!("cannot use {} as {what}", quote(rest))
        }
    };
    let mut rest = s;
    let fields: [(usize, &str, Option<char>); 6] = [
        (4, "year", Some('-')),
        (2, "month", Some('-')),
        (2, "day of month", Some('T')),
        (2, "hour", Some(':')),
        (2, "minute", Some(':')),
        (2, "second", None),
    ];
    for (width, what, sep) in fields {
        let digits = rest
            .get(..width)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
        let Some(d) = digits else {
            return fail(rest, what);
        };
        let n: u32 = d.parse().unwrap_or(0);
        let in_range = match what {
            "month" => (1..=12).contains(&n),
            "day of month" => (1..=31).contains(&n),
            "hour" => n < 24,
            "minute" | "second" => n < 60,
            _ => true,
        };
        if !in_range {
            return fail(rest, what);
        }
        rest = &rest[width..];
        match sep {
            Some('T') if !rest.starts_with('T') => {
                return "missing required time introducer 'T'".to_string();
            }
            Some(c) if !rest.starts_with(c) => {
                return if rest.is_empty() {
                    format!("end of string where \"{c}\" is expected")
                } else {
                    format!("found {} where \"{c}\" is expected", quote(rest))
                };
            }
            Some(_) => rest = &rest[1..],
            None => {}
        }
    }
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset_len = if rest.starts_with('Z') { 1 } else { 6 };
    let offset_ok = rest.starts_with('Z')
        || (rest.len() >= 6
            && rest.starts_with(['+', '-'])
            && rest.as_bytes()[3] == b':'
            && rest.is_char_boundary(6)
            && rest[1..6]
                .replace(':', "")
                .bytes()
                .all(|b| b.is_ascii_digit()));
    if !offset_ok {
        return fail(rest, "UTC offset");
    }
    format!("extra text: {}", quote(&rest[offset_len..]))
}

pub(crate) fn parse_timestamp(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| format!("not a valid RFC3339 timestamp: {}", diagnose(s)))
}

/// Go's RFC 3339 layout has no fractional seconds, so they are dropped.
fn format_rfc3339(t: OffsetDateTime) -> Result<String, String> {
    t.replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| {
            "the resulting timestamp cannot be represented in RFC3339 format".to_string()
        })
}

pub(crate) fn timestamp(_args: FuncArgs) -> Result<Value, String> {
    format_rfc3339(OffsetDateTime::now_utc()).map(Value::String)
}

/// Go's `time.ParseDuration`, in nanoseconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(s));
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {}", quote(s))),
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(other),
                    quote(s)
                ));
            }
        };
        total += num.parse::<f64>().map_err(|_| invalid())? * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

pub(crate) fn timeadd(args: FuncArgs) -> Result<Value, String> {
    let ts = parse_timestamp(&want_str(&args[0], "timestamp")?)?;
    let ns = parse_duration(&want_str(&args[1], "duration")?)?;
    let t = ts
        .checked_add(Duration::nanoseconds(ns))
        .ok_or_else(|| "the resulting timestamp is out of range".to_string())?;
    format_rfc3339(t).map(Value::String)
}

fn offset_text(off: UtcOffset, colon: bool) -> String {
    let total = off.whole_minutes();
    let sign = if total < 0 { '-' } else { '+' };
    let (h, m) = (total.unsigned_abs() / 60, total.unsigned_abs() % 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// Splits a format into quoted literals, runs of one repeated letter, and
/// other literal text, as cty's tokenizer does.
fn tokens(format: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = format;
    while let Some(first) = rest.chars().next() {
        let len = if first == '\'' {
            if rest[1..].starts_with('\'') {
                2
            } else {
                let mut end = rest.len();
                let b = rest.as_bytes();
                let mut i = 1;
                while i < b.len() {
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        end = i + 1;
                        break;
                    }
                    i += 1;
                }
                end
            }
        } else if first.is_ascii_alphabetic() {
            rest.find(|c| c != first).unwrap_or(rest.len())
        } else {
            rest.find(|c: char| c == '\'' || c.is_ascii_alphabetic())
                .unwrap_or(rest.len())
        };
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    out
}

pub(crate) fn formatdate(args: FuncArgs) -> Result<Value, String> {
    let format = want_str(&args[0], "format")?;
    let t = parse_timestamp(&want_str(&args[1], "time")?).map_err(|e| param_err("time", &e))?;
    let bad = |tok: &str, rule: &str| {
        let mut msg = format!("invalid date format verb {}", quote(tok));
        if !rule.is_empty() {
            msg = format!("{msg}: {rule}");
        }
        param_err("format", &msg)
    };
    let mut out = String::new();
    for tok in tokens(&format) {
        let n = tok.len();
        let first = tok.chars().next().unwrap_or(' ');
        match first {
            '\'' => {
                if n == 1 || !tok.ends_with('\'') {
                    return Err(param_err("format", "unterminated literal '"));
                }
                out.push_str(&tok[1..n - 1].replace("''", "'"));
                if n == 2 {
                    out.push('\'');
                }
            }
            'Y' => match n {
                2 => out.push_str(&format!("{:02}", t.year().rem_euclid(100))),
                4 => out.push_str(&format!("{:04}", t.year())),
                _ => return Err(bad(tok, "year must either be \"YY\" or \"YYYY\"")),
            },
            'M' => match n {
                1 => out.push_str(&u8::from(t.month()).to_string()),
                2 => out.push_str(&format!("{:02}", u8::from(t.month()))),
                3 => out.push_str(&t.month().to_string()[..3]),
                4 => out.push_str(&t.month().to_string()),
                _ => {
                    return Err(bad(
                        tok,
                        "month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"",
                    ));
                }
            },
            'D' => match n {
                1 => out.push_str(&t.day().to_string()),
                2 => out.push_str(&format!("{:02}", t.day())),
                _ => return Err(bad(tok, "day of month must either be \"D\" or \"DD\"")),
            },
            'E' => match n {
                3 => out.push_str(&t.weekday().to_string()[..3]),
                4 => out.push_str(&t.weekday().to_string()),
                _ => return Err(bad(tok, "day of week must either be \"EEE\" or \"EEEE\"")),
            },
            'h' | 'H' | 'm' | 's' => {
                let (v, what) = match first {
                    'h' => (t.hour(), "24-hour must either be \"h\" or \"hh\""),
                    'H' => (
                        (t.hour() + 11) % 12 + 1,
                        "12-hour must either be \"H\" or \"HH\"",
                    ),
                    'm' => (t.minute(), "minute must either be \"m\" or \"mm\""),
                    _ => (t.second(), "second must either be \"s\" or \"ss\""),
                };
                match n {
                    1 => out.push_str(&v.to_string()),
                    2 => out.push_str(&format!("{v:02}")),
                    _ => return Err(bad(tok, what)),
                }
            }
            'A' | 'a' => {
                if n != 2 {
                    return Err(bad(tok, &format!("must be \"{first}{first}\"")));
                }
                let pm = t.hour() >= 12;
                out.push_str(match (first, pm) {
                    ('A', false) => "AM",
                    ('A', true) => "PM",
                    (_, false) => "am",
                    (_, true) => "pm",
                });
            }
            'Z' => {
                let utc = t.offset().is_utc();
                match n {
                    1 if utc => out.push('Z'),
                    1 => out.push_str(&offset_text(t.offset(), true)),
                    3 if utc => out.push_str("UTC"),
                    3 | 4 => out.push_str(&offset_text(t.offset(), false)),
                    5 => out.push_str(&offset_text(t.offset(), true)),
                    _ => return Err(bad(tok, "timezone must be Z, ZZZZ, or ZZZZZ")),
                }
            }
            c if c.is_ascii_alphabetic() => return Err(bad(tok, "")),
            _ => out.push_str(tok),
        }
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
    fn fd(f: &str, t: &str) -> Result<Value, String> {
        call("formatdate", vec![s(f), s(t)])
    }

    #[test]
    fn formatdate_docs() {
        let t = "2018-01-02T23:12:01Z";
        assert_eq!(
            fd("DD MMM YYYY hh:mm ZZZ", t),
            Ok(s("02 Jan 2018 23:12 UTC"))
        );
        assert_eq!(
            fd("EEEE, DD-MMM-YY hh:mm:ss ZZZ", t),
            Ok(s("Tuesday, 02-Jan-18 23:12:01 UTC"))
        );
        assert_eq!(
            fd("EEE, DD MMM YYYY hh:mm:ss ZZZ", "2018-01-02T23:12:01-08:00"),
            Ok(s("Tue, 02 Jan 2018 23:12:01 -0800"))
        );
        assert_eq!(fd("MMM DD, YYYY", t), Ok(s("Jan 02, 2018")));
        assert_eq!(fd("HH:mmaa", t), Ok(s("11:12pm")));
        assert_eq!(fd("h'h'mm", "2018-01-02T23:12:01-08:00"), Ok(s("23h12")));
        assert_eq!(
            fd("YYYY-MM-DD'T'hh:mm:ssZ", t),
            Ok(s("2018-01-02T23:12:01Z"))
        );
        assert_eq!(
            fd("M/D H AA ZZZZZ ZZZZ Z", "2018-01-02T00:05:09+05:30"),
            Ok(s("1/2 12 AM +05:30 +0530 +05:30"))
        );
        assert_eq!(fd("'it''s' MMMM", t), Ok(s("it's January")));
        assert_eq!(fd("''", t), Ok(s("'")));
    }

    #[test]
    fn formatdate_errors() {
        let t = "2018-01-02T23:12:01Z";
        assert_eq!(
            fd("YYY", t),
            Err("invalid value for \"format\" parameter: invalid date format verb \"YYY\": year must either be \"YY\" or \"YYYY\"".into())
        );
        assert_eq!(
            fd("x", t),
            Err("invalid value for \"format\" parameter: invalid date format verb \"x\"".into())
        );
        assert_eq!(
            fd("'abc", t),
            Err("invalid value for \"format\" parameter: unterminated literal '".into())
        );
        assert_eq!(
            fd("YYYY", "2018-01-02"),
            Err("invalid value for \"time\" parameter: not a valid RFC3339 timestamp: missing required time introducer 'T'".into())
        );
        assert_eq!(
            fd("YYYY", "abc"),
            Err("invalid value for \"time\" parameter: not a valid RFC3339 timestamp: cannot use \"abc\" as year".into())
        );
        assert_eq!(
            fd("YYYY", "2018-13-02T00:00:00Z"),
            Err("invalid value for \"time\" parameter: not a valid RFC3339 timestamp: cannot use \"13-02T00:00:00Z\" as month".into())
        );
        assert!(
            fd("YYYY", "2018-01-02T00:00:00")
                .unwrap_err()
                .contains("end of string before UTC offset")
        );
        assert!(
            fd("YYYY", "2018-01-02T00:00:00Zjunk")
                .unwrap_err()
                .contains("extra text: \"junk\"")
        );
    }

    #[test]
    fn timeadd_docs() {
        let ta = |t: &str, d: &str| call("timeadd", vec![s(t), s(d)]);
        assert_eq!(
            ta("2017-11-22T00:00:00Z", "10m"),
            Ok(s("2017-11-22T00:10:00Z"))
        );
        assert_eq!(
            ta("2017-11-22T00:00:00Z", "1h30m"),
            Ok(s("2017-11-22T01:30:00Z"))
        );
        assert_eq!(
            ta("2017-11-22T00:00:00Z", "-2h"),
            Ok(s("2017-11-21T22:00:00Z"))
        );
        assert_eq!(
            ta("2017-11-22T00:00:00+01:00", "1.5h"),
            Ok(s("2017-11-22T01:30:00+01:00"))
        );
        assert_eq!(
            ta("2017-11-22T00:00:00.5Z", "0"),
            Ok(s("2017-11-22T00:00:00Z"))
        );
        assert_eq!(
            ta("2017-11-22T00:00:00Z", "1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".into())
        );
        assert_eq!(
            ta("2017-11-22T00:00:00Z", "10"),
            Err("time: missing unit in duration \"10\"".into())
        );
        assert_eq!(
            ta("2017-11-22T00:00:00Z", "abc"),
            Err("time: invalid duration \"abc\"".into())
        );
        assert_eq!(
            ta("2017-11-22T00:00:00Z", ""),
            Err("time: invalid duration \"\"".into())
        );
        assert!(ta("2017-11-22T00:00:00Z", "999999999999h").is_err());
        assert!(
            ta("nope", "1h")
                .unwrap_err()
                .starts_with("not a valid RFC3339 timestamp")
        );
    }

    #[test]
    fn timestamp_is_rfc3339_utc() {
        let now = call("timestamp", vec![]).unwrap();
        let text = now.as_str().unwrap().to_string();
        assert_eq!(text.len(), 20, "{text}");
        assert!(text.ends_with('Z'));
        assert!(call("formatdate", vec![s("YYYY"), now]).is_ok());
        assert!(call("timestamp", vec![s("x")]).is_err());
    }
}
