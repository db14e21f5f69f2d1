//! The instance graph: every resource and data instance, provider configuration, variable,
//! local, output and module instance of the expanded configuration, with an edge for each
//! dependency, labelled with the reference that caused it. Apply walks it; `graph` prints
//! it. petgraph stays private to this module.

mod dot;

use std::collections::HashMap;
use std::fmt;

use fleetform_sdk::SourceRange;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::addrs::{AbsResourceInstance, ModuleInstance, ResourceMode};
use crate::expand::{ConfigNode, Expansion, Item, ProviderConfigAddr};

/// A node of the instance graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    /// A resource or data source instance.
    Resource(AbsResourceInstance),
    /// A provider configuration.
    Provider(ProviderConfigAddr),
    /// An input variable of a module instance.
    Variable(ModuleInstance, String),
    /// A local value of a module instance.
    Local(ModuleInstance, String),
    /// An output of a module instance.
    Output(ModuleInstance, String),
    /// The boundary of a module instance: entered once its call is expanded.
    Module(ModuleInstance),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = |f: &mut fmt::Formatter<'_>, m: &ModuleInstance| {
            if m.is_root() {
                Ok(())
            } else {
                write!(f, "{m}.")
            }
        };
        match self {
            Node::Resource(addr) => write!(f, "{addr}"),
            Node::Provider(p) => write!(f, "{p}"),
            Node::Variable(m, n) => {
                prefix(f, m)?;
                write!(f, "var.{n}")
            }
            Node::Local(m, n) => {
                prefix(f, m)?;
                write!(f, "local.{n}")
            }
            Node::Output(m, n) => {
                prefix(f, m)?;
                write!(f, "output.{n}")
            }
            Node::Module(m) => write!(f, "{m} (expand)"),
        }
    }
}

/// Why an edge exists: the reference, when the user wrote one.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The reference in the dependent's configuration.
    pub reference: Option<SourceRange>,
}

/// The instance graph. Edges point from a dependency to what depends on it.
#[derive(Debug, Default)]
pub struct Graph {
    inner: DiGraph<Node, Edge>,
}

impl Graph {
    /// Every node.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.inner.node_weights()
    }

    /// Every edge as (dependency, dependent, why).
    pub fn edges(&self) -> impl Iterator<Item = (&Node, &Node, &Edge)> {
        self.inner
            .raw_edges()
            .iter()
            .map(|e| (&self.inner[e.source()], &self.inner[e.target()], &e.weight))
    }

    /// How many nodes.
    pub fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    /// How many resource and data instances.
    pub fn resource_count(&self) -> usize {
        self.nodes()
            .filter(|n| matches!(n, Node::Resource(_)))
            .count()
    }

    /// What `node` depends on directly.
    pub fn dependencies_of(&self, node: &Node) -> Vec<&Node> {
        let Some(i) = self.inner.node_indices().find(|&i| &self.inner[i] == node) else {
            return Vec::new();
        };
        let mut deps: Vec<&Node> = self
            .inner
            .neighbors_directed(i, petgraph::Direction::Incoming)
            .map(|j| &self.inner[j])
            .collect();
        deps.sort();
        deps.dedup();
        deps
    }

    /// The graph in Graphviz DOT, edges drawn from dependent to dependency as Terraform does.
    pub fn to_dot(&self) -> String {
        dot::render(&self.inner)
    }

    /// Builds the graph of an expansion.
    pub fn build(exp: &Expansion<'_>) -> Graph {
        Builder {
            exp,
            graph: DiGraph::new(),
            index: HashMap::new(),
            modules: HashMap::new(),
            edges: std::collections::HashSet::new(),
        }
        .build()
    }
}

struct Builder<'a, 'c> {
    exp: &'a Expansion<'c>,
    graph: DiGraph<Node, Edge>,
    /// Nodes of each item in each module instance.
    index: HashMap<ModuleInstance, HashMap<Item, Vec<NodeIndex>>>,
    /// The boundary node of each module instance.
    modules: HashMap<ModuleInstance, NodeIndex>,
    /// Edges added so far: one per pair, however many references.
    edges: std::collections::HashSet<(NodeIndex, NodeIndex)>,
}

impl Builder<'_, '_> {
    /// Adds an edge unless the pair has one; the first reference's place explains it.
    fn edge(&mut self, from: NodeIndex, to: NodeIndex, reference: Option<SourceRange>) {
        if self.edges.insert((from, to)) {
            self.graph.add_edge(from, to, Edge { reference });
        }
    }

    fn add(&mut self, m: &ModuleInstance, item: Item, node: Node) -> NodeIndex {
        let i = self.graph.add_node(node);
        self.index
            .entry(m.clone())
            .or_default()
            .entry(item)
            .or_default()
            .push(i);
        i
    }

    fn build(mut self) -> Graph {
        let exp = self.exp;
        for (path, instances) in &exp.modules {
            let Some(module) = exp.config.modules.get(path) else {
                continue;
            };
            for m in instances.iter().filter(|m| live(exp, m)) {
                if let Some((call, parent)) = split(m) {
                    let i = self.add(&parent, Item::ModuleCall(call), Node::Module(m.clone()));
                    self.modules.insert(m.clone(), i);
                }
                for name in module.variables.keys() {
                    self.add(
                        m,
                        Item::Var(name.clone()),
                        Node::Variable(m.clone(), name.clone()),
                    );
                }
                for name in module.locals.keys() {
                    self.add(
                        m,
                        Item::Local(name.clone()),
                        Node::Local(m.clone(), name.clone()),
                    );
                }
                for name in module.outputs.keys() {
                    self.add(
                        m,
                        Item::Output(name.clone()),
                        Node::Output(m.clone(), name.clone()),
                    );
                }
            }
        }
        let mut providers = HashMap::new();
        for p in &exp.provider_configs {
            let i = self.add(
                &p.module,
                Item::Provider(p.name.clone(), p.alias.clone()),
                Node::Provider(p.clone()),
            );
            providers.insert(p.clone(), i);
        }
        for r in &exp.resources {
            let item = Item::Resource(r.addr.resource.resource.clone());
            let i = self.add(&r.addr.module, item, Node::Resource(r.addr.clone()));
            if let Some(&p) = providers.get(&r.provider) {
                self.edge(p, i, None);
            }
        }
        let mut deps: Vec<(&ConfigNode, &Vec<crate::expand::Dep>)> =
            exp.order.deps.iter().collect();
        deps.sort_by(|a, b| a.0.cmp(b.0));
        for (node, list) in deps {
            let Some(instances) = exp.modules.get(&node.path) else {
                continue;
            };
            for m in instances.iter().filter(|m| live(exp, m)) {
                let Some(sources) = self
                    .index
                    .get(m)
                    .and_then(|items| items.get(&node.item))
                    .cloned()
                else {
                    continue;
                };
                for dep in list {
                    let reference = dep.at.as_ref().map(|l| exp.config.range(l));
                    for target in self.resolve(&dep.on, m) {
                        for &source in &sources {
                            // One edge per pair, however many references: the first one's
                            // place explains it.
                            if target != source {
                                self.edge(target, source, reference.clone());
                            }
                        }
                    }
                }
            }
        }
        tracing::debug!(
            nodes = self.graph.node_count(),
            edges = self.graph.edge_count(),
            "built instance graph"
        );
        Graph { inner: self.graph }
    }

    /// The nodes of config item `on`, as seen from module instance `from`.
    fn resolve(&self, on: &ConfigNode, from: &ModuleInstance) -> Vec<NodeIndex> {
        let here = from.path();
        let get = |m: &ModuleInstance, item: &Item| {
            self.index
                .get(m)
                .and_then(|items| items.get(item))
                .cloned()
                .unwrap_or_default()
        };
        if on.path == here {
            return get(from, &on.item);
        }
        if on.path.0.len() == here.0.len() + 1 && on.path.0.starts_with(&here.0) {
            let call = &on.path.0[here.0.len()];
            let children = self.exp.data.get(from).and_then(|d| d.children.get(call));
            return children
                .map(|(_, cs)| cs.iter().flat_map(|(_, c)| get(c, &on.item)).collect())
                .unwrap_or_default();
        }
        if let Some((call, parent)) = split(from)
            && on.path == parent.path()
        {
            if on.item == Item::ModuleCall(call) {
                return self.modules.get(from).copied().into_iter().collect();
            }
            return get(&parent, &on.item);
        }
        Vec::new()
    }
}

/// Placeholder instances (unknown keys) are checked but not part of the graph.
fn live(exp: &Expansion<'_>, m: &ModuleInstance) -> bool {
    exp.data.get(m).is_some_and(|d| !d.placeholder)
}

fn split(m: &ModuleInstance) -> Option<(String, ModuleInstance)> {
    let (last, rest) = m.0.split_last()?;
    Some((last.name.clone(), ModuleInstance(rest.to_vec())))
}

/// True for data source instances, which plan reads rather than changes.
pub fn is_data(node: &Node) -> bool {
    matches!(node, Node::Resource(a) if a.resource.resource.mode == ResourceMode::Data)
}
