//! Hostile conditions through the binary: file modes under a umask, kills during apply and
//! the temporaries they leave, and a disk that fills during an apply of replacements (on a
//! small tmpfs of the test's own, never the machine's disk). The disk test needs root.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fleetform_tests::{fleetform, fleetform_bin, output_text};

fn run(dir: &Path, args: &[&str]) -> Output {
    fleetform()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run fleetform")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "fleetform {args:?} failed:\n{}",
        output_text(&out)
    );
    output_text(&out)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Runs fleetform under `umask`, through a shell that sets it.
fn under_umask(dir: &Path, umask: &str, args: &[&str]) -> Output {
    let mut cmd = fleetform();
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(fleetform_bin())
        .args(args)
        .current_dir(dir);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => shell.env(k, v),
            None => shell.env_remove(k),
        };
    }
    let _ = cmd.current_dir(dir);
    shell.output().expect("run fleetform under a umask")
}

#[test]
fn sensitive_content_is_private_under_umask_022_and_other_files_follow_the_umask() {
    for (umask, plain) in [("022", 0o644), ("027", 0o640)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.hcl"),
            r#"
resource "local_file" "kubeconfig" {
  filename          = "${path.module}/secrets/admin.conf"
  sensitive_content = "token: s3cr3t"
}
resource "local_file" "plain" {
  filename = "${path.module}/public/readme.txt"
  content  = "hello"
}
resource "local_file" "exact" {
  filename             = "${path.module}/exact/shared.txt"
  sensitive_content    = "shared"
  file_permission      = "0640"
  directory_permission = "0750"
}
"#,
        )
        .unwrap();
        let out = under_umask(dir.path(), umask, &["apply", "-auto-approve"]);
        assert!(out.status.success(), "{}", output_text(&out));
        let at = |p: &str| dir.path().join(p);
        assert_eq!(mode(&at("secrets/admin.conf")), 0o600, "umask {umask}");
        assert_eq!(mode(&at("secrets")), 0o700, "umask {umask}");
        assert_eq!(mode(&at("public/readme.txt")), plain, "umask {umask}");
        assert_eq!(mode(&at("exact/shared.txt")), 0o640, "umask {umask}");
        assert_eq!(mode(&at("exact")), 0o750, "umask {umask}");
        // Under the same umask, nothing changes next time.
        let again = under_umask(dir.path(), umask, &["plan", "-detailed-exitcode"]);
        assert_eq!(again.status.code(), Some(0), "{}", output_text(&again));
    }
}

/// Every file under `dir` whose name marks it as a temporary.
fn temporaries(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            out.extend(temporaries(&path));
        } else if name.ends_with(".tmp") || name.ends_with(".fleetform-tmp") {
            out.insert(path);
        }
    }
    out
}

const KILLED_FLEET: &str = r#"
variable "generation" {
  type    = number
  default = 0
}
locals {
  # 64 KiB per file, so that writes take long enough to be killed in the middle of.
  pad = join("", [for i in range(1024) : "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"])
}
resource "local_file" "f" {
  count             = 60
  filename          = "${path.module}/files/${count.index}.txt"
  sensitive_content = "${var.generation}:${count.index}:${local.pad}"
}
"#;

#[test]
fn fifty_kills_during_apply_leave_no_temporary_after_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("main.hcl"), KILLED_FLEET).unwrap();
    ok(d, &["apply", "-auto-approve"]);
    let mut seen = 0;
    for kill in 0..50u64 {
        let generation = (kill + 1).to_string();
        let mut child = fleetform()
            .current_dir(d)
            .args(["apply", "-auto-approve", "-var"])
            .arg(format!("generation={generation}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start apply");
        // Spread the kills over the run: reading, applying, writing the state.
        std::thread::sleep(Duration::from_millis(20 + (kill * 37) % 400));
        let _ = child.kill();
        let _ = child.wait();
        seen += temporaries(d).len();
    }
    // The next run finishes the work and removes every leftover.
    ok(d, &["apply", "-auto-approve", "-var", "generation=99"]);
    let left = temporaries(d);
    assert!(
        left.is_empty(),
        "temporaries left after the next run: {left:?}"
    );
    let plan = run(d, &["plan", "-detailed-exitcode", "-var", "generation=99"]);
    assert_eq!(plan.status.code(), Some(0), "{}", output_text(&plan));
    eprintln!("temporaries seen between kills: {seen}");
}

/// A tmpfs mounted on a directory of its own, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(status.success(), "mounting a tmpfs needs root");
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk, then frees `spare` bytes: the filler file is returned.
    fn fill_leaving(&self, spare: u64) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => written += n as u64,
            }
        }
        file.set_len(written.saturating_sub(spare)).unwrap();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

const REPLACED_FLEET: &str = r#"
variable "generation" {
  type    = number
  default = 1
}
locals {
  pad = join("", [for i in range(512) : "0123456789abcdef"])
}
resource "local_file" "f" {
  count    = 120
  filename = "${path.module}/files/${count.index}.txt"
  content  = "${var.generation}:${count.index}:${local.pad}"
}
"#;

#[test]
fn a_disk_filling_during_120_replacements_loses_no_object_and_the_next_apply_converges() {
    let disk = SmallDisk::mount("16m");
    let d = disk.path().join("fleet");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("main.hcl"), REPLACED_FLEET).unwrap();
    ok(&d, &["apply", "-auto-approve"]);

    // Room for a few replacements' journal records, not for 120.
    let filler = disk.fill_leaving(512 * 1024);
    let out = run(
        &d,
        &[
            "apply",
            "-auto-approve",
            "-var",
            "generation=2",
            "-parallelism=4",
        ],
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "the disk filled:\n{text}");
    assert!(
        text.contains("State journal cannot be written")
            || text.contains("No space left on device"),
        "{text}"
    );

    // Every object is on disk, or its change is pending for the next plan to settle.
    let pending = ok(&d, &["state", "pending", "list"]);
    let mut replaced = 0;
    let mut lost = Vec::new();
    for i in 0..120 {
        let path = d.join(format!("files/{i}.txt"));
        match std::fs::read_to_string(&path) {
            Ok(content) if content.starts_with("2:") => replaced += 1,
            Ok(_) => {}
            Err(_) if pending.contains(&format!("local_file.f[{i}]\t")) => {}
            Err(e) => lost.push(format!("local_file.f[{i}]: {e}")),
        }
    }
    assert!(
        lost.is_empty(),
        "objects deleted without a replacement or a pending record: {lost:?}\npending:\n{pending}\napply:\n{text}"
    );
    assert!(
        (1..120).contains(&replaced),
        "the disk filled during the apply ({replaced} of 120 replaced):\n{text}"
    );
    if text.contains("State journal cannot be written") {
        assert!(text.contains("planned change(s) were"), "{text}");
    }

    // Space again: the next apply finishes the replacements and then has nothing to do.
    std::fs::remove_file(filler).unwrap();
    ok(&d, &["apply", "-auto-approve", "-var", "generation=2"]);
    let plan = run(&d, &["plan", "-detailed-exitcode", "-var", "generation=2"]);
    assert_eq!(plan.status.code(), Some(0), "{}", output_text(&plan));
    for i in 0..120 {
        let content = std::fs::read_to_string(d.join(format!("files/{i}.txt"))).unwrap();
        assert!(content.starts_with("2:"), "files/{i}.txt");
    }
    assert!(temporaries(&d).is_empty(), "{:?}", temporaries(&d));
}

/// Runs fleetform under GNU time: its output, and its peak memory in bytes.
fn measured(dir: &Path, args: &[&str]) -> (Output, u64, Duration) {
    let report = dir.join("time.out");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(fleetform_bin())
        .args(args);
    cmd.current_dir(dir).env("NO_COLOR", "1");
    for (k, _) in std::env::vars() {
        if k.starts_with("FLEETFORM_") {
            cmd.env_remove(k);
        }
    }
    let started = std::time::Instant::now();
    let out = cmd.output().expect("run fleetform under /usr/bin/time");
    let elapsed = started.elapsed();
    let kib: u64 = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time's %M");
    (out, kib * 1024, elapsed)
}

#[test]
fn resource_bombs_end_in_a_clear_diagnostic_within_10_s_and_1_gib() {
    let mut doubling = String::from("locals {\n  s0 = \"0123456789abcdef\"\n");
    for i in 1..=40 {
        doubling.push_str(&format!(
            "  s{i} = \"${{local.s{}}}${{local.s{}}}\"\n",
            i - 1,
            i - 1
        ));
    }
    doubling.push_str("}\noutput \"big\" {\n  value = length(local.s40)\n}\n");
    // 50 MB of configuration: 418,748 resource blocks.
    let mut generated = String::with_capacity(52 * 1024 * 1024);
    for i in 0..418_748 {
        generated.push_str(&format!(
            "resource \"fleetform_data\" \"r{i:06}\" {{\n  input = {{ name = \"site-{i:06}\", tags = [\"a\", \"b\", \"c\"], region = \"region-{}\" }}\n}}\n\n",
            i % 7
        ));
    }
    let bombs: [(&str, String, &[&str], &str); 4] = [
        (
            "forty doublings of a string",
            doubling,
            &["validate"],
            "more than the limit of 16777216 bytes",
        ),
        (
            "count = 1000000",
            "resource \"fleetform_data\" \"n\" {\n  count = 1000000\n  input = count.index\n}\n"
                .into(),
            &["plan"],
            "1000000 is more than the limit of 200000 instances",
        ),
        (
            "a 50 MB configuration",
            generated,
            &["validate"],
            "more than the limit of 16777216 bytes. Set FLEETFORM_MAX_CONFIG_BYTES",
        ),
        (
            "file(\"/dev/zero\")",
            "output \"zero\" {\n  value = length(file(\"/dev/zero\"))\n}\n".into(),
            &["validate"],
            "is not a regular file",
        ),
    ];
    for (what, config, args, expected) in bombs {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.hcl"), config).unwrap();
        let (out, peak, elapsed) = measured(dir.path(), args);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{what}:\n{text}");
        assert!(
            text.contains(expected),
            "{what}: {expected:?} not in:\n{text}"
        );
        assert!(elapsed < Duration::from_secs(10), "{what} took {elapsed:?}");
        assert!(peak < 1 << 30, "{what} used {peak} bytes");
        eprintln!("{what}: {elapsed:?}, peak {} MiB", peak >> 20);
    }
}
