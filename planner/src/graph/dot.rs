//! Graphviz DOT rendering of the instance graph.

use std::fmt::Write;

use petgraph::graph::DiGraph;

use super::{Edge, Node};

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn shape(node: &Node) -> &'static str {
    match node {
        Node::Resource(_) => "box",
        Node::Provider(_) => "diamond",
        Node::Module(_) => "folder",
        Node::Variable(..) | Node::Local(..) | Node::Output(..) => "note",
    }
}

pub(super) fn render(graph: &DiGraph<Node, Edge>) -> String {
    let mut out = String::from(
        "digraph fleet {\n  compound = \"true\"\n  newrank = \"true\"\n  rankdir = \"RL\"\n",
    );
    let mut order: Vec<_> = graph.node_indices().collect();
    order.sort_by(|a, b| graph[*a].cmp(&graph[*b]));
    for i in &order {
        let node = &graph[*i];
        let _ = writeln!(
            out,
            "  n{} [label = {}, shape = \"{}\"]",
            i.index(),
            quote(&node.to_string()),
            shape(node)
        );
    }
    let mut edges: Vec<(String, String, usize, usize)> = graph
        .raw_edges()
        .iter()
        .map(|e| {
            (
                graph[e.target()].to_string(),
                graph[e.source()].to_string(),
                e.target().index(),
                e.source().index(),
            )
        })
        .collect();
    edges.sort();
    edges.dedup();
    for (_, _, dependent, dependency) in edges {
        let _ = writeln!(out, "  n{dependent} -> n{dependency}");
    }
    out.push_str("}\n");
    out
}
