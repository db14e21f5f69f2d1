//! Connects a fleet of sites to the lab's Azure: per site a connected cluster, two
//! extensions and a Flux configuration (their clusters' API servers refuse connections,
//! so the in-cluster side is deferred and only Azure's side is measured). Prints the
//! apply's wall time and its Resource Manager requests per resource, then the time of a
//! plan that refreshes every resource. The lab ends each long-running operation after
//! 200 ms and asks for polls after 1 s, as a quick ARM would.
//!
//! Run: `cargo bench -p fleetform-tests --bench arc_fleet` (optionally `-- SITES`).

use std::fmt::Write;
use std::time::Instant;

use base64::Engine as _;
use fleetform_tests::lab::arm::fleet::ArcFleet;
use fleetform_tests::lab::arm::{Application, ArmLab};

const CLIENT: &str = "0b0e7c52-4f3e-4b1d-9a57-2c1d0e9f8a76";
const SECRET: &str = "bench-secret";

fn main() {
    let sites: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let bin = fleetform_tests::release_fleetform();
    let mut config = ArmLab::config("3d2c1b0a-9f8e-4d7c-b6a5-948372615040", "bench-subscription");
    config.applications = vec![Application {
        client_id: CLIENT.into(),
        secrets: vec![SECRET.into()],
        ..Application::default()
    }];
    config.operation_delay_ms = 200;
    let arm = ArmLab::start(config).expect("the lab's Azure starts");
    let ca = std::fs::read_to_string(arm.ca_file()).unwrap();
    let mut fleet = ArcFleet::new(arm);
    fleet.quiet();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: site\n  cluster:\n    server: https://127.0.0.1:9\n    certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    token: bench\ncontexts:\n- name: site\n  context:\n    cluster: site\n    user: admin\ncurrent-context: site\n",
        base64::engine::general_purpose::STANDARD.encode(ca)
    );
    let mut names = String::from("sites = [");
    for i in 0..sites {
        let _ = write!(names, "{}\"clinic-{i:03}\"", if i == 0 { "" } else { ", " });
    }
    names.push_str("]\n");
    fleet.write(
        "sites.auto.hcl",
        &format!("{names}kubeconfig = {kubeconfig:?}\n"),
    );
    fleet.write("provider.hcl", &fleet.provider_block(CLIENT, SECRET));
    fleet.write(
        "main.hcl",
        r#"
variable "sites" { type = list(string) }
variable "kubeconfig" {
  type      = string
  sensitive = true
}
resource "arc_connected_cluster" "site" {
  for_each            = toset(var.sites)
  name                = each.key
  resource_group_name = "clinics"
  location            = "westeurope"
  kubeconfig          = var.kubeconfig
}
resource "arc_extension" "flux" {
  for_each          = toset(var.sites)
  cluster_id        = arc_connected_cluster.site[each.key].id
  name              = "flux"
  extension_type    = "microsoft.flux"
  release_namespace = "flux-system"
}
resource "arc_extension" "monitor" {
  for_each       = toset(var.sites)
  cluster_id     = arc_connected_cluster.site[each.key].id
  name           = "azuremonitor-containers"
  extension_type = "Microsoft.AzureMonitor.Containers"
}
resource "gitops_configuration" "apps" {
  for_each   = toset(var.sites)
  cluster_id = arc_connected_cluster.site[each.key].id
  name       = "apps"
  depends_on = [arc_extension.flux]
  git_repository {
    url    = "https://git.example.org/fleet"
    branch = "main"
  }
  kustomization "apps" {
    path = "./apps"
  }
}
"#,
    );
    assert!(bin.is_file());
    fleet.ok(&["init", "-input=false"]);
    let started = Instant::now();
    fleet.ok(&["plan", "-input=false", "-out", "bench.plan"]);
    let plan = started.elapsed();
    fleet.arm.clear_requests();
    let started = Instant::now();
    fleet.ok(&["apply", "-input=false", "bench.plan"]);
    let apply = started.elapsed();
    let requests = fleet.arm.requests();
    let resources = sites * 4;
    let count = |kind: &str| requests.iter().filter(|r| r.kind == kind).count();
    fleet.arm.clear_requests();
    let started = Instant::now();
    let (code, _) = fleet.detailed_plan();
    let refresh = started.elapsed();
    assert_eq!(code, 2, "the deferred in-cluster work is pending");
    let refresh_requests = fleet
        .arm
        .requests()
        .iter()
        .filter(|r| r.kind == "arm")
        .count();
    println!("arc_fleet: {sites} sites, {resources} Arc resources (parallelism 10)");
    println!(
        "  first plan (no state):           {:>8.2} s",
        plan.as_secs_f64()
    );
    println!(
        "  apply:                           {:>8.2} s  ({} ARM requests, {} operation polls, {} token requests: {:.1} requests per resource)",
        apply.as_secs_f64(),
        count("arm"),
        count("operation"),
        count("token"),
        (count("arm") + count("operation")) as f64 / resources as f64
    );
    println!(
        "  plan refreshing every resource:  {:>8.2} s  ({refresh_requests} ARM reads)",
        refresh.as_secs_f64()
    );
    fleet.arm.assert_all_bodies_valid();
}
