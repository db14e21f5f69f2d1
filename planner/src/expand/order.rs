//! The configuration-level dependency graph: one node per variable, local, resource block,
//! output, module call and provider block of every module, with an edge for every
//! reference. It decides the order in which expansion evaluates things, checks that every
//! reference names something declared, and finds cycles.

use std::collections::{HashMap, HashSet};
use std::fmt;

use fleetform_sdk::{Diagnostic, Diagnostics};
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::subject::{Subject, subject};
use crate::addrs::{ModulePath, Resource, ResourceMode};
use crate::config::{Config, Expr, Loc, Module};
use crate::lang::{Reference, references, references_in_body};

/// One item of one module.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    /// `variable "NAME"`
    Var(String),
    /// an entry of `locals`
    Local(String),
    /// `resource` or `data`
    Resource(Resource),
    /// `output "NAME"`
    Output(String),
    /// `module "NAME"`: its expansion (count/for_each).
    ModuleCall(String),
    /// `provider "NAME"` with an alias.
    Provider(String, Option<String>),
}

/// An item in the configuration tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigNode {
    /// The module.
    pub path: ModulePath,
    /// The item.
    pub item: Item,
}

impl fmt::Display for ConfigNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.0.is_empty() {
            write!(f, "{}.", self.path)?;
        }
        match &self.item {
            Item::Var(n) => write!(f, "var.{n}"),
            Item::Local(n) => write!(f, "local.{n}"),
            Item::Resource(r) => write!(f, "{r}"),
            Item::Output(n) => write!(f, "output.{n}"),
            Item::ModuleCall(n) => write!(f, "module.{n}"),
            Item::Provider(n, None) => write!(f, "provider.{n}"),
            Item::Provider(n, Some(a)) => write!(f, "provider.{n}.{a}"),
        }
    }
}

/// A dependency, and the reference that caused it (absent for implied ones).
#[derive(Debug, Clone)]
pub struct Dep {
    /// What is depended on.
    pub on: ConfigNode,
    /// The reference, when written by the user.
    pub at: Option<Loc>,
}

/// The ordered configuration graph.
pub struct Order {
    /// Nodes in an order where everything comes after what it depends on.
    pub sequence: Vec<ConfigNode>,
    /// Each node's dependencies.
    pub deps: HashMap<ConfigNode, Vec<Dep>>,
    /// What a resource block's `count` or `for_each` refers to: its instances can be
    /// counted once these are done, before what their bodies refer to.
    pub meta_deps: HashMap<ConfigNode, Vec<Dep>>,
}

/// Builds the configuration graph, reporting undeclared references and cycles. Returns
/// `None` when there is a cycle, since nothing can then be ordered.
pub fn order(config: &Config, diags: &mut Diagnostics) -> Option<Order> {
    let mut deps: HashMap<ConfigNode, Vec<Dep>> = HashMap::new();
    let mut meta_deps: HashMap<ConfigNode, Vec<Dep>> = HashMap::new();
    for (path, module) in &config.modules {
        for node in items(path, module) {
            let (found, meta) = dependencies(config, path, module, &node.item, diags);
            if let Some(meta) = meta {
                meta_deps.insert(node.clone(), meta);
            }
            deps.insert(node, found);
        }
    }
    let mut graph: DiGraph<ConfigNode, Option<Loc>> = DiGraph::new();
    let mut index: HashMap<ConfigNode, NodeIndex> = HashMap::new();
    let mut nodes: Vec<&ConfigNode> = deps.keys().collect();
    nodes.sort();
    for node in nodes {
        index.insert(node.clone(), graph.add_node(node.clone()));
    }
    for (node, list) in &deps {
        for dep in list {
            if let (Some(&from), Some(&to)) = (index.get(&dep.on), index.get(node)) {
                graph.add_edge(from, to, dep.at.clone());
            }
        }
    }
    match toposort(&graph, None) {
        Ok(sequence) => Some(Order {
            sequence: sequence.into_iter().map(|i| graph[i].clone()).collect(),
            deps,
            meta_deps,
        }),
        Err(_) => {
            report_cycles(config, &graph, diags);
            None
        }
    }
}

/// The called modules (each by its path) that something outside them refers to: a node
/// outside depends on a node inside (an output) or on the call itself (`depends_on`). What
/// is inside a called module includes the modules it calls.
pub fn read_from_outside(order: &Order) -> HashSet<ModulePath> {
    let mut read = HashSet::new();
    for (node, deps) in &order.deps {
        for dep in deps {
            let target = &dep.on;
            let mut called: Vec<&[String]> = (1..=target.path.0.len())
                .map(|n| &target.path.0[..n])
                .collect();
            let call_path;
            if let Item::ModuleCall(name) = &target.item {
                call_path = [target.path.0.as_slice(), std::slice::from_ref(name)].concat();
                called.push(&call_path);
            }
            for inside in called {
                if !node.path.0.starts_with(inside) {
                    read.insert(ModulePath(inside.to_vec()));
                }
            }
        }
    }
    read
}

fn items(path: &ModulePath, module: &Module) -> Vec<ConfigNode> {
    let node = |item| ConfigNode {
        path: path.clone(),
        item,
    };
    let mut out = Vec::new();
    out.extend(module.variables.keys().map(|n| node(Item::Var(n.clone()))));
    out.extend(module.locals.keys().map(|n| node(Item::Local(n.clone()))));
    out.extend(
        module
            .resources
            .keys()
            .map(|r| node(Item::Resource(r.clone()))),
    );
    out.extend(module.outputs.keys().map(|n| node(Item::Output(n.clone()))));
    out.extend(
        module
            .module_calls
            .keys()
            .map(|n| node(Item::ModuleCall(n.clone()))),
    );
    out.extend(
        module
            .providers
            .keys()
            .map(|(n, a)| node(Item::Provider(n.clone(), a.clone()))),
    );
    out
}

/// Where `each` and `count` may be used in an item.
#[derive(Clone, Copy)]
struct Allowed {
    each: bool,
    count: bool,
}

/// An item's dependencies and, for a resource block, those of its `count`/`for_each`
/// alone (also included in the first list).
fn dependencies(
    config: &Config,
    path: &ModulePath,
    module: &Module,
    item: &Item,
    diags: &mut Diagnostics,
) -> (Vec<Dep>, Option<Vec<Dep>>) {
    let mut out = Vec::new();
    let mut meta_out = None;
    let add = |exprs: Vec<(Vec<Reference>, crate::config::FileId)>,
               scope_path: &ModulePath,
               allowed: Allowed,
               out: &mut Vec<Dep>,
               diags: &mut Diagnostics| {
        let Some(scope_module) = config.modules.get(scope_path) else {
            return;
        };
        for (refs, file) in exprs {
            for r in refs {
                let loc = Loc {
                    file,
                    span: r.span.clone(),
                };
                match resolve(config, scope_path, scope_module, &r, allowed) {
                    Ok(targets) => out.extend(targets.into_iter().map(|on| Dep {
                        on,
                        at: Some(loc.clone()),
                    })),
                    Err(e) => diags.push(
                        Diagnostic::error(e.summary, e.detail).at(Some(
                            config
                                .sources
                                .range_of(file, e.span.unwrap_or(r.span.clone())),
                        )),
                    ),
                }
            }
        }
    };
    let of = |e: &Expr| (references(&e.expr), e.file);
    let none = Allowed {
        each: false,
        count: false,
    };
    // Everything in a called module waits for the call's expansion.
    if let Some((call, parent)) = path.0.split_last() {
        out.push(Dep {
            on: ConfigNode {
                path: ModulePath(parent.to_vec()),
                item: Item::ModuleCall(call.clone()),
            },
            at: None,
        });
    }
    match item {
        Item::Var(name) => {
            // A module's input is evaluated in the calling module.
            if let Some((call_name, parent)) = path.0.split_last() {
                let parent = ModulePath(parent.to_vec());
                let call = config
                    .modules
                    .get(&parent)
                    .and_then(|m| m.module_calls.get(call_name));
                if let Some(call) = call
                    && let Some(e) = call.inputs.get(name).map(|i| &i.value)
                {
                    let allowed = Allowed {
                        each: call.for_each.is_some(),
                        count: call.count.is_some(),
                    };
                    add(vec![of(e)], &parent, allowed, &mut out, diags);
                }
            }
            let var = &module.variables[name];
            let checks = var
                .validations
                .iter()
                .flat_map(|c| [of(&c.condition), of(&c.error_message)])
                .collect();
            // Validation conditions may refer to the variable itself and, as in
            // Terraform 1.9+, to other objects of the module.
            let mut own = Vec::new();
            add(checks, path, none, &mut own, diags);
            out.extend(
                own.into_iter()
                    .filter(|d| d.on.item != Item::Var(name.clone())),
            );
        }
        Item::Local(name) => add(
            vec![of(&module.locals[name].expr)],
            path,
            none,
            &mut out,
            diags,
        ),
        Item::Output(name) => {
            let o = &module.outputs[name];
            let mut exprs = vec![of(&o.value)];
            exprs.extend(o.depends_on.iter().map(of));
            exprs.extend(
                o.preconditions
                    .iter()
                    .flat_map(|c| [of(&c.condition), of(&c.error_message)]),
            );
            add(exprs, path, none, &mut out, diags);
        }
        Item::ModuleCall(name) => {
            let c = &module.module_calls[name];
            let exprs = c
                .count
                .iter()
                .chain(&c.for_each)
                .chain(&c.depends_on)
                .map(of)
                .collect();
            add(exprs, path, none, &mut out, diags);
        }
        Item::Provider(name, alias) => {
            let p = &module.providers[&(name.clone(), alias.clone())];
            add(
                vec![(references_in_body(&p.body), p.file)],
                path,
                none,
                &mut out,
                diags,
            );
        }
        Item::Resource(addr) => {
            // A resource's provider configuration is evaluated first: its own module's
            // blocks and the root's (the registry, which knows which provider a type
            // belongs to, is not consulted here; provider blocks are few).
            for (scope_path, scope) in [
                (path.clone(), Some(module)),
                (ModulePath::root(), config.root()),
            ] {
                for (name, alias) in scope.into_iter().flat_map(|m| m.providers.keys()) {
                    out.push(Dep {
                        on: ConfigNode {
                            path: scope_path.clone(),
                            item: Item::Provider(name.clone(), alias.clone()),
                        },
                        at: None,
                    });
                }
            }
            let r = &module.resources[addr];
            let allowed = Allowed {
                each: r.for_each.is_some(),
                count: r.count.is_some(),
            };
            let mut exprs = vec![(references_in_body(&r.body), r.file)];
            let l = &r.lifecycle;
            exprs.extend(
                l.preconditions
                    .iter()
                    .flat_map(|c| [of(&c.condition), of(&c.error_message)]),
            );
            // Postconditions may refer to the object itself as `self`, as in Terraform.
            let not_self = |e: &Expr| {
                (
                    references(&e.expr)
                        .into_iter()
                        .filter(|r| r.root != "self")
                        .collect(),
                    e.file,
                )
            };
            exprs.extend(
                l.postconditions
                    .iter()
                    .flat_map(|c| [not_self(&c.condition), not_self(&c.error_message)]),
            );
            exprs.extend(r.depends_on.iter().chain(&l.replace_triggered_by).map(of));
            add(exprs, path, allowed, &mut out, diags);
            let meta = r.count.iter().chain(&r.for_each).map(of).collect();
            let mut meta_deps = Vec::new();
            add(meta, path, none, &mut meta_deps, diags);
            out.extend(meta_deps.iter().cloned());
            meta_out = Some(meta_deps);
            if let Some(p) = &r.provider {
                let key = (p.name.clone(), p.alias.clone());
                if module.providers.contains_key(&key) {
                    out.push(Dep {
                        on: ConfigNode {
                            path: path.clone(),
                            item: Item::Provider(key.0, key.1),
                        },
                        at: Some(p.loc.clone()),
                    });
                }
            }
        }
    }
    (out, meta_out)
}

fn module_label(path: &ModulePath) -> String {
    if path.0.is_empty() {
        "the root module".into()
    } else {
        path.to_string()
    }
}

/// The nodes a reference depends on.
fn resolve(
    config: &Config,
    path: &ModulePath,
    module: &Module,
    r: &Reference,
    allowed: Allowed,
) -> Result<Vec<ConfigNode>, crate::lang::EvalError> {
    use crate::lang::EvalError;
    let at = Some(r.span.clone());
    let node = |item| {
        vec![ConfigNode {
            path: path.clone(),
            item,
        }]
    };
    match subject(r)? {
        Subject::Var(n) if module.variables.contains_key(&n) => Ok(node(Item::Var(n))),
        Subject::Var(n) => Err(EvalError::new(
            at,
            "Reference to undeclared input variable",
            format!(
                "An input variable with the name {n:?} has not been declared. This variable can be declared with a variable {n:?} {{}} block."
            ),
        )),
        Subject::Local(n) if module.locals.contains_key(&n) => Ok(node(Item::Local(n))),
        Subject::Local(n) => Err(EvalError::new(
            at,
            "Reference to undeclared local value",
            format!("A local value with the name {n:?} has not been declared."),
        )),
        Subject::Resource(res, _) if module.resources.contains_key(&res) => {
            Ok(node(Item::Resource(res)))
        }
        Subject::Resource(res, _) => {
            let what = match res.mode {
                ResourceMode::Managed => "A managed resource",
                ResourceMode::Data => "A data resource",
            };
            let mut detail = format!(
                "{what} {:?} {:?} has not been declared in {}.",
                res.ty,
                res.name,
                module_label(path)
            );
            let same_type: Vec<&str> = module
                .resources
                .keys()
                .filter(|k| k.ty == res.ty && k.mode == res.mode)
                .map(|k| k.name.as_str())
                .collect();
            if let Some(s) = fleetform_sdk::schema::did_you_mean(&res.name, same_type) {
                detail.push_str(&format!(" Did you mean {}.{s}?", res.ty));
            }
            Err(EvalError::new(
                at,
                "Reference to undeclared resource",
                detail,
            ))
        }
        Subject::Module(call, _, output) => {
            if !module.module_calls.contains_key(&call) {
                return Err(EvalError::new(
                    at,
                    "Reference to undeclared module",
                    format!(
                        "No module call named {call:?} is declared in {}.",
                        module_label(path)
                    ),
                ));
            }
            let child_path = path.child(&call);
            let Some(child) = config.modules.get(&child_path) else {
                return Ok(Vec::new());
            };
            match output {
                Some(o) if child.outputs.contains_key(&o) => Ok(vec![ConfigNode {
                    path: child_path,
                    item: Item::Output(o),
                }]),
                Some(o) => Err(EvalError::new(
                    at,
                    "Unsupported attribute",
                    format!(
                        "This object does not have an attribute named {o:?}: module {call:?} declares no output of that name."
                    ),
                )),
                None => Ok(child
                    .outputs
                    .keys()
                    .map(|o| ConfigNode {
                        path: child_path.clone(),
                        item: Item::Output(o.clone()),
                    })
                    .collect()),
            }
        }
        Subject::Each if !allowed.each => Err(EvalError::new(
            at,
            "Reference to \"each\" in context without for_each",
            "The \"each\" object can be used only in \"module\" or \"resource\" blocks, and only when the \"for_each\" argument is set.",
        )),
        Subject::Count if !allowed.count => Err(EvalError::new(
            at,
            "Reference to \"count\" in non-counted context",
            "The \"count\" object can only be used in \"module\", \"resource\", and \"data\" blocks, and only when the \"count\" argument is set.",
        )),
        Subject::Each | Subject::Count | Subject::Path | Subject::Fleet => Ok(Vec::new()),
    }
}

fn report_cycles(
    config: &Config,
    graph: &DiGraph<ConfigNode, Option<Loc>>,
    diags: &mut Diagnostics,
) {
    for scc in tarjan_scc(graph) {
        let self_loop = scc.len() == 1 && graph.find_edge(scc[0], scc[0]).is_some();
        if scc.len() < 2 && !self_loop {
            continue;
        }
        // Walk the component from its smallest node until we come back to it.
        let start = *scc.iter().min_by_key(|&&i| &graph[i]).unwrap_or(&scc[0]);
        let mut path = vec![start];
        let mut edges = Vec::new();
        let mut current = start;
        loop {
            let next = graph
                .edges_directed(current, petgraph::Direction::Incoming)
                .filter(|e| scc.contains(&e.source()))
                .min_by_key(|e| {
                    (
                        e.source() != start,
                        path.contains(&e.source()),
                        &graph[e.source()],
                    )
                });
            let Some(edge) = next else { break };
            edges.push((current, edge.source(), edge.weight().clone()));
            if edge.source() == start || path.contains(&edge.source()) {
                break;
            }
            current = edge.source();
            path.push(current);
        }
        let names: Vec<String> = path
            .iter()
            .chain(std::iter::once(&start))
            .map(|&i| graph[i].to_string())
            .collect();
        let mut diag = Diagnostic::error(
            "Cycle",
            format!(
                "These objects refer to each other, so none can be evaluated first: {}.",
                names.join(" -> ")
            ),
        );
        let mut subject_set = false;
        for (from, to, loc) in edges {
            let message = format!("{} refers to {}", graph[from], graph[to]);
            let range = loc.as_ref().map(|l| config.range(l));
            if !subject_set {
                diag = diag.at(range).label(message);
                subject_set = true;
            } else {
                diag = diag.related(range, message);
            }
        }
        diags.push(diag);
    }
}
