//! Reading addresses from text (`-target`, `state mv`) and from traversals in configuration
//! (`moved`, `import`). hcl-rs parses the traversal; this file only interprets its steps.

use std::ops::Range;

use hcl::edit::Span;
use hcl::edit::expr::{Expression, TraversalOperator};

use super::{
    AbsResource, AbsResourceInstance, InstanceKey, ModuleInstance, ModuleInstanceStep, Resource,
    ResourceInstance,
};

/// Why a text or traversal is not a valid address.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct AddrError {
    /// What is wrong, in a sentence.
    pub message: String,
    /// The byte range in the parsed text or expression, when known.
    pub span: Option<Range<usize>>,
}

fn error(message: impl Into<String>, span: Option<Range<usize>>) -> AddrError {
    AddrError {
        message: message.into(),
        span,
    }
}

enum Step {
    Name(String, Option<Range<usize>>),
    Key(InstanceKey, Option<Range<usize>>),
}

fn steps(expr: &Expression) -> Result<Vec<Step>, AddrError> {
    let (root, operators) = match expr {
        Expression::Variable(v) => (v, &[][..]),
        Expression::Traversal(t) => match &t.expr {
            Expression::Variable(v) => (v, &t.operators[..]),
            other => return Err(error("an address must start with a name", other.span())),
        },
        other => {
            return Err(error(
                "an address is a traversal such as host.web[0]",
                other.span(),
            ));
        }
    };
    let mut out = vec![Step::Name(root.as_str().to_owned(), root.span())];
    for op in operators {
        let span = op.span();
        match op.value() {
            TraversalOperator::GetAttr(name) => {
                out.push(Step::Name(name.as_str().to_owned(), span))
            }
            TraversalOperator::Index(Expression::String(s)) => {
                out.push(Step::Key(InstanceKey::Str(s.value().clone()), span))
            }
            TraversalOperator::Index(Expression::Number(n)) => match n.as_i64() {
                Some(i) if i >= 0 => out.push(Step::Key(InstanceKey::Int(i), span)),
                _ => return Err(error("an instance index must be a whole number", span)),
            },
            TraversalOperator::LegacyIndex(i) => match i64::try_from(*i.value()) {
                Ok(i) => out.push(Step::Key(InstanceKey::Int(i), span)),
                Err(_) => return Err(error("an instance index must be a whole number", span)),
            },
            TraversalOperator::Index(_) => {
                return Err(error(
                    "an instance key must be a literal number or string",
                    span,
                ));
            }
            TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                return Err(error("a splat cannot appear in an address", span));
            }
        }
    }
    Ok(out)
}

fn parse_text(text: &str) -> Result<Expression, AddrError> {
    hcl::edit::parser::parse_expr(text)
        .map_err(|e| error(format!("invalid address {text:?}: {}", e.message()), None))
}

/// Reads `module.a["k"].module.b` (possibly followed by more steps, which are returned).
fn module_prefix(steps: &[Step]) -> Result<(ModuleInstance, &[Step]), AddrError> {
    let mut module = Vec::new();
    let mut rest = steps;
    while let [Step::Name(m, span), tail @ ..] = rest {
        if m != "module" {
            break;
        }
        let [Step::Name(name, _), after @ ..] = tail else {
            return Err(error(
                "\"module\" must be followed by a module name",
                span.clone(),
            ));
        };
        let (key, after) = match after {
            [Step::Key(key, _), after @ ..] => (key.clone(), after),
            _ => (InstanceKey::None, after),
        };
        module.push(ModuleInstanceStep {
            name: name.clone(),
            key,
        });
        rest = after;
    }
    Ok((ModuleInstance(module), rest))
}

fn resource(steps: &[Step]) -> Result<(Resource, &[Step]), AddrError> {
    match steps {
        [
            Step::Name(d, _),
            Step::Name(ty, _),
            Step::Name(name, _),
            rest @ ..,
        ] if d == "data" => Ok((Resource::data(ty, name), rest)),
        [Step::Name(ty, _), Step::Name(name, _), rest @ ..] => {
            Ok((Resource::managed(ty, name), rest))
        }
        [Step::Name(_, span), ..] | [Step::Key(_, span), ..] => Err(error(
            "a resource address needs a type and a name, such as host.web",
            span.clone(),
        )),
        [] => Err(error(
            "a resource address needs a type and a name, such as host.web",
            None,
        )),
    }
}

fn trailing(rest: &[Step]) -> Result<(), AddrError> {
    match rest.first() {
        None => Ok(()),
        Some(Step::Name(_, span)) | Some(Step::Key(_, span)) => Err(error(
            "unexpected extra step after the address",
            span.clone(),
        )),
    }
}

/// Reads a resource instance address from a configuration traversal.
pub fn abs_resource_instance_from_expr(
    expr: &Expression,
) -> Result<AbsResourceInstance, AddrError> {
    let steps = steps(expr)?;
    let (module, rest) = module_prefix(&steps)?;
    let (resource, rest) = resource(rest)?;
    let (key, rest) = match rest {
        [Step::Key(key, _), rest @ ..] => (key.clone(), rest),
        _ => (InstanceKey::None, rest),
    };
    trailing(rest)?;
    Ok(AbsResourceInstance {
        module,
        resource: ResourceInstance { resource, key },
    })
}

/// Reads a resource address (no instance key) from a configuration traversal.
pub fn abs_resource_from_expr(expr: &Expression) -> Result<AbsResource, AddrError> {
    let steps = steps(expr)?;
    let (module, rest) = module_prefix(&steps)?;
    let (resource, rest) = resource(rest)?;
    trailing(rest)?;
    Ok(AbsResource { module, resource })
}

/// Reads a module instance address from a configuration traversal.
pub fn module_instance_from_expr(expr: &Expression) -> Result<ModuleInstance, AddrError> {
    let steps = steps(expr)?;
    let (module, rest) = module_prefix(&steps)?;
    if module.is_root() {
        return Err(error(
            "a module address starts with module.NAME",
            expr.span(),
        ));
    }
    trailing(rest)?;
    Ok(module)
}

/// Parses `module.clinic["north"].cluster.this[0]`.
pub fn parse_abs_resource_instance(text: &str) -> Result<AbsResourceInstance, AddrError> {
    abs_resource_instance_from_expr(&parse_text(text)?)
}

/// Parses `module.clinic["north"].cluster.this`.
pub fn parse_abs_resource(text: &str) -> Result<AbsResource, AddrError> {
    abs_resource_from_expr(&parse_text(text)?)
}

/// Parses `module.clinic["north"]`.
pub fn parse_module_instance(text: &str) -> Result<ModuleInstance, AddrError> {
    module_instance_from_expr(&parse_text(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_address_shape() {
        for text in [
            "host.web",
            "host.web[3]",
            r#"host.web["a b"]"#,
            "data.host_facts.web",
            r#"module.clinic["north"].cluster.this[0]"#,
            r#"module.clinic["north"].module.net[1].data.host_facts.x["k"]"#,
        ] {
            let addr = parse_abs_resource_instance(text).unwrap();
            assert_eq!(addr.to_string(), text);
        }
        assert_eq!(
            parse_module_instance(r#"module.clinic["north"]"#)
                .unwrap()
                .to_string(),
            r#"module.clinic["north"]"#
        );
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for (text, message) in [
            (
                "host",
                "a resource address needs a type and a name, such as host.web",
            ),
            ("host.web[*]", "a splat cannot appear in an address"),
            (
                "host.web[var.x]",
                "an instance key must be a literal number or string",
            ),
            ("host.web.extra", "unexpected extra step after the address"),
            ("module", "\"module\" must be followed by a module name"),
            (
                "module.a.module",
                "\"module\" must be followed by a module name",
            ),
        ] {
            let err = parse_abs_resource_instance(text).unwrap_err();
            assert_eq!(err.message, message, "{text}");
        }
        assert!(parse_abs_resource_instance("host.web[").is_err());
    }
}
