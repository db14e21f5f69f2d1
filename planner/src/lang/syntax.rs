//! Parsing with the one HCL literal hcl-edit refuses: a number beyond the range of a 64-bit
//! float (`1e400`). HCL and Terraform read literals as arbitrary-precision decimals; hcl-edit
//! converts each literal to an `f64` and fails on an infinite one. Such a literal is masked
//! with zeros of the same length (so every span stays true), the text is parsed, and the
//! masked number becomes a call of [`HUGE_NUMBER`], a function name no configuration can
//! write, whose argument is the literal as written; the evaluator reads it exactly.

use std::ops::Range;

use hcl::edit::expr::{Expression, FuncArgs, FuncCall, FuncName};
use hcl::edit::parser::Error;
use hcl::edit::structure::Body;
use hcl::edit::visit_mut::{VisitMut, visit_expr_mut};
use hcl::edit::{Decorated, Ident, Span};

/// The function a huge literal becomes: not an identifier, so never a user's call.
pub(crate) const HUGE_NUMBER: &str = "number literal";

/// At most this many huge literals in one text (each costs a parse).
const MAX_HUGE_LITERALS: usize = 64;

/// [`hcl::edit::parser::parse_body`], accepting number literals of any size.
pub fn parse_body(text: &str) -> Result<Body, Error> {
    parse_with(text, hcl::edit::parser::parse_body, |body, restore| {
        restore.visit_body_mut(body)
    })
}

/// [`hcl::edit::parser::parse_expr`], accepting number literals of any size.
pub fn parse_expr(text: &str) -> Result<Expression, Error> {
    parse_with(text, hcl::edit::parser::parse_expr, |expr, restore| {
        restore.visit_expr_mut(expr)
    })
}

fn parse_with<T>(
    text: &str,
    parse: fn(&str) -> Result<T, Error>,
    visit: fn(&mut T, &mut Restore<'_>),
) -> Result<T, Error> {
    let (mut parsed, masked) = parse_masked(text, parse)?;
    if let Some(Masked { literals, .. }) = masked {
        visit(&mut parsed, &mut Restore { text, literals });
    }
    Ok(parsed)
}

/// A text whose huge literals were masked, and where they are.
pub(crate) struct Masked {
    pub text: String,
    pub literals: Vec<Range<usize>>,
}

/// Parses `text`, masking huge literals until it parses; `None` when none needed masking.
fn parse_masked<T>(
    text: &str,
    parse: fn(&str) -> Result<T, Error>,
) -> Result<(T, Option<Masked>), Error> {
    let mut error = match parse(text) {
        Ok(parsed) => return Ok((parsed, None)),
        Err(e) => e,
    };
    let mut masked = text.to_owned();
    let mut literals = Vec::new();
    while literals.len() < MAX_HUGE_LITERALS {
        let Some(range) = huge_literal_near(&masked, error.location().offset()) else {
            break;
        };
        let zeros: String = masked[range.clone()]
            .chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect();
        masked.replace_range(range.clone(), &zeros);
        literals.push(range);
        match parse(&masked) {
            Ok(parsed) => {
                let masked = Masked {
                    text: masked,
                    literals,
                };
                return Ok((parsed, Some(masked)));
            }
            Err(e) => error = e,
        }
    }
    // Masking keeps every offset, so the error left is where the text as written fails.
    Err(error)
}

/// `text` with its huge literals masked (for `fmt`, which formats hcl-edit's own tree), or
/// `None` when it has none.
pub(crate) fn mask_huge_literals(text: &str) -> Result<Option<Masked>, Error> {
    parse_masked(text, hcl::edit::parser::parse_body).map(|(_, masked)| masked)
}

/// Puts the literals `masked` hid back into `formatted`, a text that differs from the
/// masked one only in whitespace: each literal is found by its count of non-blank
/// characters, which whitespace changes keep.
pub(crate) fn unmask(written: &str, masked: &Masked, formatted: &str) -> String {
    let mut out = formatted.to_owned();
    for literal in masked.literals.iter().rev() {
        let before = non_blank(&written[..literal.start]);
        let Some((at, _)) = out
            .char_indices()
            .filter(|(_, c)| !c.is_whitespace())
            .nth(before)
        else {
            continue;
        };
        out.replace_range(at..at + literal.len(), &written[literal.clone()]);
    }
    out
}

fn non_blank(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// The number literal at or just after `offset` when its value is beyond a 64-bit float.
fn huge_literal_near(text: &str, offset: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let mut start = offset.min(bytes.len());
    // The parser reports the start of the term it could not read, or the literal itself.
    while start > 0 && (bytes[start - 1].is_ascii_digit() || bytes[start - 1] == b'.') {
        start -= 1;
    }
    while start < bytes.len() && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
        return None;
    }
    let end = literal_end(bytes, start)?;
    let value: f64 = text[start..end].parse().ok()?;
    value.is_infinite().then_some(start..end)
}

/// The end of an HCL number literal starting at `start`: digits, a fraction, an exponent.
fn literal_end(bytes: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let from = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let mut end = digits(start)?;
    if bytes.get(end) == Some(&b'.')
        && let Some(fraction) = digits(end + 1)
    {
        end = fraction;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        end = digits(end + 1 + sign)?;
    }
    Some(end)
}

/// Turns each masked literal back into what was written.
struct Restore<'a> {
    text: &'a str,
    literals: Vec<Range<usize>>,
}

impl VisitMut for Restore<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expression) {
        if let Expression::Number(number) = expr
            && let Some(span) = number.span()
            && self
                .literals
                .iter()
                .any(|l| l.start >= span.start && l.end <= span.end)
        {
            let written: String = self.text[span.clone()]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            // hcl-edit lets no one else set spans: errors about this literal point at the
            // expression around it.
            let call = FuncCall::new(
                FuncName::new(Decorated::new(Ident::new_unchecked(HUGE_NUMBER))),
                FuncArgs::from(vec![Expression::from(written)]),
            );
            *expr = Expression::FuncCall(Box::new(call));
            return;
        }
        visit_expr_mut(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_literals_parse_as_written_and_others_are_untouched() {
        let text = "a = 1e400 + -2.5E+999\nb = \"1e400\"\nc = 12\n";
        let body = parse_body(text).expect("parses");
        let calls: Vec<String> = body
            .attributes()
            .filter_map(|a| match &a.value {
                Expression::BinaryOp(op) => Some(op),
                _ => None,
            })
            .flat_map(|op| [&op.lhs_expr, &op.rhs_expr])
            .filter_map(|e| match e {
                Expression::FuncCall(call) => call.args.iter().next().map(|a| match a {
                    Expression::String(s) => s.value().clone(),
                    _ => String::new(),
                }),
                _ => None,
            })
            .collect();
        assert_eq!(calls, vec!["1e400".to_owned(), "-2.5E+999".to_owned()]);
        let b = body.get_attribute("b").expect("b");
        assert!(matches!(&b.value, Expression::String(s) if s.value() == "1e400"));
    }

    #[test]
    fn another_error_is_reported_where_the_text_as_written_has_it() {
        // Masking keeps offsets: the error is the missing operand, not the literal.
        let e = parse_expr("1e400 +").expect_err("incomplete");
        assert_eq!(e.location().offset(), plain_error_offset("0e000 +"));
        assert_ne!(e.location().offset(), plain_error_offset("1e400 +"));
        assert!(parse_expr("x1e400").is_ok(), "an identifier, not a literal");
    }

    fn plain_error_offset(text: &str) -> usize {
        hcl::edit::parser::parse_expr(text)
            .expect_err("fails")
            .location()
            .offset()
    }

    #[test]
    fn formatting_a_masked_text_puts_the_literals_back() {
        let written = "a   =   1e400\nbb = [ -2E999 , 1 ]\n";
        let masked = mask_huge_literals(written)
            .expect("parses")
            .expect("masked");
        assert_eq!(masked.text, "a   =   0e000\nbb = [ -0E000 , 1 ]\n");
        let formatted = "a  = 0e000\nbb = [-0E000, 1]\n";
        assert_eq!(
            unmask(written, &masked, formatted),
            "a  = 1e400\nbb = [-2E999, 1]\n"
        );
        assert!(mask_huge_literals("a = 1").expect("parses").is_none());
    }
}
