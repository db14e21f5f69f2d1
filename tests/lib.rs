//! Support for fleetform's end-to-end tests: running the built binary, and the `check`
//! helper that runs a fixture directory through `validate -json` and compares the
//! diagnostics with the fixture's `expect.txt`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod backend_contract;
pub mod cluster_sites;
pub mod fleet_shapes;
pub mod kill;
pub mod lab;
pub mod remote_state;
pub mod services;
pub mod status_page;

/// A small linear congruential generator: the same sequence on every run, so a test
/// drawing random moments or mutations reproduces its failures.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound.max(1)
    }

    /// An index into something `len` long (0 when it is empty).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The shared folder beside the repository (`../shared`, or `FLEETFORM_SHARED`): the Azure
/// specs the lab's Resource Manager validates bodies against (`specs/azure`), and upstream
/// manifests under `mirror/` that tests use as add-on sources, by path and sha256. Panics,
/// saying so, when it is missing.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("FLEETFORM_SHARED")
        .map_or_else(|| workspace().join("..").join("shared"), PathBuf::from);
    assert!(
        dir.join("specs/azure").is_dir() && dir.join("mirror").is_dir(),
        "the shared folder {} (specs/azure, mirror/) is missing: set FLEETFORM_SHARED",
        dir.display()
    );
    dir
}

/// The `fleetform` binary that cargo built beside this test binary.
pub fn fleetform_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/fleetform
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("fleetform"))
        .expect("target dir");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p fleetform` (cargo nextest run --workspace does)",
        bin.display()
    );
    bin
}

/// A `fleetform` command with a clean environment for inputs.
pub fn fleetform() -> Command {
    let mut cmd = Command::new(fleetform_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("FLEETFORM_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs `fleetform` with `args` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    fleetform()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run fleetform")
}

/// A pipeline's day-2 step: `plan -out=FILE ARGS...` in one process, then `apply FILE` in
/// another, as CI runs them. Returns the apply's output, or the plan's when planning failed
/// (its stdout then starts with the plan's).
pub fn plan_then_apply(dir: &Path, args: &[&str]) -> Output {
    let file = dir.join("pipeline.fleetplan");
    let out_arg = format!("-out={}", file.display());
    let mut plan_args = vec!["plan", "-input=false", out_arg.as_str()];
    plan_args.extend_from_slice(args);
    let plan = run_in(dir, &plan_args);
    if !plan.status.success() {
        return plan;
    }
    let file_arg = file.display().to_string();
    let mut apply_args: Vec<&str> = vec!["apply", "-input=false"];
    apply_args.extend(args.iter().filter(|a| **a == "-no-color"));
    apply_args.push(&file_arg);
    let mut applied = run_in(dir, &apply_args);
    let _ = std::fs::remove_file(&file);
    let mut stdout = plan.stdout;
    stdout.extend_from_slice(&applied.stdout);
    applied.stdout = stdout;
    applied
}

/// One diagnostic line: `file:line:col: summary: detail`, newlines in the detail folded.
fn diagnostic_line(d: &serde_json::Value) -> String {
    let detail = d["detail"].as_str().unwrap_or_default().replace('\n', " ");
    let summary = d["summary"].as_str().unwrap_or_default();
    match d.get("range") {
        Some(r) => format!(
            "{}:{}:{}: {summary}: {detail}",
            r["filename"].as_str().unwrap_or_default(),
            r["start"]["line"],
            r["start"]["column"]
        ),
        None => format!("{summary}: {detail}"),
    }
}

/// Runs a broken-fleet fixture and asserts its diagnostics equal `expect.txt`, line by
/// line. `FLEETFORM_BLESS=1` writes `expect.txt` from the actual output instead. Extra
/// command-line arguments may be given in `args.txt`, one per line.
pub fn check(fixture: &Path) {
    if let Err(message) = try_check(fixture) {
        panic!("{message}");
    }
}

/// Like [`check`], returning the mismatch instead of panicking, so that a corpus run can
/// report every failing case at once.
pub fn try_check(fixture: &Path) -> Result<(), String> {
    let mut args = vec!["validate".to_owned(), "-json".to_owned()];
    if let Ok(extra) = std::fs::read_to_string(fixture.join("args.txt")) {
        args.extend(
            extra
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_in(fixture, &argv);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = fixture.display();
    if stderr.contains("panicked") {
        return Err(format!("{name}: fleetform panicked:\n{stderr}"));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{name}: validate -json printed no JSON ({e}):\n{stderr}"))?;
    if json["valid"] != false || out.status.code() != Some(1) {
        return Err(format!(
            "{name}: a broken fleet must fail validation with exit code 1, got {:?}",
            out.status.code()
        ));
    }
    let actual: Vec<String> = json["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(diagnostic_line)
        .collect();
    let expect_path = fixture.join("expect.txt");
    if std::env::var_os("FLEETFORM_BLESS").is_some() {
        std::fs::write(&expect_path, actual.join("\n") + "\n")
            .map_err(|e| format!("{name}: {e}"))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&expect_path).map_err(|_| {
        format!(
            "{} is missing; run with FLEETFORM_BLESS=1 to create it",
            expect_path.display()
        )
    })?;
    let expected: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
    if actual != expected {
        return Err(format!(
            "{name}: diagnostics differ from expect.txt\n  expected:\n    {}\n  actual:\n    {}",
            expected.join("\n    "),
            actual.join("\n    ")
        ));
    }
    Ok(())
}

/// Builds the release `fleetform` and returns its path, for benchmarks: `cargo bench`
/// builds a bench in release (target/release/deps), and [`fleetform_bin`] looks beside it.
pub fn release_fleetform() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace())
        .args([
            "build",
            "--release",
            "-p",
            "fleetform",
            "--bin",
            "fleetform",
        ])
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --release -p fleetform failed"
    );
    let bin = fleetform_bin();
    assert!(
        bin.parent().and_then(Path::file_name) == Some("release".as_ref()),
        "{} is not a release binary: run this with `cargo bench`",
        bin.display()
    );
    bin
}

/// A finished command's exit code, standard output and standard error, for assertion
/// messages.
/// `text` with every run of whitespace made one space, so that a message the renderer
/// wrapped (line breaks and the indentation of continued lines) can be searched whole.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn output_text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
