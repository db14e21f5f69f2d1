//! How fleetform scales with the size of a fleet: generated fleets of `fleetform_data`
//! stand-ins shaped like the fleets of DESIGN.md's bars (per site 16 hosts, a cluster that
//! lists them, 3 add-ons on the cluster), written two ways: one module instance per site
//! (`module "site" { for_each = ... }`) and flat (every resource in the root module, keyed
//! by site). Each phase runs the release binary the way a pipeline does, in its own
//! process: `validate`, `plan -out` from empty state, `apply PLANFILE`, then a no-change
//! `plan -detailed-exitcode` (median of 5: page faults make single runs on a busy machine
//! vary by up to a factor of two). Prints each phase's wall time and the peak memory (max
//! RSS) of its process.
//!
//! Run: `cargo bench -p fleetform-tests --bench fleet_scale -- [module|flat|both] [SITES...]`
//! (default: both shapes at 500 sites, 10,000 instances). `FLEETFORM_BIN=PATH` measures
//! another build of fleetform instead (an older one, to compare).

use std::fmt::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const HOSTS_PER_SITE: usize = 16;
const ADDONS: [&str; 3] = ["monitoring", "logging", "ingress"];

fn sites_file(dir: &Path, sites: usize) {
    let mut vars = String::from("sites = {\n");
    for i in 0..sites {
        let _ = writeln!(vars, "  site-{i:05} = \"region-{}\"", i % 7);
    }
    vars.push_str("}\n");
    std::fs::write(dir.join("sites.auto.hcl"), vars).expect("write sites");
}

fn module_shape(dir: &Path, sites: usize) {
    std::fs::create_dir_all(dir.join("modules/site")).expect("dirs");
    std::fs::write(
        dir.join("main.hcl"),
        r#"
variable "sites" { type = map(string) }

module "site" {
  for_each = var.sites
  source   = "./modules/site"
  name     = each.key
  region   = each.value
}
"#,
    )
    .expect("main");
    std::fs::write(
        dir.join("modules/site/main.hcl"),
        format!(
            r#"
variable "name" {{ type = string }}
variable "region" {{ type = string }}

resource "fleetform_data" "host" {{
  count = {HOSTS_PER_SITE}
  input = {{ site = var.name, index = count.index, region = var.region }}
}}

resource "fleetform_data" "cluster" {{
  input = {{ name = var.name, hosts = fleetform_data.host[*].id }}
}}

resource "fleetform_data" "addon" {{
  for_each = toset({addons})
  input    = {{ cluster = fleetform_data.cluster.id, addon = each.key }}
}}
"#,
            addons = addon_list(),
        ),
    )
    .expect("module");
    sites_file(dir, sites);
}

fn flat_shape(dir: &Path, sites: usize) {
    std::fs::write(
        dir.join("main.hcl"),
        format!(
            r#"
variable "sites" {{ type = map(string) }}

locals {{
  hosts  = {{ for h in flatten([for s in keys(var.sites) : [for i in range({HOSTS_PER_SITE}) : {{ site = s, index = i }}]]) : "${{h.site}}/${{h.index}}" => h }}
  addons = {{ for a in flatten([for s in keys(var.sites) : [for n in {addons} : {{ site = s, addon = n }}]]) : "${{a.site}}/${{a.addon}}" => a }}
}}

resource "fleetform_data" "host" {{
  for_each = local.hosts
  input    = {{ site = each.value.site, index = each.value.index, region = var.sites[each.value.site] }}
}}

resource "fleetform_data" "cluster" {{
  for_each = var.sites
  input    = {{ name = each.key, hosts = [for i in range({HOSTS_PER_SITE}) : fleetform_data.host["${{each.key}}/${{i}}"].id] }}
}}

resource "fleetform_data" "addon" {{
  for_each = local.addons
  input    = {{ cluster = fleetform_data.cluster[each.value.site].id, addon = each.value.addon }}
}}
"#,
            addons = addon_list(),
        ),
    )
    .expect("main");
    sites_file(dir, sites);
}

fn addon_list() -> String {
    format!(
        "[{}]",
        ADDONS
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Runs a command to completion; returns its exit code, wall time, CPU time (user and
/// system: steadier than wall time on a busy machine) and peak memory.
fn measure(command: &mut Command) -> (i32, Duration, Duration, u64) {
    let started = Instant::now();
    let child = command.spawn().expect("start fleetform");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 reports the child's own peak memory (std's wait does not).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(reaped, pid, "wait4");
    std::mem::forget(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let cpu = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let cpu_time = cpu(usage.ru_utime) + cpu(usage.ru_stime);
    (code, elapsed, cpu_time, usage.ru_maxrss as u64)
}

struct Phase {
    name: &'static str,
    time: Duration,
    cpu: Duration,
    peak_kib: u64,
}

/// The phases of one fleet, and the size of the state it ends with.
fn run_shape(bin: &Path, shape: &str, sites: usize) -> (Vec<Phase>, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    match shape {
        "module" => module_shape(dir.path(), sites),
        _ => flat_shape(dir.path(), sites),
    }
    let fleetform = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.current_dir(dir.path())
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let mut phases = Vec::new();
    let mut record = |name, args: &[&str], expect: i32| {
        let (code, time, cpu, peak_kib) = measure(&mut fleetform(args));
        assert_eq!(code, expect, "fleetform {args:?} on the {shape} fleet");
        phases.push(Phase {
            name,
            time,
            cpu,
            peak_kib,
        });
    };
    record("validate", &["validate"], 0);
    record(
        "plan (empty state)",
        &["plan", "-input=false", "-out=fleet.plan", "-parallelism=64"],
        0,
    );
    record(
        "apply PLANFILE",
        &["apply", "-input=false", "-parallelism=64", "fleet.plan"],
        0,
    );
    let mut no_change = Vec::new();
    for _ in 0..5 {
        let (code, time, cpu, peak_kib) = measure(&mut fleetform(&[
            "plan",
            "-input=false",
            "-detailed-exitcode",
            "-parallelism=64",
        ]));
        assert_eq!(code, 0, "a second plan of the {shape} fleet has no changes");
        no_change.push(Phase {
            name: "no-change plan (median of 5)",
            time,
            cpu,
            peak_kib,
        });
    }
    no_change.sort_by_key(|p| p.time);
    phases.push(no_change.swap_remove(2));
    let state = std::fs::metadata(dir.path().join("fleet.state"))
        .map(|m| m.len())
        .unwrap_or(0);
    // For profiling a phase by hand on the applied fleet.
    if std::env::var_os("FLEET_SCALE_KEEP").is_some() {
        println!("  kept the {shape} fleet in {}", dir.keep().display());
    }
    (phases, state)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let shapes: Vec<&str> = match args.iter().find(|a| a.parse::<usize>().is_err()) {
        Some(s) if s == "module" => vec!["module"],
        Some(s) if s == "flat" => vec!["flat"],
        _ => vec!["module", "flat"],
    };
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes.push(500);
    }
    let bin = std::env::var_os("FLEETFORM_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(fleetform_tests::release_fleetform);
    for sites in sizes {
        let instances = sites * (HOSTS_PER_SITE + 1 + ADDONS.len());
        for shape in &shapes {
            println!("fleet_scale: {shape} shape, {sites} sites, {instances} instances");
            let (phases, state) = run_shape(&bin, shape, sites);
            for phase in phases {
                println!(
                    "  {:<30} {:>8.3} s wall {:>8.3} s cpu {:>8.1} MiB peak",
                    phase.name,
                    phase.time.as_secs_f64(),
                    phase.cpu.as_secs_f64(),
                    phase.peak_kib as f64 / 1024.0
                );
            }
            println!(
                "  {:<30} {:>8.1} MiB",
                "state file",
                state as f64 / 1048576.0
            );
        }
    }
}
