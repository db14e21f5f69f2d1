//! Unit tests of the evaluator, independent of expansion: a small [`Scope`] maps root names
//! (`var`, `local`) to objects, and each test evaluates one expression and checks the exact
//! value, or the error's summary, detail and the source text its span points at.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use fleetform_sdk::Value;
use hcl::edit::Decorated;
use hcl::edit::expr::TraversalOperator;

use super::{EvalError, Scope, eval};

/// Roots that hold objects; a reference consumes its first attribute step, as `var.x` and
/// `local.x` do during expansion.
struct TestScope {
    roots: BTreeMap<String, Value>,
}

impl Scope for TestScope {
    fn resolve(
        &self,
        root: &str,
        root_span: Option<Range<usize>>,
        ops: &[Decorated<TraversalOperator>],
    ) -> Result<(Cow<'_, Value>, usize), EvalError> {
        let Some(object) = self.roots.get(root) else {
            return Err(EvalError::new(
                root_span,
                "Unknown root",
                format!("No root named {root:?}."),
            ));
        };
        let name = match ops.first().map(|op| op.value()) {
            Some(TraversalOperator::GetAttr(name)) => name.as_str(),
            _ => {
                return Err(EvalError::new(
                    root_span,
                    "Invalid reference",
                    format!("The {root:?} object cannot be accessed directly."),
                ));
            }
        };
        match object.as_object().and_then(|m| m.get(name)) {
            Some(v) => Ok((Cow::Borrowed(v), 1)),
            None => Err(EvalError::new(
                root_span,
                "Reference to undeclared input variable",
                format!("An input variable with the name {name:?} has not been declared."),
            )),
        }
    }

    fn root_value(&self, root: &str) -> Option<Value> {
        self.roots.get(root).cloned()
    }
}

fn s(x: &str) -> Value {
    Value::from(x)
}

fn n(x: i64) -> Value {
    Value::from(x)
}

fn secret(v: Value) -> Value {
    v.into_sensitive()
}

fn list(items: impl IntoIterator<Item = Value>) -> Value {
    Value::List(items.into_iter().collect())
}

/// The variables every test sees, as `var.NAME`.
fn vars() -> Vec<(&'static str, Value)> {
    vec![
        ("unknown", Value::Unknown),
        ("secret", secret(s("hunter2"))),
        ("secret_flag", secret(Value::Bool(true))),
        ("secret_list", secret(list([s("a"), s("b")]))),
        ("m", Value::object([("a", Value::Unknown)])),
        (
            "list",
            list([
                Value::object([("name", s("a")), ("port", n(80))]),
                Value::object([("name", s("b")), ("port", n(443))]),
            ]),
        ),
        ("partial", list([s("a"), Value::Unknown])),
        ("nothing", Value::Null),
        ("obj", Value::object([("name", s("web")), ("port", n(22))])),
        (
            "creds",
            Value::object([("user", s("admin")), ("password", secret(s("p4ss")))]),
        ),
        ("text", s("abc")),
        ("three", n(3)),
        ("names", list([s("a"), s("b"), s("a")])),
    ]
}

fn scope_with(vars: Vec<(&'static str, Value)>) -> TestScope {
    let mut roots = BTreeMap::new();
    roots.insert("var".to_owned(), Value::object(vars));
    roots.insert(
        "local".to_owned(),
        Value::object([("suffix", s("x")), ("unknown", Value::Unknown)]),
    );
    TestScope { roots }
}

fn eval_in(scope: &TestScope, src: &str) -> Result<Value, EvalError> {
    let expr = hcl::edit::parser::parse_expr(src)
        .unwrap_or_else(|e| panic!("test expression {src:?} does not parse: {e}"));
    eval(&expr, scope)
}

/// Evaluates `src` in the standard scope; panics on an error.
fn ok(src: &str) -> Value {
    eval_in(&scope_with(vars()), src)
        .unwrap_or_else(|e| panic!("{src:?} failed: {}: {}", e.summary, e.detail))
}

/// Evaluates `src`, expecting an error; returns it and the source text its span covers.
fn err(src: &str) -> (EvalError, String) {
    match eval_in(&scope_with(vars()), src) {
        Ok(v) => panic!("{src:?} evaluated to {v:?}, expected an error"),
        Err(e) => {
            let span = e
                .span
                .clone()
                .unwrap_or_else(|| panic!("the error of {src:?} has no span: {e:?}"));
            let text = src
                .get(span.clone())
                .unwrap_or_else(|| panic!("span {span:?} is outside {src:?}"))
                .to_owned();
            (e, text)
        }
    }
}

// --- unknown values ---------------------------------------------------------------------

#[test]
fn unknown_propagates_through_operators() {
    assert_eq!(ok("var.unknown + 1"), Value::Unknown);
    assert_eq!(ok("1 + var.unknown"), Value::Unknown);
    assert_eq!(ok("var.unknown == \"a\""), Value::Unknown);
    assert_eq!(ok("var.unknown && true"), Value::Unknown);
    assert_eq!(ok("-var.unknown"), Value::Unknown);
    assert_eq!(ok("!var.unknown"), Value::Unknown);
    assert_eq!(ok("var.partial == [\"a\", \"b\"]"), Value::Unknown);
}

#[test]
fn unknown_propagates_through_calls_templates_and_traversals() {
    assert_eq!(ok("upper(var.unknown)"), Value::Unknown);
    assert_eq!(ok("join(\",\", var.partial)"), Value::Unknown);
    assert_eq!(ok("\"${var.unknown}-x\""), Value::Unknown);
    assert_eq!(ok("\"${var.unknown}\""), Value::Unknown);
    assert_eq!(ok("var.unknown.name"), Value::Unknown);
    assert_eq!(ok("var.unknown[0]"), Value::Unknown);
    assert_eq!(ok("var.obj[var.unknown]"), Value::Unknown);
    // A known element of a partially unknown list stays known.
    assert_eq!(ok("var.partial[0]"), s("a"));
    assert_eq!(ok("var.partial[1]"), Value::Unknown);
}

#[test]
fn conditional_with_unknown_condition_is_unknown() {
    assert_eq!(ok("var.unknown ? \"a\" : \"b\""), Value::Unknown);
    // A known condition picks its branch even when the other is unknown.
    assert_eq!(ok("true ? \"a\" : var.unknown"), s("a"));
    assert_eq!(ok("false ? var.unknown : \"b\""), s("b"));
}

#[test]
fn for_expressions_over_unknowns() {
    assert_eq!(ok("[for x in var.unknown : x]"), Value::Unknown);
    assert_eq!(ok("{ for k, v in var.unknown : k => v }"), Value::Unknown);
    // Known keys with unknown values keep the keys.
    assert_eq!(
        ok("{ for k, v in var.m : k => v }"),
        Value::object([("a", Value::Unknown)])
    );
    assert_eq!(ok("[for v in var.m : v]"), list([Value::Unknown]));
    assert_eq!(
        ok("[for x in var.partial : x]"),
        list([s("a"), Value::Unknown])
    );
    // An unknown key or filter makes the whole result unknown.
    assert_eq!(ok("{ for x in var.partial : x => 1 }"), Value::Unknown);
    assert_eq!(
        ok("[for x in var.partial : x if x != \"b\"]"),
        Value::Unknown
    );
}

#[test]
fn functions_over_partially_unknown_collections_are_unknown() {
    // Documented conservative behaviour: any unknown argument, even an element, makes the
    // call unknown (Terraform would know length(["a", unknown]) is 2).
    assert_eq!(ok("length(var.partial)"), Value::Unknown);
    assert_eq!(ok("length(var.m)"), Value::Unknown);
    assert_eq!(ok("keys(var.m)"), Value::Unknown);
    assert_eq!(ok("concat(var.partial, [\"c\"])"), Value::Unknown);
    assert_eq!(ok("length(var.names)"), n(3));
}

#[test]
fn timestamp_is_unknown_while_planning() {
    assert_eq!(ok("timestamp()"), Value::Unknown);
    assert_eq!(ok("\"at ${timestamp()}\""), Value::Unknown);
    let (e, at) = err("timestamp(1)");
    assert_eq!(e.summary, "Invalid function arguments");
    assert_eq!(
        e.detail,
        "Function \"timestamp\" expects 0 argument(s), but 1 were given."
    );
    assert_eq!(at, "timestamp(1)");
}

// --- sensitive values -------------------------------------------------------------------

#[test]
fn sensitive_propagates_through_templates_calls_and_operators() {
    assert_eq!(ok("\"${var.secret}-x\""), secret(s("hunter2-x")));
    assert_eq!(ok("\"${var.secret}\""), secret(s("hunter2")));
    assert_eq!(ok("upper(var.secret)"), secret(s("HUNTER2")));
    assert_eq!(ok("length(var.secret)"), secret(n(7)));
    assert_eq!(ok("var.secret == \"x\""), secret(Value::Bool(false)));
    assert_eq!(ok("!var.secret_flag"), secret(Value::Bool(false)));
    assert_eq!(ok("var.secret_flag ? \"a\" : \"b\""), secret(s("a")));
    assert_eq!(
        ok("[for x in var.secret_list : upper(x)]"),
        secret(list([s("A"), s("B")]))
    );
    assert_eq!(ok("var.secret_list[0]"), secret(s("a")));
    assert_eq!(
        ok("var.obj[var.secret == \"x\" ? \"name\" : \"port\"]"),
        secret(n(22))
    );
    // Unknown results keep the mark.
    assert_eq!(
        ok("\"${var.secret}${var.unknown}\""),
        secret(Value::Unknown)
    );
    assert_eq!(ok("var.secret == var.unknown"), secret(Value::Unknown));
}

#[test]
fn sensitive_attribute_of_an_object_keeps_the_mark_only_there() {
    assert_eq!(
        ok("{ user = \"admin\", password = var.secret }"),
        Value::object([("password", secret(s("hunter2"))), ("user", s("admin"))])
    );
    assert_eq!(ok("var.creds.user"), s("admin"));
    assert_eq!(ok("var.creds.password"), secret(s("p4ss")));
    assert_eq!(
        ok("var.creds"),
        Value::object([("password", secret(s("p4ss"))), ("user", s("admin"))])
    );
    assert_eq!(
        ok("{ for k, v in var.creds : k => v }"),
        Value::object([("password", secret(s("p4ss"))), ("user", s("admin"))])
    );
}

#[test]
fn sensitive_and_nonsensitive_functions() {
    assert_eq!(ok("nonsensitive(var.secret)"), s("hunter2"));
    // As in Terraform, a sensitive attribute inside stays sensitive.
    assert_eq!(
        ok("nonsensitive(var.creds)"),
        Value::object([("password", secret(s("p4ss"))), ("user", s("admin"))])
    );
    assert_eq!(ok("sensitive(\"x\")"), secret(s("x")));
    assert_eq!(ok("sensitive(var.secret)"), secret(s("hunter2")));
    assert_eq!(ok("upper(sensitive(\"x\"))"), secret(s("X")));
    let (e, at) = err("sensitive()");
    assert_eq!(e.summary, "Invalid function arguments");
    assert_eq!(at, "sensitive()");
}

#[test]
fn display_of_sensitive_values_never_shows_the_secret() {
    for src in [
        "var.secret",
        "\"${var.secret}-x\"",
        "{ user = \"admin\", password = var.secret }",
        "[var.secret]",
        "var.creds",
    ] {
        let shown = ok(src).to_string();
        assert!(
            !shown.contains("hunter2") && !shown.contains("p4ss"),
            "{src} is shown as {shown}"
        );
        assert!(
            shown.contains("(sensitive value)"),
            "{src} is shown as {shown}"
        );
    }
    assert_eq!(
        ok("{ user = \"admin\", password = var.secret }").to_string(),
        "{password = (sensitive value), user = \"admin\"}"
    );
}

#[test]
fn errors_about_sensitive_values_do_not_show_them() {
    for src in [
        "var.secret + 1",
        "cidrsubnet(var.secret, 4, 1)",
        "tonumber(var.secret)",
        "var.obj[var.secret]",
        "-var.secret",
    ] {
        let (e, _) = err(src);
        assert!(
            !e.detail.contains("hunter2") && !e.summary.contains("hunter2"),
            "the error of {src} shows the secret: {e:?}"
        );
    }
    let (e, at) = err("cidrsubnet(var.secret, 4, 1)");
    assert_eq!(e.summary, "Error in function call");
    assert_eq!(
        e.detail,
        "Call to function \"cidrsubnet\" failed: the arguments include sensitive values, so the details are hidden."
    );
    assert_eq!(at, "cidrsubnet(var.secret, 4, 1)");
}

// --- the evaluator's own errors, with spans -------------------------------------------

#[test]
fn unsupported_attribute_suggests_the_nearest_name() {
    let (e, at) = err("var.obj.nmae");
    assert_eq!(e.summary, "Unsupported attribute");
    assert_eq!(
        e.detail,
        "This object does not have an attribute named \"nmae\". Did you mean \"name\"?"
    );
    assert_eq!(at, ".nmae");
    let (e, at) = err("var.obj.zzzzzz");
    assert_eq!(
        e.detail,
        "This object does not have an attribute named \"zzzzzz\"."
    );
    assert_eq!(at, ".zzzzzz");
    let (e, at) = err("var.list.name");
    assert_eq!(e.summary, "Unsupported attribute");
    assert!(
        e.detail
            .starts_with("Can't access attributes on a list of objects.")
    );
    assert_eq!(at, ".name");
    let (e, at) = err("var.text.length");
    assert_eq!(
        e.detail,
        "Can't access attributes on a primitive-typed value (string)."
    );
    assert_eq!(at, ".length");
}

#[test]
fn invalid_index_on_a_list_names_its_length() {
    let (e, at) = err("var.list[5]");
    assert_eq!(e.summary, "Invalid index");
    assert_eq!(
        e.detail,
        "The given key does not identify an element in this collection value: the collection has 2 elements."
    );
    assert_eq!(at, "[5]");
    let (e, at) = err("var.list[0].port[1]");
    assert_eq!(
        e.detail,
        "This value does not have any indices: it is a number."
    );
    assert_eq!(at, "[1]");
    let (e, at) = err("var.obj[\"nope\"]");
    assert_eq!(
        e.detail,
        "The given key does not identify an element in this collection value: no element has the key \"nope\"."
    );
    assert_eq!(at, "[\"nope\"]");
    let (e, at) = err("var.list[\"x\"]");
    assert_eq!(
        e.detail,
        "The given key does not identify an element in this collection value: a number is required."
    );
    assert_eq!(at, "[\"x\"]");
}

#[test]
fn attribute_of_null_is_an_error_at_the_attribute() {
    let (e, at) = err("var.nothing.x");
    assert_eq!(e.summary, "Attempt to get attribute from null value");
    assert_eq!(
        e.detail,
        "This value is null, so it does not have any attributes."
    );
    assert_eq!(at, ".x");
    let (e, at) = err("var.nothing[0]");
    assert_eq!(e.summary, "Invalid index");
    assert_eq!(
        e.detail,
        "This value is null, so it does not have any indices."
    );
    assert_eq!(at, "[0]");
}

#[test]
fn template_interpolating_null_or_a_collection_is_an_error_at_the_interpolation() {
    let (e, at) = err("\"a-${var.nothing}-b\"");
    assert_eq!(e.summary, "Invalid template interpolation value");
    assert_eq!(
        e.detail,
        "The expression result is null. Cannot include a null value in a string template."
    );
    assert_eq!(at, "var.nothing");
    let (e, at) = err("\"a-${var.names}\"");
    assert_eq!(e.summary, "Invalid template interpolation value");
    assert_eq!(
        e.detail,
        "Cannot include the given value in a string template: string required, but this is list of string."
    );
    assert_eq!(at, "var.names");
    assert_eq!(ok("\"${var.three}/${true}\""), s("3/true"));
}

#[test]
fn conditional_needs_a_bool_condition() {
    let (e, at) = err("var.text ? 1 : 2");
    assert_eq!(e.summary, "Incorrect condition type");
    assert_eq!(
        e.detail,
        "The condition expression must be of type bool, but this is string."
    );
    assert_eq!(at, "var.text");
    // Strings "true" and "false" convert, as in Terraform.
    assert_eq!(ok("\"true\" ? 1 : 2"), n(1));
    // Only the chosen branch is evaluated.
    assert_eq!(
        ok("var.nothing == null ? \"none\" : var.nothing.x"),
        s("none")
    );
}

#[test]
fn duplicate_key_in_a_for_expression_points_at_the_key() {
    let (e, at) = err("{ for x in var.names : upper(x) => 1 }");
    assert_eq!(e.summary, "Duplicate object key");
    assert_eq!(
        e.detail,
        "Two different items produced the key \"A\" in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key."
    );
    assert_eq!(at, "upper(x)");
    assert_eq!(
        ok("{ for i, x in var.names : x => i... }"),
        Value::object([("a", list([n(0), n(2)])), ("b", list([n(1)]))])
    );
    let (e, at) = err("[for x in var.nothing : x]");
    assert_eq!(e.summary, "Iteration over null value");
    assert_eq!(at, "var.nothing");
    let (e, at) = err("[for x in var.names : x if x]");
    assert_eq!(e.summary, "Invalid 'for' condition");
    assert_eq!(at, "x");
}

#[test]
fn unknown_function_suggests_the_nearest_name() {
    let (e, at) = err("jion(\",\", [\"a\"])");
    assert_eq!(e.summary, "Call to unknown function");
    assert_eq!(
        e.detail,
        "There is no function named \"jion\". Did you mean \"join\"?"
    );
    assert_eq!(at, "jion");
    let (e, at) = err("upper(lenght(var.names))");
    assert_eq!(
        e.detail,
        "There is no function named \"lenght\". Did you mean \"length\"?"
    );
    assert_eq!(at, "lenght");
    let (e, _) = err("frobnicate(1)");
    assert_eq!(e.detail, "There is no function named \"frobnicate\".");
}

#[test]
fn failing_function_is_wrapped_with_its_name_at_the_call() {
    let (e, at) = err("upper(cidrsubnet(\"10.0.0.0/24\", 16, 1))");
    assert_eq!(e.summary, "Error in function call");
    assert!(
        e.detail
            .starts_with("Call to function \"cidrsubnet\" failed: "),
        "{}",
        e.detail
    );
    assert!(e.detail.ends_with('.'), "{}", e.detail);
    assert_eq!(at, "cidrsubnet(\"10.0.0.0/24\", 16, 1)");
    assert_eq!(ok("cidrsubnet(\"10.0.0.0/16\", 8, 2)"), s("10.0.2.0/24"));
}

#[test]
fn reference_errors_of_the_scope_point_at_the_reference() {
    let (e, at) = err("upper(var.nope)");
    assert_eq!(e.summary, "Reference to undeclared input variable");
    assert_eq!(at, "var.nope");
}

// --- try and can -------------------------------------------------------------------

#[test]
fn try_returns_the_first_argument_that_succeeds() {
    assert_eq!(
        ok("try(var.obj.missing_attr.x, \"fallback\")"),
        s("fallback")
    );
    assert_eq!(ok("try(var.nope, var.obj.name)"), s("web"));
    assert_eq!(ok("try(var.obj.name, \"fallback\")"), s("web"));
    assert_eq!(ok("try(var.list[9].name, var.list[1].name)"), s("b"));
    assert_eq!(ok("try(var.secret, \"x\")"), secret(s("hunter2")));
    let (e, at) = err("try(var.obj.a, var.obj.b)");
    assert_eq!(e.summary, "Error in function call");
    assert!(
        e.detail
            .starts_with("Call to function \"try\" failed: no expression succeeded: "),
        "{}",
        e.detail
    );
    assert_eq!(at, "try(var.obj.a, var.obj.b)");
}

#[test]
fn try_over_an_unknown_is_unknown() {
    assert_eq!(ok("try(var.unknown, \"fallback\")"), Value::Unknown);
    assert_eq!(ok("try(var.unknown.x, \"fallback\")"), Value::Unknown);
    assert_eq!(ok("try(var.partial, [])"), Value::Unknown);
    // An argument that fails before the unknown one is skipped.
    assert_eq!(ok("try(var.obj.x, var.unknown, \"f\")"), Value::Unknown);
}

#[test]
fn can_tells_whether_an_expression_evaluates() {
    assert_eq!(ok("can(regex(\"^a\", \"abc\"))"), Value::Bool(true));
    assert_eq!(ok("can(regex(\"^b\", \"abc\"))"), Value::Bool(false));
    assert_eq!(ok("can(var.obj.name)"), Value::Bool(true));
    assert_eq!(ok("can(var.obj.nope)"), Value::Bool(false));
    assert_eq!(ok("can(var.unknown)"), Value::Unknown);
    assert_eq!(ok("can(tonumber(var.unknown))"), Value::Unknown);
    let (e, at) = err("can()");
    assert_eq!(e.summary, "Invalid function arguments");
    assert_eq!(at, "can()");
}

// --- splats and heredocs ------------------------------------------------------------

#[test]
fn splat_expressions() {
    assert_eq!(ok("var.list[*].name"), list([s("a"), s("b")]));
    assert_eq!(ok("var.list.*.port"), list([n(80), n(443)]));
    assert_eq!(ok("var.list[*]"), ok("var.list"));
    assert_eq!(ok("var.nothing[*].name"), list([]));
    assert_eq!(ok("length(var.nothing[*])"), n(0));
    // A single object becomes a one-element list, as in Terraform.
    assert_eq!(ok("var.obj[*].name"), list([s("web")]));
    assert_eq!(ok("var.unknown[*].name"), Value::Unknown);
    let (e, at) = err("var.list[*].nmae");
    assert_eq!(e.summary, "Unsupported attribute");
    assert_eq!(
        e.detail,
        "This object does not have an attribute named \"nmae\". Did you mean \"name\"?"
    );
    assert_eq!(at, ".nmae");
}

/// Heredocs and templates with directives are evaluated by hcl-rs from whole roots, so
/// these tests use a scope in which every variable is known and not sensitive, except the
/// ones a test adds (see the ignored tests below for why).
fn ok_plain(src: &str, extra: Vec<(&'static str, Value)>) -> Value {
    let mut plain: Vec<(&'static str, Value)> = vars()
        .into_iter()
        .filter(|(_, v)| v.is_wholly_known() && !v.contains_sensitive())
        .collect();
    plain.extend(extra);
    eval_in(&scope_with(plain), src)
        .unwrap_or_else(|e| panic!("{src:?} failed: {}: {}", e.summary, e.detail))
}

#[test]
fn indented_heredoc_with_interpolation_is_dedented() {
    let src = "<<-EOT\n    name: ${var.obj.name}\n      port: ${var.obj.port}\n    EOT";
    assert_eq!(ok_plain(src, vec![]), s("name: web\n  port: 22\n"));
    let plain = "<<EOT\n  keep ${var.text}\nEOT";
    assert_eq!(ok_plain(plain, vec![]), s("  keep abc\n"));
}

#[test]
fn heredoc_over_an_unknown_is_unknown_and_over_a_secret_sensitive() {
    assert_eq!(
        ok_plain(
            "<<-EOT\n  id: ${var.id}\n  EOT",
            vec![("id", Value::Unknown)]
        ),
        Value::Unknown
    );
    assert_eq!(
        ok_plain(
            "<<-EOT\n  pw: ${var.pw}\n  EOT",
            vec![("pw", secret(s("hunter2")))]
        ),
        secret(s("pw: hunter2\n"))
    );
}

#[test]
fn template_directives() {
    assert_eq!(
        ok_plain("\"%{ for n in var.names }${n};%{ endfor }\"", vec![]),
        s("a;b;a;")
    );
    assert_eq!(
        ok_plain(
            "\"%{ if var.three > 2 }big%{ else }small%{ endif }\"",
            vec![]
        ),
        s("big")
    );
    assert_eq!(
        ok_plain(
            "\"%{ if var.flag }a%{ endif }\"",
            vec![("flag", Value::Unknown)]
        ),
        Value::Unknown
    );
    assert_eq!(
        ok_plain(
            "\"%{ if true }${var.pw}%{ endif }\"",
            vec![("pw", secret(s("hunter2")))]
        ),
        secret(s("hunter2"))
    );
    assert_eq!(
        ok_plain(
            "\"%{ for x in var.xs }${x}%{ endfor }\"",
            vec![("xs", list([s("a"), secret(s("b"))]))]
        ),
        secret(s("ab"))
    );
}

// --- bugs -----------------------------------------------------------------------------

#[test]
fn conditional_with_unknown_condition_keeps_marks_of_its_branches() {
    // Terraform marks the unknown result with the marks of both branches; otherwise
    // `output "o" { value = var.unknown ? var.secret : "" }` escapes the "Output refers
    // to sensitive values" check and shows the secret once it is known.
    assert_eq!(
        ok("var.unknown ? var.secret : \"x\""),
        secret(Value::Unknown)
    );
}

#[test]
fn heredoc_is_sensitive_only_when_it_uses_a_sensitive_value() {
    // Only var.obj.name is used; var.secret is another, sensitive, variable.
    let scope = scope_with(vec![
        ("obj", Value::object([("name", s("web"))])),
        ("secret", secret(s("hunter2"))),
    ]);
    assert_eq!(
        eval_in(&scope, "<<-EOT\n  name: ${var.obj.name}\n  EOT"),
        Ok(s("name: web\n"))
    );
    assert_eq!(
        eval_in(&scope, "\"%{ if true }${var.obj.name}%{ endif }\""),
        Ok(s("web"))
    );
}

#[test]
fn heredoc_is_unknown_only_when_it_uses_an_unknown_value() {
    // Only var.obj.name is used; var.unknown is another variable of the same module.
    let scope = scope_with(vec![
        ("obj", Value::object([("name", s("web"))])),
        ("unknown", Value::Unknown),
        ("names", list([s("a"), s("b")])),
    ]);
    assert_eq!(
        eval_in(&scope, "<<-EOT\n  name: ${var.obj.name}\n  EOT"),
        Ok(s("name: web\n"))
    );
    assert_eq!(
        eval_in(&scope, "\"%{ for n in var.names }${n}%{ endfor }\""),
        Ok(s("ab"))
    );
}

// --- Terraform's sets, unification and added functions ------------------------------------

#[test]
fn sets_have_no_index_and_iterate_by_element() {
    let (e, _) = err("toset(var.names)[0]");
    assert_eq!(e.summary, "Invalid index");
    assert_eq!(
        ok("[for k, v in toset(var.names) : \"${k}=${v}\"]"),
        list([s("a=a"), s("b=b")])
    );
    assert_eq!(ok("length(toset(var.names))"), n(2));
    assert_eq!(
        ok("setunion([\"b\"], [\"a\", \"b\"])"),
        Value::Set(vec![s("a"), s("b")])
    );
}

#[test]
fn conditionals_and_conversions_unify_types() {
    assert_eq!(ok("true ? 1 : \"a\""), s("1"));
    assert_eq!(
        err("true ? 1 : true").0.summary,
        "Inconsistent conditional result types"
    );
    assert_eq!(ok("tolist([1, \"a\"])"), list([s("1"), s("a")]));
    assert_eq!(ok("core::upper(\"a\")"), s("A"));
    assert_eq!(err("upper(1, 2)").0.summary, "Too many function arguments");
}

#[test]
fn added_functions_follow_the_reference() {
    assert_eq!(
        ok("templatestring(var.text, { unused = 1 })"),
        s("abc"),
        "a template without interpolations renders as itself"
    );
    assert_eq!(
        err("templatestring(\"${x}\", {})").0.summary,
        "Invalid reference"
    );
    assert_eq!(ok("issensitive(var.secret)"), Value::Bool(true));
    assert_eq!(ok("issensitive(var.text)"), Value::Bool(false));
    assert_eq!(
        ok("transpose({ a = [\"1\", \"2\"], b = [\"2\"] })"),
        Value::object([("1", list([s("a")])), ("2", list([s("a"), s("b")]))])
    );
    assert_eq!(
        ok("parseint(\"18446744073709551616\", 10)").to_string(),
        "18446744073709551616"
    );
    assert_eq!(
        ok("timecmp(\"2017-11-22T01:00:00+01:00\", \"2017-11-22T00:00:00Z\")"),
        n(0)
    );
    assert!(
        ok("uuid()").is_unknown(),
        "uuid is known only when applying"
    );
    assert_eq!(ok("length(plantimestamp())"), n(20));
}

/// Results recorded from Terraform 1.15 for the same templates.
#[test]
fn templates_strip_and_dedent_as_terraform_does() {
    let listed = "<<-EOT\n    hosts:\n    %{ for x in var.names ~}\n      - ${x}\n    %{ endfor ~}\n    done\n  EOT";
    assert_eq!(
        ok(listed),
        s("hosts:\n      - a\n      - b\n      - a\n    done\n")
    );
    let branches =
        "<<-EOT\n    %{ if true }\n      yes\n    %{ else }\n      no\n    %{ endif }\n  EOT";
    assert_eq!(ok(branches), s("\n  yes\n\n"));
    assert_eq!(
        ok("\"a ${~ \"b\" ~} c %{~ if true ~} d %{~ endif ~} e\""),
        s("abcde")
    );
    // cty's modulo, not hcl-rs's: no failure inside a directive.
    assert_eq!(ok("\"%{if 5 % 0 == 5}five%{endif}\""), s("five"));
}

#[test]
fn nonsensitive_removes_only_the_outer_mark() {
    let v = ok("nonsensitive(sensitive(var.creds))");
    assert!(v.get("password").contains_sensitive(), "{v:?}");
    assert_eq!(ok("nonsensitive(var.secret)"), s("hunter2"));
}

#[test]
fn strings_are_unicode_normal_form_c() {
    assert_eq!(ok("\"e\u{301}\""), s("\u{e9}"));
    assert_eq!(ok("\"x${var.text}e\u{301}\""), s("xabc\u{e9}"));
}

/// `convert(value, type)`, with Terraform's documented examples: the type is a constraint
/// (with optional attributes' defaults), `list(any)` and friends unify as `tolist` does.
#[test]
fn convert_takes_a_type_constraint() {
    assert_eq!(ok("convert([], list(string))"), Value::List(vec![]));
    assert_eq!(ok("convert(\"true\", bool)"), Value::Bool(true));
    assert_eq!(ok("convert(3, string)"), s("3"));
    assert_eq!(
        ok("convert({}, object({ name = optional(string, \"fleet\") }))"),
        Value::object([("name", s("fleet"))])
    );
    assert_eq!(ok("convert([1, \"a\"], list(any))"), list([s("1"), s("a")]));
    assert!(matches!(ok("convert(var.names, set(string))"), Value::Set(items) if items.len() == 2));
    let (e, _) = err("convert(\"x\", number)");
    assert_eq!(e.summary, "Invalid function argument");
    assert!(
        e.detail
            .starts_with("Invalid value for \"value\" parameter:"),
        "{}",
        e.detail
    );
    let (e, at) = err("convert(1, strin)");
    assert_eq!(e.summary, "Invalid type specification");
    assert_eq!(at, "strin");
}

/// `fileset(path, pattern)`: regular files only, relative to `path`, `*` within a directory
/// and `**` across them, as a set.
#[test]
fn fileset_matches_files_below_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in [
        "a.txt",
        "b.hcl",
        ".hidden.txt",
        "sub/c.txt",
        "sub/deeper/d.txt",
    ] {
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, "x").expect("write");
    }
    let root = dir.path().display();
    let set = |pattern: &str| match ok(&format!("fileset({:?}, {pattern:?})", root.to_string())) {
        Value::Set(items) => items,
        other => panic!("fileset gave {other:?}"),
    };
    assert_eq!(set("*.txt"), vec![s(".hidden.txt"), s("a.txt")]);
    assert_eq!(
        set("**/*.txt"),
        vec![
            s(".hidden.txt"),
            s("a.txt"),
            s("sub/c.txt"),
            s("sub/deeper/d.txt")
        ]
    );
    assert_eq!(set("sub/*"), vec![s("sub/c.txt")]);
    assert_eq!(set("{a,b}.*"), vec![s("a.txt"), s("b.hcl")]);
    assert_eq!(set("nothing*"), vec![]);
}

/// `convert` keeps what is unknown and what is sensitive where they are.
#[test]
fn convert_keeps_unknown_and_sensitive_parts_in_place() {
    let v = ok("convert({ a = local.unknown, b = 1 }, object({ a = string, b = string }))");
    assert_eq!(v, Value::object([("a", Value::Unknown), ("b", s("1"))]));
    let v = ok("convert({ a = sensitive(1), b = 2 }, map(string))");
    let Value::Object(map) = v else {
        panic!("a map: {v:?}")
    };
    assert_eq!(map["a"], secret(s("1")));
    assert_eq!(map["b"], s("2"));
}
