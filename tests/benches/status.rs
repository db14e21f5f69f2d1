//! `fleetform status` of a 200-site fleet, timed: 195 sites of `fleetform_data` stand-ins
//! and 5 real lab sites, each a one-host cluster (real OpenSSH, etcd and the lab's API
//! server), applied once; then `status` (every site refreshed at once, each bounded by
//! `-site-timeout`), `status -offline` (state only), and `status` with one lab site cut
//! off (bounded by its timeout), each the release binary's wall clock, best and median of
//! several runs. The target is under 2 s for `status`.
//!
//! Run: `cargo bench -p fleetform-tests --bench status` (needs root, for the lab).

use std::path::Path;
use std::time::{Duration, Instant};

use fleetform_tests::lab::Lab;
use fleetform_tests::{cluster_sites, output_text};

const LAB_SITES: usize = 5;
const STANDINS: usize = 195;
const RUNS: usize = 7;

fn run(dir: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = fleetform_tests::fleetform()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run fleetform");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "fleetform {args:?}:\n{}",
        output_text(&out)
    );
    took
}

/// Best and median of `RUNS` runs.
fn timed(dir: &Path, args: &[&str]) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..RUNS).map(|_| run(dir, args)).collect();
    times.sort();
    (times[0], times[RUNS / 2])
}

fn main() {
    let bin = fleetform_tests::release_fleetform();
    eprintln!("status: fleetform at {}", bin.display());
    let mut lab = Lab::start(LAB_SITES).expect("lab");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let names: Vec<(String, String)> = (1..=LAB_SITES)
        .map(|i| (format!("clinic-{i}"), format!("lab-{i}")))
        .collect();
    let sites: Vec<(&str, &str)> = names
        .iter()
        .map(|(s, h)| (s.as_str(), h.as_str()))
        .collect();
    cluster_sites::write(d, &lab, &sites, STANDINS);
    run(d, &["init", "-input=false"]);
    let applied = run(d, &["apply", "-auto-approve", "-input=false"]);
    eprintln!("status: fleet applied in {:.1} s", applied.as_secs_f64());

    let refreshed = timed(d, &["status", "-site-timeout=10s"]);
    let json = timed(d, &["status", "-json", "-site-timeout=10s"]);
    let offline = timed(d, &["status", "-offline"]);
    lab.cut("lab-5").expect("cut");
    let cut = timed(d, &["status", "-site-timeout=2s"]);
    lab.heal("lab-5").expect("heal");

    println!(
        "status: {} sites ({STANDINS} fleetform_data stand-ins, {LAB_SITES} one-host lab clusters), \
         release build, {RUNS} runs each",
        STANDINS + LAB_SITES
    );
    println!("| command | best | median |\n|---|---|---|");
    for (name, (best, median)) in [
        (
            "status (every site refreshed, -site-timeout=10s)",
            refreshed,
        ),
        ("status -json", json),
        ("status -offline", offline),
        ("status, one lab site cut off (-site-timeout=2s)", cut),
    ] {
        println!(
            "| {name} | {:.2} s | {:.2} s |",
            best.as_secs_f64(),
            median.as_secs_f64()
        );
    }
    lab.stop().expect("lab stops");
}
