//! The state backends measured on a 10,000-instance fleet (1,000 sites of 10 fleetform_data
//! instances, as `apply_fleet` shapes them): the apply that creates it (every change
//! journalled), a no-change plan with the state read from each backend, and the cost of
//! recording one change (a journal record) and of the compacting write, plain and
//! encrypted. PostgreSQL and Azurite are started for the run (see tests/services).
//!
//! Run: `cargo bench -p fleetform-tests --bench state_backends` (optionally `-- SITES` and
//! backend names: `local`, `postgres`, `azurerm`).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use fleetform_planner::apply::progress::Silent;
use fleetform_planner::ops::init::{InitOptions, init};
use fleetform_planner::ops::{self, Control, LoadOptions, RunOptions};
use fleetform_planner::state::backend::LockInfo;
use fleetform_planner::state::{InstanceState, InstanceStatus, JournalEntry};
use fleetform_sdk::{CancellationToken, Value};
use fleetform_tests::remote_state::{Kind, Remote};

const ENCRYPTION: &str = r#"encryption {
    key_provider "key" "main" {
      env = "FLEETFORM_BENCH_KEY"
    }
    method "aes_gcm" "main" {
      keys = key_provider.key.main
    }
    state {
      method = method.aes_gcm.main
    }
  }"#;

fn entry(i: usize) -> JournalEntry {
    JournalEntry::Instance {
        addr: fleetform_planner::addrs::parse_abs_resource_instance(&format!(
            "module.site[\"bench-{}\"].fleetform_data.host[{}]",
            i % 100,
            i
        ))
        .expect("address"),
        state: Some(InstanceState {
            provider: "provider.fleetform".into(),
            schema_version: 0,
            value: Value::object([
                ("id", Value::from("0a4bbf2e-5b7a-4b8e-9d3c-6f1e2d3c4b5a")),
                (
                    "input",
                    Value::object([
                        ("site", Value::from("bench")),
                        ("index", Value::from(i.to_string().as_str())),
                    ]),
                ),
            ]),
            dependencies: Vec::new(),
            status: InstanceStatus::Ready,
            create_before_destroy: false,
            prevent_destroy: false,
        }),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(kind: Kind, sites: usize, encrypted: bool) {
    let name = format!("bench{}", if encrypted { "sealed" } else { "plain" });
    let remote = Remote::new(kind, &name);
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = if encrypted { ENCRYPTION } else { "" };
    fleetform_tests::fleet_shapes::module_sites(dir.path(), sites, &remote.fleet_block(extra));
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.extend(remote.env.iter().cloned());
    env.push(("FLEETFORM_BENCH_KEY".into(), "ab".repeat(32)));
    let load = LoadOptions {
        dir: dir.path().to_owned(),
        workspace: "default".into(),
        env,
        backends: fleetform_cli::backends::builtin(),
        ..Default::default()
    };
    let backend_config: Vec<(String, Value)> = remote
        .init_args
        .iter()
        .filter_map(|a| a.strip_prefix("-backend-config=")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
    let done = init(
        &load,
        &InitOptions {
            backend_config,
            ..Default::default()
        },
    );
    assert!(
        !done.diagnostics.has_errors(),
        "init: {:?}",
        done.diagnostics.iter().next()
    );
    let providers = fleetform_cli::providers::builtin().expect("providers");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let options = RunOptions::default();
    let stopping = AtomicBool::new(false);

    let mut session = ops::open(&load, "bench", Some(Duration::ZERO))
        .unwrap_or_else(|e| panic!("{:?}", e.1.iter().next()));
    let plan = session
        .plan(
            &providers,
            &options,
            runtime.handle(),
            CancellationToken::new(),
            &Silent,
        )
        .expect("plan");
    let (add, _, _) = plan.counts();
    let started = Instant::now();
    let control = Control {
        progress: &Silent,
        stopping: &stopping,
        cancel: CancellationToken::new(),
    };
    assert!(
        session.apply(&providers, &plan, &options, runtime.handle(), control),
        "apply: {:?}",
        session.diagnostics.iter().next()
    );
    let apply = started.elapsed();
    drop(session);

    let mut plans = Vec::new();
    let mut opens = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut session = ops::open(&load, "bench", Some(Duration::ZERO))
            .unwrap_or_else(|e| panic!("{:?}", e.1.iter().next()));
        opens.push(started.elapsed());
        let plan = session
            .plan(
                &providers,
                &options,
                runtime.handle(),
                CancellationToken::new(),
                &Silent,
            )
            .expect("plan");
        assert!(plan.is_empty(), "a second plan has no changes");
        plans.push(started.elapsed());
    }

    // Recording one change, and compacting, on the backend's own store.
    let session =
        ops::open(&load, "bench", None).unwrap_or_else(|e| panic!("{:?}", e.1.iter().next()));
    let store = session.store();
    let _lock = store
        .lock(LockInfo::new("bench"), Duration::ZERO)
        .expect("lock");
    let mut state = store.read().expect("read").expect("state");
    let mut journal = store.journal(&state).expect("journal");
    let records = 500;
    let started = Instant::now();
    for i in 0..records {
        let e = entry(i);
        journal.record(&e).expect("record");
        state.apply(e);
    }
    let per_record = started.elapsed() / records as u32;
    state.serial += 1;
    let started = Instant::now();
    store.write(&state).expect("write");
    let write = started.elapsed();
    println!(
        "{kind:?}{}: {add} instances; apply {:.2} s; no-change plan {:.3} s (median of 3; state read and load {:.3} s); one change recorded {:.2} ms; compacting write of {} instances {:.3} s",
        if encrypted { " (encrypted)" } else { "" },
        apply.as_secs_f64(),
        median(plans).as_secs_f64(),
        median(opens).as_secs_f64(),
        per_record.as_secs_f64() * 1e3,
        state.resources.len(),
        write.as_secs_f64()
    );
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let sites = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1000);
    let wanted = |name: &str| {
        !args.iter().any(|a| a.parse::<usize>().is_err()) || args.iter().any(|a| a == name)
    };
    for (kind, name) in [
        (Kind::Local, "local"),
        (Kind::Postgres, "postgres"),
        (Kind::Azurerm, "azurerm"),
    ] {
        if wanted(name) {
            bench(kind, sites, false);
            bench(kind, sites, true);
        }
    }
}
