//! Durations as Go's `time.ParseDuration` reads them, the form Terraform users write in
//! `timeouts` and `-lock-timeout`: one or more decimal numbers, each with an optional
//! fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), such as `300ms`, `1m30s`,
//! `1.5h` or `2h45m`; a lone `0` is zero. Durations are never negative here.

use std::time::Duration;

/// Parses a duration such as `30s`, `5m`, `1m30s` or `1.5h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let original = text;
    let text = text.trim();
    let invalid =
        |why: &str| format!("{original:?} is not a duration such as 30s, 5m or 1m30s: {why}");
    if let Some(rest) = text.strip_prefix('-') {
        // Go reads negative durations; only a negative zero means something here.
        return match parse_duration(rest) {
            Ok(d) if d.is_zero() => Ok(d),
            Ok(_) => Err(invalid("durations cannot be negative")),
            Err(e) => Err(e),
        };
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(invalid("it is empty"));
    }
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(invalid("expected a number"));
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            "" => return Err(invalid("missing unit")),
            other => return Err(invalid(&format!("unknown unit {other:?}"))),
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid("number out of range"))?
        };
        let mut part = whole
            .checked_mul(nanos_per_unit)
            .ok_or_else(|| invalid("out of range"))?;
        // The fraction, digit by digit, as Go does (exact for every unit).
        let mut scale = nanos_per_unit;
        for digit in fraction.bytes() {
            scale /= 10;
            part += u128::from(digit - b'0') * scale;
        }
        total = total
            .checked_add(part)
            .ok_or_else(|| invalid("out of range"))?;
        rest = next;
    }
    // Go's durations are int64 nanoseconds: about 292 years.
    if total > i64::MAX as u128 {
        return Err(invalid("out of range"));
    }
    Ok(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_go_reads() {
        let ms = Duration::from_millis;
        for (text, expected) in [
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("250ms", ms(250)),
            ("1m30s", Duration::from_secs(90)),
            ("2h45m", Duration::from_secs(2 * 3600 + 45 * 60)),
            ("1.5h", Duration::from_secs(5400)),
            (".5s", ms(500)),
            ("1.s", Duration::from_secs(1)),
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("+5s", Duration::from_secs(5)),
            ("1h2m3s4ms5us6ns", Duration::new(3723, 4_005_006)),
            ("10µs", Duration::from_micros(10)),
            ("10μs", Duration::from_micros(10)),
            ("100ns", Duration::from_nanos(100)),
            (" 7s ", Duration::from_secs(7)),
            ("0.000000001s", Duration::from_nanos(1)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_go_refuses() {
        for text in [
            "",
            "7",
            "5 minutes",
            "1d",
            "s",
            ".s",
            "1..5s",
            "-5s",
            "1m-5s",
            "5m3",
            "9223372037s",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
        assert!(
            parse_duration("5 minutes")
                .unwrap_err()
                .contains("not a duration such as 30s, 5m or 1m30s")
        );
    }
}
