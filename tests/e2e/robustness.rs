//! No input makes fleetform panic: a bounded, deterministic corpus run of load+validate
//! over mutations of every fixture, example and module file. The same entry point is the
//! cargo-fuzz target in fuzz/ for open-ended runs.

use std::panic;
use std::path::{Path, PathBuf};

use fleetform_tests::{Lcg, workspace};

fn hcl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            hcl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "hcl" || e == "tftpl") {
            out.push(path);
        }
    }
}

const SIGNIFICANT: &[&str] = &[
    "{", "}", "[", "]", "(", ")", "\"", "=", "${", "%{", "~}", "<<EOF\n", "<<-EOT\n", ".", ",",
    "*", "...", "?", ":", "=>", "for", "if", "\n", "#", "/*", "\\", "each.", "count.", "var.",
    "module.", "null", "-1", "1e999", "\u{0}", "é",
];

fn mutate(text: &str, rng: &mut Lcg) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.index(4) {
        let at = rng.index(bytes.len() + 1);
        match rng.index(4) {
            0 => bytes.truncate(at),
            1 => {
                let end = (at + rng.index(16)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => {
                let insert = SIGNIFICANT[rng.index(SIGNIFICANT.len())].as_bytes();
                bytes.splice(at..at, insert.iter().copied());
            }
            _ => {
                // Copy a slice of the file elsewhere: duplicates blocks, attributes, labels.
                let start = rng.index(bytes.len() + 1);
                let end = (start + rng.index(64)).min(bytes.len());
                let piece = bytes[start..end].to_vec();
                bytes.splice(at..at, piece);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutated_fleets_never_panic() {
    let root = workspace();
    let mut seeds = Vec::new();
    for dir in ["tests/fixtures", "examples", "modules"] {
        hcl_files(&root.join(dir), &mut seeds);
    }
    seeds.sort();
    assert!(seeds.len() >= 60, "too few seed files: {}", seeds.len());
    let providers = fleetform_cli::providers::builtin().expect("providers register");
    let mut rng = Lcg(0x5eed);
    let mut runs = 0;
    for seed in &seeds {
        let text = std::fs::read_to_string(seed).unwrap_or_default();
        for _ in 0..80 {
            let input = mutate(&text, &mut rng);
            let outcome = panic::catch_unwind(panic::AssertUnwindSafe(|| {
                fleetform_planner::ops::validate_source("fuzz.hcl", &input, &providers)
            }));
            assert!(
                outcome.is_ok(),
                "validate panicked on a mutation of {}:\n---\n{input}\n---",
                seed.display()
            );
            runs += 1;
        }
    }
    assert!(runs >= 5000, "only {runs} inputs were tried");
}
