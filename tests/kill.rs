//! Random kill moments for the crash tests: deterministic (see [`Lcg`]), so a failure
//! reproduces, and adapting to the machine's speed, so a busy or idle CI machine kills as many runs
//! mid-operation as this one.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Lcg;

/// Draws kill moments below the time an operation is known to take. A calibration run
/// measures that once, but a machine's speed changes under the tests running beside it:
/// when a run finishes before its moment, the span shrinks to what that run took, so the
/// following moments land inside runs again.
pub struct KillMoments {
    rng: Lcg,
    span: Duration,
    floor: Duration,
}

impl KillMoments {
    /// `calibrated` is how long one whole run took; no moment is drawn below `floor`'s
    /// worth of span (a run needs that long to start at all).
    pub fn new(seed: u64, calibrated: Duration, floor: Duration) -> KillMoments {
        KillMoments {
            rng: Lcg(seed),
            span: calibrated.max(floor),
            floor,
        }
    }

    /// Waits a drawn moment for `child`, then kills it (SIGKILL) and reaps it. True when
    /// it was still running, that is, killed mid-run.
    pub fn kill(&mut self, child: &mut Child) -> bool {
        let started = Instant::now();
        let moment = Duration::from_millis(self.rng.below(self.span.as_millis() as u64));
        let killed_running = loop {
            if child.try_wait().expect("poll child").is_some() {
                self.span = started.elapsed().mul_f64(0.9).max(self.floor);
                break false;
            }
            if started.elapsed() >= moment {
                break true;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let _ = child.kill();
        let _ = child.wait();
        killed_running
    }

    /// The span moments are drawn from now.
    pub fn span(&self) -> Duration {
        self.span
    }
}

/// The kill tests' fleet is `local_file.node[i]` writing `out/i.txt`: the files there now.
pub fn files_on_disk(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("out"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".txt"))
                .collect()
        })
        .unwrap_or_default()
}

/// Files under `dir/out` that a killed run created and forgot: neither the state
/// (`pulled`, as `state pull` prints it, the journal replayed) records their
/// `local_file.node[i]` nor names it in a pending operation that the next plan settles.
pub fn forgotten_files(dir: &Path, pulled: &Value) -> Vec<String> {
    let recorded = pulled["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["type"] == "local_file" && r["name"] == "node" && r["module"].is_null())
        .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["index_key"].as_u64())
        .map(|i| format!("{i}.txt"));
    let pending = pulled["pending_operations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["address"].as_str())
        .filter_map(|a| a.strip_prefix("local_file.node[")?.strip_suffix(']'))
        .map(|i| format!("{i}.txt"));
    let known: BTreeSet<String> = recorded.chain(pending).collect();
    files_on_disk(dir).difference(&known).cloned().collect()
}
