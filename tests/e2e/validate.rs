//! `fleetform validate` and `fleetform graph` through the binary: the example fleet is
//! valid and graphs, and every broken fleet in tests/fixtures/invalid gets exactly the
//! diagnostics its expect.txt names.

use fleetform_tests::{run_in, try_check, workspace};

#[test]
fn clinic_fleet_example_validates() {
    let out = run_in(&workspace().join("examples/clinic-fleet"), &["validate"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "validate failed:\n{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Success! The configuration is valid."));
}

#[test]
fn clinic_fleet_example_graphs_into_dot_that_graphviz_renders() {
    let out = run_in(&workspace().join("examples/clinic-fleet"), &["graph"]);
    assert!(
        out.status.success(),
        "graph failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = String::from_utf8_lossy(&out.stdout).into_owned();
    for node in [
        r#"module.clinic[\"north\"].cluster.this"#,
        r#"module.clinic[\"north\"].host.this[\"north-1\"]"#,
        "provider.host",
        r#"module.clinic[\"north\"] (expand)"#,
    ] {
        assert!(dot.contains(node), "graph lacks {node}");
    }
    let rendered = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(dot.as_bytes())?;
            child.wait_with_output()
        })
        .expect("graphviz `dot` is installed (.ci/run installs it)");
    assert!(
        rendered.status.success(),
        "dot rejected the graph: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(String::from_utf8_lossy(&rendered.stdout).contains("<svg"));
}

#[test]
fn every_broken_fleet_gets_its_expected_diagnostics() {
    let dir = workspace().join("tests/fixtures/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 40,
        "the corpus holds {} broken fleets; at least 40 are expected",
        cases.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| try_check(case).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} broken fleets got other diagnostics:

{}",
        failures.len(),
        cases.len(),
        failures.join(
            "

"
        )
    );
}
