//! Numeric functions: `abs`, `ceil`, `floor`, `log`, `max`, `min`,
//! `parseint`, `pow` and `signum`.

use hcl::eval::FuncArgs;
use hcl::{Number, Value};

use super::conversion::{make_number, param_err, quote, type_name, want_f64, want_int, want_num};

pub(crate) fn abs(args: FuncArgs) -> Result<Value, String> {
    let n = want_num(&args[0], "num")?;
    if let Some(i) = n.as_i64() {
        // i64::MIN has no positive i64 counterpart, so it goes through u64.
        return Ok(Value::from(i.unsigned_abs()));
    }
    if n.as_u64().is_some() {
        return Ok(Value::Number(n));
    }
    make_number(n.as_f64().unwrap_or(0.0).abs())
}

fn round_with(args: &FuncArgs, op: fn(f64) -> f64) -> Result<Value, String> {
    let n = want_num(&args[0], "num")?;
    if n.is_f64() {
        // Whole results convert back to integers inside `Number::from_f64`.
        make_number(op(n.as_f64().unwrap_or(0.0)))
    } else {
        Ok(Value::Number(n))
    }
}

pub(crate) fn ceil(args: FuncArgs) -> Result<Value, String> {
    round_with(&args, f64::ceil)
}

pub(crate) fn floor(args: FuncArgs) -> Result<Value, String> {
    round_with(&args, f64::floor)
}

pub(crate) fn log(args: FuncArgs) -> Result<Value, String> {
    let num = want_f64(&args[0], "num")?;
    let base = want_f64(&args[1], "base")?;
    make_number(num.ln() / base.ln())
}

pub(crate) fn pow(args: FuncArgs) -> Result<Value, String> {
    let num = want_num(&args[0], "num")?;
    let power = want_num(&args[1], "power")?;
    // Exact integer powers avoid f64 rounding for large whole results.
    if let (Some(b), Some(e)) = (num.as_i64(), power.as_i64())
        && let Ok(e) = u32::try_from(e)
        && let Some(r) = b.checked_pow(e)
    {
        return Ok(Value::from(r));
    }
    make_number(
        num.as_f64()
            .unwrap_or(0.0)
            .powf(power.as_f64().unwrap_or(0.0)),
    )
}

pub(crate) fn signum(args: FuncArgs) -> Result<Value, String> {
    // Terraform converts the argument to a Go int first, so fractions fail.
    let n = want_int(&args[0], "num")?;
    Ok(Value::from(n.signum()))
}

fn extreme(args: &FuncArgs, want: std::cmp::Ordering) -> Result<Value, String> {
    let mut best: Option<Number> = None;
    for v in args.iter() {
        let n = want_num(v, "numbers")?;
        best = match best {
            Some(b) if n.partial_cmp(&b) != Some(want) => Some(b),
            _ => Some(n),
        };
    }
    best.map(Value::Number)
        .ok_or_else(|| "must pass at least one number".to_string())
}

pub(crate) fn max(args: FuncArgs) -> Result<Value, String> {
    extreme(&args, std::cmp::Ordering::Greater)
}

pub(crate) fn min(args: FuncArgs) -> Result<Value, String> {
    extreme(&args, std::cmp::Ordering::Less)
}

/// Digit value as Go's `big.Int.SetString` reads it: case-insensitive up to
/// base 36, and lowercase before uppercase for larger bases.
fn digit_value(c: char, base: u32) -> Option<u32> {
    let d = match c {
        '0'..='9' => c as u32 - '0' as u32,
        'a'..='z' => c as u32 - 'a' as u32 + 10,
        'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
        'A'..='Z' => c as u32 - 'A' as u32 + 36,
        _ => return None,
    };
    (d < base).then_some(d)
}

fn parse_int(s: &str, base: u32) -> Option<Value> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut exact: Option<i128> = Some(0);
    let mut approx = 0f64;
    for c in digits.chars() {
        let d = digit_value(c, base)?;
        exact = exact
            .and_then(|v| v.checked_mul(i128::from(base)))
            .and_then(|v| v.checked_add(i128::from(d)));
        approx = approx * f64::from(base) + f64::from(d);
    }
    let exact = exact.map(|v| if neg { -v } else { v });
    match exact {
        Some(v) => match (i64::try_from(v), u64::try_from(v)) {
            (Ok(i), _) => Some(Value::from(i)),
            (_, Ok(u)) => Some(Value::from(u)),
            _ => make_number(v as f64).ok(),
        },
        None => make_number(if neg { -approx } else { approx }).ok(),
    }
}

pub(crate) fn parseint(args: FuncArgs) -> Result<Value, String> {
    let s = match &args[0] {
        Value::String(s) => s.clone(),
        other => {
            return Err(param_err(
                "number",
                &format!("first argument must be a string, not {}", type_name(other)),
            ));
        }
    };
    let base = want_int(&args[1], "base")?;
    let base = match u32::try_from(base) {
        Ok(b) if (2..=62).contains(&b) => b,
        _ => {
            return Err(param_err(
                "base",
                "base must be a whole number between 2 and 62 inclusive",
            ));
        }
    };
    parse_int(&s, base).ok_or_else(|| {
        param_err(
            "number",
            &format!("cannot parse {} as a base {base} integer", quote(&s)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use hcl::Value;

    fn n<T: Into<Value>>(x: T) -> Value {
        x.into()
    }

    #[test]
    fn abs_docs() {
        assert_eq!(call("abs", vec![n(23)]), Ok(n(23)));
        assert_eq!(call("abs", vec![n(0)]), Ok(n(0)));
        assert_eq!(call("abs", vec![n(-12.4)]), Ok(n(12.4)));
        assert_eq!(
            call("abs", vec![n(i64::MIN)]),
            Ok(n(9223372036854775808u64))
        );
        assert_eq!(
            call("abs", vec![n("x")]),
            Err("invalid value for \"num\" parameter: a number is required".into())
        );
    }

    #[test]
    fn ceil_floor_docs() {
        assert_eq!(call("ceil", vec![n(5)]), Ok(n(5)));
        assert_eq!(call("ceil", vec![n(5.1)]), Ok(n(6)));
        assert_eq!(call("floor", vec![n(5)]), Ok(n(5)));
        assert_eq!(call("floor", vec![n(4.9)]), Ok(n(4)));
        assert_eq!(call("floor", vec![n(-4.1)]), Ok(n(-5)));
        assert_eq!(
            call("ceil", vec![Value::Null]),
            Err("invalid value for \"num\" parameter: argument must not be null".into())
        );
        assert_eq!(
            call("floor", vec![n(true)]),
            Err("invalid value for \"num\" parameter: number required".into())
        );
    }

    #[test]
    fn log_docs() {
        assert_eq!(call("log", vec![n(50), n(10)]), Ok(n(1.6989700043360185)));
        assert_eq!(call("log", vec![n(16), n(2)]), Ok(n(4)));
        let ceil_log = |x: i64| {
            let l = call("log", vec![n(x), n(2)]).unwrap();
            call("ceil", vec![l]).unwrap()
        };
        assert_eq!(ceil_log(15), n(4));
        assert_eq!(ceil_log(16), n(4));
        assert_eq!(ceil_log(17), n(5));
        assert!(call("log", vec![n(0), n(10)]).is_err());
    }

    #[test]
    fn min_max_docs() {
        assert_eq!(call("max", vec![n(12), n(54), n(3)]), Ok(n(54)));
        assert_eq!(call("min", vec![n(12), n(54), n(3)]), Ok(n(3)));
        assert_eq!(call("max", vec![n(1), n(2.5)]), Ok(n(2.5)));
        assert_eq!(call("max", vec![n(1), n(2)]), Ok(n(2)));
        assert_eq!(
            call("max", vec![]),
            Err("must pass at least one number".into())
        );
        assert_eq!(
            call("min", vec![]),
            Err("must pass at least one number".into())
        );
    }

    #[test]
    fn pow_docs() {
        assert_eq!(call("pow", vec![n(3), n(2)]), Ok(n(9)));
        assert_eq!(call("pow", vec![n(4), n(0)]), Ok(n(1)));
        assert_eq!(call("pow", vec![n(2), n(-1)]), Ok(n(0.5)));
        assert!(call("pow", vec![n(10), n(400)]).is_err());
    }

    #[test]
    fn signum_docs() {
        assert_eq!(call("signum", vec![n(-13)]), Ok(n(-1)));
        assert_eq!(call("signum", vec![n(0)]), Ok(n(0)));
        assert_eq!(call("signum", vec![n(344)]), Ok(n(1)));
        assert_eq!(
            call("signum", vec![n(1.5)]),
            Err("invalid value for \"num\" parameter: value must be a whole number".into())
        );
    }

    #[test]
    fn parseint_docs() {
        assert_eq!(call("parseint", vec![n("100"), n(10)]), Ok(n(100)));
        assert_eq!(call("parseint", vec![n("FF"), n(16)]), Ok(n(255)));
        assert_eq!(call("parseint", vec![n("-10"), n(16)]), Ok(n(-16)));
        assert_eq!(
            call("parseint", vec![n("1011111011101111"), n(2)]),
            Ok(n(48879))
        );
        assert_eq!(call("parseint", vec![n("aA"), n(62)]), Ok(n(656)));
        assert_eq!(
            call("parseint", vec![n("12"), n(2)]),
            Err(
                "invalid value for \"number\" parameter: cannot parse \"12\" as a base 2 integer"
                    .into()
            )
        );
        assert_eq!(
            call("parseint", vec![n("1"), n(63)]),
            Err("invalid value for \"base\" parameter: base must be a whole number between 2 and 62 inclusive".into())
        );
        assert_eq!(
            call("parseint", vec![n(1), n(10)]),
            Err("invalid value for \"number\" parameter: first argument must be a string, not number".into())
        );
        assert!(call("parseint", vec![n(""), n(10)]).is_err());
    }
}
