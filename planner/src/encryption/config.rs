//! From `fleet { encryption {} }` to [`Encryption`]: evaluating each argument (literals and
//! root variables only), resolving `key_provider.KIND.NAME` and `method.KIND.NAME`
//! references, and reading keys from the environment or files. Every problem is a
//! diagnostic on the argument at fault; no key or passphrase appears in one.

use hcl::edit::expr::{Expression, TraversalOperator};
use hcl::eval::Evaluate;
use indexmap::IndexMap;

use fleetform_sdk::{Diagnostic, Diagnostics};

use super::keys::{KeySource, parse_key};
use super::{Encryption, Method, Target};
use crate::config::{Config, EncryptionBlock, EncryptionItem, EncryptionTarget, Expr, Loc};
use crate::inputs::InputValue;

/// Argon2id cost when a key provider does not set it: 64 MiB, 3 passes, 1 lane (RFC 9106's
/// second recommendation, with one lane).
const DEFAULT_MEMORY_KIB: u32 = 64 * 1024;
const DEFAULT_ITERATIONS: u32 = 3;
const DEFAULT_PARALLELISM: u32 = 1;
/// OpenTofu's minimum passphrase length.
const MIN_PASSPHRASE: usize = 16;

/// Builds the encryption of a fleet from its `encryption` block (plain when there is none).
/// `inputs` are the root variables' values; `env` the environment (for `key` providers).
pub fn configure(
    config: &Config,
    inputs: &IndexMap<String, InputValue>,
    env: &[(String, String)],
) -> Result<Encryption, Diagnostics> {
    let Some(block) = config
        .root()
        .and_then(|r| r.fleet.as_ref())
        .and_then(|f| f.encryption.as_ref())
    else {
        return Ok(Encryption::default());
    };
    let mut cx = Cx {
        config,
        inputs,
        env,
        diags: Diagnostics::new(),
    };
    let state = block
        .state
        .as_ref()
        .map(|t| cx.target(block, t, "state"))
        .unwrap_or_default();
    let plan = block
        .plan
        .as_ref()
        .map(|t| cx.target(block, t, "plan"))
        .unwrap_or_default();
    if cx.diags.has_errors() {
        return Err(cx.diags);
    }
    Ok(Encryption { state, plan })
}

struct Cx<'a> {
    config: &'a Config,
    inputs: &'a IndexMap<String, InputValue>,
    env: &'a [(String, String)],
    diags: Diagnostics,
}

/// An evaluated argument.
enum Arg {
    /// `ROOT.KIND.NAME`, e.g. `method.aes_gcm.main`.
    Ref(String, String, String),
    Value(hcl::Value),
}

impl Cx<'_> {
    fn error(&mut self, loc: &Loc, summary: &str, detail: String) {
        self.diags
            .push(Diagnostic::error(summary, detail).at(Some(self.config.range(loc))));
    }

    fn eval(&mut self, (expr, loc): &(Expr, Loc)) -> Option<Arg> {
        if let Some(r) = reference(&expr.expr) {
            return Some(Arg::Ref(r.0, r.1, r.2));
        }
        let mut vars = hcl::Map::new();
        if let Some(root) = self.config.root() {
            for (name, v) in &root.variables {
                if let Some(default) = &v.default {
                    vars.insert(name.clone(), default.to_hcl_lossy());
                }
            }
        }
        for (name, input) in self.inputs {
            vars.insert(name.clone(), input.value.to_hcl_lossy());
        }
        let mut ctx = hcl::eval::Context::new();
        ctx.declare_var("var", hcl::Value::Object(vars));
        let e: hcl::Expression = expr.expr.clone().into();
        match e.evaluate(&ctx) {
            Ok(v) => Some(Arg::Value(v)),
            Err(e) => {
                self.error(
                    loc,
                    "Invalid encryption argument",
                    format!("Encryption arguments may use literals and root variables (var.NAME) only: {}.", redact(&e.to_string())),
                );
                None
            }
        }
    }

    fn string(&mut self, item: &EncryptionItem, name: &str) -> Option<String> {
        let attr = item.attributes.get(name)?;
        match self.eval(attr)? {
            Arg::Value(hcl::Value::String(s)) => Some(s),
            _ => {
                self.error(
                    &attr.1,
                    "Invalid value",
                    format!("{name} must be a string."),
                );
                None
            }
        }
    }

    fn number(&mut self, item: &EncryptionItem, name: &str, default: u32) -> u32 {
        let Some(attr) = item.attributes.get(name) else {
            return default;
        };
        match self.eval(attr) {
            Some(Arg::Value(hcl::Value::Number(n)))
                if n.as_u64().is_some_and(|n| n >= 1 && n <= u32::MAX as u64) =>
            {
                n.as_u64().unwrap_or(default as u64) as u32
            }
            Some(_) => {
                self.error(
                    &attr.1,
                    "Invalid value",
                    format!("{name} must be a whole number of at least 1."),
                );
                default
            }
            None => default,
        }
    }

    fn unexpected(&mut self, item: &EncryptionItem, allowed: &[&str]) {
        for (name, (_, loc)) in &item.attributes {
            if !allowed.contains(&name.as_str()) {
                self.error(
                    loc,
                    "Unsupported argument",
                    format!(
                        "An argument named {name:?} is not expected in a {} block; it takes {}.",
                        item.kind,
                        list(allowed)
                    ),
                );
            }
        }
    }

    fn target(&mut self, block: &EncryptionBlock, target: &EncryptionTarget, what: &str) -> Target {
        let Some(method_attr) = &target.method else {
            self.error(
                &target.loc,
                "Missing required argument",
                format!("The {what} block needs method = method.KIND.NAME."),
            );
            return Target::plain();
        };
        let Some(method) = self.method(block, method_attr) else {
            return Target::plain();
        };
        if target.enforced && matches!(method, Method::Unencrypted { .. }) {
            self.error(
                &method_attr.1,
                "Unencrypted method enforced",
                format!(
                    "The {what} block sets enforced = true, so its method cannot be unencrypted."
                ),
            );
            return Target::plain();
        }
        let fallback = target.fallback.as_ref().and_then(|f| self.method(block, f));
        Target::new(method, fallback)
    }

    fn method(&mut self, block: &EncryptionBlock, attr: &(Expr, Loc)) -> Option<Method> {
        let (kind, name) = match self.eval(attr)? {
            Arg::Ref(root, kind, name) if root == "method" => (kind, name),
            _ => {
                self.error(
                    &attr.1,
                    "Invalid method reference",
                    "Expected a reference to a method block: method.KIND.NAME.".into(),
                );
                return None;
            }
        };
        let Some(item) = block
            .methods
            .iter()
            .find(|m| m.kind == kind && m.name == name)
        else {
            self.error(
                &attr.1,
                "Reference to undeclared method",
                format!("There is no method {kind:?} {name:?} in this encryption block."),
            );
            return None;
        };
        let full = format!("{kind}.{name}");
        match kind.as_str() {
            "unencrypted" => {
                self.unexpected(item, &[]);
                Some(Method::Unencrypted { name: full })
            }
            "aes_gcm" => {
                self.unexpected(item, &["keys"]);
                let Some(keys) = item.attributes.get("keys") else {
                    self.error(
                        &item.loc,
                        "Missing required argument",
                        "An aes_gcm method needs keys = key_provider.KIND.NAME.".into(),
                    );
                    return None;
                };
                let key = self.key_provider(block, keys)?;
                Some(Method::AesGcm { name: full, key })
            }
            other => {
                self.error(&item.loc, "Unsupported method", format!("There is no encryption method {other:?}; fleetform has \"aes_gcm\" and \"unencrypted\"."));
                None
            }
        }
    }

    fn key_provider(&mut self, block: &EncryptionBlock, attr: &(Expr, Loc)) -> Option<KeySource> {
        let (kind, name) = match self.eval(attr)? {
            Arg::Ref(root, kind, name) if root == "key_provider" => (kind, name),
            _ => {
                self.error(
                    &attr.1,
                    "Invalid key provider reference",
                    "Expected a reference to a key_provider block: key_provider.KIND.NAME.".into(),
                );
                return None;
            }
        };
        let Some(item) = block
            .key_providers
            .iter()
            .find(|k| k.kind == kind && k.name == name)
        else {
            self.error(
                &attr.1,
                "Reference to undeclared key provider",
                format!("There is no key_provider {kind:?} {name:?} in this encryption block."),
            );
            return None;
        };
        match kind.as_str() {
            "argon2" => {
                self.unexpected(
                    item,
                    &["passphrase", "memory_kib", "iterations", "parallelism"],
                );
                let Some(passphrase) = self.string(item, "passphrase") else {
                    if !item.attributes.contains_key("passphrase") {
                        self.error(&item.loc, "Missing required argument", "An argon2 key provider needs a passphrase (for example passphrase = var.state_passphrase).".into());
                    }
                    return None;
                };
                if passphrase.chars().count() < MIN_PASSPHRASE {
                    self.error(
                        &item.attributes["passphrase"].1,
                        "Passphrase too short",
                        format!(
                            "The passphrase must be at least {MIN_PASSPHRASE} characters long."
                        ),
                    );
                    return None;
                }
                let memory = self.number(item, "memory_kib", DEFAULT_MEMORY_KIB);
                let iterations = self.number(item, "iterations", DEFAULT_ITERATIONS);
                let parallelism = self.number(item, "parallelism", DEFAULT_PARALLELISM);
                if memory < 8 * parallelism {
                    self.error(
                        &item.loc,
                        "Invalid value",
                        "memory_kib must be at least 8 times parallelism.".into(),
                    );
                    return None;
                }
                Some(KeySource::passphrase(
                    passphrase,
                    memory,
                    iterations,
                    parallelism,
                ))
            }
            "key" => {
                self.unexpected(item, &["env", "file"]);
                let env_name = self.string(item, "env");
                let file = self.string(item, "file");
                let (bytes, from, raw_allowed) = match (env_name, file) {
                    (Some(var), None) => {
                        let Some((_, value)) = self.env.iter().find(|(k, _)| *k == var) else {
                            self.error(
                                &item.attributes["env"].1,
                                "Missing encryption key",
                                format!("The environment variable {var} is not set."),
                            );
                            return None;
                        };
                        (
                            value.clone().into_bytes(),
                            format!("the environment variable {var}"),
                            false,
                        )
                    }
                    (None, Some(path)) => match std::fs::read(&path) {
                        Ok(b) => (b, format!("the file {path}"), true),
                        Err(e) => {
                            self.error(
                                &item.attributes["file"].1,
                                "Missing encryption key",
                                format!("Cannot read the key file {path}: {e}."),
                            );
                            return None;
                        }
                    },
                    _ => {
                        self.error(&item.loc, "Invalid key provider", "A key provider takes exactly one of env (an environment variable's name) and file (a path).".into());
                        return None;
                    }
                };
                let bytes = zeroize::Zeroizing::new(bytes);
                match parse_key(&bytes, raw_allowed) {
                    Ok(key) => Some(KeySource::Raw(key)),
                    Err(e) => {
                        self.error(
                            &item.loc,
                            "Invalid encryption key",
                            format!("The key in {from} is unusable: {e}."),
                        );
                        None
                    }
                }
            }
            other => {
                self.error(&item.loc, "Unsupported key provider", format!("There is no key provider {other:?}; fleetform has \"argon2\" (a passphrase) and \"key\" (32 bytes from env or file)."));
                None
            }
        }
    }
}

/// `a.b.c` as its three names, when the expression is exactly that.
fn reference(expr: &Expression) -> Option<(String, String, String)> {
    let Expression::Traversal(t) = expr else {
        return None;
    };
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    let root = root.as_str();
    if root != "method" && root != "key_provider" {
        return None;
    }
    let names: Vec<&str> = t
        .operators
        .iter()
        .map(|op| match op.value() {
            TraversalOperator::GetAttr(ident) => Some(ident.as_str()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    match names.as_slice() {
        [kind, name] => Some((root.to_owned(), (*kind).to_owned(), (*name).to_owned())),
        _ => None,
    }
}

/// Evaluation errors quote expressions, never values; this keeps it so if that changes.
fn redact(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_owned()
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "no arguments".into();
    }
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
