//! Finding the references in an expression, with spans, for the dependency graph, for
//! checking that every reference names something declared, and for templates.

use std::ops::Range;

use hcl::edit::Span;
use hcl::edit::expr::{Expression, ForExpr, Traversal, TraversalOperator};
use hcl::edit::template::ForDirective;
use hcl::edit::visit::{Visit, visit_expr};

/// One step after the root of a reference, as far as it is static.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name`
    Attr(String),
    /// `["key"]` or `[0]` with a literal key.
    Key(crate::addrs::InstanceKey),
}

/// A reference to a named object: `var.x`, `host.web.address`, `module.clinic["n"].id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The first name: `var`, `local`, `module`, `data`, a resource type, ...
    pub root: String,
    /// The static steps that follow, up to the first dynamic index or splat.
    pub steps: Vec<Step>,
    /// The index expression right after the static steps, when the traversal goes on with
    /// one (`host.node[each.key]`): expansion uses it to find which instance is meant.
    pub dynamic_index: Option<Box<Expression>>,
    /// The span of the whole traversal.
    pub span: Range<usize>,
}

/// Every reference in `expr`, in source order. Names bound by `for` expressions and
/// template `for` directives inside `expr` are not references.
pub fn references(expr: &Expression) -> Vec<Reference> {
    let mut finder = Finder::default();
    finder.visit_expr(expr);
    finder.found
}

/// Every reference in the arguments and nested blocks of `body`.
pub fn references_in_body(body: &hcl::edit::structure::Body) -> Vec<Reference> {
    let mut finder = Finder::default();
    finder.visit_body(body);
    finder.found
}

#[derive(Default)]
struct Finder {
    bound: Vec<String>,
    found: Vec<Reference>,
}

impl Finder {
    fn push(
        &mut self,
        root: &str,
        ops: &[hcl::edit::Decorated<TraversalOperator>],
        span: Range<usize>,
    ) {
        if self.bound.iter().any(|b| b == root) {
            return;
        }
        let mut steps = Vec::new();
        let mut dynamic_index = None;
        for op in ops {
            match op.value() {
                TraversalOperator::GetAttr(name) => {
                    steps.push(Step::Attr(name.as_str().to_owned()))
                }
                TraversalOperator::Index(Expression::String(s)) => {
                    steps.push(Step::Key(crate::addrs::InstanceKey::Str(s.value().clone())))
                }
                TraversalOperator::Index(Expression::Number(n)) => match n.value().as_i64() {
                    Some(i) => steps.push(Step::Key(crate::addrs::InstanceKey::Int(i))),
                    None => break,
                },
                TraversalOperator::LegacyIndex(i) => match i64::try_from(*i.value()) {
                    Ok(i) => steps.push(Step::Key(crate::addrs::InstanceKey::Int(i))),
                    Err(_) => break,
                },
                TraversalOperator::Index(e) => {
                    dynamic_index = Some(Box::new(e.clone()));
                    break;
                }
                _ => break,
            }
        }
        self.found.push(Reference {
            root: root.to_owned(),
            steps,
            dynamic_index,
            span,
        });
    }
}

impl Visit for Finder {
    fn visit_expr(&mut self, expr: &Expression) {
        match expr {
            Expression::Variable(v) => {
                let span = v.span().unwrap_or(0..0);
                self.push(v.as_str(), &[], span);
            }
            Expression::Traversal(t) => self.visit_traversal(t),
            other => visit_expr(self, other),
        }
    }

    fn visit_traversal(&mut self, t: &Traversal) {
        if let Expression::Variable(v) = &t.expr {
            let span = t.span().unwrap_or(0..0);
            self.push(v.as_str(), &t.operators, span);
        } else {
            self.visit_expr(&t.expr);
        }
        // Dynamic index expressions hold references of their own.
        for op in &t.operators {
            if let TraversalOperator::Index(e) = op.value() {
                self.visit_expr(e);
            }
        }
    }

    fn visit_for_expr(&mut self, f: &ForExpr) {
        self.visit_expr(&f.intro.collection_expr);
        let depth = self.bound.len();
        if let Some(k) = &f.intro.key_var {
            self.bound.push(k.as_str().to_owned());
        }
        self.bound.push(f.intro.value_var.as_str().to_owned());
        if let Some(k) = &f.key_expr {
            self.visit_expr(k);
        }
        self.visit_expr(&f.value_expr);
        if let Some(c) = &f.cond {
            self.visit_expr(&c.expr);
        }
        self.bound.truncate(depth);
    }

    fn visit_block(&mut self, block: &hcl::edit::structure::Block) {
        if block.ident.as_str() != "dynamic" {
            hcl::edit::visit::visit_block(self, block);
            return;
        }
        // `dynamic "x" { for_each = ..., iterator = it, content { it.value } }`: the
        // iterator (default: the label) is bound inside, not a reference.
        let mut iterator = block
            .labels
            .first()
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default();
        for s in block.body.iter() {
            if let hcl::edit::structure::Structure::Attribute(a) = s {
                match (a.key.as_str(), &a.value) {
                    ("iterator", Expression::Variable(v)) => iterator = v.as_str().to_owned(),
                    ("for_each", e) => self.visit_expr(e),
                    _ => {}
                }
            }
        }
        self.bound.push(iterator);
        for s in block.body.iter() {
            match s {
                hcl::edit::structure::Structure::Attribute(a) if a.key.as_str() == "labels" => {
                    self.visit_expr(&a.value)
                }
                hcl::edit::structure::Structure::Block(b) => self.visit_body(&b.body),
                _ => {}
            }
        }
        self.bound.pop();
    }

    fn visit_for_directive(&mut self, d: &ForDirective) {
        let f = &d.for_expr;
        self.visit_expr(&f.collection_expr);
        let depth = self.bound.len();
        if let Some(k) = &f.key_var {
            self.bound.push(k.as_str().to_owned());
        }
        self.bound.push(f.value_var.as_str().to_owned());
        self.visit_template(&f.template);
        self.bound.truncate(depth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(src: &str) -> Vec<String> {
        let expr = hcl::edit::parser::parse_expr(src).unwrap();
        references(&expr)
            .into_iter()
            .map(|r| {
                format!(
                    "{}{}",
                    r.root,
                    r.steps
                        .iter()
                        .map(|s| match s {
                            Step::Attr(a) => format!(".{a}"),
                            Step::Key(k) => k.to_string(),
                        })
                        .collect::<String>()
                )
            })
            .collect()
    }

    #[test]
    fn finds_references_but_not_loop_variables() {
        assert_eq!(
            roots(r#"{ for k, h in host.web : k => "${h.address}:${var.port}" if local.on }"#),
            ["host.web", "var.port", "local.on"]
        );
        assert_eq!(
            roots(r#"module.clinic["north"].endpoint"#),
            [r#"module.clinic["north"].endpoint"#]
        );
        assert_eq!(roots("host.web[var.i].id"), ["host.web", "var.i"]);
        assert_eq!(
            roots("\"%{ for n in var.names }${n}-${local.suffix}%{ endfor }\""),
            ["var.names", "local.suffix"]
        );
    }
}
