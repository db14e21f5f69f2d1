//! Terraform's "configuration representation" (the `configuration` key of `show -json
//! PLANFILE`) and the `relevant_attributes` list derived from it: the configuration as
//! written, with each expression given either as its `constant_value` (no references) or
//! as the `references` it makes, so that policy tools (terraform-compliance, checkov's
//! plan checks) can see how resources are wired without evaluating anything.

use std::collections::BTreeSet;

use fleetform_planner::addrs::{InstanceKey, ModulePath, ResourceMode};
use fleetform_planner::config::{Config, Expr, Module, ProviderBlock};
use fleetform_planner::lang::{self, Reference, Step};
use fleetform_sdk::Block;
use hcl::edit::expr::Expression;
use hcl::edit::structure::{Body, Structure};
use serde_json::{Map, Value, json};

use super::json::{mode_name, provider_address};
use super::plan::{Schemas, builtin_provider};

/// The `configuration` object: `provider_config` and `root_module`.
pub fn configuration(config: &Config, schemas: Schemas<'_>) -> Value {
    let mut providers = Map::new();
    for (path, module) in &config.modules {
        for block in module.providers.values() {
            providers.insert(provider_key(path, block), provider_config(path, block));
        }
    }
    // Built-in providers used without a `provider` block still appear, as Terraform lists
    // every provider the configuration requires.
    for module in config.modules.values() {
        for r in module.resources.keys() {
            if let Some(name) = builtin_provider(r.mode, &r.ty) {
                providers.entry(name.to_owned()).or_insert_with(
                    || json!({ "name": name, "full_name": provider_address(name) }),
                );
            }
        }
    }
    let mut out = Map::new();
    if !providers.is_empty() {
        out.insert("provider_config".into(), Value::Object(providers));
    }
    out.insert(
        "root_module".into(),
        module_json(config, &ModulePath::root(), schemas),
    );
    Value::Object(out)
}

/// Terraform's `relevant_attributes`: every resource attribute that an expression of the
/// configuration refers to, as `{resource, attribute}` with the instance address the
/// reference names (keys as written; module instances as planned).
pub fn relevant_attributes(config: &Config, module_instances: &[String]) -> Value {
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, module) in &config.modules {
        let prefixes: Vec<String> = if path.0.is_empty() {
            vec![String::new()]
        } else {
            let wanted = path.to_string();
            let mut p: Vec<String> = module_instances
                .iter()
                .filter(|m| strip_keys(m) == wanted)
                .map(|m| format!("{m}."))
                .collect();
            if p.is_empty() {
                p.push(format!("{wanted}."));
            }
            p
        };
        for r in module_references(module) {
            let Some((resource, attr)) = resource_attribute(&r) else {
                continue;
            };
            for prefix in &prefixes {
                found.insert((format!("{prefix}{resource}"), attr.clone()));
            }
        }
    }
    Value::Array(
        found
            .into_iter()
            .map(|(resource, attr)| json!({ "resource": resource, "attribute": [attr] }))
            .collect(),
    )
}

/// `module.a["x"].module.b[0]` without its keys: `module.a.module.b`.
fn strip_keys(module: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in module.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every reference made by the module's expressions.
fn module_references(module: &Module) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut add = |e: &Expr| out.extend(lang::references(&e.expr));
    for r in module.resources.values() {
        r.count.iter().chain(&r.for_each).for_each(&mut add);
    }
    for l in module.locals.values() {
        add(&l.expr);
    }
    for o in module.outputs.values() {
        add(&o.value);
    }
    for c in module.module_calls.values() {
        c.inputs.values().for_each(|i| add(&i.value));
        c.count.iter().chain(&c.for_each).for_each(&mut add);
    }
    for r in module.resources.values() {
        out.extend(lang::references_in_body(&r.body));
    }
    out
}

/// The resource instance and the attribute a reference reads, when it reads one.
fn resource_attribute(r: &Reference) -> Option<(String, String)> {
    let (mode, steps) = match r.root.as_str() {
        "data" => (ResourceMode::Data, &r.steps[..]),
        "var" | "local" | "module" | "count" | "each" | "path" | "fleet" | "self" | "terraform" => {
            return None;
        }
        _ => (ResourceMode::Managed, &r.steps[..]),
    };
    let mut it = steps.iter();
    let ty = match mode {
        ResourceMode::Data => match it.next()? {
            Step::Attr(t) => t.clone(),
            Step::Key(_) => return None,
        },
        ResourceMode::Managed => r.root.clone(),
    };
    let Step::Attr(name) = it.next()? else {
        return None;
    };
    let mut address = match mode {
        ResourceMode::Data => format!("data.{ty}.{name}"),
        ResourceMode::Managed => format!("{ty}.{name}"),
    };
    let mut next = it.next()?;
    if let Step::Key(k) = next {
        address.push_str(&key_text(k));
        next = it.next()?;
    }
    match next {
        Step::Attr(attr) => Some((address, attr.clone())),
        Step::Key(_) => None,
    }
}

fn key_text(k: &InstanceKey) -> String {
    match k {
        InstanceKey::None => String::new(),
        other => other.to_string(),
    }
}

fn module_json(config: &Config, path: &ModulePath, schemas: Schemas<'_>) -> Value {
    let Some(module) = config.modules.get(path) else {
        return json!({});
    };
    let mut out = Map::new();
    if !module.outputs.is_empty() {
        let outputs: Map<String, Value> = module
            .outputs
            .values()
            .map(|o| {
                let mut v = Map::new();
                v.insert("expression".into(), expression(&o.value, false));
                if o.sensitive {
                    v.insert("sensitive".into(), json!(true));
                }
                if let Some(d) = &o.description {
                    v.insert("description".into(), json!(d));
                }
                if !o.depends_on.is_empty() {
                    v.insert("depends_on".into(), depends_on(config, &o.depends_on));
                }
                (o.name.clone(), Value::Object(v))
            })
            .collect();
        out.insert("outputs".into(), Value::Object(outputs));
    }
    if !module.resources.is_empty() {
        let resources: Vec<Value> = module
            .resources
            .values()
            .map(|r| {
                let schema = schemas(r.addr.mode, &r.addr.ty).map(|s| &s.block);
                let mut v = Map::new();
                v.insert("address".into(), json!(r.addr.to_string()));
                v.insert("mode".into(), json!(mode_name(r.addr.mode)));
                v.insert("type".into(), json!(r.addr.ty));
                v.insert("name".into(), json!(r.addr.name));
                let provider = r
                    .provider
                    .as_ref()
                    .map(|p| (p.name.clone(), p.alias.clone()))
                    .or_else(|| {
                        builtin_provider(r.addr.mode, &r.addr.ty).map(|n| (n.to_owned(), None))
                    });
                if let Some((name, alias)) = provider {
                    v.insert(
                        "provider_config_key".into(),
                        json!(config_key(config, path, &name, alias.as_deref())),
                    );
                }
                v.insert("expressions".into(), body_expressions(&r.body, schema));
                v.insert("schema_version".into(), json!(0));
                if let Some(c) = &r.count {
                    v.insert("count_expression".into(), expression(c, false));
                }
                if let Some(e) = &r.for_each {
                    v.insert("for_each_expression".into(), expression(e, false));
                }
                if !r.depends_on.is_empty() {
                    v.insert("depends_on".into(), depends_on(config, &r.depends_on));
                }
                Value::Object(v)
            })
            .collect();
        out.insert("resources".into(), Value::Array(resources));
    }
    if !module.module_calls.is_empty() {
        let calls: Map<String, Value> = module
            .module_calls
            .values()
            .map(|c| {
                let mut v = Map::new();
                v.insert("source".into(), json!(c.source));
                let inputs: Map<String, Value> = c
                    .inputs
                    .iter()
                    .map(|(k, i)| (k.clone(), expression(&i.value, false)))
                    .collect();
                v.insert("expressions".into(), Value::Object(inputs));
                if let Some(e) = &c.count {
                    v.insert("count_expression".into(), expression(e, false));
                }
                if let Some(e) = &c.for_each {
                    v.insert("for_each_expression".into(), expression(e, false));
                }
                v.insert(
                    "module".into(),
                    module_json(config, &path.child(&c.name), schemas),
                );
                if !c.depends_on.is_empty() {
                    v.insert("depends_on".into(), depends_on(config, &c.depends_on));
                }
                (c.name.clone(), Value::Object(v))
            })
            .collect();
        out.insert("module_calls".into(), Value::Object(calls));
    }
    if !module.variables.is_empty() {
        let vars: Map<String, Value> = module
            .variables
            .values()
            .map(|var| {
                let mut v = Map::new();
                if let Some(d) = &var.default {
                    // A sensitive variable's default is left out, as it would be in a plan.
                    if !var.sensitive {
                        v.insert("default".into(), d.to_json());
                    }
                }
                if let Some(d) = &var.description {
                    v.insert("description".into(), json!(d));
                }
                if var.sensitive {
                    v.insert("sensitive".into(), json!(true));
                }
                (var.name.clone(), Value::Object(v))
            })
            .collect();
        out.insert("variables".into(), Value::Object(vars));
    }
    Value::Object(out)
}

/// `provider_config` keys: `host`, `host.west`, or `module.a:host` for a provider block
/// inside a module.
fn provider_key(path: &ModulePath, block: &ProviderBlock) -> String {
    let name = match &block.alias {
        Some(alias) => format!("{}.{alias}", block.name),
        None => block.name.clone(),
    };
    if path.0.is_empty() {
        name
    } else {
        format!("{path}:{name}")
    }
}

/// The `provider_config` key a resource of module `path` uses: the module's own block when
/// it has one, else the root's (configurations are inherited or passed down).
fn config_key(config: &Config, path: &ModulePath, name: &str, alias: Option<&str>) -> String {
    let own = config.modules.get(path).is_some_and(|m| {
        m.providers
            .contains_key(&(name.to_owned(), alias.map(str::to_owned)))
    });
    let name = match alias {
        Some(a) => format!("{name}.{a}"),
        None => name.to_owned(),
    };
    if own && !path.0.is_empty() {
        format!("{path}:{name}")
    } else {
        name
    }
}

fn provider_config(path: &ModulePath, block: &ProviderBlock) -> Value {
    let mut v = Map::new();
    v.insert("name".into(), json!(block.name));
    v.insert("full_name".into(), json!(provider_address(&block.name)));
    if let Some(alias) = &block.alias {
        v.insert("alias".into(), json!(alias));
    }
    if !path.0.is_empty() {
        v.insert("module_address".into(), json!(path.to_string()));
    }
    // Provider settings are often credentials: references are shown, constants are not.
    v.insert(
        "expressions".into(),
        body_expressions_with(&block.body, None, true),
    );
    Value::Object(v)
}

fn depends_on(config: &Config, exprs: &[Expr]) -> Value {
    Value::Array(
        exprs
            .iter()
            .map(|e| json!(config.sources.text(&e.loc()).trim()))
            .collect(),
    )
}

/// The expressions of a body: attributes by name, nested blocks as lists of their bodies'
/// expressions. Constants of attributes the schema marks sensitive are left out.
fn body_expressions(body: &Body, schema: Option<&Block>) -> Value {
    body_expressions_with(body, schema, false)
}

fn body_expressions_with(body: &Body, schema: Option<&Block>, hide_constants: bool) -> Value {
    let mut out = Map::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                let sensitive = hide_constants
                    || schema
                        .and_then(|s| s.attributes.get(key))
                        .is_some_and(|a| a.sensitive);
                out.insert(key.to_owned(), expression_of(&a.value, sensitive));
            }
            Structure::Block(b) => {
                let name = b.ident.as_str().to_owned();
                let nested = schema.and_then(|s| s.blocks.get(&name)).map(|n| &n.block);
                let entry = out.entry(name).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = entry {
                    list.push(body_expressions_with(&b.body, nested, hide_constants));
                }
            }
        }
    }
    Value::Object(out)
}

/// One expression: `{"constant_value": V}` when it refers to nothing (and is not hidden),
/// else `{"references": [...]}` with each reference and its shorter prefixes, as
/// Terraform lists them (`host.web.address`, `host.web`).
fn expression(e: &Expr, hide_constant: bool) -> Value {
    expression_of(&e.expr, hide_constant)
}

fn expression_of(e: &Expression, hide_constant: bool) -> Value {
    let refs = lang::references(e);
    if refs.is_empty() {
        if hide_constant {
            return json!({});
        }
        return match lang::eval_const(e) {
            Ok(v) => json!({ "constant_value": v.to_json() }),
            Err(_) => json!({}),
        };
    }
    let mut list: Vec<String> = Vec::new();
    for r in &refs {
        for text in reference_texts(r) {
            if !list.contains(&text) {
                list.push(text);
            }
        }
    }
    json!({ "references": list })
}

/// A reference and its prefixes down to the object it names: `module.m["a"].out`,
/// `module.m["a"]`, `module.m`; `host.web[0].id`, `host.web[0]`, `host.web`; `var.n`.
fn reference_texts(r: &Reference) -> Vec<String> {
    // How many steps name the object (before the attribute read from it).
    let object_steps = match r.root.as_str() {
        "var" | "local" | "count" | "each" | "path" | "fleet" | "self" | "terraform" => {
            return vec![join(&r.root, r.steps.iter().take(1))];
        }
        "data" => 1,
        _ => 0,
    };
    // The object's name, then an optional key, then one attribute.
    let name_len = object_steps + 1;
    let mut texts = Vec::new();
    let keyed = matches!(r.steps.get(name_len), Some(Step::Key(_)));
    let with_key = name_len + usize::from(keyed);
    if let Some(Step::Attr(_)) = r.steps.get(with_key) {
        texts.push(join(&r.root, r.steps.iter().take(with_key + 1)));
    }
    if keyed {
        texts.push(join(&r.root, r.steps.iter().take(with_key)));
    }
    texts.push(join(&r.root, r.steps.iter().take(name_len)));
    texts
}

fn join<'a>(root: &str, steps: impl Iterator<Item = &'a Step>) -> String {
    let mut out = root.to_owned();
    for s in steps {
        match s {
            Step::Attr(a) => {
                out.push('.');
                out.push_str(a);
            }
            Step::Key(k) => out.push_str(&key_text(k)),
        }
    }
    out
}
