//! A fleet of sites on the lab, the way a fleet of clinics is written: one instance of a
//! site module per site (`module.site["north"]`, a partition of the state), each a
//! one-host cluster on its own lab host (connected to Azure Arc when `arc_bundle` is
//! given: the lab's Azure), plus `fleetform_data` stand-ins for sites that need no lab
//! (`module.standin["site-0007"]`). `fleetform status`, its page and its
//! benchmark run on it.

use std::fmt::Write;
use std::path::Path;

use crate::lab::Lab;

/// The Kubernetes version every site's cluster runs.
pub const VERSION: &str = "1.31.2";

/// Writes the fleet into `dir`: a site per `(site, lab host)` pair, and `standins` more
/// sites of `fleetform_data` only. `lab.auto.hcl` describes the lab.
pub fn write(dir: &Path, lab: &Lab, sites: &[(&str, &str)], standins: usize) {
    std::fs::create_dir_all(dir.join("modules/site")).expect("module dir");
    std::fs::create_dir_all(dir.join("modules/standin")).expect("module dir");
    std::fs::write(dir.join("lab.auto.hcl"), lab.to_hcl()).expect("lab inputs");
    let mut sites_var = String::from("sites = {\n");
    for (site, host) in sites {
        let _ = writeln!(sites_var, "  {site} = \"{host}\"");
    }
    sites_var.push_str("}\nstandins = [\n");
    for i in 0..standins {
        let _ = writeln!(sites_var, "  \"site-{i:04}\",");
    }
    sites_var.push_str("]\n");
    std::fs::write(dir.join("sites.auto.hcl"), sites_var).expect("sites");
    std::fs::write(dir.join("main.hcl"), MAIN).expect("main");
    std::fs::write(dir.join("modules/site/main.hcl"), SITE).expect("site module");
    std::fs::write(dir.join("modules/standin/main.hcl"), STANDIN).expect("standin module");
}

/// `init -input=false`, then `plan -out` and `apply FILE` in another process, as a
/// pipeline runs them; panics with the lab's agent logs when it fails.
pub fn apply(dir: &Path, lab: &Lab) {
    let init = crate::run_in(dir, &["init", "-input=false", "-no-color"]);
    assert!(
        init.status.success(),
        "init:\n{}",
        crate::output_text(&init)
    );
    let out = crate::plan_then_apply(dir, &["-no-color"]);
    assert!(
        out.status.success(),
        "apply:\n{}\n{}",
        crate::output_text(&out),
        agent_logs(lab)
    );
}

/// The end of each lab host's node agent log and of its static pods' logs, for a failed
/// bootstrap's message.
pub fn agent_logs(lab: &Lab) -> String {
    lab.hosts()
        .iter()
        .map(|h| {
            let out = lab.exec(
                &h.name,
                &[
                    "sh",
                    "-c",
                    "tail -n 30 /var/lib/fleetform-lab-node/agent.log /var/lib/fleetform-lab-node/logs/*.log 2>&1",
                ],
            );
            format!("=== {}\n{}\n", h.name, String::from_utf8_lossy(&out.stdout))
        })
        .collect()
}

const MAIN: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
variable "sites" {
  description = "Each site with the lab host its cluster runs on."
  type        = map(string)
}
variable "standins" {
  description = "Sites of fleetform_data only."
  type        = set(string)
  default     = []
}
variable "arc_bundle" {
  description = "The Arc agent bundle: each site's cluster is connected to Azure Arc when set."
  type        = object({ url = string, sha256 = string })
  default     = null
}
variable "motd" {
  description = "The message of the day every site's host shows."
  type        = string
  default     = "a fleetform lab site"
}

provider "host" {
  private_key_file = var.lab.client_key
  connect_timeout  = "3s"
}
provider "kubernetes" {
  wait_timeout = "120s"
}

module "site" {
  for_each = var.sites
  source   = "./modules/site"
  name       = each.key
  host       = var.lab.hosts[each.value]
  arc_bundle = var.arc_bundle
  motd       = var.motd
}

module "standin" {
  for_each = var.standins
  source   = "./modules/standin"
  name     = each.key
}
"#;

const SITE: &str = r#"
variable "name" { type = string }
variable "host" {
  type = object({ address = string, port = number, host_key = string, private = bool })
}
variable "arc_bundle" {
  type    = object({ url = string, sha256 = string })
  default = null
}
variable "motd" { type = string }

resource "host" "node" {
  address  = var.host.address
  port     = var.host.port
  host_key = var.host.host_key
}

# In a directory each lab host has to itself.
resource "host_file" "motd" {
  host    = host.node.id
  path    = "/etc/containerd/motd"
  content = "${var.motd}: ${var.name}\n"
}

resource "cluster" "this" {
  name                      = var.name
  kubernetes_version        = "1.31.2"
  control_plane_hosts       = [host.node.id]
  control_plane_schedulable = true
  install_runtime           = false
}

resource "arc_connected_cluster" "this" {
  count               = var.arc_bundle == null ? 0 : 1
  name                = "clinic-${var.name}"
  resource_group_name = "clinics"
  location            = "westeurope"
  kubeconfig          = cluster.this.admin_kubeconfig

  agent_bundle {
    url     = var.arc_bundle.url
    sha256  = var.arc_bundle.sha256
    version = "1.21.10"
  }
}
"#;

const STANDIN: &str = r#"
variable "name" { type = string }

resource "fleetform_data" "hosts" {
  input = { site = var.name, hosts = 3 }
}

resource "fleetform_data" "cluster" {
  input = { site = var.name, hosts = fleetform_data.hosts.id }
}
"#;
