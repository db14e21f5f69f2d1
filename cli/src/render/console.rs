//! Values as `fleetform console` prints them, the way Terraform's console does: strings
//! quoted, lists and objects one element per line, `(sensitive value)` for anything
//! sensitive and `(known after apply)` for what only apply can tell.

use fleetform_sdk::Value;

/// A value in the console's notation.
pub fn value(v: &Value) -> String {
    let mut out = String::new();
    write(v, 0, &mut out);
    out
}

fn write(v: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth + 1);
    match v {
        Value::Sensitive(_) => out.push_str("(sensitive value)"),
        Value::Unknown => out.push_str("(known after apply)"),
        Value::Null => out.push_str("null"),
        Value::String(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
        Value::Set(items) => {
            // Terraform's console shows a set as the conversion that makes it.
            out.push_str("toset(");
            write(&Value::List(items.clone()), depth, out);
            out.push(')');
        }
        Value::List(items) if items.is_empty() => out.push_str("[]"),
        Value::List(items) => {
            out.push_str("[\n");
            for item in items {
                out.push_str(&pad);
                write(item, depth + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&"  ".repeat(depth));
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (k, item) in map {
                out.push_str(&pad);
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push_str(" = ");
                write(item, depth + 1, out);
                out.push('\n');
            }
            out.push_str(&"  ".repeat(depth));
            out.push('}');
        }
        // cty's digits, never a float's exponent form (1e10 * 1e10 is 100000000000000000000).
        Value::Number(n) => out.push_str(&n.to_string()),
        other => out.push_str(&other.to_json().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_console_notation() {
        assert_eq!(value(&Value::from("a\"b")), r#""a\"b""#);
        assert_eq!(value(&Value::Null), "null");
        assert_eq!(value(&Value::Unknown), "(known after apply)");
        assert_eq!(value(&Value::from("pw").mark_if(true)), "(sensitive value)");
        let big = fleetform_sdk::number::Number::parse("1e20").expect("a number");
        assert_eq!(value(&Value::Number(big)), "100000000000000000000");
        assert_eq!(
            value(&Value::Set(vec![Value::from("a")])),
            "toset([\n  \"a\",\n])"
        );
        let v = Value::object([
            (
                "list",
                Value::List(vec![Value::from("x"), Value::Bool(true)]),
            ),
            ("empty", Value::List(vec![])),
        ]);
        assert_eq!(
            value(&v),
            "{\n  \"empty\" = []\n  \"list\" = [\n    \"x\",\n    true,\n  ]\n}"
        );
    }
}
