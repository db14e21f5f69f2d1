//! Terraform's operators over known values: operands are converted as HCL converts them
//! (`"5" + 1` is 6, `!"true"` is false), arithmetic follows cty's numbers (see
//! `fleetform_sdk::number`), `==` compares without conversion, and every failure is an
//! error in Terraform's words, never a panic.

use fleetform_sdk::number::Number;
use fleetform_sdk::{Type, Value};
use hcl::expr::{BinaryOperator, UnaryOperator};

/// Why an operation failed: a summary and a detail, as Terraform prints them.
#[derive(Debug, Clone, PartialEq)]
pub struct OpError {
    pub summary: &'static str,
    pub detail: String,
}

fn operand_error(side: &str, required: &str) -> OpError {
    OpError {
        summary: "Invalid operand",
        detail: format!("Unsuitable value for {side} operand: {required} is required."),
    }
}

fn failed(message: impl std::fmt::Display) -> OpError {
    OpError {
        summary: "Operation failed",
        detail: format!("Error during operation: {message}."),
    }
}

/// The number an operand converts to; `None` for null, which converts but is refused
/// only once both operands have converted.
fn number(v: &Value, side: &str) -> Result<Option<Number>, OpError> {
    match Type::Number.convert(v) {
        Ok(Value::Number(n)) => Ok(Some(n)),
        Ok(_) if v.is_null() => Ok(None),
        _ => Err(operand_error(side, "a number")),
    }
}

/// The bool an operand converts to; `None` for null.
fn boolean(v: &Value, side: &str) -> Result<Option<bool>, OpError> {
    match Type::Bool.convert(v) {
        Ok(Value::Bool(b)) => Ok(Some(b)),
        Ok(_) if v.is_null() => Ok(None),
        _ => Err(operand_error(side, "a bool")),
    }
}

fn not_null<T>(v: Option<T>) -> Result<T, OpError> {
    v.ok_or_else(|| failed("argument must not be null"))
}

/// `op operand` for a wholly known operand without marks.
pub fn unary(op: UnaryOperator, operand: &Value) -> Result<Value, OpError> {
    match op {
        UnaryOperator::Neg => Ok(Value::Number(not_null(number(operand, "the")?)?.neg())),
        UnaryOperator::Not => Ok(Value::Bool(!not_null(boolean(operand, "the")?)?)),
    }
}

/// `lhs op rhs` for wholly known operands without marks.
pub fn binary(op: BinaryOperator, lhs: &Value, rhs: &Value) -> Result<Value, OpError> {
    use BinaryOperator as B;
    match op {
        B::Eq => Ok(Value::Bool(equal(lhs, rhs))),
        B::NotEq => Ok(Value::Bool(!equal(lhs, rhs))),
        B::And | B::Or => {
            // One null operand of a logical operator counts as false, as in HCL.
            let (a, b) = (boolean(lhs, "left")?, boolean(rhs, "right")?);
            if a.is_none() && b.is_none() && op == B::Or {
                return Err(failed("argument must not be null"));
            }
            let (a, b) = (a.unwrap_or(false), b.unwrap_or(false));
            Ok(Value::Bool(if op == B::And { a && b } else { a || b }))
        }
        _ => {
            let (a, b) = (number(lhs, "left")?, number(rhs, "right")?);
            let (a, b) = (not_null(a)?, not_null(b)?);
            let n = match op {
                B::Plus => a.add(&b),
                B::Minus => a.sub(&b),
                B::Mul => a.mul(&b),
                B::Div => a.div(&b),
                B::Mod => a.rem(&b),
                B::Less => return Ok(Value::Bool(a.cmp_value(&b).is_lt())),
                B::LessEq => return Ok(Value::Bool(a.cmp_value(&b).is_le())),
                B::Greater => return Ok(Value::Bool(a.cmp_value(&b).is_gt())),
                B::GreaterEq => return Ok(Value::Bool(a.cmp_value(&b).is_ge())),
                B::Eq | B::NotEq | B::And | B::Or => unreachable!("handled above"),
            };
            n.map(Value::Number).map_err(failed)
        }
    }
}

/// cty's equality: no conversion between types (`1 == "1"` is false), collections
/// compared element by element, numbers by their decimal text.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    match (a.unmark().0, b.unmark().0) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && equal(v1, v2))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Value {
        Value::Number(Number::parse(s).unwrap())
    }

    #[test]
    fn operands_convert_like_hcl() {
        assert_eq!(
            binary(BinaryOperator::Plus, &Value::from("5"), &n("1")),
            Ok(n("6"))
        );
        assert_eq!(
            binary(BinaryOperator::Less, &Value::from("10"), &Value::from("9")),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            unary(UnaryOperator::Not, &Value::from("true")),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            binary(BinaryOperator::Eq, &n("1"), &Value::from("1")),
            Ok(Value::Bool(false))
        );
        let err = binary(BinaryOperator::Plus, &Value::from("x"), &n("1")).unwrap_err();
        assert_eq!(
            err.detail,
            "Unsuitable value for left operand: a number is required."
        );
    }

    #[test]
    fn zero_divisors_never_panic() {
        assert_eq!(binary(BinaryOperator::Mod, &n("5"), &n("0")), Ok(n("5")));
        assert_eq!(
            binary(BinaryOperator::Mod, &n("-9223372036854775808"), &n("-1")),
            Ok(n("0"))
        );
        assert!(binary(BinaryOperator::Div, &n("0"), &n("0")).is_err());
        assert_eq!(
            binary(BinaryOperator::Div, &n("1"), &n("0")).map(|v| v.to_string()),
            Ok("+Inf".into())
        );
        assert_eq!(
            binary(
                BinaryOperator::Eq,
                &n("0.3"),
                &binary(BinaryOperator::Plus, &n("0.1"), &n("0.2")).unwrap()
            ),
            Ok(Value::Bool(true))
        );
    }
}

/// Arithmetic over extreme operands never panics: i64 bounds, values beyond 64-bit
/// floats (1e±400), zero divisors, infinities and strings that convert.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn operand() -> impl Strategy<Value = Value> {
        let extreme = prop::sample::select(vec![
            "0",
            "-0",
            "1",
            "-1",
            "0.5",
            "0.1",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615",
            "1e400",
            "-1e400",
            "1e-400",
            "4.9e-324",
            "1.7976931348623157e308",
            "1e100000",
            "1e-100000",
            "123456789012345678901234567890.123456789",
        ])
        .prop_map(|s| Value::Number(Number::parse(s).expect("a valid literal")));
        prop_oneof![
            extreme,
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            (any::<i64>(), -400i32..400).prop_map(|(m, e)| {
                Value::Number(Number::parse(&format!("{m}e{e}")).expect("a valid literal"))
            }),
            Just(Value::from("5")),
            Just(Value::from("x")),
            Just(Value::Bool(true)),
            Just(Value::Null),
            Just(Value::Number(Number::infinity(false))),
            Just(Value::Number(Number::infinity(true))),
        ]
    }

    fn operator() -> impl Strategy<Value = BinaryOperator> {
        use BinaryOperator as B;
        prop::sample::select(vec![
            B::Plus,
            B::Minus,
            B::Mul,
            B::Div,
            B::Mod,
            B::Less,
            B::LessEq,
            B::Greater,
            B::GreaterEq,
            B::Eq,
            B::NotEq,
            B::And,
            B::Or,
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn arithmetic_never_panics(a in operand(), b in operand(), op in operator()) {
            if let Ok(Value::Number(n)) = binary(op, &a, &b) {
                // Printing, converting and rounding the result must not panic either.
                let _ = (n.to_string(), n.as_f64(), n.floor(), n.ceil(), n.abs());
            }
            let _ = unary(UnaryOperator::Neg, &a);
        }
    }
}
