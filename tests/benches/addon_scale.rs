//! One addon of 1,000 objects (a namespace, 800 ConfigMaps, 100 ServiceAccounts, 99
//! Deployments) against the lab API server on a real etcd: `plan -out` (a server dry run
//! of every object), `apply PLANFILE`, and a no-change `plan -detailed-exitcode` (a
//! refresh, one list per kind, then a dry run of every object again). Each in its own
//! process of the release build; prints wall time, CPU time and peak memory.
//!
//! Run: `cargo bench -p fleetform-tests --bench addon_scale` (optionally `-- OBJECTS`).
//! Needs etcd (Debian's etcd-server) and kubectl.

#[path = "../e2e/apiserver/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn bundle(objects: usize) -> String {
    let mut yaml = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n");
    let deployments = (objects / 10).saturating_sub(1);
    let accounts = objects / 10;
    let configmaps = objects - 1 - deployments - accounts;
    for i in 0..configmaps {
        let _ = write!(
            yaml,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings-{i:04}, labels: {{app: bench}}}}\n\
             data: {{index: \"{i}\", color: red, site: clinic-{}}}\n",
            i % 50
        );
    }
    for i in 0..accounts {
        let _ = write!(
            yaml,
            "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: agent-{i:04}}}\n"
        );
    }
    for i in 0..deployments {
        let _ = write!(
            yaml,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{i:04}}}\n\
             spec:\n  replicas: 2\n  selector: {{matchLabels: {{app: app-{i:04}}}}}\n  template:\n\
             \x20   metadata: {{labels: {{app: app-{i:04}}}}}\n\
             \x20   spec: {{containers: [{{name: app, image: \"nginx:1.27\", ports: [{{containerPort: 80}}]}}]}}\n"
        );
    }
    yaml
}

/// Runs `fleetform ARGS` in `dir`; returns its exit code, wall time, CPU time and peak
/// memory (KiB).
fn measure(fleetform: &Path, dir: &Path, args: &[&str]) -> (i32, Duration, Duration, u64) {
    let started = Instant::now();
    let child = Command::new(fleetform)
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start fleetform");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 reports the child's own CPU time and peak memory.
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
    (
        code,
        elapsed,
        cpu(usage.ru_utime) + cpu(usage.ru_stime),
        usage.ru_maxrss as u64,
    )
}

fn main() {
    let objects: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let fleetform = fleetform_tests::release_fleetform();
    let cluster = cluster::Cluster::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("admin.conf");
    std::fs::copy(cluster.kubeconfig("super-admin.conf", 0), &kubeconfig).expect("kubeconfig");
    std::fs::write(dir.path().join("bundle.yaml"), bundle(objects)).expect("bundle");
    std::fs::write(
        dir.path().join("main.hcl"),
        format!(
            "provider \"addons\" {{\n  kubeconfig_path = \"{}\"\n}}\n\n\
             resource \"addon\" \"bench\" {{\n  name      = \"bench\"\n  namespace = \"bench\"\n\
             \x20 source    = {{ path = \"bundle.yaml\" }}\n  wait      = false\n}}\n",
            kubeconfig.display()
        ),
    )
    .expect("main.hcl");
    println!("addon_scale: one addon of {objects} objects, lab API server on etcd 3.4");
    let phases: [(&str, &[&str], i32); 3] = [
        (
            "plan -out (dry run of every object)",
            &["plan", "-out", "tfplan"],
            0,
        ),
        ("apply PLANFILE", &["apply", "tfplan"], 0),
        (
            "no-change plan -detailed-exitcode",
            &["plan", "-detailed-exitcode"],
            0,
        ),
    ];
    for (name, args, expected) in phases {
        let (code, wall, cpu, rss) = measure(&fleetform, dir.path(), args);
        assert_eq!(code, expected, "{name} exited {code}");
        println!(
            "  {name:<40} {:>7.2} s wall  {:>7.2} s CPU  {:>6.1} MiB peak",
            wall.as_secs_f64(),
            cpu.as_secs_f64(),
            rss as f64 / 1024.0
        );
    }
    // Everything is there, once.
    let listed = Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args([
            "get",
            "configmaps,serviceaccounts,deployments",
            "-n",
            "bench",
            "-o",
            "name",
        ])
        .output()
        .expect("kubectl");
    let count = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| !l.contains("kube-root-ca") && !l.ends_with("/default"))
        .count();
    assert_eq!(count, objects - 1, "objects in the namespace");
}
