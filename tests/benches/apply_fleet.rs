//! Plans and applies a 10,000-instance fleet of fleetform_data resources shaped like a
//! fleet (1,000 sites, each with 6 hosts, a cluster, a node pool and 2 add-ons depending on
//! each other), then plans again with the state present. Prints wall times and peak memory.
//!
//! Run: `cargo bench -p fleetform-tests --bench apply_fleet` (optionally `-- SITES`).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use fleetform_planner::apply::progress::Silent;
use fleetform_planner::ops::{self, Control, LoadOptions, RunOptions};
use fleetform_sdk::CancellationToken;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let sites: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    fleetform_tests::fleet_shapes::module_sites(dir.path(), sites, "");
    std::env::set_current_dir(dir.path()).expect("chdir");
    let providers = fleetform_cli::providers::builtin().expect("providers");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let load = LoadOptions {
        dir: ".".into(),
        workspace: "default".into(),
        ..Default::default()
    };
    let options = RunOptions::default();
    let stopping = AtomicBool::new(false);

    let started = Instant::now();
    let mut session = ops::open(&load, "bench", Some(std::time::Duration::ZERO))
        .unwrap_or_else(|e| panic!("{:?}", e.1.iter().next()));
    let plan = session
        .plan(
            &providers,
            &options,
            runtime.handle(),
            CancellationToken::new(),
            &fleetform_planner::apply::progress::Silent,
        )
        .unwrap_or_else(|| panic!("{:?}", session.diagnostics.iter().next()));
    let first_plan = started.elapsed();
    let (add, _, _) = plan.counts();

    let started = Instant::now();
    let control = Control {
        progress: &Silent,
        stopping: &stopping,
        cancel: CancellationToken::new(),
    };
    let ok = session.apply(&providers, &plan, &options, runtime.handle(), control);
    assert!(ok, "apply failed: {:?}", session.diagnostics.iter().next());
    let apply = started.elapsed();
    drop(session);

    let mut times = Vec::new();
    let mut opens = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut session = ops::open(&load, "bench", Some(std::time::Duration::ZERO))
            .unwrap_or_else(|e| panic!("{:?}", e.1.iter().next()));
        opens.push(started.elapsed());
        let plan = session
            .plan(
                &providers,
                &options,
                runtime.handle(),
                CancellationToken::new(),
                &fleetform_planner::apply::progress::Silent,
            )
            .expect("plan");
        assert!(plan.is_empty(), "a second plan has no changes");
        times.push(started.elapsed());
    }
    times.sort();
    opens.sort();
    println!("apply_fleet: {sites} sites, {add} instances");
    println!(
        "  plan without state:        {:.3} s",
        first_plan.as_secs_f64()
    );
    println!(
        "  apply (parallelism {}):     {:.3} s",
        options.parallelism,
        apply.as_secs_f64()
    );
    println!(
        "  no-change plan with state: {:.3} s (median of 3, incl. state read and refresh)",
        times[1].as_secs_f64()
    );
    println!(
        "    of which load, inputs and state read: {:.3} s",
        opens[1].as_secs_f64()
    );
    println!("  peak memory (VmHWM):       {:.1} MiB", peak_rss_mib());
}
