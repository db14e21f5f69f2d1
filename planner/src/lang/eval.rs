//! The evaluator: walks an hcl-edit expression, resolving references through a [`Scope`],
//! applies operators (`ops.rs`) and templates (`template.rs`) itself, and hands the
//! function families written as hcl-rs `FuncDef`s to hcl-rs.
//!
//! Unknown values short-circuit: any operation, call or template over an unknown is
//! unknown, never a guess. Sensitive values taint every result computed from them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use fleetform_sdk::{Type, Value, schema::did_you_mean};
use hcl::edit::expr::{Expression, ForExpr, FuncCall, ObjectKey, TraversalOperator};
use hcl::edit::template::{Element, StringTemplate};
use hcl::edit::{Decorated, Span};
use hcl::eval::Evaluate;

use super::functions;

/// A failed evaluation, with the byte span of the sub-expression at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    /// Where, within the file of the evaluated expression.
    pub span: Option<Range<usize>>,
    /// A short title, e.g. "Unsupported attribute".
    pub summary: String,
    /// The explanation.
    pub detail: String,
}

impl EvalError {
    /// An error at `span`.
    pub fn new(
        span: Option<Range<usize>>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> EvalError {
        EvalError {
            span,
            summary: summary.into(),
            detail: detail.into(),
        }
    }
}

/// Where references are looked up.
pub trait Scope {
    /// Resolves a reference that starts with the variable `root` and continues with `ops`.
    /// Returns the value and how many of `ops` the reference itself consumed (`var.x`
    /// consumes one, `data.t.n` two); the evaluator applies the rest.
    fn resolve(
        &self,
        root: &str,
        root_span: Option<Range<usize>>,
        ops: &[Decorated<TraversalOperator>],
    ) -> Result<(Cow<'_, Value>, usize), EvalError>;

    /// The whole value of a root (`var`, `local`, a resource type). `None` when the name
    /// is not a root.
    fn root_value(&self, root: &str) -> Option<Value>;

    /// `timestamp()`: the current time while applying; `None` (unknown) while planning.
    fn timestamp(&self) -> Option<String> {
        None
    }
}

/// A scope without references: constants, defaults, backend settings.
struct ConstScope;

impl Scope for ConstScope {
    fn resolve(
        &self,
        _root: &str,
        root_span: Option<Range<usize>>,
        _ops: &[Decorated<TraversalOperator>],
    ) -> Result<(Cow<'_, Value>, usize), EvalError> {
        Err(EvalError::new(
            root_span,
            "Variables not allowed",
            "Variables may not be used here.",
        ))
    }

    fn root_value(&self, _root: &str) -> Option<Value> {
        None
    }
}

/// Evaluates an expression that may not refer to anything.
pub fn eval_const(expr: &Expression) -> Result<Value, EvalError> {
    eval(expr, &ConstScope)
}

/// Evaluates `expr` in `scope`.
pub fn eval(expr: &Expression, scope: &dyn Scope) -> Result<Value, EvalError> {
    Evaluator {
        scope,
        bindings: Vec::new(),
    }
    .eval(expr)
}

pub(super) struct Evaluator<'s> {
    scope: &'s dyn Scope,
    /// Names bound by enclosing `for` expressions, innermost last.
    pub(super) bindings: Vec<(String, Value)>,
}

pub(super) fn span(e: &impl Span) -> Option<Range<usize>> {
    e.span()
}

/// Marks `value` sensitive when any of `inputs` carried the mark.
fn taint(value: Value, inputs: &[&Value]) -> Value {
    value.mark_if(inputs.iter().any(|v| v.contains_sensitive()))
}

impl Evaluator<'_> {
    /// Evaluates one node, refusing a result beyond the configured limits before it can
    /// be used to build a larger one.
    pub(super) fn eval(&mut self, expr: &Expression) -> Result<Value, EvalError> {
        let value = self.eval_node(expr)?;
        match super::limits::exceeded(&value) {
            Some(detail) => Err(EvalError::new(span(expr), "Value too large", detail)),
            None => Ok(value),
        }
    }

    fn eval_node(&mut self, expr: &Expression) -> Result<Value, EvalError> {
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => Ok(number_literal(n)),
            Expression::String(s) => Ok(Value::String(nfc(s.value().clone()))),
            Expression::Array(items) => {
                let values = items
                    .iter()
                    .map(|e| self.eval(e))
                    .collect::<Result<_, _>>()?;
                Ok(Value::List(values))
            }
            Expression::Object(object) => {
                let mut map = BTreeMap::new();
                let mut unknown_key = false;
                let mut sensitive_key = false;
                for (key, value) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(id) => id.as_str().to_owned(),
                        ObjectKey::Expression(e) => {
                            let k = self.eval(e)?;
                            sensitive_key |= k.contains_sensitive();
                            if k.is_unknown() {
                                unknown_key = true;
                                continue;
                            }
                            match Type::String.convert(&k.unmark_deep()) {
                                Ok(Value::String(s)) => s,
                                _ => {
                                    return Err(EvalError::new(
                                        span(e),
                                        "Incorrect key type",
                                        "Can't use this value as a key: string required.",
                                    ));
                                }
                            }
                        }
                    };
                    let v = self.eval(value.expr())?;
                    map.insert(key, v);
                }
                if unknown_key {
                    return Ok(Value::Unknown.mark_if(sensitive_key));
                }
                Ok(Value::Object(map.into()).mark_if(sensitive_key))
            }
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::Variable(v) => self.reference(v.as_str(), span(v), &[], span(expr)),
            Expression::Traversal(t) => match &t.expr {
                Expression::Variable(v) => {
                    self.reference(v.as_str(), span(v), &t.operators, span(expr))
                }
                other => {
                    let base = self.eval(other)?;
                    self.apply_ops(base, &t.operators)
                }
            },
            Expression::FuncCall(call) => self.call(call),
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr)?;
                if cond.is_unknown() {
                    // Either branch may be the result, so it carries both branches' marks.
                    let t = self.eval(&c.true_expr)?;
                    let f = self.eval(&c.false_expr)?;
                    return Ok(taint(Value::Unknown, &[&cond, &t, &f]));
                }
                if cond.is_null() {
                    return Err(EvalError::new(
                        span(&c.cond_expr),
                        "Null condition",
                        "The condition value is null. Conditions must either be true or false.",
                    ));
                }
                let chosen = match Type::Bool.convert(&cond.unmark_deep()) {
                    Ok(Value::Bool(b)) => b,
                    _ => {
                        return Err(EvalError::new(
                            span(&c.cond_expr),
                            "Incorrect condition type",
                            format!(
                                "The condition expression must be of type bool, but this is {}.",
                                cond.kind_name()
                            ),
                        ));
                    }
                };
                // Both branches are evaluated, as in Terraform, so that the result has the
                // type both unify to (`true ? 1 : "a"` is "1").
                // An error in the branch not taken is ignored (its type is then unknown).
                let (t, f) = if chosen {
                    let t = self.eval(&c.true_expr)?;
                    (t, self.eval(&c.false_expr).unwrap_or(Value::Unknown))
                } else {
                    let f = self.eval(&c.false_expr)?;
                    (self.eval(&c.true_expr).unwrap_or(Value::Unknown), f)
                };
                let result = unify_branches(t, f, chosen, c)?;
                Ok(result.mark_if(cond.contains_sensitive()))
            }
            Expression::UnaryOp(op) => {
                let operand = self.eval(&op.expr)?;
                if !operand.is_wholly_known() {
                    return Ok(taint(Value::Unknown, &[&operand]));
                }
                let result = super::ops::unary(*op.operator.value(), &operand.unmark_deep());
                operation(result, span(expr), &[&operand])
            }
            Expression::BinaryOp(op) => {
                let lhs = self.eval(&op.lhs_expr)?;
                let rhs = self.eval(&op.rhs_expr)?;
                if !lhs.is_wholly_known() || !rhs.is_wholly_known() {
                    return Ok(taint(Value::Unknown, &[&lhs, &rhs]));
                }
                let result = super::ops::binary(
                    *op.operator.value(),
                    &lhs.unmark_deep(),
                    &rhs.unmark_deep(),
                );
                operation(result, span(expr), &[&lhs, &rhs])
            }
            Expression::ForExpr(f) => self.for_expr(f),
            Expression::StringTemplate(t) => match self.simple_template(t)? {
                Some(v) => Ok(v),
                None => self.template(t.iter(), None),
            },
            Expression::HeredocTemplate(h) => self.template(h.template.iter(), h.indent()),
        }
    }

    fn binding(&self, name: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn reference(
        &mut self,
        root: &str,
        root_span: Option<Range<usize>>,
        ops: &[Decorated<TraversalOperator>],
        whole: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        // Index keys do not depend on what they index, so they are evaluated first and the
        // traversal then walks borrowed values, cloning only what it returns.
        let keys = self.index_keys(ops)?;
        if let Some(bound) = self.binding(root) {
            return traverse(bound, ops, &keys);
        }
        let (value, consumed) = self.scope.resolve(root, whole.or(root_span), ops)?;
        let consumed = consumed.min(ops.len());
        traverse(&value, &ops[consumed..], &keys[consumed..])
    }

    fn index_keys(
        &mut self,
        ops: &[Decorated<TraversalOperator>],
    ) -> Result<Vec<Option<Value>>, EvalError> {
        ops.iter()
            .map(|op| match op.value() {
                TraversalOperator::Index(key_expr) => self.eval(key_expr).map(Some),
                TraversalOperator::LegacyIndex(n) => Ok(Some(Value::from(*n.value() as i64))),
                _ => Ok(None),
            })
            .collect()
    }

    fn apply_ops(
        &mut self,
        value: Value,
        ops: &[Decorated<TraversalOperator>],
    ) -> Result<Value, EvalError> {
        let keys = self.index_keys(ops)?;
        traverse(&value, ops, &keys)
    }

    fn call(&mut self, call: &FuncCall) -> Result<Value, EvalError> {
        let name = call.name.name.as_str();
        let call_span = span(call);
        if name == super::syntax::HUGE_NUMBER
            && let Some(Expression::String(written)) = call.args.iter().next()
            && let Some(number) = fleetform_sdk::number::Number::parse(written.value())
        {
            return Ok(Value::Number(number));
        }
        let core = call.name.namespace.len() == 1
            && call
                .name
                .namespace
                .first()
                .is_some_and(|n| n.as_str() == "core");
        if core
            && functions::lookup(name).is_none()
            && functions::typed::signature(name).is_none()
            && !BUILTINS.contains(&name)
        {
            return Err(EvalError::new(
                call_span,
                "Unknown provider function",
                format!("There is no function named \"core::{name}\"."),
            ));
        }
        if !call.name.namespace.is_empty() && !core {
            return Err(EvalError::new(
                call_span,
                "Call to unknown function",
                format!(
                    "There is no function named {:?}: fleetform functions have no namespace.",
                    call.name.name.as_str()
                ),
            ));
        }
        match name {
            "try" => return self.try_call(call),
            "can" => {
                let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
                    return Err(arity(call_span, name, 1, call.args.len()));
                };
                return Ok(match self.eval(arg) {
                    Ok(v) if !v.is_wholly_known() => Value::Unknown,
                    Ok(_) => Value::Bool(true),
                    Err(_) => Value::Bool(false),
                });
            }
            // The time of apply is not known while planning.
            "timestamp" => {
                if !call.args.is_empty() {
                    return Err(arity(call_span, name, 0, call.args.len()));
                }
                return Ok(self.scope.timestamp().map_or(Value::Unknown, Value::String));
            }
            // Impure: a new value each time, known only when applying.
            "uuid" => {
                if !call.args.is_empty() {
                    return Err(arity(call_span, name, 0, call.args.len()));
                }
                let applying = self.scope.timestamp().is_some();
                return Ok(if applying {
                    Value::String(uuid::Uuid::new_v4().to_string())
                } else {
                    Value::Unknown
                });
            }
            // The time the plan was made: known while planning, as in Terraform.
            "plantimestamp" => {
                if !call.args.is_empty() {
                    return Err(arity(call_span, name, 0, call.args.len()));
                }
                return Ok(Value::String(plan_timestamp()));
            }
            // The second argument is a type constraint, not a value.
            "convert" => {
                let [value, ty] = call.args.iter().collect::<Vec<_>>()[..] else {
                    return Err(arity(call_span, name, 2, call.args.len()));
                };
                let ty = super::type_constraint(ty)?;
                let v = self.eval(value)?;
                return self.convert(v, &ty, call_span);
            }
            "issensitive" => {
                let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
                    return Err(arity(call_span, name, 1, call.args.len()));
                };
                let v = self.eval(arg)?;
                if v.is_unknown() {
                    return Ok(Value::Unknown);
                }
                return Ok(Value::Bool(v.unmark().1));
            }
            "templatestring" => {
                let Some(first) = call.args.iter().next() else {
                    return Err(arity(call_span, name, 2, 0));
                };
                // Terraform takes the template only from a reference, never a literal, so
                // that a template is never built from untrusted text by accident.
                if !matches!(first, Expression::Variable(_) | Expression::Traversal(_)) {
                    return Err(EvalError::new(
                        span(first),
                        "Invalid reference",
                        "The template argument must be a reference to a string value, such as a variable or local value.",
                    ));
                }
                return self.template_string(call);
            }
            "sensitive" | "nonsensitive" => {
                let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
                    return Err(arity(call_span, name, 1, call.args.len()));
                };
                let v = self.eval(arg)?;
                return Ok(if name == "sensitive" {
                    v.into_sensitive()
                } else {
                    // Only the value's own mark goes: sensitive parts inside stay so, as in
                    // Terraform.
                    match v {
                        Value::Sensitive(inner) => *inner,
                        other => other,
                    }
                });
            }
            _ => {}
        }
        let typed = functions::typed::signature(name);
        let def = functions::lookup(name);
        if typed.is_none() && def.is_none() {
            let mut detail = format!("There is no function named {name:?}.");
            if let Some(s) = did_you_mean(
                name,
                functions::names()
                    .iter()
                    .copied()
                    .chain(functions::typed::names())
                    .chain(BUILTINS.iter().copied()),
            ) {
                detail.push_str(&format!(" Did you mean {s:?}?"));
            }
            return Err(EvalError::new(
                span(&call.name.name),
                "Call to unknown function",
                detail,
            ));
        }
        let mut args = Vec::with_capacity(call.args.len());
        for (i, arg) in call.args.iter().enumerate() {
            let v = self.eval(arg)?;
            if call.args.expand_final() && i + 1 == call.args.len() {
                match v.unmark() {
                    (Value::List(items) | Value::Set(items), s) => {
                        args.extend(items.iter().map(|it| it.clone().mark_if(s)))
                    }
                    (Value::Unknown, s) => return Ok(Value::Unknown.mark_if(s)),
                    _ => {
                        return Err(EvalError::new(
                            span(arg),
                            "Invalid expanding argument value",
                            "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
                        ));
                    }
                }
            } else {
                args.push(v);
            }
        }
        let refs: Vec<&Value> = args.iter().collect();
        if args.iter().any(|a| !a.is_wholly_known()) {
            return Ok(taint(Value::Unknown, &refs));
        }
        let (params, variadic) = match typed {
            Some(sig) => (sig.params.len() - usize::from(sig.variadic), sig.variadic),
            None => functions::arity(name).unwrap_or((0, true)),
        };
        if args.len() < params {
            return Err(EvalError::new(
                call_span,
                "Not enough function arguments",
                format!("Function {name:?} expects {params} argument(s)."),
            ));
        }
        if args.len() > params && !variadic {
            return Err(EvalError::new(
                call_span,
                "Too many function arguments",
                format!("Function {name:?} expects only {params} argument(s)."),
            ));
        }
        if typed.is_some() {
            let plain: Vec<Value> = args.iter().map(Value::unmark_deep).collect();
            return match functions::typed::call(name, &plain) {
                Some(Ok(v)) => Ok(taint(v, &refs)),
                Some(Err(e)) if refs.iter().any(|a| a.contains_sensitive()) => Err(EvalError::new(
                    call_span,
                    e.summary,
                    format!(
                        "Call to function {name:?} failed: the arguments include sensitive values, so the details are hidden."
                    ),
                )),
                Some(Err(e)) => Err(EvalError::new(call_span, e.summary, e.detail)),
                None => Err(EvalError::new(call_span, "Call to unknown function", name)),
            };
        }
        let Some(def) = def else {
            return Err(EvalError::new(call_span, "Call to unknown function", name));
        };
        let literals: Vec<hcl::Expression> = args.iter().map(literal).collect();
        let hcl_call = literals
            .into_iter()
            .fold(hcl::expr::FuncCall::builder(name), |b, arg| b.arg(arg))
            .build();
        let mut ctx = hcl::eval::Context::new();
        ctx.declare_func(name, def);
        let result = self.delegate(&hcl::Expression::from(hcl_call), &ctx, call_span, &refs)?;
        Ok(
            if matches!(name, "setunion" | "setintersection" | "setsubtract") {
                into_set(result)
            } else {
                result
            },
        )
    }

    /// `templatestring(ref, vars)`: renders the referenced string as a template whose
    /// only names are the attributes of `vars`.
    fn template_string(&mut self, call: &FuncCall) -> Result<Value, EvalError> {
        let at = span(call);
        let args: Vec<&Expression> = call.args.iter().collect();
        let [template, vars] = args[..] else {
            return Err(arity(at, "templatestring", 2, args.len()));
        };
        let template = self.eval(template)?;
        let vars = self.eval(vars)?;
        if !template.is_wholly_known() || !vars.is_wholly_known() {
            return Ok(taint(Value::Unknown, &[&template, &vars]));
        }
        let Some(text) = template.as_str() else {
            return Err(EvalError::new(
                at,
                "Invalid function argument",
                "Invalid value for \"template\" parameter: a string is required.",
            ));
        };
        let Some(names) = vars.as_object() else {
            return Err(EvalError::new(
                at,
                "Invalid function argument",
                "Invalid value for \"vars\" parameter: an object or map is required.",
            ));
        };
        // A heredoc takes the text as it is; its closing newline is removed afterwards.
        let marker = "FLEETFORM_TEMPLATE_END";
        let source = format!("<<{marker}\n{text}\n{marker}");
        let parsed = super::syntax::parse_expr(&source).map_err(|e| {
            EvalError::new(at.clone(), "Invalid template", format!("{}.", e.message()))
        })?;
        // Only the given names are in scope, not the caller's.
        let mut inner = Evaluator {
            scope: &ConstScope,
            bindings: names.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        let rendered = inner.eval(&parsed).map_err(|e| EvalError {
            span: at.clone(),
            ..e
        })?;
        let rendered = match rendered {
            Value::String(s) => Value::String(s.strip_suffix('\n').unwrap_or(&s).to_owned()),
            other => other,
        };
        Ok(taint(rendered, &[&template, &vars]))
    }

    /// `convert(value, type)`: `tolist`, `toset` and `tomap` for their `any` element types
    /// (which unify the elements), the type's own conversion, defaults included, otherwise.
    fn convert(
        &mut self,
        v: Value,
        ty: &fleetform_sdk::Type,
        at: Option<Range<usize>>,
    ) -> Result<Value, EvalError> {
        use fleetform_sdk::Type;
        let shorthand = match ty {
            Type::List(e) if **e == Type::Any => Some("tolist"),
            Type::Set(e) if **e == Type::Any => Some("toset"),
            Type::Map(e) if **e == Type::Any => Some("tomap"),
            _ => None,
        };
        let sensitive = v.contains_sensitive();
        let converted = match shorthand {
            // Unification needs every element: like any function, unknown until they are.
            Some(_) if !v.is_wholly_known() => return Ok(Value::Unknown.mark_if(sensitive)),
            Some(f) => match functions::typed::call(f, &[v.unmark_deep()]) {
                Some(Ok(value)) => Ok(value.mark_if(sensitive)),
                // Those functions call their parameter "v"; convert calls it "value".
                Some(Err(e)) => Err(e.detail.replace("\"v\"", "\"value\"")),
                None => Err(format!("There is no function named {f:?}.")),
            },
            // Keeps unknown parts and sensitive marks where they are.
            None => ty
                .convert(&v)
                .map_err(|e| format!("Invalid value for \"value\" parameter: {e}.")),
        };
        converted.map_err(|detail| {
            let detail = if sensitive {
                "Invalid value for \"value\" parameter: the value is sensitive, so the details are hidden.".to_owned()
            } else {
                detail
            };
            EvalError::new(at, "Invalid function argument", detail)
        })
    }

    fn try_call(&mut self, call: &FuncCall) -> Result<Value, EvalError> {
        if call.args.is_empty() {
            return Err(EvalError::new(
                span(call),
                "Error in function call",
                "Function \"try\" requires at least one argument.",
            ));
        }
        let mut last_error = None;
        for arg in call.args.iter() {
            match self.eval(arg) {
                Ok(v) if !v.is_wholly_known() => return Ok(Value::Unknown),
                Ok(v) => return Ok(v),
                Err(e) => last_error = Some(e),
            }
        }
        let e = last_error.map(|e| e.detail).unwrap_or_default();
        Err(EvalError::new(
            span(call),
            "Error in function call",
            format!("Call to function \"try\" failed: no expression succeeded: {e}"),
        ))
    }

    fn for_expr(&mut self, f: &ForExpr) -> Result<Value, EvalError> {
        let collection = self.eval(&f.intro.collection_expr)?;
        let sensitive = matches!(collection, Value::Sensitive(_));
        let inner = match collection {
            Value::Sensitive(inner) => *inner,
            other => other,
        };
        let items: Vec<(Value, Value)> = match inner {
            Value::Unknown => return Ok(Value::Unknown.mark_if(sensitive)),
            Value::Null => {
                return Err(EvalError::new(
                    span(&f.intro.collection_expr),
                    "Iteration over null value",
                    "A null value cannot be used as the collection in a 'for' expression.",
                ));
            }
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as i64), v))
                .collect(),
            // A set's elements have no index: both names get the element.
            Value::Set(items) => items.into_iter().map(|v| (v.clone(), v)).collect(),
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| (Value::String(k), v))
                .collect(),
            other => {
                return Err(EvalError::new(
                    span(&f.intro.collection_expr),
                    "Iteration over non-iterable value",
                    format!(
                        "A value of type {} cannot be used as the collection in a 'for' expression.",
                        other.kind_name()
                    ),
                ));
            }
        };
        let key_var = f.intro.key_var.as_ref().map(|k| k.as_str().to_owned());
        let value_var = f.intro.value_var.as_str().to_owned();
        let mut list = Vec::new();
        let mut object: BTreeMap<String, Value> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut any_unknown = false;
        for (k, v) in items {
            let depth = self.bindings.len();
            if let Some(kv) = &key_var {
                self.bindings.push((kv.clone(), k));
            }
            self.bindings.push((value_var.clone(), v));
            let step = self.for_step(f);
            self.bindings.truncate(depth);
            match step? {
                ForStep::Skip => {}
                ForStep::Unknown => any_unknown = true,
                ForStep::Item(key, value) => match key {
                    None => list.push(value),
                    Some(key) if f.grouping => groups.entry(key).or_default().push(value),
                    Some(key) => {
                        if object.contains_key(&key) {
                            return Err(EvalError::new(
                                f.key_expr.as_ref().and_then(span),
                                "Duplicate object key",
                                format!(
                                    "Two different items produced the key {key:?} in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key."
                                ),
                            ));
                        }
                        object.insert(key, value);
                    }
                },
            }
        }
        if any_unknown {
            return Ok(Value::Unknown.mark_if(sensitive));
        }
        let result = match (&f.key_expr, f.grouping) {
            (None, _) => Value::List(list),
            (Some(_), false) => Value::Object(object.into()),
            (Some(_), true) => Value::Object(
                groups
                    .into_iter()
                    .map(|(k, v)| (k, Value::List(v)))
                    .collect(),
            ),
        };
        Ok(result.mark_if(sensitive))
    }

    fn for_step(&mut self, f: &ForExpr) -> Result<ForStep, EvalError> {
        if let Some(cond) = &f.cond {
            let c = self.eval(&cond.expr)?;
            if c.is_unknown() {
                return Ok(ForStep::Unknown);
            }
            match Type::Bool.convert(&c.unmark_deep()) {
                Ok(Value::Bool(false)) => return Ok(ForStep::Skip),
                Ok(Value::Bool(true)) => {}
                _ => {
                    return Err(EvalError::new(
                        span(&cond.expr),
                        "Invalid 'for' condition",
                        "The 'if' clause value is invalid: bool required.",
                    ));
                }
            }
        }
        let key = match &f.key_expr {
            None => None,
            Some(ke) => {
                let k = self.eval(ke)?;
                if k.is_unknown() {
                    return Ok(ForStep::Unknown);
                }
                match Type::String.convert(&k.unmark_deep()) {
                    Ok(Value::String(s)) => Some(s),
                    _ => {
                        return Err(EvalError::new(
                            span(ke),
                            "Invalid object key",
                            "The key expression produced an invalid result: string required.",
                        ));
                    }
                }
            }
        };
        let value = self.eval(&f.value_expr)?;
        Ok(ForStep::Item(key, value))
    }

    /// A template of literals and plain interpolations, evaluated here so that an unknown
    /// or sensitive part marks the result and errors point at the interpolation. Templates
    /// with directives or strip markers return `None` and go to hcl-rs whole.
    fn simple_template(&mut self, t: &StringTemplate) -> Result<Option<Value>, EvalError> {
        let elements: Vec<&Element> = t.iter().collect();
        let simple = elements.iter().all(|e| match e {
            Element::Literal(_) => true,
            Element::Interpolation(i) => !i.strip.strip_start() && !i.strip.strip_end(),
            Element::Directive(_) => false,
        });
        if !simple {
            return Ok(None);
        }
        // "${x}" alone yields x itself, not its string form.
        if let [Element::Interpolation(i)] = elements[..] {
            return self.eval(&i.expr).map(Some);
        }
        let mut out = String::new();
        let mut sensitive = false;
        let mut unknown = false;
        for element in elements {
            match element {
                Element::Literal(s) => out.push_str(&nfc(s.value().clone())),
                Element::Interpolation(i) => {
                    let v = self.eval(&i.expr)?;
                    sensitive |= v.contains_sensitive();
                    let (inner, _) = v.unmark();
                    match inner {
                        Value::Unknown => unknown = true,
                        Value::String(s) => out.push_str(s),
                        Value::Number(n) => out.push_str(&n.to_string()),
                        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                        Value::Null => {
                            return Err(EvalError::new(
                                span(&i.expr),
                                "Invalid template interpolation value",
                                "The expression result is null. Cannot include a null value in a string template.",
                            ));
                        }
                        other => {
                            return Err(EvalError::new(
                                span(&i.expr),
                                "Invalid template interpolation value",
                                format!(
                                    "Cannot include the given value in a string template: string required, but this is {}.",
                                    other.type_name()
                                ),
                            ));
                        }
                    }
                }
                Element::Directive(_) => unreachable!("checked above"),
            }
        }
        let result = if unknown {
            Value::Unknown
        } else {
            Value::String(out)
        };
        Ok(Some(result.mark_if(sensitive)))
    }

    fn delegate(
        &self,
        expr: &hcl::Expression,
        ctx: &hcl::eval::Context,
        at: Option<Range<usize>>,
        inputs: &[&Value],
    ) -> Result<Value, EvalError> {
        // hcl-rs's own arithmetic (inside template directives) can panic on a zero divisor
        // or an overflow; the user's input must never take the process down.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| expr.evaluate(ctx)));
        let Ok(outcome) = outcome else {
            return Err(EvalError::new(
                at,
                "Operation failed",
                "Error during operation: the expression could not be evaluated (an arithmetic operation inside a template failed).",
            ));
        };
        match outcome {
            Ok(v) => Ok(taint(Value::from(v), inputs)),
            Err(e) => {
                let sensitive = inputs.iter().any(|v| v.contains_sensitive());
                Err(hcl_error(&e, at, sensitive))
            }
        }
    }
}

/// The string in Unicode normal form C, as cty keeps every string ("e\u{301}" is "é").
pub(super) fn nfc(s: String) -> String {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        return s;
    }
    s.nfc().collect()
}

/// A number literal at cty's precision, read from its source text (hcl-edit's own value
/// is a 64-bit float, which loses digits).
fn number_literal(n: &hcl::edit::Formatted<hcl::Number>) -> Value {
    let exact = n.as_repr().and_then(|repr| {
        let text: String = repr.chars().filter(|c| !c.is_whitespace()).collect();
        fleetform_sdk::number::Number::parse(&text)
    });
    match exact {
        Some(number) => Value::Number(number),
        None => fleetform_sdk::value::number_from_hcl(n.value()),
    }
}

/// The result of an operator, with the operands' sensitivity; errors about sensitive
/// operands keep their values out of the message.
fn operation(
    result: Result<Value, super::ops::OpError>,
    at: Option<Range<usize>>,
    inputs: &[&Value],
) -> Result<Value, EvalError> {
    result
        .map(|v| taint(v, inputs))
        .map_err(|e| EvalError::new(at, e.summary, e.detail))
}

/// The chosen branch of a conditional, converted to the type both branches unify to.
fn unify_branches(
    t: Value,
    f: Value,
    chosen: bool,
    c: &hcl::edit::expr::Conditional,
) -> Result<Value, EvalError> {
    use super::unify::{friendly, type_of, unify};
    let result = if chosen { &t } else { &f };
    if !result.is_wholly_known() {
        return Ok(result.clone());
    }
    if !t.is_wholly_known() || !f.is_wholly_known() {
        // The other branch's type is not known here: keep the chosen value as it is.
        return Ok(result.clone());
    }
    let (tt, ft) = (type_of(&t), type_of(&f));
    let unified = match (&tt, &ft) {
        (Some(a), Some(b)) => unify(a, b),
        (Some(a), None) | (None, Some(a)) => Some(a.clone()),
        (None, None) => return Ok(result.clone()),
    };
    let Some(ty) = unified else {
        return Err(EvalError::new(
            span(c),
            "Inconsistent conditional result types",
            format!(
                "The true and false result expressions must have consistent types. The 'true' value is {}, but the 'false' value is {}.",
                friendly(&t),
                friendly(&f)
            ),
        ));
    };
    Ok(ty.convert(result).unwrap_or_else(|_| result.clone()))
}

/// Functions the evaluator implements itself (they need marks, laziness or the clock).
const BUILTINS: &[&str] = &[
    "try",
    "convert",
    "can",
    "timestamp",
    "uuid",
    "plantimestamp",
    "issensitive",
    "templatestring",
    "sensitive",
    "nonsensitive",
];

/// The current time in RFC 3339 (UTC, whole seconds), as `timestamp()` gives it.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The plan's timestamp: the first time this process asked, in RFC 3339 (UTC, seconds),
/// so every call during one plan gives the same value.
fn plan_timestamp() -> String {
    static AT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AT.get_or_init(now_rfc3339).clone()
}

/// A function result that Terraform types as a set.
fn into_set(v: Value) -> Value {
    match v {
        Value::Sensitive(inner) => into_set(*inner).into_sensitive(),
        Value::List(mut items) => {
            fleetform_sdk::types::make_set(&mut items);
            Value::Set(items)
        }
        other => other,
    }
}

enum ForStep {
    Skip,
    Unknown,
    Item(Option<String>, Value),
}

fn arity(at: Option<Range<usize>>, name: &str, want: usize, got: usize) -> EvalError {
    EvalError::new(
        at,
        "Invalid function arguments",
        format!("Function {name:?} expects {want} argument(s), but {got} were given."),
    )
}

/// An hcl-rs expression for a known value.
fn literal(value: &Value) -> hcl::Expression {
    hcl::Expression::from(value.to_hcl().unwrap_or(hcl::Value::Null))
}

/// Translates an hcl-rs evaluation error into Terraform's words. Operand values are left
/// out of messages about sensitive inputs.
fn hcl_error(e: &hcl::eval::Error, at: Option<Range<usize>>, sensitive: bool) -> EvalError {
    use hcl::eval::ErrorKind;
    match e.kind() {
        ErrorKind::FuncCall(name, msg) if is_argument_error(&name.to_string(), msg) => {
            EvalError::new(
                at,
                "Invalid function argument",
                if sensitive {
                    "Invalid value for a parameter: the arguments include sensitive values, so the details are hidden.".to_owned()
                } else {
                    let mut detail = msg.replacen("invalid value for", "Invalid value for", 1);
                    if !detail.starts_with("Invalid value for") {
                        detail = format!("Invalid value for a parameter of \"{name}\": {detail}");
                    }
                    format!("{detail}.")
                },
            )
        }
        ErrorKind::FuncCall(name, msg) => EvalError::new(
            at,
            "Error in function call",
            if sensitive {
                format!(
                    "Call to function \"{name}\" failed: the arguments include sensitive values, so the details are hidden."
                )
            } else {
                format!("Call to function \"{name}\" failed: {msg}.")
            },
        ),
        ErrorKind::BinaryOp(..) | ErrorKind::Unexpected(..) if sensitive => EvalError::new(
            at,
            "Invalid operand",
            format!(
                "Unsuitable value for an operand of {}: the operand is sensitive, so it is not shown.",
                op_name(e)
            ),
        ),
        ErrorKind::BinaryOp(l, op, r) => EvalError::new(
            at,
            "Invalid operand",
            format!("Unsuitable values for the {op:?} operator: {l} and {r}."),
        ),
        ErrorKind::UnaryOp(op, v) => EvalError::new(
            at,
            "Invalid operand",
            if sensitive {
                format!("Unsuitable value for the {op:?} operator.")
            } else {
                format!("Unsuitable value for the {op:?} operator: {v}.")
            },
        ),
        ErrorKind::Unexpected(_, expected) => EvalError::new(
            at,
            "Invalid operand",
            format!("Unsuitable value: {expected} required."),
        ),
        _ if sensitive => EvalError::new(
            at,
            "Invalid expression",
            "The expression could not be evaluated; it involves sensitive values, so the details are hidden.",
        ),
        _ => EvalError::new(at, "Invalid expression", format!("{e}.")),
    }
}

/// Whether Terraform reports a function's failure as a bad argument ("Invalid function
/// argument") rather than a failed call: errors that name their parameter, and every
/// error of the functions whose checks are all on their arguments.
fn is_argument_error(name: &str, msg: &str) -> bool {
    const ARGUMENT_CHECKING: &[&str] = &[
        "abs",
        "alltrue",
        "anytrue",
        "cidrsubnets",
        "formatdate",
        "formatlist",
        "keys",
        "lookup",
        "one",
        "parseint",
        "reverse",
        "slice",
        "sum",
        "textencodebase64",
        "timecmp",
        "tobool",
        "upper",
        "lower",
    ];
    msg.starts_with("invalid value for \"") || ARGUMENT_CHECKING.contains(&name)
}

fn op_name(e: &hcl::eval::Error) -> String {
    match e.kind() {
        hcl::eval::ErrorKind::BinaryOp(_, op, _) => format!("{op:?}"),
        _ => "the operator".into(),
    }
}

/// Applies traversal steps to a borrowed value; `keys[i]` is the evaluated key of step i
/// when it is an index.
fn traverse(
    base: &Value,
    ops: &[Decorated<TraversalOperator>],
    keys: &[Option<Value>],
) -> Result<Value, EvalError> {
    let mut current = base;
    let mut sensitive = false;
    for (i, op) in ops.iter().enumerate() {
        while let Value::Sensitive(inner) = current {
            sensitive = true;
            current = inner;
        }
        if matches!(current, Value::Unknown) {
            return Ok(Value::Unknown.mark_if(sensitive));
        }
        match op.value() {
            TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                let (rest, rest_keys) = (&ops[i + 1..], &keys[i + 1..]);
                let items: Vec<&Value> = match current {
                    Value::Null => Vec::new(),
                    Value::List(items) | Value::Set(items) => items.iter().collect(),
                    other => vec![other],
                };
                let out = items
                    .into_iter()
                    .map(|item| traverse(item, rest, rest_keys))
                    .collect::<Result<_, _>>()?;
                return Ok(Value::List(out).mark_if(sensitive));
            }
            TraversalOperator::GetAttr(name) => {
                current = get_attr(current, name.as_str(), op.span())?
            }
            TraversalOperator::Index(_) | TraversalOperator::LegacyIndex(_) => {
                let key = keys.get(i).and_then(Option::as_ref).unwrap_or(&Value::Null);
                sensitive |= key.contains_sensitive();
                let key = key.unmark().0;
                if key.is_unknown() {
                    return Ok(Value::Unknown.mark_if(sensitive));
                }
                current = index(current, key, op.span(), sensitive)?;
            }
        }
    }
    Ok(current.clone().mark_if(sensitive))
}

fn get_attr<'v>(
    value: &'v Value,
    name: &str,
    at: Option<Range<usize>>,
) -> Result<&'v Value, EvalError> {
    match value {
        Value::Object(map) => match map.get(name) {
            Some(v) => Ok(v),
            None => {
                let mut detail = format!("This object does not have an attribute named {name:?}.");
                if let Some(s) = did_you_mean(name, map.keys().map(String::as_str)) {
                    detail = format!(
                        "This object does not have an attribute named {name:?}. Did you mean {s:?}?"
                    );
                }
                Err(EvalError::new(at, "Unsupported attribute", detail))
            }
        },
        Value::Null => Err(EvalError::new(
            at,
            "Attempt to get attribute from null value",
            "This value is null, so it does not have any attributes.",
        )),
        Value::List(_) | Value::Set(_) => Err(EvalError::new(
            at,
            "Unsupported attribute",
            format!(
                "Can't access attributes on a list of objects. Did you mean to access attribute {name:?} for a specific element of the list, or across all elements of the list with [*]?"
            ),
        )),
        other => Err(EvalError::new(
            at,
            "Unsupported attribute",
            format!(
                "Can't access attributes on a primitive-typed value ({}).",
                other.kind_name()
            ),
        )),
    }
}

fn index<'v>(
    value: &'v Value,
    key: &Value,
    at: Option<Range<usize>>,
    key_sensitive: bool,
) -> Result<&'v Value, EvalError> {
    match value {
        Value::List(items) => {
            let Some(i) = key
                .as_number()
                .and_then(|n| n.as_i64())
                .or_else(|| key.as_str().and_then(|s| s.parse().ok()))
            else {
                return Err(EvalError::new(
                    at,
                    "Invalid index",
                    "The given key does not identify an element in this collection value: a number is required.",
                ));
            };
            usize::try_from(i).ok().and_then(|i| items.get(i)).ok_or_else(|| {
                EvalError::new(
                    at,
                    "Invalid index",
                    format!("The given key does not identify an element in this collection value: the collection has {} elements.", items.len()),
                )
            })
        }
        Value::Object(map) => {
            let Ok(Value::String(k)) = Type::String.convert(key) else {
                return Err(EvalError::new(
                    at,
                    "Invalid index",
                    "The given key does not identify an element in this collection value: a string is required.",
                ));
            };
            map.get(&k).ok_or_else(|| {
                let detail = if key_sensitive {
                    "The given key does not identify an element in this collection value.".to_owned()
                } else {
                    format!("The given key does not identify an element in this collection value: no element has the key {k:?}.")
                };
                EvalError::new(at, "Invalid index", detail)
            })
        }
        Value::Set(_) => Err(EvalError::new(
            at,
            "Invalid index",
            "Elements of a set are identified only by their value and don't have any separate index or key to select with, so it's only possible to perform operations across all elements of the set.",
        )),
        Value::Null => Err(EvalError::new(
            at,
            "Invalid index",
            "This value is null, so it does not have any indices.",
        )),
        other => Err(EvalError::new(
            at,
            "Invalid index",
            format!(
                "This value does not have any indices: it is a {}.",
                other.kind_name()
            ),
        )),
    }
}
