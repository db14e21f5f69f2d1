//! Numbers with the semantics of Terraform's (cty's): binary floating point with a
//! 512-bit mantissa for literals and arithmetic, exact integers of any size that fits,
//! infinities from division by zero, and equality by the shortest decimal text.
//!
//! cty keeps each number as a Go `big.Float`, whose precision travels with the value: a
//! literal or `tonumber` parses at 512 bits, a result of `pow` or `log` (computed as a
//! 64-bit float) has 53 bits, and arithmetic rounds to the larger precision of its
//! operands (to nearest, ties to even). Printing uses Go's `Text('f', -1)`: the shortest
//! decimal that reads back as the same number at that precision, never an exponent. This
//! module reproduces those rules on `num-bigint` integers (already in the dependency tree),
//! with a fast path for integers that fit an `i64`, which is what nearly every fleet uses.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use num_bigint::{BigInt, Sign};
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// The mantissa precision, in bits, of literals and of arithmetic results.
pub const PRECISION: u32 = 512;
/// The largest binary exponent kept; beyond it numbers become infinite (or zero).
const MAX_EXPONENT: i64 = 1 << 20;
/// The precision of values computed as 64-bit floats (Go's `big.NewFloat`).
const F64_PRECISION: u32 = 53;

/// A number. Integers that fit an `i64` are kept as one; everything else is a binary float.
#[derive(Clone)]
pub struct Number(Repr);

#[derive(Clone)]
enum Repr {
    Int(i64),
    Float(Arc<Float>),
    /// Positive (`false`) or negative (`true`) infinity.
    Inf(bool),
}

/// `mant * 2^exp`, with `mant` odd and at most `prec` bits long, and the value not an
/// integer that fits an `i64` (those are `Repr::Int`).
#[derive(Debug)]
struct Float {
    mant: BigInt,
    exp: i64,
    prec: u32,
}

/// An arithmetic operation Terraform refuses, in cty's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArithmeticError(pub &'static str);

impl Number {
    /// Positive or negative infinity.
    pub fn infinity(negative: bool) -> Number {
        Number(Repr::Inf(negative))
    }

    /// The nearest number to a 64-bit float, with 53 bits of precision as cty gives the
    /// results of its float functions; `None` for NaN.
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        if f.is_infinite() {
            return Some(Number::infinity(f < 0.0));
        }
        if f == f.trunc() && f.abs() < 9.2e18 {
            return Some(Number(Repr::Int(f as i64)));
        }
        let bits = f.to_bits();
        let negative = bits >> 63 == 1;
        let exponent = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1 << 52) - 1);
        let (mant, exp) = if exponent == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1 << 52), exponent - 1075)
        };
        let mant = BigInt::from(mant);
        let mant = if negative { -mant } else { mant };
        Some(Number::from_parts(mant, exp, F64_PRECISION, false))
    }

    /// Parses a decimal number as cty does (`ParseNumberVal`): an optional sign, digits with
    /// an optional fraction and exponent; `None` for anything else.
    pub fn parse(text: &str) -> Option<Number> {
        // The common case: a whole number that fits an i64.
        if text.len() <= 18
            && text
                .bytes()
                .enumerate()
                .all(|(i, b)| b.is_ascii_digit() || i == 0 && b == b'-')
            && let Ok(i) = text.parse::<i64>()
        {
            return Some(Number(Repr::Int(i)));
        }
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (body, exp_part) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_digits, frac_digits) = match body.find('.') {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (body, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_digits.is_empty() && frac_digits.is_empty()
            || !all_digits(int_digits)
            || !all_digits(frac_digits)
        {
            return None;
        }
        let mut exp10: i64 = match exp_part {
            None => 0,
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !all_digits(digits) {
                    return None;
                }
                // Beyond this the value is zero or infinite at any precision cty keeps.
                let n: i64 = digits.parse().unwrap_or(i64::MAX).min(1 << 40);
                if e.starts_with('-') { -n } else { n }
            }
        };
        exp10 -= frac_digits.len() as i64;
        let digits = format!("{int_digits}{frac_digits}");
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Some(Number(Repr::Int(0)));
        }
        if exp10 > 100_000 {
            return Some(Number::infinity(negative));
        }
        if exp10 + (digits.len() as i64) < -100_000 {
            return Some(Number(Repr::Int(0)));
        }
        let mut mant: BigInt = digits.parse().ok()?;
        if negative {
            mant = -mant;
        }
        Some(Number::from_decimal(mant, exp10, PRECISION))
    }

    /// `mant * 10^exp10`, rounded to `prec` bits.
    fn from_decimal(mant: BigInt, exp10: i64, prec: u32) -> Number {
        if exp10 >= 0 {
            let n = mant * pow10(exp10 as u64);
            return Number::from_parts(n, 0, prec, false);
        }
        let den = pow10(exp10.unsigned_abs());
        Number::quotient(mant, den, 0, prec)
    }

    /// `num / den * 2^exp` rounded to `prec` bits; `den` is positive.
    fn quotient(num: BigInt, den: BigInt, exp: i64, prec: u32) -> Number {
        // Enough extra bits that the quotient has prec + 2 significant bits.
        let shift = (i64::from(prec) + 2 + den.bits() as i64 - num.bits() as i64).max(0);
        let (q, r) = (num << shift as usize).div_rem(&den);
        Number::from_parts(q, exp - shift, prec, !r.is_zero())
    }

    /// `mant * 2^exp` rounded to nearest (ties to even) at `prec` bits; `sticky` says the
    /// true value is a little further from zero than `mant` (bits were cut below it).
    fn from_parts(mant: BigInt, exp: i64, prec: u32, sticky: bool) -> Number {
        if mant.is_zero() {
            return Number(Repr::Int(0));
        }
        let negative = mant.sign() == Sign::Minus;
        let mut mag = mant.abs();
        let mut exp = exp;
        let bits = mag.bits();
        if bits > u64::from(prec) {
            let cut = bits - u64::from(prec);
            let half = BigInt::one() << (cut - 1) as usize;
            let mask: BigInt = (BigInt::one() << cut as usize) - 1;
            let rest: BigInt = &mag & mask;
            mag >>= cut as usize;
            exp += cut as i64;
            let round_up = match rest.cmp(&half) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => sticky || mag.is_odd(),
            };
            if round_up {
                mag += 1;
            }
        }
        let trailing = mag.trailing_zeros().unwrap_or(0);
        mag >>= trailing as usize;
        exp += trailing as i64;
        let mant = if negative { -mag } else { mag };
        if exp >= 0 && mant.bits() + exp as u64 <= 63 {
            let v = (mant << exp as usize).to_i64().unwrap_or(0);
            return Number(Repr::Int(v));
        }
        // Go's exponents end at 2^31; these bounds (about 10^±315,000) keep printing and
        // arithmetic affordable, and no configuration comes near them.
        if exp > MAX_EXPONENT {
            return Number::infinity(negative);
        }
        if exp < -MAX_EXPONENT {
            return Number(Repr::Int(0));
        }
        Number(Repr::Float(Arc::new(Float { mant, exp, prec })))
    }

    /// The exact value as `mant * 2^exp` and its precision; `None` for infinities.
    fn parts(&self) -> Option<(BigInt, i64, u32)> {
        match &self.0 {
            Repr::Int(i) => Some((BigInt::from(*i), 0, PRECISION)),
            Repr::Float(f) => Some((f.mant.clone(), f.exp, f.prec)),
            Repr::Inf(_) => None,
        }
    }

    /// True for positive or negative infinity.
    pub fn is_infinite(&self) -> bool {
        matches!(self.0, Repr::Inf(_))
    }

    /// True when the number is a whole number (infinities are not).
    pub fn is_integer(&self) -> bool {
        match &self.0 {
            Repr::Int(_) => true,
            Repr::Float(f) => f.exp >= 0,
            Repr::Inf(_) => false,
        }
    }

    /// The sign: -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        match &self.0 {
            Repr::Int(i) => i.signum() as i32,
            Repr::Float(f) => {
                if f.mant.sign() == Sign::Minus {
                    -1
                } else {
                    1
                }
            }
            Repr::Inf(neg) => {
                if *neg {
                    -1
                } else {
                    1
                }
            }
        }
    }

    /// The number as an `i64` when it is a whole number in range.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a `u64` when it is a whole number in range.
    pub fn as_u64(&self) -> Option<u64> {
        match &self.0 {
            Repr::Int(i) => u64::try_from(*i).ok(),
            Repr::Float(f) if f.exp >= 0 => (&f.mant << f.exp as usize).to_u64(),
            _ => None,
        }
    }

    /// The whole number as a big integer; `None` for fractions and infinities.
    pub fn to_bigint(&self) -> Option<BigInt> {
        match &self.0 {
            Repr::Int(i) => Some(BigInt::from(*i)),
            Repr::Float(f) if f.exp >= 0 => Some(&f.mant << f.exp as usize),
            _ => None,
        }
    }

    /// A whole number from a big integer (rounded to 512 bits when longer).
    pub fn from_bigint(n: BigInt) -> Number {
        Number::from_parts(n, 0, PRECISION, false)
    }

    /// The nearest 64-bit float (infinite beyond its range).
    pub fn as_f64(&self) -> Option<f64> {
        Some(match &self.0 {
            Repr::Int(i) => *i as f64,
            Repr::Inf(neg) => {
                if *neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Repr::Float(f) => {
                // Keep 64 significant bits, then let the float conversion round.
                let shift = (f.mant.bits() as i64 - 64).max(0);
                let top = (&f.mant >> shift as usize).to_f64().unwrap_or(0.0);
                let exp = f.exp + shift;
                let exp = exp.clamp(-2000, 2000) as i32;
                // Two steps, so that neither power overflows on its own.
                top * 2f64.powi(exp / 2) * 2f64.powi(exp - exp / 2)
            }
        })
    }

    /// The number truncated toward zero (infinities unchanged).
    pub fn trunc(&self) -> Number {
        match &self.0 {
            Repr::Float(f) if f.exp < 0 => {
                let magnitude = f.mant.abs() >> f.exp.unsigned_abs() as usize;
                let n = if f.mant.sign() == Sign::Minus {
                    -magnitude
                } else {
                    magnitude
                };
                Number::from_parts(n, 0, f.prec.max(64), false)
            }
            _ => self.clone(),
        }
    }

    /// The largest whole number not above `self`.
    pub fn floor(&self) -> Number {
        let t = self.trunc();
        if self.signum() < 0 && !self.is_integer() && !self.is_infinite() {
            t.sub(&Number::from(1)).unwrap_or(t)
        } else {
            t
        }
    }

    /// The smallest whole number not below `self`.
    pub fn ceil(&self) -> Number {
        let t = self.trunc();
        if self.signum() > 0 && !self.is_integer() && !self.is_infinite() {
            t.add(&Number::from(1)).unwrap_or(t)
        } else {
            t
        }
    }

    /// `-self`.
    pub fn neg(&self) -> Number {
        match &self.0 {
            Repr::Int(i) => match i.checked_neg() {
                Some(n) => Number(Repr::Int(n)),
                None => Number::from_parts(-BigInt::from(*i), 0, PRECISION, false),
            },
            Repr::Float(f) => Number(Repr::Float(Arc::new(Float {
                mant: -&f.mant,
                exp: f.exp,
                prec: f.prec,
            }))),
            Repr::Inf(neg) => Number::infinity(!neg),
        }
    }

    /// The absolute value.
    pub fn abs(&self) -> Number {
        if self.signum() < 0 {
            self.neg()
        } else {
            self.clone()
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &Number) -> Result<Number, ArithmeticError> {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0)
            && let Some(n) = a.checked_add(*b)
        {
            return Ok(Number(Repr::Int(n)));
        }
        match (&self.0, &other.0) {
            (Repr::Inf(a), Repr::Inf(b)) if a != b => {
                Err(ArithmeticError("can't compute sum of opposing infinities"))
            }
            (Repr::Inf(_), _) => Ok(self.clone()),
            (_, Repr::Inf(_)) => Ok(other.clone()),
            _ => Ok(self.combine(other, |a, b| a + b)),
        }
    }

    /// `self - other`.
    pub fn sub(&self, other: &Number) -> Result<Number, ArithmeticError> {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0)
            && let Some(n) = a.checked_sub(*b)
        {
            return Ok(Number(Repr::Int(n)));
        }
        match (&self.0, &other.0) {
            (Repr::Inf(a), Repr::Inf(b)) if a == b => {
                Err(ArithmeticError("can't subtract infinity from itself"))
            }
            (Repr::Inf(_), _) => Ok(self.clone()),
            (_, Repr::Inf(_)) => Ok(other.neg()),
            _ => Ok(self.combine(other, |a, b| a - b)),
        }
    }

    /// `self * other`.
    pub fn mul(&self, other: &Number) -> Result<Number, ArithmeticError> {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.0, &other.0)
            && let Some(n) = a.checked_mul(*b)
        {
            return Ok(Number(Repr::Int(n)));
        }
        if self.is_infinite() || other.is_infinite() {
            let (a, b) = (self.signum(), other.signum());
            if a == 0 || b == 0 {
                return Err(ArithmeticError("can't multiply zero by infinity"));
            }
            return Ok(Number::infinity(a * b < 0));
        }
        let (ma, ea, pa) = self.parts().unwrap_or_default();
        let (mb, eb, pb) = other.parts().unwrap_or_default();
        Ok(Number::from_parts(ma * mb, ea + eb, pa.max(pb), false))
    }

    /// `self / other`: infinite when dividing by zero, as in cty.
    pub fn div(&self, other: &Number) -> Result<Number, ArithmeticError> {
        const NAN: ArithmeticError =
            ArithmeticError("can't divide zero by zero or infinity by infinity");
        let (a, b) = (self.signum(), other.signum());
        match (self.is_infinite(), other.is_infinite()) {
            (true, true) => return Err(NAN),
            (true, false) => return Ok(Number::infinity(a * if b < 0 { -1 } else { 1 } < 0)),
            (false, true) => return Ok(Number::from(0)),
            _ => {}
        }
        if b == 0 {
            return if a == 0 {
                Err(NAN)
            } else {
                Ok(Number::infinity(a < 0))
            };
        }
        if let (Repr::Int(x), Repr::Int(y)) = (&self.0, &other.0)
            && let Some(0) = x.checked_rem(*y)
            && let Some(q) = x.checked_div(*y)
        {
            return Ok(Number(Repr::Int(q)));
        }
        let (ma, ea, pa) = self.parts().unwrap_or_default();
        let (mb, eb, pb) = other.parts().unwrap_or_default();
        let (num, den) = if mb.sign() == Sign::Minus {
            (-ma, -mb)
        } else {
            (ma, mb)
        };
        Ok(Number::quotient(num, den, ea - eb, pa.max(pb)))
    }

    /// `self % other` as cty computes it: `a - trunc(a / b) * b`, `a` itself when `b` is
    /// zero, and infinities multiplied through. A remainder that is only the rounding of
    /// the 512-bit quotient (within 2^-400 of zero or of `b`) is zero, as cty gives it.
    pub fn rem(&self, other: &Number) -> Result<Number, ArithmeticError> {
        if self.is_infinite() || other.is_infinite() {
            return self.mul(other);
        }
        if other.signum() == 0 {
            return Ok(self.clone());
        }
        if let (Repr::Int(x), Repr::Int(y)) = (&self.0, &other.0) {
            return Ok(Number(Repr::Int(x.checked_rem(*y).unwrap_or(0))));
        }
        let q = self.div(other)?.trunc();
        let (mq, eq, _) = q.parts().unwrap_or_default();
        let (mb, eb, pb) = other.parts().unwrap_or_default();
        let (ma, ea, pa) = self.parts().unwrap_or_default();
        // a - q*b exactly, then rounded once.
        let e = ea.min(eq + eb);
        let lhs = ma << (ea - e) as usize;
        let rhs = (mq * mb) << (eq + eb - e) as usize;
        let r = Number::from_parts(lhs - rhs, e, pa.max(pb), false);
        if q.signum() == 0 {
            return Ok(r);
        }
        // Residues of the 512-bit quotient's rounding, far below any digit cty keeps.
        let scale = if self.abs().cmp_value(&other.abs()).is_gt() {
            self.abs()
        } else {
            other.abs()
        };
        let tiny = scale.mul(&Number::from_parts(BigInt::one(), -400, 64, false))?;
        let gap = other.abs().sub(&r.abs())?;
        if r.abs().cmp_value(&tiny).is_lt() || gap.cmp_value(&tiny).is_lt() {
            return Ok(Number::from(0));
        }
        Ok(r)
    }

    /// `self ^ exp` for a whole exponent, exactly (rounded to 512 bits); `None` when the
    /// exponent is not a small whole number.
    pub fn powi(&self, exp: &Number) -> Option<Number> {
        let e = exp.as_i64()?;
        if !(0..=4096).contains(&e) || self.is_infinite() {
            return None;
        }
        let (m, x, p) = self.parts()?;
        if m.bits().saturating_mul(e as u64) > 1 << 20 {
            return None;
        }
        Some(Number::from_parts(
            num_traits::pow(m, e as usize),
            x * e,
            p,
            false,
        ))
    }

    fn combine(&self, other: &Number, op: impl Fn(BigInt, BigInt) -> BigInt) -> Number {
        let (ma, ea, pa) = self.parts().unwrap_or_default();
        let (mb, eb, pb) = other.parts().unwrap_or_default();
        let e = ea.min(eb);
        // Align both to the smaller exponent; a gap beyond the precision only affects
        // rounding, so it is capped (the smaller operand then acts as a sticky bit).
        let limit = i64::from(pa.max(pb)) + 4;
        let (sa, sb) = (ea - e, eb - e);
        if sa > limit + mb.bits() as i64 || sb > limit + ma.bits() as i64 {
            return self.combine_far(other, &op, limit);
        }
        let a = ma << sa as usize;
        let b = mb << sb as usize;
        Number::from_parts(op(a, b), e, pa.max(pb), false)
    }

    /// Adds or subtracts operands whose magnitudes are so far apart that the smaller one
    /// only decides the rounding.
    fn combine_far(
        &self,
        other: &Number,
        op: &impl Fn(BigInt, BigInt) -> BigInt,
        limit: i64,
    ) -> Number {
        let (ma, ea, pa) = self.parts().unwrap_or_default();
        let (mb, eb, pb) = other.parts().unwrap_or_default();
        let prec = pa.max(pb);
        let (big_m, big_e, small_m, small_on_right) = if ea > eb {
            (ma, ea, mb, true)
        } else {
            (mb, eb, ma, false)
        };
        let shift = (limit + 2) as usize;
        let big = big_m << shift;
        let tiny = small_m.signum();
        let (a, b) = if small_on_right {
            (big, tiny)
        } else {
            (tiny, big)
        };
        Number::from_parts(op(a, b), big_e - shift as i64, prec, false)
    }

    /// The number as Terraform records it in a plan (cty's msgpack): a fraction that a
    /// 64-bit float holds exactly keeps only that float's precision, so it prints with at
    /// most 17 digits, as Terraform's outputs show it.
    pub fn recorded(&self) -> Number {
        match &self.0 {
            Repr::Float(f) if f.exp < 0 && f.prec > F64_PRECISION && f.mant.bits() <= 53 => {
                let exact = self
                    .as_f64()
                    .filter(|x| x.is_finite())
                    .and_then(Number::from_f64)
                    .filter(|n| n.cmp_value(self).is_eq());
                exact.unwrap_or_else(|| self.clone())
            }
            _ => self.clone(),
        }
    }

    /// Compares two numbers by value.
    pub fn cmp_value(&self, other: &Number) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Int(a), Repr::Int(b)) => a.cmp(b),
            (Repr::Inf(a), Repr::Inf(b)) => b.cmp(a),
            (Repr::Inf(neg), _) => {
                if *neg {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (_, Repr::Inf(neg)) => {
                if *neg {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => match self.sub(other) {
                Ok(d) => d.signum().cmp(&0),
                Err(_) => Ordering::Equal,
            },
        }
    }

    /// The shortest decimal digits (no leading or trailing zeros) and decimal exponent
    /// such that `0.DIGITS * 10^exp` reads back as `self` at its precision.
    fn shortest_decimal(f: &Float) -> (String, i64) {
        // Go's roundShortest: the exact decimal of x, and of x -/+ half an ulp, compared
        // digit by digit.
        let mag = f.mant.abs();
        let bits = mag.bits() as i64;
        // The mantissa at exactly prec + 1 bits, so that its last bit is half an ulp.
        let s = bits - i64::from(f.prec) - 1;
        let (m, e) = if s < 0 {
            (mag << (-s) as usize, f.exp + s)
        } else {
            (mag >> s as usize, f.exp + s)
        };
        let exact = exact_decimal(&(f.mant.abs()), f.exp);
        let lower = exact_decimal(&(&m - 1), e);
        let upper = exact_decimal(&(&m + 1), e);
        let inclusive = !m.bit(1);
        let digits = exact.0.as_bytes();
        // Go compares the digit strings position by position, without aligning exponents.
        let at =
            |d: &(String, i64), i: usize| -> u8 { d.0.as_bytes().get(i).copied().unwrap_or(b'0') };
        let (lower_len, upper_len) = (lower.0.len(), upper.0.len());
        for (i, &m) in digits.iter().enumerate() {
            let l = at(&lower, i);
            let u = at(&upper, i);
            let okdown = l != m || inclusive && i + 1 == lower_len;
            let okup = m != u && (inclusive || m + 1 < u || i + 1 < upper_len);
            let round = match (okdown, okup) {
                (true, true) => Some(digits.get(i + 1).is_some_and(|d| *d >= b'5')),
                (true, false) => Some(false),
                (false, true) => Some(true),
                (false, false) => None,
            };
            if let Some(up) = round {
                return round_digits(&exact.0[..=i], exact.1, up);
            }
        }
        exact
    }
}

/// The exact decimal of `mag * 2^exp` (`mag` positive): digits without leading or
/// trailing zeros and the exponent such that the value is `0.DIGITS * 10^exp`.
fn exact_decimal(mag: &BigInt, exp: i64) -> (String, i64) {
    let (int, frac_digits) = if exp >= 0 {
        (mag << exp as usize, 0i64)
    } else {
        // mag / 2^k = mag * 5^k / 10^k
        let k = exp.unsigned_abs();
        (mag * num_traits::pow(BigInt::from(5), k as usize), k as i64)
    };
    let s = int.to_string();
    let point = s.len() as i64 - frac_digits;
    let trimmed = s.trim_end_matches('0');
    let lead = trimmed.len() - trimmed.trim_start_matches('0').len();
    (trimmed[lead..].to_owned(), point - lead as i64)
}

/// Keeps `digits` (already cut), adding one at the last place when `up`.
fn round_digits(digits: &str, exp: i64, up: bool) -> (String, i64) {
    let mut d: Vec<u8> = digits.bytes().collect();
    let mut exp = exp;
    if up {
        let mut i = d.len();
        loop {
            if i == 0 {
                d.insert(0, b'1');
                exp += 1;
                break;
            }
            i -= 1;
            if d[i] == b'9' {
                d[i] = b'0';
            } else {
                d[i] += 1;
                break;
            }
        }
    }
    while d.last() == Some(&b'0') {
        d.pop();
    }
    (String::from_utf8(d).unwrap_or_default(), exp)
}

fn pow10(n: u64) -> BigInt {
    num_traits::pow(BigInt::from(10), n as usize)
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        Number(Repr::Int(n))
    }
}

impl From<i32> for Number {
    fn from(n: i32) -> Number {
        Number(Repr::Int(i64::from(n)))
    }
}

impl From<u32> for Number {
    fn from(n: u32) -> Number {
        Number(Repr::Int(i64::from(n)))
    }
}

impl From<u16> for Number {
    fn from(n: u16) -> Number {
        Number(Repr::Int(i64::from(n)))
    }
}

impl From<u8> for Number {
    fn from(n: u8) -> Number {
        Number(Repr::Int(i64::from(n)))
    }
}

impl From<usize> for Number {
    fn from(n: usize) -> Number {
        match i64::try_from(n) {
            Ok(i) => Number(Repr::Int(i)),
            Err(_) => Number::from_bigint(BigInt::from(n)),
        }
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        match i64::try_from(n) {
            Ok(i) => Number(Repr::Int(i)),
            Err(_) => Number::from_bigint(BigInt::from(n)),
        }
    }
}

/// Equality as cty defines it: two numbers are equal when they print the same.
impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (&self.0, &other.0) {
            (Repr::Int(a), Repr::Int(b)) => a == b,
            (Repr::Inf(a), Repr::Inf(b)) => a == b,
            (Repr::Float(_), Repr::Float(_)) => self.to_string() == other.to_string(),
            _ => false,
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Go's `Text('f', -1)`: the shortest decimal that reads back as the same number, never
/// with an exponent; infinities print as `+Inf` and `-Inf`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Int(i) => write!(f, "{i}"),
            Repr::Inf(neg) => f.write_str(if *neg { "-Inf" } else { "+Inf" }),
            Repr::Float(x) => {
                let (digits, exp) = Number::shortest_decimal(x);
                if x.mant.sign() == Sign::Minus {
                    f.write_str("-")?;
                }
                let len = digits.len() as i64;
                if exp <= 0 {
                    write!(f, "0.{}{digits}", "0".repeat(exp.unsigned_abs() as usize))
                } else if exp >= len {
                    write!(f, "{digits}{}", "0".repeat((exp - len) as usize))
                } else {
                    let (int, frac) = digits.split_at(exp as usize);
                    write!(f, "{int}.{frac}")
                }
            }
        }
    }
}

/// JSON has no infinities and serde's data model no big numbers: whole numbers in the
/// `i64`/`u64` range are written exactly, anything else as the nearest 64-bit float.
impl serde::Serialize for Number {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(i) = self.as_i64() {
            serializer.serialize_i64(i)
        } else if let Some(u) = self.as_u64() {
            serializer.serialize_u64(u)
        } else {
            serializer.serialize_f64(self.as_f64().unwrap_or(f64::NAN))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn decimal_literals_print_as_written_and_sum_exactly() {
        assert_eq!(n("0.1").to_string(), "0.1");
        assert_eq!(n("0.1").add(&n("0.2")).unwrap(), n("0.3"));
        assert_eq!(
            n("1e10").mul(&n("1e10")).unwrap().to_string(),
            "100000000000000000000"
        );
        assert_eq!(
            n("18446744073709551615").add(&n("1")).unwrap().to_string(),
            "18446744073709551616"
        );
        assert_eq!(n("1e400").to_string(), format!("1{}", "0".repeat(400)));
        assert_eq!(n("-2.50").to_string(), "-2.5");
    }

    #[test]
    fn division_rounds_at_512_bits_and_prints_shortest() {
        let third = n("1").div(&n("3")).unwrap().to_string();
        assert_eq!(third, format!("0.{}5", "3".repeat(154)));
        assert_eq!(n("1").div(&n("0")).unwrap().to_string(), "+Inf");
        assert!(n("0").div(&n("0")).is_err());
        assert_eq!(
            Number::from_f64(2f64.sqrt()).unwrap().to_string(),
            "1.4142135623730951"
        );
    }

    #[test]
    fn modulo_follows_cty() {
        assert_eq!(n("5").rem(&n("0")).unwrap(), n("5"));
        assert_eq!(n("-7").rem(&n("3")).unwrap(), n("-1"));
        assert_eq!(n("2.5").rem(&n("1")).unwrap(), n("0.5"));
        assert_eq!(
            Number::from(i64::MIN).rem(&Number::from(-1)).unwrap(),
            n("0")
        );
    }

    #[test]
    fn overflow_promotes_instead_of_wrapping() {
        let min = Number::from(i64::MIN);
        assert_eq!(min.neg().to_string(), "9223372036854775808");
        assert_eq!(
            min.div(&Number::from(-1)).unwrap().to_string(),
            "9223372036854775808"
        );
        assert_eq!(
            min.sub(&n("1")).unwrap().to_string(),
            "-9223372036854775809"
        );
    }
}
