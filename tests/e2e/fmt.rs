//! `fleetform fmt` through the binary: the golden cases in tests/fixtures/fmt (each an
//! `input.hcl` and the `expected.hcl` it formats to; `FLEETFORM_BLESS=1` rewrites the
//! expectations), idempotency over every configuration file of the repository, `-check`
//! on the examples and on a misformatted copy, the other flags, standard input, and parse
//! errors. A bounded mutation run checks the formatter in-process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use fleetform_tests::{Lcg, fleetform, run_in, workspace};

fn hcl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            hcl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "hcl") {
            out.push(path);
        }
    }
}

/// Runs `fleetform fmt ARGS -` with `input` on standard input.
fn fmt_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = fleetform()
        .arg("fmt")
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fleetform");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("fleetform output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Each golden case is formatted in place in a scratch directory, listed, equal to its
/// expectation, and then passes `-check`.
#[test]
fn golden_cases_format_to_their_expectations() {
    let root = workspace().join("tests/fixtures/fmt");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/fixtures/fmt")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "too few golden cases: {}", cases.len());
    let bless = std::env::var_os("FLEETFORM_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap_or_default().to_string_lossy();
        let input = std::fs::read_to_string(case.join("input.hcl")).expect("input.hcl");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.hcl"), &input).expect("write");
        let out = run_in(dir.path(), &["fmt"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let actual = std::fs::read_to_string(dir.path().join("main.hcl")).expect("read");
        let listed = if actual == input { "" } else { "main.hcl\n" };
        assert_eq!(
            text(&out.stdout),
            listed,
            "{name}: the changed file is listed"
        );
        let expected_path = case.join("expected.hcl");
        if bless {
            std::fs::write(&expected_path, &actual).expect("bless");
        } else {
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if actual != expected {
                failures.push(format!(
                    "{name}: formatted input differs from expected.hcl\n--- expected\n{expected}--- actual\n{actual}"
                ));
            }
        }
        let check = run_in(dir.path(), &["fmt", "-check"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{name}: the result is not stable:\n{}",
            text(&check.stdout)
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Formatting the formatted text changes nothing, for every file of the repository that
/// parses: examples, modules, the broken-fleet corpus and the golden cases.
#[test]
fn formatting_is_idempotent_on_every_repository_file() {
    let root = workspace();
    let mut files = Vec::new();
    for dir in [
        "examples",
        "modules",
        "tests/fixtures/invalid",
        "tests/fixtures/fmt",
    ] {
        hcl_files(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() >= 80, "too few files: {}", files.len());
    let mut formatted = 0;
    for file in &files {
        let input = std::fs::read_to_string(file).expect("read");
        let once = fmt_stdin(&[], &input);
        if once.status.code() == Some(1) {
            // Does not parse: reported, with nothing on stdout.
            assert!(once.stdout.is_empty(), "{}", file.display());
            continue;
        }
        assert!(
            once.status.success(),
            "{}: {}",
            file.display(),
            text(&once.stderr)
        );
        let twice = fmt_stdin(&[], &text(&once.stdout));
        assert_eq!(
            text(&twice.stdout),
            text(&once.stdout),
            "{}: formatting is not idempotent",
            file.display()
        );
        formatted += 1;
    }
    assert!(formatted >= 70, "only {formatted} files parsed");
}

/// The example fleet and the modules are canonical, so `-check -recursive` passes on
/// them, whatever their indentation was before: stripping every line's indentation and
/// adding trailing spaces formats back to the same files.
#[test]
fn examples_and_modules_are_formatted() {
    let root = workspace();
    let out = run_in(
        &root,
        &["fmt", "-check", "-recursive", "examples", "modules"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "not formatted:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let mut files = Vec::new();
    hcl_files(&root.join("examples"), &mut files);
    hcl_files(&root.join("modules"), &mut files);
    for file in files {
        let canonical = std::fs::read_to_string(&file).expect("read");
        let flattened: String = canonical
            .lines()
            .map(|l| format!("{}   \n", l.trim_start()))
            .collect();
        let out = fmt_stdin(&[], &flattened);
        assert_eq!(
            text(&out.stdout),
            canonical,
            "{}: flattened copy formats differently",
            file.display()
        );
    }
}

/// A misformatted copy of the example fleet fails `-check` with exit code 3 and is listed,
/// nothing is written; formatting it lists and rewrites the file, keeping its mode.
#[test]
fn check_fails_on_a_misformatted_copy_and_fmt_repairs_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = workspace().join("examples/clinic-fleet");
    for entry in std::fs::read_dir(&example).expect("example").flatten() {
        // The fleet's files; its directories (sources, the working directory) stay.
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
        }
    }
    let sub = dir.path().join("nested");
    std::fs::create_dir(&sub).expect("mkdir");
    let main = dir.path().join("main.hcl");
    let canonical = std::fs::read_to_string(&main).expect("read");
    let broken = canonical
        .replacen(" = ", "=", 3)
        .replace("\n  ", "\n      ")
        + "\n\n\n";
    std::fs::write(&main, &broken).expect("write");
    std::fs::write(sub.join("extra.hcl"), "x=1\n").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    }

    let out = run_in(dir.path(), &["fmt", "-check"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "main.hcl\n");
    assert_eq!(std::fs::read_to_string(&main).expect("read"), broken);

    let out = run_in(dir.path(), &["fmt", "-check", "-recursive"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "main.hcl\nnested/extra.hcl\n");

    let out = run_in(dir.path(), &["fmt", "-check", "-diff", "-list=false"]);
    assert_eq!(out.status.code(), Some(3));
    let diff = text(&out.stdout);
    assert!(
        diff.starts_with("--- old/main.hcl\n+++ new/main.hcl\n@@"),
        "{diff}"
    );

    let out = run_in(dir.path(), &["fmt", "-write=false"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "main.hcl\n");
    assert_eq!(std::fs::read_to_string(&main).expect("read"), broken);

    let out = run_in(
        dir.path(),
        &["fmt", "-list=false", "-write=false", "main.hcl"],
    );
    assert_eq!(text(&out.stdout), canonical, "prints the result");

    let out = run_in(dir.path(), &["fmt", "-list=false"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&main).expect("read"), canonical);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&main).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "the file keeps its mode");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left behind");

    let out = run_in(dir.path(), &["fmt", "-recursive"]);
    assert_eq!(text(&out.stdout), "nested/extra.hcl\n");
    let out = run_in(dir.path(), &["fmt", "-check", "-recursive"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn stdin_is_formatted_to_stdout() {
    let out = fmt_stdin(&[], "resource   \"a\"  \"b\"{\nx=1\nlong_name = 2\n}");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "resource \"a\" \"b\" {\n  x         = 1\n  long_name = 2\n}\n"
    );

    // -check writes nothing and says whether the input is formatted.
    let out = fmt_stdin(&["-check"], "a=1\n");
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let out = fmt_stdin(&["-check"], "a = 1\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());

    let out = fmt_stdin(&["-diff"], "a=1\n");
    assert_eq!(
        text(&out.stdout),
        "--- old/<stdin>\n+++ new/<stdin>\n@@ -1 +1 @@\n-a=1\n+a = 1\n"
    );
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_the_others_formatted() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("bad.hcl"),
        "resource \"a\" \"b\" {\n  x = [1, 2\n}\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("good.hcl"), "y=1\n").expect("write");
    let out = run_in(dir.path(), &["fmt"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad.hcl:3:1"),
        "file:line:col in:\n{stderr}"
    );
    assert!(stderr.contains("Invalid syntax"), "{stderr}");
    assert_eq!(text(&out.stdout), "good.hcl\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("good.hcl")).expect("read"),
        "y = 1\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("bad.hcl")).expect("read"),
        "resource \"a\" \"b\" {\n  x = [1, 2\n}\n",
        "a file that does not parse is left alone"
    );

    let out = fmt_stdin(&[], "a = {\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("<stdin>:"),
        "{}",
        text(&out.stderr)
    );

    let out = run_in(dir.path(), &["fmt", "missing.hcl"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing.hcl"));
}

/// Mostly whitespace and comments, which keep a file parsing; some punctuation.
const PIECES: &[&str] = &[
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n\n",
    " # c\n",
    " // c\n",
    "/* c */",
    "/*\n*/",
    "   \n",
    " ",
    "\n  ",
    "\r\n",
    ",",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    "<<EOT\nx\nEOT\n",
    "\\u00e9",
];

/// Whitespace and punctuation inserted anywhere: whatever still parses formats without a
/// panic, changes only whitespace, and is stable.
#[test]
fn mutated_files_format_stably() {
    let root = workspace();
    let mut seeds = Vec::new();
    for dir in ["examples", "modules", "tests/fixtures/fmt"] {
        hcl_files(&root.join(dir), &mut seeds);
    }
    seeds.sort();
    let mut rng = Lcg(0xf0f0);
    let mut parsed = 0;
    for seed in &seeds {
        let text = std::fs::read_to_string(seed).expect("read");
        for _ in 0..60 {
            let mut input = text.clone();
            for _ in 0..=rng.index(4) {
                let mut at = rng.index(input.len() + 1);
                while !input.is_char_boundary(at) {
                    at -= 1;
                }
                input.insert_str(at, PIECES[rng.index(PIECES.len())]);
            }
            let Ok(once) = fleetform_planner::config::format_source(&input) else {
                continue;
            };
            parsed += 1;
            let same = |a: &str, b: &str| {
                a.chars()
                    .filter(|c| !c.is_whitespace())
                    .eq(b.chars().filter(|c| !c.is_whitespace()))
            };
            assert!(
                same(&input, &once),
                "more than whitespace changed:\n{input}"
            );
            let twice = fleetform_planner::config::format_source(&once).expect("reparses");
            assert_eq!(twice, once, "not idempotent on:\n---\n{input}\n---");
        }
    }
    assert!(parsed >= 300, "only {parsed} mutations parsed");
}

/// `fmt` does not need a valid configuration, nor providers: only syntax.
#[test]
fn fmt_ignores_meaning() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.hcl"),
        "nonsense  \"x\" {\n  y = var.undeclared\n}\n",
    )
    .expect("write");
    let out = Command::new(fleetform_tests::fleetform_bin())
        .current_dir(dir.path())
        .args(["fmt", "-check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout), "a.hcl\n");
}
