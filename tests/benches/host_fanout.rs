//! fleetform and Ansible side by side on the same work, against a lab of 20 real OpenSSH
//! hosts: per host, converge 20 small files (mode 0644) and run 5 commands, each command
//! idempotent in the tool's own way (fleetform records a `host_command` in state and does
//! not run it again; Ansible's `command` module skips it when its `creates:` file exists).
//! Both tools gather facts. Each tool is timed (wall clock) cold, then again with nothing
//! to do, which must change nothing: fleetform refreshes every file from its host, Ansible
//! checks every file's checksum on its host.
//!
//! fleetform is the release binary (this bench builds it: `cargo bench` builds only this
//! package's targets). Ansible is ansible-core from PyPI in a throwaway venv under the
//! target dir (`target/bench-ansible-venv`, reused when present), never a project
//! dependency; without it (no network, no venv module) only fleetform's numbers are printed.
//!
//! Besides wall time, each run's CPU time is shown twice: the tool's own (with its worker
//! processes and ssh clients) and the whole machine's. The lab's hosts run on this
//! machine, so their side of the work (sshd, shells, Ansible's Python modules) shares its
//! CPUs with the tool; the difference between the two is mostly theirs.
//!
//! The lab's hosts see empty shell startup files for root (tests/lab/hosts.rs), so the
//! machine's own ~/.bashrc is not measured.
//!
//! Run: `cargo bench -p fleetform-tests --bench host_fanout` (needs root, for the lab).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fleetform_tests::lab::Lab;
use fleetform_tests::output_text as text;
use serde_json::json;

const HOSTS: usize = 20;
const FILES: usize = 20;
const COMMANDS: usize = 5;
const PARALLELISM: &str = "-parallelism=64";
const FLEETFORM_DIR: &str = "/etc/kubernetes/bench";
const ANSIBLE_DIR: &str = "/etc/kubernetes/bench-ansible";

/// Linux reports CPU times in /proc in USER_HZ ticks, always 100 a second.
const USER_HZ: f64 = 100.0;

/// CPU seconds used so far by the whole machine (every CPU's busy time) and by this
/// process's waited-for children (with their own waited-for children).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let machine: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .enumerate()
        // user nice system idle iowait irq softirq steal (guest time is in user)
        .filter(|(i, _)| matches!(i, 0 | 1 | 2 | 5 | 6 | 7))
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    let me = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name in parentheses, from field 3 (state) on;
    // cutime and cstime are fields 16 and 17.
    let fields: Vec<&str> = me
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let children: u64 = fields[13..15]
        .iter()
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    (machine as f64 / USER_HZ, children as f64 / USER_HZ)
}

/// One timed run.
#[derive(Debug, Clone, Copy)]
struct Measured {
    wall: Duration,
    /// CPU seconds of the tool, its workers and its ssh clients.
    tool_cpu: f64,
    /// CPU seconds of the whole machine: the tool, the lab's hosts, anything else running.
    machine_cpu: f64,
}

impl Measured {
    fn secs(&self) -> f64 {
        self.wall.as_secs_f64()
    }
}

/// Runs `cmd`, returning its output, how long it took and the CPU time it cost.
fn timed(cmd: &mut Command) -> (Output, Measured) {
    let (machine, children) = cpu_seconds();
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    let wall = started.elapsed();
    let (machine_after, children_after) = cpu_seconds();
    let measured = Measured {
        wall,
        tool_cpu: children_after - children,
        machine_cpu: machine_after - machine,
    };
    (out, measured)
}

/// What file `n` holds on `host`, for both tools.
fn file_content(host: &str, n: usize) -> String {
    format!("bench file {n} on {host}\n")
}

/// Checks that every host has the tool's files and command outputs under `dir`: the
/// count, one file's mode and content, one command's output.
fn verify(lab: &Lab, dir: &str, tool: &str) {
    let (n, c) = (FILES / 2 + 1, COMMANDS / 2);
    let script = format!(
        "ls {dir} | wc -l; stat -c %a {dir}/file-{n}.conf; cat {dir}/file-{n}.conf {dir}/cmd-{c}"
    );
    for h in lab.hosts() {
        let out = lab.exec(&h.name, &["sh", "-c", &script]);
        let expected = format!(
            "{}\n644\n{}{c}\n",
            FILES + COMMANDS,
            file_content(&h.name, n)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            expected,
            "{tool} did not do the work on {}:\n{}",
            h.name,
            text(&out)
        );
    }
}

// --- fleetform ---------------------------------------------------------------------

const FLEET: &str = r#"
variable "lab" {
  type = object({
    client_key = string
    hosts      = map(object({ address = string, port = number, host_key = string, private = bool }))
    jump       = string
  })
}

provider "host" {
  private_key_file = var.lab.client_key
}

locals {
  # "lab-1/0" => { host = "lab-1", n = 0 }, ...: every host times every file or command.
  files = {
    for p in flatten([for h in keys(var.lab.hosts) : [for n in range(FILES) : { host = h, n = n }]]) :
    "${p.host}/${p.n}" => p
  }
  commands = {
    for p in flatten([for h in keys(var.lab.hosts) : [for n in range(COMMANDS) : { host = h, n = n }]]) :
    "${p.host}/${p.n}" => p
  }
}

resource "host" "node" {
  for_each = var.lab.hosts
  address  = each.value.address
  port     = each.value.port
  host_key = each.value.host_key
}

resource "host_file" "bench" {
  for_each = local.files
  host     = host.node[each.value.host].id
  path     = "DIR/file-${each.value.n}.conf"
  content  = "bench file ${each.value.n} on ${each.value.host}\n"
  mode     = "0644"
}

# After the files, as Ansible's play runs its tasks in order (and the files create DIR).
resource "host_command" "bench" {
  for_each   = local.commands
  host       = host.node[each.value.host].id
  command    = ["sh", "-c", "echo ${each.value.n} > DIR/cmd-${each.value.n}"]
  depends_on = [host_file.bench]
}
"#;

fn fleetform_fleet(dir: &Path, lab: &Lab) {
    let main = FLEET
        .replace("FILES", &FILES.to_string())
        .replace("COMMANDS", &COMMANDS.to_string())
        .replace("DIR", FLEETFORM_DIR);
    std::fs::write(dir.join("main.hcl"), main).expect("main.hcl");
    std::fs::write(dir.join("lab.auto.hcl"), lab.to_hcl()).expect("lab.auto.hcl");
}

fn fleetform_apply(dir: &Path) -> (Output, Measured) {
    timed(fleetform_tests::fleetform().current_dir(dir).args([
        "apply",
        "-auto-approve",
        PARALLELISM,
    ]))
}

struct Times {
    cold: Measured,
    again: Measured,
}

fn bench_fleetform(lab: &Lab) -> Times {
    let dir = tempfile::tempdir().expect("temp dir");
    fleetform_fleet(dir.path(), lab);
    let total = HOSTS * (1 + FILES + COMMANDS);

    let (out, cold) = fleetform_apply(dir.path());
    let applied = text(&out);
    assert!(out.status.success(), "cold apply failed:\n{applied}");
    assert!(
        applied.contains(&format!("{total} added, 0 changed, 0 destroyed")),
        "{applied}"
    );
    verify(lab, FLEETFORM_DIR, "fleetform");

    let (out, again) = fleetform_apply(dir.path());
    let applied = text(&out);
    assert!(out.status.success(), "second apply failed:\n{applied}");
    assert!(
        applied.contains("0 added, 0 changed, 0 destroyed") || applied.contains("No changes"),
        "the second apply changed something:\n{applied}"
    );

    // Where a no-change run's time goes: the plan (load, state, connect, refresh) alone.
    let (out, plan) = timed(fleetform_tests::fleetform().current_dir(dir.path()).args([
        "plan",
        "-detailed-exitcode",
        PARALLELISM,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    println!(
        "fleetform: cold apply {:.2} s, no-change apply {:.2} s, no-change plan {:.2} s",
        cold.secs(),
        again.secs(),
        plan.secs()
    );
    Times { cold, again }
}

// --- Ansible -----------------------------------------------------------------------

/// The target dir: this bench runs as target/<profile>/deps/host_fanout-<hash>.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<bench>")
        .to_path_buf()
}

/// ansible-core in a throwaway venv (created and installed once), with its version line;
/// or why it is not available.
fn ansible_venv() -> Result<(PathBuf, String), String> {
    let venv = target_dir().join("bench-ansible-venv");
    let bin = venv.join("bin");
    if !bin.join("ansible-playbook").is_file() {
        eprintln!(
            "host_fanout: installing ansible-core into {}",
            venv.display()
        );
        let out = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .map_err(|e| format!("python3 -m venv: {e}"))?;
        if !out.status.success() {
            return Err(format!("python3 -m venv failed:\n{}", text(&out)));
        }
        let out = Command::new(bin.join("pip"))
            .args(["install", "--disable-pip-version-check", "--quiet"])
            .args(["--timeout", "20", "--retries", "2", "ansible-core"])
            .output()
            .map_err(|e| format!("pip: {e}"))?;
        if !out.status.success() {
            return Err(format!("pip install ansible-core failed:\n{}", text(&out)));
        }
    }
    let out = Command::new(bin.join("ansible-playbook"))
        .arg("--version")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .map_err(|e| format!("ansible-playbook --version: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ansible-playbook --version failed:\n{}",
            text(&out)
        ));
    }
    let version = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok((bin, version))
}

const PLAYBOOK: &str = r#"- name: host fanout
  hosts: lab
  gather_facts: true
  tasks:
    # copy does not create missing parent directories (host_file does).
    - name: directory
      ansible.builtin.file:
        path: DIR
        state: directory
        mode: "0755"

    - name: files
      ansible.builtin.copy:
        content: "bench file {{ item }} on {{ inventory_hostname }}\n"
        dest: "DIR/file-{{ item }}.conf"
        mode: "0644"
      loop: "{{ range(FILES) | list }}"

    - name: commands
      ansible.builtin.command:
        cmd: "sh -c 'echo {{ item }} > DIR/cmd-{{ item }}'"
        creates: "DIR/cmd-{{ item }}"
      loop: "{{ range(COMMANDS) | list }}"
"#;

/// Writes the inventory, ansible.cfg and playbook into `dir`.
fn ansible_project(dir: &Path, lab: &Lab) {
    let hosts: serde_json::Map<String, serde_json::Value> = lab
        .hosts()
        .iter()
        .map(|h| {
            (
                h.name.clone(),
                json!({ "ansible_host": h.address.to_string(), "ansible_port": h.port }),
            )
        })
        .collect();
    let common_args = format!(
        "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null",
        lab.known_hosts().display()
    );
    // JSON is YAML: the yaml inventory plugin reads it as is.
    let inventory = json!({
        "lab": {
            "hosts": hosts,
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": lab.client_key().display().to_string(),
                "ansible_ssh_common_args": common_args,
            }
        }
    });
    let inventory_path = dir.join("inventory.yml");
    std::fs::write(&inventory_path, inventory.to_string()).expect("inventory");
    // Ansible's best shot: a fork per host, pipelining, facts gathered (fleetform gathers
    // them too), ssh's ControlPersist left at Ansible's default (60s).
    let cfg = format!(
        "[defaults]\n\
         inventory = {}\n\
         forks = {HOSTS}\n\
         host_key_checking = True\n\
         gathering = implicit\n\
         retry_files_enabled = False\n\
         nocolor = True\n\
         \n\
         [ssh_connection]\n\
         pipelining = True\n\
         control_path_dir = {}\n",
        inventory_path.display(),
        dir.join("cp").display()
    );
    std::fs::write(dir.join("ansible.cfg"), cfg).expect("ansible.cfg");
    let playbook = PLAYBOOK
        .replace("COMMANDS", &COMMANDS.to_string())
        .replace("FILES", &FILES.to_string())
        .replace("DIR", ANSIBLE_DIR);
    std::fs::write(dir.join("playbook.yml"), playbook).expect("playbook");
}

/// Each host's PLAY RECAP counters: `lab-1 : ok=3 changed=2 unreachable=0 failed=0 ...`.
fn recap(stdout: &str) -> Vec<(String, Vec<(String, u64)>)> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .skip(1)
        .filter_map(|l| {
            let (host, counts) = l.split_once(" : ")?;
            let counts = counts
                .split_whitespace()
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_owned(), v.parse().ok()?))
                })
                .collect();
            Some((host.trim().to_owned(), counts))
        })
        .collect()
}

/// Asserts every host finished without failures and with `changed` changed tasks.
fn check_recap(out: &Output, changed: u64, run: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ansible {run} failed:\n{}", text(out));
    let recap = recap(&stdout);
    assert_eq!(recap.len(), HOSTS, "ansible {run}: recap\n{}", text(out));
    for (host, counts) in &recap {
        let get = |k: &str| counts.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        assert_eq!(
            get("changed"),
            Some(changed),
            "ansible {run}: {host}\n{stdout}"
        );
        assert_eq!(get("failed"), Some(0), "ansible {run}: {host}\n{stdout}");
        assert_eq!(
            get("unreachable"),
            Some(0),
            "ansible {run}: {host}\n{stdout}"
        );
    }
}

fn ansible_playbook(bin: &Path, dir: &Path, control_dir: &str) -> (Output, Measured) {
    let mut cmd = Command::new(bin.join("ansible-playbook"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ANSIBLE_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir)
        .arg("playbook.yml")
        .env("ANSIBLE_CONFIG", dir.join("ansible.cfg"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join("local-tmp"))
        .env("ANSIBLE_REMOTE_TEMP", dir.join("remote-tmp"))
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("ANSIBLE_SSH_CONTROL_PATH_DIR", dir.join(control_dir))
        .env("LC_ALL", "C.UTF-8");
    timed(&mut cmd)
}

/// Closes the ssh control masters that Ansible left running (ControlPersist) under `cp`.
fn close_masters(cp: &Path) {
    for socket in std::fs::read_dir(cp).into_iter().flatten().flatten() {
        let _ = Command::new("ssh")
            .arg("-o")
            .arg(format!("ControlPath={}", socket.path().display()))
            .args(["-O", "exit", "unused"])
            .output();
    }
}

struct AnsibleTimes {
    times: Times,
    /// The no-change run again, with no ssh master left from an earlier run.
    fresh: Measured,
}

fn bench_ansible(lab: &Lab, bin: &Path) -> AnsibleTimes {
    let dir = tempfile::tempdir().expect("temp dir");
    ansible_project(dir.path(), lab);

    let (out, cold) = ansible_playbook(bin, dir.path(), "cp");
    check_recap(&out, 3, "cold run");
    verify(lab, ANSIBLE_DIR, "ansible");

    // Within ControlPersist: reuses the cold run's ssh connections, as Ansible would.
    let (out, again) = ansible_playbook(bin, dir.path(), "cp");
    check_recap(&out, 0, "second run");

    // Like fleetform's second run, which is a new process that connects afresh.
    let (out, fresh) = ansible_playbook(bin, dir.path(), "cp-fresh");
    check_recap(&out, 0, "third run");
    close_masters(&dir.path().join("cp"));
    close_masters(&dir.path().join("cp-fresh"));
    println!(
        "ansible: cold run {:.2} s, no-change run {:.2} s (reusing ssh masters), {:.2} s (fresh connections)",
        cold.secs(),
        again.secs(),
        fresh.secs()
    );
    AnsibleTimes {
        times: Times { cold, again },
        fresh,
    }
}

fn main() {
    let bin = fleetform_tests::release_fleetform();
    eprintln!("host_fanout: fleetform at {}", bin.display());
    let ansible = ansible_venv();
    if let Err(why) = &ansible {
        println!("host_fanout: no Ansible to compare with, fleetform only: {why}");
    }

    let mut lab = Lab::start(HOSTS).expect("lab");
    let fleetform = bench_fleetform(&lab);
    let ansible = ansible
        .ok()
        .map(|(bin, version)| (bench_ansible(&lab, &bin), version));
    lab.stop().expect("stop the lab");

    print!("{}", table(&fleetform, ansible.as_ref()));
}

/// The summary: wall times, their ratios, CPU times.
fn table(fleetform: &Times, ansible: Option<&(AnsibleTimes, String)>) -> String {
    let wall = |m: &Measured| format!("{:.2} s", m.secs());
    let cpu = |m: &Measured| format!("{:.1} / {:.1} s", m.tool_cpu, m.machine_cpu);
    let ratio = |a: &Measured, f: &Measured| format!("{:.1}x", a.secs() / f.secs());
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\nhost_fanout: {HOSTS} hosts x ({FILES} files + {COMMANDS} commands), facts gathered"
    );
    let row = |t: &mut String, a: &str, b: String, c: String| {
        let _ = writeln!(t, "  {a:<22} {b:>16} {c:>16}");
    };
    row(&mut t, "wall time", "cold".into(), "no-change".into());
    row(
        &mut t,
        "  fleetform",
        wall(&fleetform.cold),
        wall(&fleetform.again),
    );
    if let Some((a, _)) = ansible {
        row(
            &mut t,
            "  ansible",
            wall(&a.times.cold),
            wall(&a.times.again),
        );
        row(
            &mut t,
            "  ansible/fleetform",
            ratio(&a.times.cold, &fleetform.cold),
            ratio(&a.times.again, &fleetform.again),
        );
    }
    row(&mut t, "CPU: tool / machine", String::new(), String::new());
    row(
        &mut t,
        "  fleetform",
        cpu(&fleetform.cold),
        cpu(&fleetform.again),
    );
    if let Some((a, version)) = ansible {
        row(&mut t, "  ansible", cpu(&a.times.cold), cpu(&a.times.again));
        let _ = writeln!(
            t,
            "  ({version}; the no-change run reused the cold run's ssh masters (ControlPersist); \
             with fresh connections, as fleetform's run has: {}, {} of fleetform's, CPU {})",
            wall(&a.fresh),
            ratio(&a.fresh, &fleetform.again),
            cpu(&a.fresh)
        );
    }
    t
}
