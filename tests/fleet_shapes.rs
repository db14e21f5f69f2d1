//! Generated fleets for benchmarks: sites as module instances of `fleetform_data`
//! resources shaped like a real site (6 hosts, a cluster, a node pool, 2 add-ons depending
//! on each other), 10 instances per site.

use std::fmt::Write;
use std::path::Path;

/// Writes a fleet of `sites` sites into `dir`, with `fleet_block` (a `fleet {}` block, or
/// nothing) at the top of `main.hcl`.
pub fn module_sites(dir: &Path, sites: usize, fleet_block: &str) {
    std::fs::create_dir_all(dir.join("modules/site")).expect("dirs");
    std::fs::write(
        dir.join("main.hcl"),
        format!(
            r#"{fleet_block}
variable "sites" {{ type = map(string) }}

module "site" {{
  for_each = var.sites
  source   = "./modules/site"
  name     = each.key
  region   = each.value
}}
"#
        ),
    )
    .expect("main");
    std::fs::write(
        dir.join("modules/site/main.hcl"),
        r#"
variable "name" { type = string }
variable "region" { type = string }

resource "fleetform_data" "host" {
  count = 6
  input = { site = var.name, index = count.index, region = var.region }
}

resource "fleetform_data" "cluster" {
  input = { name = var.name, hosts = fleetform_data.host[*].id }
}

resource "fleetform_data" "pool" {
  input = { cluster = fleetform_data.cluster.id, hosts = slice(fleetform_data.host[*].id, 1, 6) }
}

resource "fleetform_data" "addon" {
  for_each = toset(["monitoring", "ingress"])
  input    = { cluster = fleetform_data.cluster.id, addon = each.key, pool = fleetform_data.pool.id }
}
"#,
    )
    .expect("module");
    let mut vars = String::from("sites = {\n");
    for i in 0..sites {
        let _ = writeln!(vars, "  site-{i:04} = \"region-{}\"", i % 7);
    }
    vars.push_str("}\n");
    std::fs::write(dir.join("sites.auto.hcl"), vars).expect("vars");
}
