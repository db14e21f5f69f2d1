//! The command line itself: every command is there, and Terraform's single-dash flags are
//! accepted. Living in the CLI package, this test also makes `cargo test`/`nextest` build
//! the `fleetform` binary that the end-to-end tests in tests/ run.

use std::process::Command;

fn fleetform(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetform"))
        .args(args)
        .output()
        .expect("run fleetform");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn help_lists_every_command() {
    let (ok, help) = fleetform(&["--help"]);
    assert!(ok, "{help}");
    for command in [
        "validate",
        "graph",
        "fmt",
        "init",
        "plan",
        "apply",
        "destroy",
        "refresh",
        "show",
        "output",
        "state",
        "import",
        "force-unlock",
        "workspace",
        "status",
        "ui",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "--help does not list {command}:\n{help}"
        );
    }
}

#[test]
fn single_dash_flags_work_as_in_terraform() {
    let (ok, text) = fleetform(&["-version"]);
    assert!(ok, "{text}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    let (ok, text) = fleetform(&["plan", "-help"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("-detailed-exitcode") || text.contains("--detailed-exitcode"),
        "{text}"
    );
}
