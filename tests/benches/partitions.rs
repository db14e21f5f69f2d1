//! A fleet's state in partitions on a real PostgreSQL (see tests/services), measured:
//!
//! - lock and commit per partition: the backend locking N partitions at once (with the
//!   fleet shared) and writing one changed state into each, in one transaction;
//! - the 2,000-site fleet (20,000 fleetform_data instances, `fleet_shapes::module_sites`,
//!   one partition per site) applied by one process and by 20 processes at once, each its
//!   `-partitions=K/20` share: both wall times;
//! - a no-change plan of the whole fleet read from PostgreSQL, and of one runner's share.
//!
//! Run: `cargo bench -p fleetform-tests --bench partitions` (optionally `-- SITES`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleetform_planner::state::backend::codec::Codec;
use fleetform_planner::state::backend::partitioned::LockMode;
use fleetform_planner::state::backend::registry::BackendRequest;
use fleetform_planner::state::backend::{Backend, LockInfo};
use fleetform_planner::state::{InstanceState, InstanceStatus, State};
use fleetform_sdk::Value;
use fleetform_tests::remote_state::{Kind, Remote};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A partition's state of ten instances, at `serial`.
fn site_state(lineage: &str, site: usize, serial: u64) -> State {
    let mut state = State::new();
    state.lineage = lineage.to_owned();
    state.serial = serial;
    for i in 0..10 {
        let addr = fleetform_planner::addrs::parse_abs_resource_instance(&format!(
            "module.site[\"site-{site:04}\"].fleetform_data.host[{i}]"
        ))
        .expect("address");
        state.set(
            addr,
            InstanceState {
                provider: "provider.fleetform".into(),
                schema_version: 0,
                value: Value::object([
                    ("id", Value::from("0a4bbf2e-5b7a-4b8e-9d3c-6f1e2d3c4b5a")),
                    (
                        "input",
                        Value::from(format!("generation {serial}").as_str()),
                    ),
                ]),
                dependencies: Vec::new(),
                status: InstanceStatus::Ready,
                create_before_destroy: false,
                prevent_destroy: false,
            },
        );
    }
    state
}

fn lock_and_commit() {
    let pg = fleetform_tests::services::postgres::shared();
    let mut settings = indexmap::IndexMap::new();
    settings.insert("conn_str".to_owned(), Value::from(pg.conn_str().as_str()));
    settings.insert("schema_name".to_owned(), Value::from("bench_partlocks"));
    let request = BackendRequest {
        settings: &settings,
        env: &[],
        dir: Path::new("."),
        codec: Codec::default(),
    };
    let backend = fleetform_backend_postgres::PostgresBackend::connect(
        fleetform_backend_postgres::Settings::from_request(&request).expect("settings"),
        Codec::default(),
    )
    .expect("connect");
    let store = backend.store("default").expect("store");
    let parts = store.partitioned().expect("postgres keeps partitions");
    let lineage = State::new().lineage;
    println!("lock and commit per partition (median of 20):");
    // Each round writes the partitions again, at serials above the previous rounds'.
    let mut base = 0u64;
    for n in [1usize, 10, 100, 1000] {
        let names: Vec<String> = (0..n)
            .map(|i| format!("module.site[\"site-{i:04}\"]"))
            .collect();
        let (mut locks, mut commits) = (Vec::new(), Vec::new());
        for serial in base + 1..=base + 20 {
            let states: BTreeMap<String, State> = (0..n)
                .map(|i| (names[i].clone(), site_state(&lineage, i, serial)))
                .collect();
            let wanted: Vec<(String, LockMode)> = names
                .iter()
                .map(|p| (p.clone(), LockMode::Exclusive))
                .collect();
            let start = Instant::now();
            let guard = parts
                .lock_partitions(
                    LockMode::Shared,
                    &wanted,
                    LockInfo::new("bench"),
                    Duration::ZERO,
                )
                .expect("lock");
            locks.push(start.elapsed());
            let refs: Vec<(&str, &State)> = states.iter().map(|(p, s)| (p.as_str(), s)).collect();
            let start = Instant::now();
            parts
                .write_partitions(&refs, &BTreeMap::new())
                .expect("write");
            commits.push(start.elapsed());
            drop(guard);
        }
        base += 20;
        let (lock, commit) = (median(locks), median(commits));
        println!(
            "  {n:>5} partitions: lock {lock:>10.2?} ({:>8.1?} each), commit {commit:>10.2?} ({:>8.1?} each)",
            lock / n as u32,
            commit / n as u32
        );
    }
}

fn run(bin: &Path, remote: &Remote, dir: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).args(args).stdout(Stdio::null());
    for (k, v) in &remote.env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run fleetform");
    assert!(
        out.status.success(),
        "fleetform {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

fn fleet(bin: &Path, sites: usize) {
    let one = Remote::new(Kind::Postgres, "bench_parts_one");
    let many = Remote::new(Kind::Postgres, "bench_parts_many");
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (remote, dir) in [(&one, a.path()), (&many, b.path())] {
        fleetform_tests::fleet_shapes::module_sites(
            dir,
            sites,
            &remote.fleet_block("partitions {}"),
        );
        let mut args = vec!["init", "-input=false"];
        args.extend(remote.init_args.iter().map(String::as_str));
        run(bin, remote, dir, &args);
    }
    let instances = sites * 10;
    let sequential = run(bin, &one, a.path(), &["apply", "-auto-approve"]);
    let start = Instant::now();
    let runners: Vec<_> = (1..=20)
        .map(|k| {
            let share = format!("-partitions={k}/20");
            let mut cmd = Command::new(bin);
            cmd.current_dir(b.path())
                .args(["apply", "-auto-approve", "-lock-timeout=600s", &share])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd.spawn().expect("start a runner")
        })
        .collect();
    for mut r in runners {
        assert!(r.wait().expect("wait").success(), "a runner failed");
    }
    let parallel = start.elapsed();
    println!("{sites} sites ({instances} instances), one partition per site:");
    println!("  apply, one process:            {sequential:>8.2?}");
    println!("  apply, 20 processes at once:   {parallel:>8.2?}");
    let plans: Vec<Duration> = (0..3)
        .map(|_| run(bin, &one, a.path(), &["plan", "-detailed-exitcode"]))
        .collect();
    println!("  no-change plan, whole fleet:   {:>8.2?}", median(plans));
    let plans: Vec<Duration> = (0..3)
        .map(|_| {
            run(
                bin,
                &one,
                a.path(),
                &["plan", "-detailed-exitcode", "-partitions=3/20"],
            )
        })
        .collect();
    println!("  no-change plan, 1/20 share:    {:>8.2?}", median(plans));
}

fn main() {
    let sites = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(2000);
    let bin = fleetform_tests::release_fleetform();
    lock_and_commit();
    fleet(&bin, sites);
}
