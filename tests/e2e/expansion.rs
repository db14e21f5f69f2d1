//! Expansion and the instance graph, in-process with every built-in provider: instance
//! addresses for count and for_each (maps and sets), nested repeated modules, the edges
//! references, depends_on, module inputs and providers create, `dynamic` blocks, and the
//! `graph` command's output.

use std::collections::BTreeSet;
use std::path::Path;

use fleetform_planner::graph::{Graph, Node};
use fleetform_planner::ops::{self, LoadOptions, Validated};
use fleetform_planner::providers::Providers;
use fleetform_sdk::Severity;
use fleetform_tests::run_in;

fn providers() -> Providers {
    fleetform_cli::providers::builtin().expect("built-in providers register")
}

/// One line per diagnostic: `severity file:line:col: summary: detail`.
fn lines(v: &Validated) -> Vec<String> {
    v.diagnostics
        .iter()
        .map(|d| {
            let at = d.subject.as_ref().map_or("-".to_owned(), |r| r.to_string());
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            format!("{sev} {at}: {}: {}", d.summary, d.detail)
        })
        .collect()
}

/// Validates one file as a root module.
fn source(text: &str) -> Validated {
    ops::validate_source("main.hcl", text, &providers())
}

/// Validates a directory of files (modules included).
fn directory(files: &[(&str, &str)]) -> (tempfile::TempDir, Validated) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
        std::fs::write(path, text).expect("write");
    }
    let options = LoadOptions {
        dir: dir.path().to_path_buf(),
        ..LoadOptions::default()
    };
    let validated = ops::validate(&options, &providers());
    (dir, validated)
}

fn graph(v: &Validated) -> &Graph {
    assert!(
        !v.diagnostics.has_errors(),
        "expected a valid configuration:\n{}",
        lines(v).join("\n")
    );
    v.graph.as_ref().expect("a valid configuration has a graph")
}

/// The addresses of every resource instance.
fn resources(g: &Graph) -> BTreeSet<String> {
    g.nodes()
        .filter(|n| matches!(n, Node::Resource(_)))
        .map(ToString::to_string)
        .collect()
}

fn node<'g>(g: &'g Graph, name: &str) -> &'g Node {
    g.nodes()
        .find(|n| n.to_string() == name)
        .unwrap_or_else(|| {
            panic!(
                "no node {name}; nodes: {:?}",
                g.nodes().map(ToString::to_string).collect::<Vec<_>>()
            )
        })
}

/// What `name` depends on directly, by name.
fn deps(g: &Graph, name: &str) -> BTreeSet<String> {
    g.dependencies_of(node(g, name))
        .into_iter()
        .map(ToString::to_string)
        .collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// --- instance addresses ------------------------------------------------------------------

#[test]
fn count_and_for_each_expand_into_keyed_instances() {
    let v = source(
        r#"
resource "host" "counted" {
  count   = 3
  address = "10.0.0.${count.index}"
}

resource "host" "mapped" {
  for_each = { north = "10.0.1.1", south = "10.0.1.2" }
  address  = each.value
}

resource "host" "setted" {
  for_each = toset(["b", "a", "b"])
  address  = "${each.key}.example"
}

resource "host" "listed" {
  for_each = toset(["y", "x", "y"])
  address  = each.value
}

resource "host" "none" {
  count   = 0
  address = "nowhere"
}

resource "host" "single" {
  address = "10.0.2.1"
}
"#,
    );
    let g = graph(&v);
    assert_eq!(
        resources(g),
        set([
            "host.counted[0]",
            "host.counted[1]",
            "host.counted[2]",
            r#"host.listed["x"]"#,
            r#"host.listed["y"]"#,
            r#"host.mapped["north"]"#,
            r#"host.mapped["south"]"#,
            r#"host.setted["a"]"#,
            r#"host.setted["b"]"#,
            "host.single",
        ])
    );
    assert_eq!(g.resource_count(), 10);
}

#[test]
fn keys_that_need_quoting_are_escaped_in_addresses() {
    let v = source(
        r#"
resource "host" "odd" {
  for_each = toset(["a b", "q\"uote", "back\\slash"])
  address  = "h"
}
"#,
    );
    assert_eq!(
        resources(graph(&v)),
        set([
            r#"host.odd["a b"]"#,
            r#"host.odd["back\\slash"]"#,
            r#"host.odd["q\"uote"]"#,
        ])
    );
}

const CLINIC_ROOT: &str = r#"
module "clinic" {
  for_each = toset(["north", "south"])
  source   = "./modules/clinic"
  site     = each.key
}

output "hosts" {
  value = { for k, c in module.clinic : k => c.hosts }
}
"#;

const CLINIC: &str = r#"
variable "site" {
  type = string
}

module "net" {
  count  = 1
  source = "../net"
  prefix = "${var.site}-${count.index}"
}

output "hosts" {
  value = module.net[0].ids
}
"#;

const NET: &str = r#"
variable "prefix" {
  type = string
}

resource "host" "x" {
  for_each = toset(["k"])
  address  = "${var.prefix}-${each.key}.example"
}

output "ids" {
  value = [for h in host.x : h.id]
}
"#;

fn clinic_fleet() -> (tempfile::TempDir, Validated) {
    directory(&[
        ("main.hcl", CLINIC_ROOT),
        ("modules/clinic/main.hcl", CLINIC),
        ("modules/net/main.hcl", NET),
    ])
}

#[test]
fn nested_repeated_modules_give_full_instance_addresses() {
    let (_dir, v) = clinic_fleet();
    let g = graph(&v);
    assert_eq!(
        resources(g),
        set([
            r#"module.clinic["north"].module.net[0].host.x["k"]"#,
            r#"module.clinic["south"].module.net[0].host.x["k"]"#,
        ])
    );
    let names: BTreeSet<String> = g.nodes().map(ToString::to_string).collect();
    for expected in [
        r#"module.clinic["north"] (expand)"#,
        r#"module.clinic["north"].module.net[0] (expand)"#,
        r#"module.clinic["south"].var.site"#,
        r#"module.clinic["south"].module.net[0].var.prefix"#,
        r#"module.clinic["north"].module.net[0].output.ids"#,
        "output.hosts",
        "provider.host",
    ] {
        assert!(names.contains(expected), "no node {expected} in {names:?}");
    }
}

#[test]
fn nested_module_edges_follow_inputs_and_outputs() {
    let (_dir, v) = clinic_fleet();
    let g = graph(&v);
    let north = r#"module.clinic["north"]"#;
    // A module input depends on what its expression refers to in the parent, and on the
    // module instance's expansion.
    assert_eq!(
        deps(g, &format!("{north}.module.net[0].var.prefix")),
        set([
            &format!("{north}.var.site"),
            &format!("{north}.module.net[0] (expand)"),
        ])
    );
    // The resource waits for the module's variable, its expansion and its provider.
    assert_eq!(
        deps(g, &format!("{north}.module.net[0].host.x[\"k\"]")),
        set([
            &format!("{north}.module.net[0].var.prefix"),
            &format!("{north}.module.net[0] (expand)"),
            "provider.host",
        ])
    );
    assert_eq!(
        deps(g, &format!("{north}.output.hosts")),
        set([
            &format!("{north}.module.net[0].output.ids"),
            &format!("{north} (expand)"),
        ])
    );
    // The root output over every instance depends on each instance's output.
    assert_eq!(
        deps(g, "output.hosts"),
        set([
            r#"module.clinic["north"].output.hosts"#,
            r#"module.clinic["south"].output.hosts"#,
        ])
    );
}

#[test]
fn graph_command_prints_every_instance() {
    let (dir, _) = clinic_fleet();
    let out = run_in(dir.path(), &["graph"]);
    assert!(
        out.status.success(),
        "graph failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.starts_with("digraph fleet {"), "{dot}");
    for addr in [
        r#"module.clinic[\"north\"].module.net[0].host.x[\"k\"]"#,
        r#"module.clinic[\"south\"].module.net[0].host.x[\"k\"]"#,
        r#"module.clinic[\"north\"] (expand)"#,
        r#"module.clinic[\"south\"].module.net[0] (expand)"#,
        "provider.host",
        "output.hosts",
    ] {
        assert!(
            dot.contains(&format!("\"{addr}\"")),
            "graph lacks {addr}:\n{dot}"
        );
    }
}

// --- edges -------------------------------------------------------------------------------

const EDGES: &str = r#"
variable "user" {
  type    = string
  default = "admin"
}

provider "host" {
  user = var.user
}

resource "host" "a" {
  count   = 2
  address = "10.0.0.${count.index}"
}

resource "host_file" "f" {
  host    = host.a[0].id
  path    = "/etc/motd"
  content = "hello"
}

resource "host" "b" {
  address    = "10.0.1.1"
  depends_on = [host_file.f]
}

locals {
  ids = host.a[*].id
}

output "ids" {
  value = local.ids
}
"#;

#[test]
fn reference_to_one_instance_depends_on_every_instance() {
    let v = source(EDGES);
    let g = graph(&v);
    // Like Terraform, a reference to host.a[0] waits for the whole resource.
    assert_eq!(
        deps(g, "host_file.f"),
        set(["host.a[0]", "host.a[1]", "provider.host"])
    );
    assert_eq!(deps(g, "local.ids"), set(["host.a[0]", "host.a[1]"]));
    assert_eq!(deps(g, "output.ids"), set(["local.ids"]));
}

#[test]
fn depends_on_creates_an_edge() {
    let v = source(EDGES);
    let g = graph(&v);
    assert_eq!(deps(g, "host.b"), set(["host_file.f", "provider.host"]));
}

#[test]
fn provider_configuration_connects_to_its_resources_and_inputs() {
    let v = source(EDGES);
    let g = graph(&v);
    assert_eq!(deps(g, "provider.host"), set(["var.user"]));
    assert_eq!(deps(g, "host.a[0]"), set(["provider.host"]));
    let dependents: BTreeSet<String> = g
        .edges()
        .filter(|(from, _, _)| from.to_string() == "provider.host")
        .map(|(_, to, _)| to.to_string())
        .collect();
    assert_eq!(
        dependents,
        set(["host.a[0]", "host.a[1]", "host.b", "host_file.f"])
    );
    assert!(g.dependencies_of(node(g, "var.user")).is_empty());
}

#[test]
fn edges_remember_the_reference_that_caused_them() {
    let v = source(EDGES);
    let g = graph(&v);
    let text = EDGES;
    let why: Vec<String> = g
        .edges()
        .filter(|(from, to, _)| from.to_string() == "host.a[1]" && to.to_string() == "host_file.f")
        .filter_map(|(_, _, e)| e.reference.as_ref())
        .map(|r| text[r.bytes()].to_owned())
        .collect();
    assert_eq!(why, ["host.a[0].id"]);
    let why: Vec<String> = g
        .edges()
        .filter(|(from, to, _)| from.to_string() == "host_file.f" && to.to_string() == "host.b")
        .filter_map(|(_, _, e)| e.reference.as_ref())
        .map(|r| text[r.bytes()].to_owned())
        .collect();
    assert_eq!(why, ["host_file.f"]);
}

#[test]
fn module_input_creates_an_edge_from_the_referenced_node_to_the_child_variable() {
    let (_dir, v) = directory(&[
        (
            "main.hcl",
            r#"
resource "host" "a" {
  count   = 2
  address = "10.0.0.${count.index}"
}

module "m" {
  source  = "./modules/m"
  address = host.a[1].address
}
"#,
        ),
        (
            "modules/m/main.hcl",
            r#"
variable "address" {
  type = string
}

resource "host_file" "f" {
  host    = var.address
  path    = "/tmp/x"
  content = "x"
}
"#,
        ),
    ]);
    let g = graph(&v);
    assert_eq!(
        deps(g, "module.m.var.address"),
        set(["host.a[0]", "host.a[1]", "module.m (expand)"])
    );
    assert_eq!(
        deps(g, "module.m.host_file.f"),
        set(["module.m.var.address", "module.m (expand)", "provider.host"])
    );
    assert!(deps(g, "module.m (expand)").is_empty());
}

#[test]
fn graph_has_no_edges_to_unrelated_nodes_and_no_self_loops() {
    let v = source(EDGES);
    let g = graph(&v);
    for (from, to, _) in g.edges() {
        assert_ne!(from, to, "self loop on {from}");
    }
    assert!(deps(g, "host.a[1]").iter().all(|d| d == "provider.host"));
}

// --- dynamic blocks -----------------------------------------------------------------------

const POOL_HEAD: &str = r#"
variable "taints" {
  type = list(object({ key = string, effect = string }))
  default = [
    { key = "os", effect = "NoSchedule" },
    { key = "gpu", effect = "NoExecute" },
  ]
}

resource "host" "w" {
  address = "10.0.0.9"
}

resource "cluster" "c" {
  name                = "c"
  kubernetes_version  = "1.31.2"
  control_plane_hosts = [host.w.id]
}
"#;

#[test]
fn dynamic_block_validates() {
    let text = format!(
        "{POOL_HEAD}{}",
        r#"
resource "node_pool" "p" {
  cluster = cluster.c.id
  name    = "workers"
  hosts   = [host.w.id]

  dynamic "taint" {
    for_each = var.taints
    content {
      key    = taint.value.key
      value  = "true"
      effect = taint.value.effect
    }
  }

  dynamic "taint" {
    for_each = { extra = "PreferNoSchedule" }
    iterator = t
    content {
      key    = t.key
      effect = t.value
    }
  }
}
"#
    );
    let v = source(&text);
    let g = graph(&v);
    assert!(resources(g).contains("node_pool.p"));
    assert_eq!(
        deps(g, "node_pool.p"),
        set(["cluster.c", "host.w", "var.taints", "provider.kubernetes"])
    );
}

#[test]
fn typo_inside_dynamic_content_is_reported_at_the_argument() {
    let text = format!(
        "{POOL_HEAD}{}",
        r#"
resource "node_pool" "p" {
  cluster = cluster.c.id
  name    = "workers"
  hosts   = [host.w.id]

  dynamic "taint" {
    for_each = var.taints
    content {
      key    = taint.value.key
      efect  = taint.value.effect
    }
  }
}
"#
    );
    let v = source(&text);
    let errors: Vec<_> = v.diagnostics.iter().filter(|d| d.is_error()).collect();
    let unsupported: Vec<_> = errors
        .iter()
        .filter(|d| d.summary == "Unsupported argument")
        .collect();
    assert_eq!(unsupported.len(), 1, "{}", lines(&v).join("\n"));
    let d = unsupported[0];
    assert_eq!(
        d.detail,
        "An argument named \"efect\" is not expected here. Did you mean \"effect\"?"
    );
    let at = d.subject.as_ref().expect("a place");
    assert_eq!(&text[at.bytes()], "efect");
    // The missing required argument is reported too, at the content block.
    assert!(
        errors
            .iter()
            .any(|d| d.summary == "Missing required argument"
                && d.detail.contains("\"effect\"")
                && d.subject
                    .as_ref()
                    .is_some_and(|r| &text[r.bytes()] == "content")),
        "{}",
        lines(&v).join("\n")
    );
}

#[test]
fn typo_in_the_dynamic_iterator_attribute_is_reported_at_the_attribute() {
    let text = format!(
        "{POOL_HEAD}{}",
        r#"
resource "node_pool" "p" {
  cluster = cluster.c.id
  name    = "workers"
  hosts   = [host.w.id]

  dynamic "taint" {
    for_each = var.taints
    content {
      key    = taint.value.key
      effect = taint.value.efect
    }
  }
}
"#
    );
    let v = source(&text);
    let errors: Vec<_> = v.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{}", lines(&v).join("\n"));
    assert_eq!(errors[0].summary, "Unsupported attribute");
    assert_eq!(
        errors[0].detail,
        "This object does not have an attribute named \"efect\". Did you mean \"effect\"?"
    );
    let at = errors[0].subject.as_ref().expect("a place");
    assert_eq!(&text[at.bytes()], ".efect");
}

#[test]
fn dynamic_block_of_an_unknown_block_type_is_reported_at_its_label() {
    let text = r#"
resource "host" "w" {
  address = "10.0.0.9"
  dynamic "taint" {
    for_each = [1]
    content {}
  }
}
"#;
    let v = source(text);
    let errors: Vec<_> = v.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{}", lines(&v).join("\n"));
    assert_eq!(errors[0].summary, "Unsupported block type");
    let at = errors[0].subject.as_ref().expect("a place");
    assert_eq!(&text[at.bytes()], "\"taint\"");
}

// --- expansion problems keep their places --------------------------------------------------

#[test]
fn error_in_one_instance_is_reported_once() {
    let text = r#"
resource "host" "a" {
  count   = 3
  address = upper(var.nope)
}
"#;
    let v = source(text);
    let errors: Vec<_> = v.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{}", lines(&v).join("\n"));
    assert_eq!(errors[0].summary, "Reference to undeclared input variable");
    let at = errors[0].subject.as_ref().expect("a place");
    assert_eq!(&text[at.bytes()], "var.nope");
}

#[test]
fn diagnostics_of_a_directory_point_into_its_files() {
    let (dir, v) = directory(&[(
        "main.hcl",
        "resource \"host\" \"a\" {\n  adress = \"x\"\n}\n",
    )]);
    let d = v
        .diagnostics
        .iter()
        .find(|d| d.summary == "Unsupported argument")
        .unwrap_or_else(|| panic!("{}", lines(&v).join("\n")));
    assert_eq!(
        d.detail,
        "An argument named \"adress\" is not expected here. Did you mean \"address\"?"
    );
    let at = d.subject.as_ref().expect("a place");
    assert_eq!(at.start.line, 2);
    assert_eq!(at.start.column, 3);
    assert!(
        Path::new(at.file.as_ref()).ends_with("main.hcl"),
        "{}",
        at.file.display()
    );
    drop(dir);
}

// --- sensitive values in expansion -----------------------------------------------------------

#[test]
fn sensitive_for_each_collections_are_rejected() {
    for for_each in [
        "var.pw_map",
        "toset([var.pw, \"b\"])",
        "sensitive({ a = \"x\" })",
    ] {
        let text = format!(
            r#"
variable "pw" {{
  default   = "x"
  sensitive = true
}}

variable "pw_map" {{
  default   = {{ a = "x" }}
  sensitive = true
}}

resource "host" "h" {{
  for_each = {for_each}
  address  = "h"
}}
"#
        );
        let v = source(&text);
        let errors: Vec<_> = v.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{for_each}: {}", lines(&v).join("\n"));
        assert_eq!(errors[0].summary, "Invalid for_each argument");
        let at = errors[0].subject.as_ref().expect("a place");
        assert_eq!(&text[at.bytes()], for_each);
    }
}

#[test]
fn output_of_a_secret_must_be_marked_sensitive() {
    let v = source(
        r#"
variable "pw" {
  default   = "x"
  sensitive = true
}

output "leak" {
  value = "pw=${var.pw}"
}

output "ok" {
  value     = var.pw
  sensitive = true
}

output "cleared" {
  value = nonsensitive(var.pw)
}
"#,
    );
    let errors: Vec<_> = v.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{}", lines(&v).join("\n"));
    assert_eq!(errors[0].summary, "Output refers to sensitive values");
    assert_eq!(errors[0].subject.as_ref().map(|r| r.start.line), Some(7));
}

// --- bugs ------------------------------------------------------------------------------------

#[test]
fn for_each_over_a_map_with_sensitive_values_is_allowed() {
    // Terraform rejects only a for_each value that is itself marked (a sensitive map, or a
    // set with a sensitive element); sensitive values inside a map do not become keys.
    let v = source(
        r#"
variable "pw" {
  default   = "x"
  sensitive = true
}

variable "addrs" {
  default = { a = "10.0.0.1", b = "10.0.0.2" }
}

resource "host" "h" {
  for_each = { for k, a in var.addrs : k => { address = a, password = var.pw } }
  address  = each.value.address
  password = each.value.password
}
"#,
    );
    assert_eq!(
        resources(graph(&v)),
        set([r#"host.h["a"]"#, r#"host.h["b"]"#])
    );
}

#[test]
fn variable_validation_may_refer_to_other_variables() {
    // order.rs already orders var.min before var.max for this; evaluation then fails with
    // "This object does not have an attribute named \"min\"" at var.min.
    let text = r#"
variable "min" {
  default = 1
}

variable "max" {
  default = 3

  validation {
    condition     = var.max >= var.min
    error_message = "max must not be below min."
  }
}
"#;
    let v = source(text);
    let g = graph(&v);
    assert_eq!(deps(g, "var.max"), set(["var.min"]));
    let failing = text.replace("default = 3", "default = 0");
    let v = source(&failing);
    let errors: Vec<_> = v.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{}", lines(&v).join("\n"));
    assert_eq!(errors[0].summary, "Invalid value for variable");
    assert!(errors[0].detail.starts_with("max must not be below min."));
}

#[test]
fn heredoc_output_is_not_sensitive_because_another_variable_is() {
    let v = source(
        r#"
variable "name" {
  default = "north"
}

variable "pw" {
  default   = "x"
  sensitive = true
}

output "motd" {
  value = <<-EOT
    welcome to ${var.name}
  EOT
}
"#,
    );
    assert!(!v.diagnostics.has_errors(), "{}", lines(&v).join("\n"));
}

#[test]
fn unknown_conditional_over_a_secret_needs_a_sensitive_output() {
    // var.flag has no value, so it is unknown while validating; either branch may be the
    // result, so the output may hold the secret, and Terraform requires sensitive = true.
    let v = source(
        r#"
variable "flag" {
  type = bool
}

variable "pw" {
  default   = "x"
  sensitive = true
}

output "maybe" {
  value = var.flag ? var.pw : "none"
}
"#,
    );
    let errors: Vec<_> = v.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{}", lines(&v).join("\n"));
    assert_eq!(errors[0].summary, "Output refers to sensitive values");
}

#[test]
fn dependencies_of_lists_each_dependency_once() {
    let v = source(
        r#"
provider "host" {
  alias = "west"
}

resource "host" "a" {
  address = "a"
}

resource "host_file" "f" {
  provider = host.west
  host     = host.a.id
  path     = "/srv/${host.a.address}"
  content  = host.a.address
}
"#,
    );
    let g = graph(&v);
    let listed: Vec<String> = g
        .dependencies_of(node(g, "host_file.f"))
        .into_iter()
        .map(ToString::to_string)
        .collect();
    let mut unique = listed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique, ["host.a", "provider.host.west"]);
    assert_eq!(listed.len(), unique.len(), "{listed:?}");
}
