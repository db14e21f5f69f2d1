//! A cluster's life on the lab, timed: three control-plane hosts and a node pool of seven
//! workers are bootstrapped, planned again with nothing to do, have every leaf
//! certificate renewed, take a patch upgrade (members one at a time, then workers node by
//! node with a drain), and are destroyed. Each step is the release `fleetform` against the
//! lab's real OpenSSH hosts, real etcd and the lab's API server, wall clock.
//!
//! The lab's hosts see empty shell startup files for root (tests/lab/hosts.rs), so the
//! machine's own ~/.bashrc is not measured.
//!
//! Run: `cargo bench -p fleetform-tests --bench cluster_lifecycle` (needs root, for the lab).

use std::path::Path;
use std::time::{Duration, Instant};

use fleetform_tests::lab::Lab;
use fleetform_tests::output_text as text;

const CONTROL_PLANE: usize = 3;
const WORKERS: usize = 7;

const FLEET: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}
variable "kubernetes_version" {
  type    = string
  default = "1.31.1"
}
variable "renew_before" {
  type    = string
  default = "720h"
}
variable "control_plane" {
  type = number
}

provider "host" {
  private_key_file = var.lab.client_key
}

locals {
  names = sort(keys(var.lab.hosts))
}

resource "host" "all" {
  for_each = var.lab.hosts
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key
}

resource "cluster" "bench" {
  name                = "bench"
  kubernetes_version  = var.kubernetes_version
  control_plane_hosts = [for k in slice(local.names, 0, var.control_plane) : host.all[k].id]
  install_runtime     = false

  certificates {
    renew_before = var.renew_before
  }
}

resource "node_pool" "workers" {
  cluster = cluster.bench.id
  name    = "workers"
  hosts   = [for k in slice(local.names, var.control_plane, length(local.names)) : host.all[k].id]
}
"#;

/// Runs one step and returns its wall time; any failure stops the bench.
fn step(dir: &Path, args: &[&str], expect: Option<i32>) -> Duration {
    let started = Instant::now();
    let out = fleetform_tests::fleetform()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run fleetform");
    let took = started.elapsed();
    let code = out.status.code();
    assert!(
        expect.map_or(out.status.success(), |e| code == Some(e)),
        "fleetform {args:?}:\n{}",
        text(&out)
    );
    took
}

fn main() {
    let bin = fleetform_tests::release_fleetform();
    eprintln!("cluster_lifecycle: fleetform at {}", bin.display());
    let mut lab = Lab::start(CONTROL_PLANE + WORKERS).expect("lab");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.hcl"), FLEET).expect("main.hcl");
    std::fs::write(dir.path().join("lab.auto.hcl"), lab.to_hcl()).expect("lab.auto.hcl");
    let cp = format!("control_plane={CONTROL_PLANE}");
    let with = |extra: &[&'static str]| -> Vec<String> {
        let mut args = vec!["-var".to_owned(), cp.clone()];
        for e in extra {
            args.push("-var".into());
            args.push((*e).into());
        }
        args
    };
    let run = |command: &[&str], vars: &[&'static str], expect: Option<i32>| {
        let mut args: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
        args.extend(with(vars));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        step(dir.path(), &args, expect)
    };
    let steps = [
        (
            "bootstrap (apply)",
            run(&["apply", "-auto-approve"], &[], None),
        ),
        (
            "no-change plan (refresh reads every file)",
            run(&["plan", "-detailed-exitcode"], &[], Some(0)),
        ),
        (
            "renew every leaf certificate (apply)",
            run(&["apply", "-auto-approve"], &["renew_before=9000h"], None),
        ),
        (
            "patch upgrade 1.31.1 -> 1.31.2 (apply)",
            run(
                &["apply", "-auto-approve"],
                &["kubernetes_version=1.31.2"],
                None,
            ),
        ),
        (
            "destroy",
            run(
                &["destroy", "-auto-approve"],
                &["kubernetes_version=1.31.2"],
                None,
            ),
        ),
    ];
    println!(
        "cluster_lifecycle: {CONTROL_PLANE} control-plane hosts + {WORKERS} workers, release build"
    );
    println!("| step | wall |\n|---|---|");
    for (name, took) in steps {
        println!("| {name} | {:.2} s |", took.as_secs_f64());
    }
    lab.stop().expect("lab stops");
}
