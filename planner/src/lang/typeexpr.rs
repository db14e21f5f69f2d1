//! Type constraint syntax: `string`, `list(object({ name = string, port = optional(number, 22) }))`.

use std::collections::BTreeMap;

use fleetform_sdk::{ObjectAttribute, Type};
use hcl::edit::Span;
use hcl::edit::expr::{Expression, ObjectKey};

use super::{EvalError, eval_const};

fn invalid(expr: &Expression, detail: impl Into<String>) -> EvalError {
    EvalError::new(expr.span(), "Invalid type specification", detail)
}

/// Reads a type constraint expression.
pub fn type_constraint(expr: &Expression) -> Result<Type, EvalError> {
    read(expr, false).map(|(ty, _)| ty)
}

/// Reads a type; `in_object` allows `optional(...)`, which returns its default too.
fn read(expr: &Expression, in_object: bool) -> Result<(Type, Option<OptionalInfo>), EvalError> {
    match expr {
        Expression::Variable(v) => match v.as_str() {
            "string" => Ok((Type::String, None)),
            "number" => Ok((Type::Number, None)),
            "bool" => Ok((Type::Bool, None)),
            "any" => Ok((Type::Any, None)),
            "list" | "set" | "map" => Err(invalid(
                expr,
                format!(
                    "The {0} type constructor requires one argument specifying the element type, like {0}(string).",
                    v.as_str()
                ),
            )),
            other => Err(invalid(
                expr,
                format!("The keyword {other:?} is not a valid type specification."),
            )),
        },
        Expression::String(s) => Err(invalid(
            expr,
            format!(
                "A type specification is a keyword, not a string: write {} without quotes.",
                s.value()
            ),
        )),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let one = |args: &[&Expression]| -> Result<Type, EvalError> {
                match args {
                    [arg] => Ok(read(arg, false)?.0),
                    _ => Err(invalid(
                        expr,
                        format!(
                            "The {name} type constructor requires one argument specifying the element type."
                        ),
                    )),
                }
            };
            match name {
                "list" => Ok((Type::list(one(&args)?), None)),
                "set" => Ok((Type::set(one(&args)?), None)),
                "map" => Ok((Type::map(one(&args)?), None)),
                "tuple" => match args[..] {
                    [Expression::Array(items)] => {
                        let types = items
                            .iter()
                            .map(|e| Ok(read(e, false)?.0))
                            .collect::<Result<_, EvalError>>()?;
                        Ok((Type::Tuple(types), None))
                    }
                    _ => Err(invalid(
                        expr,
                        "The tuple type constructor requires one argument specifying the element types as a list.",
                    )),
                },
                "object" => match args[..] {
                    [Expression::Object(obj)] => {
                        let mut attrs = BTreeMap::new();
                        for (key, value) in obj.iter() {
                            let key = match key {
                                ObjectKey::Ident(id) => id.as_str().to_owned(),
                                ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                                ObjectKey::Expression(e) => {
                                    return Err(invalid(
                                        e,
                                        "Object type attribute names must be identifiers or quoted strings.",
                                    ));
                                }
                            };
                            let (ty, optional) = read(value.expr(), true)?;
                            let attr = match optional {
                                Some(info) => ObjectAttribute {
                                    ty,
                                    optional: true,
                                    default: info.default,
                                },
                                None => ObjectAttribute::required(ty),
                            };
                            attrs.insert(key, attr);
                        }
                        Ok((Type::Object(attrs), None))
                    }
                    _ => Err(invalid(
                        expr,
                        "The object type constructor requires one argument specifying the attribute types as a map.",
                    )),
                },
                "optional" if in_object => {
                    let (ty, default_expr) = match args[..] {
                        [t] => (read(t, false)?.0, None),
                        [t, d] => (read(t, false)?.0, Some(d)),
                        _ => {
                            return Err(invalid(
                                expr,
                                "The optional modifier requires the attribute type and, optionally, a default value.",
                            ));
                        }
                    };
                    let default = match default_expr {
                        None => None,
                        Some(d) => {
                            let v = eval_const(d)?;
                            let v = ty.convert(&v).map_err(|e| {
                                EvalError::new(d.span(), "Invalid default value for optional attribute", format!("This default value is not compatible with the attribute's type constraint: {e}."))
                            })?;
                            Some(v)
                        }
                    };
                    Ok((ty, Some(OptionalInfo { default })))
                }
                "optional" => Err(invalid(
                    expr,
                    "Keyword \"optional\" is valid only as a modifier for object type attributes.",
                )),
                other => Err(invalid(
                    expr,
                    format!("Keyword {other:?} is not a valid type constructor."),
                )),
            }
        }
        _ => Err(invalid(
            expr,
            "A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).",
        )),
    }
}

struct OptionalInfo {
    default: Option<fleetform_sdk::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Type, EvalError> {
        type_constraint(&hcl::edit::parser::parse_expr(src).unwrap())
    }

    #[test]
    fn reads_nested_constraints_with_optional_defaults() {
        let ty = parse("map(object({ address = string, port = optional(number, 22), tags = optional(list(string)) }))").unwrap();
        assert_eq!(
            ty.to_string(),
            "map(object({address=string, port=optional(number), tags=optional(list(string))}))"
        );
        let Type::Map(inner) = ty else {
            panic!("map expected")
        };
        let Type::Object(attrs) = *inner else {
            panic!("object expected")
        };
        assert_eq!(attrs["port"].default, Some(fleetform_sdk::Value::from(22)));
    }

    #[test]
    fn rejects_misspelled_and_misplaced_keywords() {
        assert_eq!(
            parse("strin").unwrap_err().detail,
            "The keyword \"strin\" is not a valid type specification."
        );
        assert_eq!(
            parse("optional(string)").unwrap_err().detail,
            "Keyword \"optional\" is valid only as a modifier for object type attributes."
        );
        assert!(parse("list").is_err());
        assert!(parse("\"string\"").is_err());
    }
}
