//! Loads and validates a generated fleet of 10,000 resource instances: 1,000 sites, each
//! a module instance (for_each) with six hosts, a cluster, a node pool and two add-ons.
//! Prints wall times (median of several runs) and the process's peak memory.
//!
//! Run: `cargo bench -p fleetform-tests --bench validate_fleet` (optionally `-- SITES`).

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const HOSTS_PER_SITE: usize = 6;

fn generate(dir: &Path, sites: usize) {
    let site_dir = dir.join("modules/site");
    std::fs::create_dir_all(&site_dir).expect("create module dir");
    std::fs::write(
        dir.join("main.hcl"),
        r#"
variable "sites" {
  type = map(object({
    region  = string
    subnet  = string
    version = optional(string, "1.31.2")
  }))
}

locals {
  tags = { fleet = "bench", owner = "platform" }
}

module "site" {
  for_each = var.sites
  source   = "./modules/site"
  name     = each.key
  site     = each.value
  tags     = local.tags
}

output "endpoints" {
  value = { for name, site in module.site : name => site.endpoint }
}
"#,
    )
    .expect("write main.hcl");
    let mut module = String::from(
        r#"
variable "name" { type = string }
variable "site" {
  type = object({ region = string, subnet = string, version = string })
  validation {
    condition     = can(cidrhost(var.site.subnet, 0))
    error_message = "The subnet must be a CIDR range."
  }
}
variable "tags" { type = map(string) }

locals {
  hosts = { for i in range(HOSTS) : format("%s-%02d", var.name, i) => cidrhost(var.site.subnet, i + 10) }
  labels = merge(var.tags, { site = var.name, region = var.site.region })
}

resource "host" "node" {
  for_each = local.hosts
  address  = each.value
  user     = "fleet"
  host_key = "SHA256:${trimsuffix(base64sha256(each.key), "=")}"
  labels   = local.labels
}

resource "cluster" "this" {
  name                = var.name
  kubernetes_version  = var.site.version
  control_plane_hosts = [for k, h in host.node : h.id if endswith(k, "-00")]
  pod_cidr            = "10.42.0.0/16"
  service_cidr        = "10.43.0.0/16"
}

resource "node_pool" "workers" {
  cluster = cluster.this.id
  name    = "workers"
  os      = "linux"
  hosts   = [for k, h in host.node : h.id if !endswith(k, "-00")]
  labels  = local.labels
}

resource "addon" "monitoring" {
  name       = "monitoring"
  kubeconfig = cluster.this.admin_kubeconfig
  manifests  = [yamlencode({ apiVersion = "v1", kind = "Namespace", metadata = { name = "monitoring", labels = local.labels } })]
}

resource "addon" "ingress" {
  name       = "ingress"
  kubeconfig = cluster.this.admin_kubeconfig
  manifests  = [jsonencode({ apiVersion = "v1", kind = "Namespace", metadata = { name = "ingress" } })]
  depends_on = [addon.monitoring]
}

output "endpoint" {
  value = cluster.this.endpoint
}
"#,
    );
    module = module.replace("HOSTS", &HOSTS_PER_SITE.to_string());
    std::fs::write(site_dir.join("main.hcl"), module).expect("write module");
    let mut vars = String::from("sites = {\n");
    for i in 0..sites {
        let _ = writeln!(
            vars,
            "  site-{i:04} = {{ region = \"region-{}\", subnet = \"10.{}.{}.0/24\" }}",
            i % 7,
            i / 256,
            i % 256
        );
    }
    vars.push_str("}\n");
    std::fs::write(dir.join("sites.auto.hcl"), vars).expect("write sites.auto.hcl");
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let sites: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path(), sites);
    std::env::set_current_dir(dir.path()).expect("chdir");
    let providers = fleetform_cli::providers::builtin().expect("providers");
    let options = fleetform_planner::ops::LoadOptions {
        dir: ".".into(),
        ..Default::default()
    };
    let rss_before = peak_rss_kib().unwrap_or(0);
    let mut times = Vec::new();
    let mut summary = String::new();
    for _ in 0..5 {
        let start = Instant::now();
        let validated = fleetform_planner::ops::validate(&options, &providers);
        let elapsed = start.elapsed();
        assert!(
            !validated.diagnostics.has_errors(),
            "generated fleet is invalid: {:?}",
            validated.diagnostics.iter().next()
        );
        let graph = validated.graph.expect("graph");
        summary = format!(
            "{} resource instances, {} graph nodes",
            graph.resource_count(),
            graph.node_count()
        );
        times.push(elapsed);
    }
    let peak = peak_rss_kib().unwrap_or(0);
    println!("validate_fleet: {sites} sites, {summary}");
    println!(
        "  load + expand + validate + graph: median {:.3} s (min {:.3} s, max {:.3} s, 5 runs)",
        median(times.clone()).as_secs_f64(),
        times
            .iter()
            .min()
            .copied()
            .unwrap_or_default()
            .as_secs_f64(),
        times
            .iter()
            .max()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
    );
    println!(
        "  peak memory (VmHWM): {:.1} MiB (before runs: {:.1} MiB)",
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
}
