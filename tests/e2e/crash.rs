//! Crash safety: apply a 200-instance graph of local_file and fleetform_data resources and
//! kill -9 the process at random moments until 30 runs were killed mid-apply. After each kill the state parses and
//! nothing it records is missing on disk; files written in the instant before a kill are
//! either recorded or adopted by the next apply; and a final apply converges to no changes.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const KILLS: usize = 30;

use fleetform_tests::kill::{KillMoments, files_on_disk, forgotten_files};
use fleetform_tests::{fleetform, run_in};

const INSTANCES: usize = 100; // of each type: 200 in all

/// `generation` changes every instance, so each round's apply has ~200 operations to do.
fn fleet(count: usize, generation: usize) -> String {
    format!(
        r#"
resource "fleetform_data" "node" {{
  count = {count}
  input = {{ index = count.index, site = "site-${{count.index % 10}}", generation = {generation} }}
}}

resource "local_file" "node" {{
  count    = {count}
  filename = "${{path.module}}/out/${{count.index}}.txt"
  content  = "node ${{count.index}} of generation ${{fleetform_data.node[count.index].output.generation}} has id ${{fleetform_data.node[count.index].id}}\n"
}}
"#
    )
}

fn files_in_state(dir: &Path) -> BTreeSet<String> {
    let out = run_in(dir, &["state", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "after a kill the state must still read: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    listed
        .lines()
        .filter_map(|l| {
            l.strip_prefix("local_file.node[")
                .and_then(|r| r.strip_suffix(']'))
        })
        .map(|i| format!("{i}.txt"))
        .collect()
}

#[test]
fn killing_apply_at_random_moments_never_loses_or_corrupts_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.hcl"), fleet(INSTANCES, 0)).expect("write");
    // Calibrate: how long a full apply and a full destroy take here.
    let started = Instant::now();
    let out = run_in(dir.path(), &["apply", "-auto-approve", "-no-color"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = started.elapsed().max(Duration::from_millis(50));
    let out = run_in(dir.path(), &["destroy", "-auto-approve", "-no-color"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut moments = KillMoments::new(0xC0FFEE, full, Duration::from_millis(50));
    let (mut kills, mut round) = (0, 0);
    // Rounds whose apply finished before its kill moment do not count: 30 kills in all.
    while kills < KILLS {
        assert!(
            round < 3 * KILLS,
            "only {kills} of {round} rounds were killed mid-apply (moments now drawn below {:?})",
            moments.span()
        );
        // Alternate between growing and shrinking the fleet so kills land in creates,
        // replacements and deletes alike.
        let count = if round % 3 == 2 {
            INSTANCES / 2
        } else {
            INSTANCES
        };
        std::fs::write(dir.path().join("main.hcl"), fleet(count, round + 1)).expect("write");
        let mut child = fleetform()
            .current_dir(dir.path())
            .args(["apply", "-auto-approve", "-no-color"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn apply");
        if moments.kill(&mut child) {
            kills += 1;
        }

        let recorded = files_in_state(dir.path());
        let on_disk = files_on_disk(dir.path());
        let ghosts: Vec<&String> = recorded.difference(&on_disk).collect();
        // A file recorded in state exists, except one whose delete was in flight.
        assert!(
            ghosts.len() <= 10,
            "round {round}: state records files that are gone: {ghosts:?}"
        );
        let pulled = run_in(dir.path(), &["state", "pull"]);
        let pulled: serde_json::Value = serde_json::from_slice(&pulled.stdout).unwrap();
        let forgotten = forgotten_files(dir.path(), &pulled);
        assert!(
            forgotten.is_empty(),
            "round {round}: files created but neither recorded nor pending: {forgotten:?}"
        );
        round += 1;
    }
    println!("{kills} of {round} applies killed mid-run (a full apply took {full:?})");

    std::fs::write(dir.path().join("main.hcl"), fleet(INSTANCES, 99)).expect("write");
    let out = run_in(dir.path(), &["apply", "-auto-approve", "-no-color"]);
    assert!(
        out.status.success(),
        "the re-apply after the kills converges:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: BTreeSet<String> = (0..INSTANCES).map(|i| format!("{i}.txt")).collect();
    assert_eq!(
        files_on_disk(dir.path()),
        expected,
        "exactly the configured files exist, no duplicates or leftovers"
    );
    assert_eq!(
        files_in_state(dir.path()),
        expected,
        "and each is recorded once"
    );
    let out = run_in(dir.path(), &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a plan after convergence has no changes:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A create a killed run had started for an instance the configuration no longer has
/// (the fleet shrank in between): the object it made is found and destroyed, not
/// forgotten with the pending record.
#[test]
fn an_interrupted_create_of_an_instance_no_longer_configured_is_destroyed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("main.hcl"), fleet(2, 0)).expect("write");
    let out = run_in(d, &["apply", "-auto-approve", "-no-color"]);
    assert!(
        out.status.success(),
        "{}",
        fleetform_tests::output_text(&out)
    );

    // What a run killed while creating local_file.node[5] leaves: its file, and a pending
    // create in the state; the configuration has two instances now.
    let pulled = run_in(d, &["state", "pull"]);
    let mut state: serde_json::Value = serde_json::from_slice(&pulled.stdout).unwrap();
    let files = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "local_file")
        .unwrap()
        .clone();
    let mut planned = files["instances"][1]["attributes"].clone();
    let filename = planned["filename"]
        .as_str()
        .unwrap()
        .replace("1.txt", "5.txt");
    planned["filename"] = filename.clone().into();
    let content = planned["content"].as_str().unwrap().to_owned();
    std::fs::write(d.join("out/5.txt"), &content).unwrap();
    state["pending_operations"] = serde_json::json!([{
        "address": "local_file.node[5]",
        "action": "create",
        "started": "2026-12-07T10:00:00Z",
        "provider": files["provider"],
        "planned": {"value": planned},
    }]);
    state["serial"] = (state["serial"].as_u64().unwrap() + 1).into();
    std::fs::write(d.join("pushed.json"), state.to_string()).unwrap();
    let out = run_in(d, &["state", "push", "pushed.json"]);
    assert!(
        out.status.success(),
        "{}",
        fleetform_tests::output_text(&out)
    );

    let plan = run_in(d, &["plan", "-no-color", "-out", "tfplan"]);
    let text = fleetform_tests::output_text(&plan);
    assert!(plan.status.success(), "{text}");
    assert!(
        text.contains("local_file.node[5] will be destroyed") && text.contains("1 to destroy"),
        "{text}"
    );
    let out = run_in(d, &["apply", "-no-color", "tfplan"]);
    assert!(
        out.status.success(),
        "{}",
        fleetform_tests::output_text(&out)
    );
    assert!(!d.join("out/5.txt").exists(), "the forgotten file is gone");
    assert_eq!(
        files_on_disk(d),
        BTreeSet::from(["0.txt".to_owned(), "1.txt".to_owned()])
    );
    let again = run_in(d, &["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        fleetform_tests::output_text(&again)
    );
}
