//! fleetform's expression language against real Terraform's answers.
//!
//! `tests/golden/terraform/golden.json` holds what Terraform v1.15 says about each of
//! its expressions (a value in Terraform's JSON with exact number digits, or an error
//! summary), recorded by `generate.py` beside it. Every case must agree, or be listed in
//! `differences.txt` under the reason it differs (README's "For Terraform users: what
//! differs" explains the reasons). A listed case that now agrees fails the test too, so the
//! list stays true. `FLEETFORM_GOLDEN_BLESS=1` rewrites the list from the current results,
//! keeping the reasons of cases already listed and putting new ones under
//! "## not yet investigated".

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use std::borrow::Cow;
use std::ops::Range;

use fleetform_planner::lang::{EvalError, Scope, eval, eval_const};
use fleetform_sdk::Value;
use hcl::edit::Decorated;
use hcl::edit::expr::TraversalOperator;

const NEW_REASON: &str = "not yet investigated";

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/terraform")
}

/// The value in the generator's canonical text: compact JSON with Terraform's digits.
fn canonical(v: &Value) -> String {
    match v {
        Value::Null | Value::Unknown => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_infinite() => format!("{:?}", n.to_string()),
        // Terraform's outputs pass through its plan file, which keeps exact 64-bit floats
        // at that precision.
        Value::Number(n) => n.recorded().to_string(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::List(items) | Value::Set(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!(
                    "{}:{}",
                    serde_json::to_string(k).unwrap_or_default(),
                    canonical(v)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Sensitive(inner) => canonical(inner),
    }
}

/// `local.NAME` for the locals of `locals.tf`, which the generator gives Terraform too.
struct Locals(Value);

impl Locals {
    fn read() -> Locals {
        let text = std::fs::read_to_string(corpus_dir().join("locals.tf")).expect("locals.tf");
        let body = fleetform_planner::lang::syntax::parse_body(&text).expect("locals.tf parses");
        let mut locals = Vec::new();
        for block in body.blocks() {
            for attr in block.body.attributes() {
                let value = eval_const(&attr.value).expect("a constant local");
                locals.push((attr.key.as_str().to_owned(), value));
            }
        }
        Locals(Value::object(locals))
    }
}

impl Scope for Locals {
    fn resolve(
        &self,
        root: &str,
        root_span: Option<Range<usize>>,
        ops: &[Decorated<TraversalOperator>],
    ) -> Result<(Cow<'_, Value>, usize), EvalError> {
        let attr = match ops.first().map(|op| op.value()) {
            Some(TraversalOperator::GetAttr(name)) if root == "local" => name.as_str(),
            _ => {
                return Err(EvalError::new(
                    root_span,
                    "Invalid reference",
                    "no such local",
                ));
            }
        };
        match self.0.get(attr) {
            Value::Null => Err(EvalError::new(
                root_span,
                "Reference to undeclared local value",
                attr,
            )),
            v => Ok((Cow::Owned(v.clone()), 1)),
        }
    }

    fn root_value(&self, root: &str) -> Option<Value> {
        (root == "local").then(|| self.0.clone())
    }
}

/// What fleetform says, in the corpus's terms.
fn evaluate(expr: &str, locals: &Locals) -> Result<String, String> {
    let parsed =
        fleetform_planner::lang::syntax::parse_expr(expr).map_err(|_| "parse error".to_string())?;
    match eval(&parsed, locals) {
        Ok(v) if !v.is_wholly_known() => Err("unknown value".into()),
        Ok(v) => Ok(canonical(&v)),
        Err(e) => Err(e.summary),
    }
}

/// Reads `differences.txt`: expression -> reason.
fn read_differences() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(corpus_dir().join("differences.txt")).unwrap_or_default();
    let mut reason = NEW_REASON.to_string();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(r) = line.strip_prefix("## ") {
            reason = r.trim().to_string();
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            out.insert(line.to_string(), reason.clone());
        }
    }
    out
}

fn write_differences(differing: &BTreeSet<String>, known: &BTreeMap<String, String>) {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for expr in differing {
        let reason = known.get(expr).map_or(NEW_REASON, String::as_str);
        by_reason.entry(reason).or_default().push(expr);
    }
    let mut text = String::from(
        "# Cases of golden.json where fleetform differs from Terraform, by reason.\n\
         # Maintained by planner/tests/golden_language.rs (FLEETFORM_GOLDEN_BLESS=1).\n",
    );
    for (reason, exprs) in by_reason {
        text.push_str(&format!("\n## {reason}\n"));
        for e in exprs {
            text.push_str(e);
            text.push('\n');
        }
    }
    std::fs::write(corpus_dir().join("differences.txt"), text).expect("write differences.txt");
}

#[test]
fn fleetform_agrees_with_terraform_or_says_why_not() {
    let path = corpus_dir().join("golden.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run generate.py)", path.display()));
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("golden.json");
    assert!(cases.len() >= 1500, "the corpus has {} cases", cases.len());

    let locals = Locals::read();
    let mut differing = BTreeSet::new();
    let mut report = Vec::new();
    for case in &cases {
        let expr = case["expr"].as_str().expect("expr");
        let want = match (&case["value"], &case["error"]) {
            (serde_json::Value::String(v), _) => Ok(v.clone()),
            (_, serde_json::Value::Object(e)) => {
                Err(e["summary"].as_str().unwrap_or("").to_string())
            }
            _ => continue,
        };
        let got = evaluate(expr, &locals);
        if got != want {
            differing.insert(expr.to_string());
            report.push(format!(
                "{expr}\n    terraform: {want:?}\n    fleetform: {got:?}"
            ));
        }
    }
    let known = read_differences();
    let agreed = cases.len() - differing.len();
    eprintln!(
        "golden corpus: {agreed} of {} cases agree with Terraform ({:.1}%)",
        cases.len(),
        100.0 * agreed as f64 / cases.len() as f64
    );
    if std::env::var_os("FLEETFORM_GOLDEN_BLESS").is_some() {
        std::fs::write(corpus_dir().join("report.txt"), report.join("\n")).ok();
        write_differences(&differing, &known);
        return;
    }
    let unlisted: Vec<&String> = differing
        .iter()
        .filter(|e| !known.contains_key(*e))
        .collect();
    let stale: Vec<&String> = known.keys().filter(|e| !differing.contains(*e)).collect();
    let details: Vec<&String> = report
        .iter()
        .filter(|r| unlisted.iter().any(|u| r.starts_with(u.as_str())))
        .take(40)
        .collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "{} cases differ without a listed reason:\n{}\n\n{} listed cases now agree (remove them): {stale:?}",
        unlisted.len(),
        details
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        stale.len()
    );
}
