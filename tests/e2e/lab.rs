//! The lab's hosts are real: three sshd hosts, reached with the system `ssh` client and
//! pinned host keys, each with its own hostname and its own /etc/kubernetes; a wrong pinned
//! key is refused; a cut host is unreachable and a healed one reachable again. Private
//! hosts refuse direct connections at once and are reached through the jump host with both
//! keys pinned. `fleetform-lab up` describes its lab in lab.json and in a lab.auto.hcl that
//! a fleet reads as `var.lab`; `down` stops it, and also cleans up after an `up` that was
//! killed. Every test leaves no namespace, route, bridge or process behind. Needs root.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fleetform_planner::ops::{self, LoadOptions};
use fleetform_tests::lab::{Lab, LabHost, LabSpec};
use fleetform_tests::output_text as text;
use serde_json::{Value as Json, json};

/// `ssh` to `host` as root with the lab's client key, checking the host key strictly
/// against `known_hosts` and ignoring any user or system configuration.
fn ssh(lab: &Lab, known_hosts: &Path, host: &LabHost, remote: &[&str]) -> Output {
    Command::new("ssh")
        .args(["-F", "/dev/null"])
        .args(["-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "GlobalKnownHostsFile=/dev/null"])
        .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
        .args(["-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR"])
        .arg("-i")
        .arg(lab.client_key())
        .args(["-p", &host.port.to_string()])
        .arg(format!("root@{}", host.address))
        .arg("--")
        .args(remote)
        .output()
        .expect("run the system ssh client (openssh-client)")
}

#[test]
fn lab_hosts_are_real_separate_and_can_be_cut() {
    let t0 = Instant::now();
    let mut lab = Lab::start(3).unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    let started = t0.elapsed();
    let hosts = lab.hosts().to_vec();
    assert_eq!(
        hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["lab-1", "lab-2", "lab-3"]
    );
    for h in &hosts {
        let o = h.address.octets();
        assert_eq!(
            o[..3],
            [169, 254, 100],
            "{} is outside the lab range",
            h.address
        );
        assert!(h.fingerprint.starts_with("SHA256:"), "{}", h.fingerprint);
        assert!(h.host_key.starts_with("ssh-ed25519 "), "{}", h.host_key);
    }

    // known_hosts pinning each host's key.
    let known_hosts = lab.dir().join("test_known_hosts");
    let pinned: String = hosts.iter().map(|h| h.known_hosts_line() + "\n").collect();
    std::fs::write(&known_hosts, pinned).unwrap();

    for h in &hosts {
        let out = ssh(&lab, &known_hosts, h, &["hostname"]);
        assert!(out.status.success(), "ssh {}: {}", h.name, text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), h.name);
    }

    // Each host has its own /etc/kubernetes.
    let (l1, l2, l3) = (&hosts[0], &hosts[1], &hosts[2]);
    let out = ssh(
        &lab,
        &known_hosts,
        l1,
        &["echo lab-1 > /etc/kubernetes/marker && cat /etc/kubernetes/marker"],
    );
    assert!(out.status.success(), "write on lab-1: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "lab-1");
    let out = ssh(
        &lab,
        &known_hosts,
        l2,
        &["test ! -e /etc/kubernetes/marker"],
    );
    assert!(
        out.status.success(),
        "lab-2 sees lab-1's /etc/kubernetes/marker: {}",
        text(&out)
    );
    assert!(
        !Path::new("/etc/kubernetes/marker").exists(),
        "lab-1's file leaked into the root mount namespace"
    );

    // A wrong pinned key is refused: pin lab-3's key for lab-1's address.
    let wrong = lab.dir().join("wrong_known_hosts");
    let mut forged = l1.clone();
    forged.host_key = l3.host_key.clone();
    std::fs::write(&wrong, forged.known_hosts_line() + "\n").unwrap();
    let out = ssh(&lab, &wrong, l1, &["hostname"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a wrong pinned key was accepted: {}",
        text(&out)
    );
    assert!(
        stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || stderr.contains("Host key verification failed"),
        "unexpected refusal: {}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "the command ran: {}", text(&out));

    // Cut lab-2: ssh to it fails within a few seconds; lab-1 still works.
    lab.cut("lab-2").unwrap();
    let t = Instant::now();
    let out = ssh(&lab, &known_hosts, l2, &["hostname"]);
    let cut_took = t.elapsed();
    assert!(
        !out.status.success(),
        "ssh to a cut host worked: {}",
        text(&out)
    );
    assert!(
        cut_took < Duration::from_secs(8),
        "ssh to a cut host took {cut_took:?}"
    );
    let out = ssh(&lab, &known_hosts, l1, &["hostname"]);
    assert!(
        out.status.success(),
        "lab-1 while lab-2 is cut: {}",
        text(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "lab-1");

    // Heal lab-2: it answers again.
    lab.heal("lab-2").unwrap();
    let out = ssh(&lab, &known_hosts, l2, &["hostname"]);
    assert!(out.status.success(), "lab-2 after heal: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "lab-2");

    // Stop removes everything.
    let (bridge, netns) = (lab.bridge().to_owned(), l1.netns.clone());
    lab.stop().unwrap();
    assert!(!Path::new("/sys/class/net").join(&bridge).exists());
    assert!(!Path::new("/run/netns").join(&netns).exists());
    eprintln!(
        "lab: 3 hosts started in {started:?}; cut host refused in {cut_took:?}; total {:?}",
        t0.elapsed()
    );
}

/// `ssh -F config ARGS`: everything else (user, key, pinning) comes from the config, which
/// ssh also hands to the jump connection of `-J`.
fn ssh_via(config: &Path, args: &[&str]) -> Output {
    Command::new("ssh")
        .arg("-F")
        .arg(config)
        .args(args)
        .output()
        .expect("run the system ssh client (openssh-client)")
}

/// An ssh_config applying to every host: root, the lab's key, strict checking against
/// `known_hosts` only.
fn pinned_config(lab: &Lab, name: &str, known_hosts: &[String]) -> PathBuf {
    let known = lab.dir().join(format!("{name}_known_hosts"));
    std::fs::write(&known, known_hosts.concat()).unwrap();
    let config = lab.dir().join(format!("{name}_ssh_config"));
    std::fs::write(
        &config,
        format!(
            "Host *\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
             StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 3\n  LogLevel ERROR\n",
            lab.client_key().display(),
            known.display()
        ),
    )
    .unwrap();
    config
}

fn line(h: &LabHost) -> String {
    h.known_hosts_line() + "\n"
}

fn assert_refused(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what} was accepted: {}", text(out));
    assert!(
        stderr.contains("Host key verification failed")
            || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{what}: unexpected failure: {}",
        text(out)
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: the command ran: {}",
        text(out)
    );
}

/// Whether the root namespace has any route for exactly `addr/32`.
fn root_route(addr: Ipv4Addr) -> String {
    let out = Command::new("ip")
        .args([
            "route",
            "show",
            "table",
            "all",
            "exact",
            &format!("{addr}/32"),
        ])
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn private_hosts_are_reached_only_through_the_jump_host() {
    let mut lab = Lab::start_with(LabSpec {
        hosts: 2,
        private: 1,
    })
    .unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    let hosts = lab.hosts().to_vec();
    assert_eq!(
        hosts
            .iter()
            .map(|h| (h.name.as_str(), h.private))
            .collect::<Vec<_>>(),
        [("lab-1", false), ("lab-2", false), ("private-1", true)]
    );
    let (jump, other, private) = (&hosts[0], &hosts[1], &hosts[2]);
    assert_eq!(lab.jump_host().map(|h| h.name.as_str()), Some("lab-1"));

    // Directly, a private host is refused at once: no route, and no packet leaves for the
    // machine's default route.
    let t = Instant::now();
    let err = TcpStream::connect_timeout(
        &SocketAddr::from((private.address, private.port)),
        Duration::from_secs(3),
    )
    .expect_err("a private host accepted a direct connection");
    assert_eq!(err.kind(), ErrorKind::HostUnreachable, "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    let known_hosts = lab.known_hosts();
    let out = ssh(&lab, &known_hosts, private, &["hostname"]);
    assert!(!out.status.success(), "direct ssh worked: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No route to host"),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "{}", text(&out));
    // Nor over IPv6, whose link-local addresses the bridge would carry.
    let v6 = Command::new("ip")
        .args(["-n", &private.netns, "-6", "addr", "show"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&v6.stdout).trim(),
        "",
        "IPv6 on private-1"
    );

    // Through the jump host, with both keys pinned.
    let both = pinned_config(&lab, "both", &[line(jump), line(private)]);
    let j = format!("root@{}", jump.address);
    let target = format!("root@{}", private.address);
    let out = ssh_via(&both, &["-J", &j, &target, "--", "hostname"]);
    assert!(out.status.success(), "ssh -J: {}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "private-1");

    // Each hop's key is checked: a forged or missing key at either hop is refused.
    let mut forged_jump = jump.clone();
    forged_jump.host_key = other.host_key.clone();
    let mut forged_private = private.clone();
    forged_private.host_key = other.host_key.clone();
    for (name, pins) in [
        ("forged-jump", vec![line(&forged_jump), line(private)]),
        ("no-jump", vec![line(private)]),
        ("forged-target", vec![line(jump), line(&forged_private)]),
        ("no-target", vec![line(jump)]),
    ] {
        let config = pinned_config(&lab, name, &pins);
        let out = ssh_via(&config, &["-J", &j, &target, "--", "hostname"]);
        assert_refused(&out, name);
    }

    // The lab's own ssh_config names every host; private ones go through the jump host.
    for h in &hosts {
        let out = ssh_via(&lab.ssh_config(), &[&h.name, "--", "hostname"]);
        assert!(out.status.success(), "ssh {}: {}", h.name, text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), h.name);
    }

    // With the jump host cut, the private host is out of reach; healed, back.
    lab.cut("lab-1").unwrap();
    let out = ssh_via(
        &lab.ssh_config(),
        &["-o", "ConnectTimeout=2", "private-1", "--", "hostname"],
    );
    assert!(!out.status.success(), "{}", text(&out));
    lab.heal("lab-1").unwrap();
    let out = ssh_via(&lab.ssh_config(), &["private-1", "--", "hostname"]);
    assert!(out.status.success(), "after heal: {}", text(&out));

    let bridge = lab.bridge().to_owned();
    lab.stop().unwrap();
    assert_gone(&bridge, &hosts);
}

/// Nothing of a lab is left: bridge, namespaces, veths, routes (the unreachable routes of
/// private hosts belong to no link, so they are the ones to check).
fn assert_gone(bridge: &str, hosts: &[LabHost]) {
    assert!(
        !Path::new("/sys/class/net").join(bridge).exists(),
        "{bridge}"
    );
    for h in hosts {
        assert!(
            !Path::new("/run/netns").join(&h.netns).exists(),
            "{} left {}",
            h.name,
            h.netns
        );
        assert_eq!(root_route(h.address), "", "route to {} left", h.name);
    }
}

// --- fleetform-lab --------------------------------------------------------------------

fn lab_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fleetform-lab"))
}

/// A running `fleetform-lab up`, stopped with SIGTERM when dropped so that a failing test
/// leaves no lab behind.
struct Up {
    child: Child,
    dir: tempfile::TempDir,
}

impl Up {
    fn start(hosts: usize, private: usize) -> Up {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("up.log")).unwrap();
        let child = lab_bin()
            .args(["up", "--hosts", &hosts.to_string()])
            .args(["--private", &private.to_string(), "--dir"])
            .arg(dir.path().join("fleet"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start fleetform-lab up");
        Up { child, dir }
    }

    fn fleet(&self) -> PathBuf {
        self.dir.path().join("fleet")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("up.log")).unwrap_or_default()
    }

    /// Waits for lab.json, as a script would, and reads it.
    fn record(&mut self) -> Json {
        let path = self.fleet().join("lab.json");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !path.exists() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "up exited ({status}) before writing lab.json:\n{}",
                    self.log()
                );
            }
            assert!(Instant::now() < deadline, "no lab.json:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

fn down(fleet: &Path) -> Output {
    lab_bin()
        .args(["down", "--dir"])
        .arg(fleet)
        .output()
        .expect("run fleetform-lab down")
}

/// Each host's name, address and namespace, from lab.json.
fn recorded_hosts(record: &Json) -> Vec<(String, Ipv4Addr, String)> {
    record["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["address"].as_str().unwrap().parse().unwrap(),
                h["netns"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn assert_record_gone(record: &Json) {
    let bridge = record["bridge"].as_str().unwrap();
    assert!(
        !Path::new("/sys/class/net").join(bridge).exists(),
        "{bridge}"
    );
    for (name, addr, netns) in recorded_hosts(record) {
        assert!(
            !Path::new("/run/netns").join(&netns).exists(),
            "{name}: {netns}"
        );
        assert_eq!(root_route(addr), "", "route to {name} left");
    }
    assert!(!Path::new(record["dir"].as_str().unwrap()).exists());
}

/// A fleet whose always-failing validation rule reports `var.lab` as JSON, so the test sees
/// the value exactly as fleetform read it from lab.auto.hcl.
const LAB_PROBE: &str = r#"variable "lab" {
  type = object({
    client_key = string
    hosts = map(object({
      address  = string
      port     = number
      host_key = string
      private  = bool
    }))
    jump = string
  })

  validation {
    condition     = false
    error_message = "lab=${jsonencode(var.lab)};"
  }
}
"#;

/// `var.lab` as fleetform reads it in `fleet`.
fn lab_variable(fleet: &Path) -> Json {
    std::fs::write(fleet.join("main.hcl"), LAB_PROBE).unwrap();
    let providers = fleetform_cli::providers::builtin().expect("built-in providers register");
    let validated = ops::validate(
        &LoadOptions {
            dir: fleet.to_path_buf(),
            ..LoadOptions::default()
        },
        &providers,
    );
    let details: Vec<&str> = validated
        .diagnostics
        .iter()
        .map(|d| d.detail.as_str())
        .collect();
    let [detail] = details[..] else {
        panic!("expected only the probe's error, got {details:#?}");
    };
    assert!(detail.contains("lab.auto.hcl"), "{detail}");
    let value = detail
        .strip_prefix("lab=")
        .and_then(|rest| rest.split_once(';'))
        .map(|(v, _)| v)
        .unwrap_or_else(|| panic!("unexpected detail: {detail}"));
    serde_json::from_str(value).unwrap()
}

#[test]
fn a_lab_without_private_hosts_has_no_jump_host() {
    let lab = Lab::start(1).unwrap_or_else(|e| panic!("the lab did not start: {e}"));
    assert!(lab.jump_host().is_none());
    assert!(!lab.hosts()[0].private);
    assert_eq!(lab.to_json()["jump"], Json::Null);
    let fleet = tempfile::tempdir().unwrap();
    std::fs::write(fleet.path().join("lab.auto.hcl"), lab.to_hcl()).unwrap();
    let value = lab_variable(fleet.path());
    assert_eq!(value["jump"], Json::Null);
    assert_eq!(value["hosts"]["lab-1"]["private"], false);
}

#[test]
fn lab_binary_describes_its_lab_and_stops_it() {
    let mut up = Up::start(1, 1);
    let fleet = up.fleet();
    let record = up.record();
    assert_eq!(record["pid"], up.child.id());
    assert_eq!(
        std::fs::read_to_string(fleet.join("lab.pid"))
            .unwrap()
            .trim(),
        up.child.id().to_string()
    );
    assert_eq!(record["jump"], "lab-1");
    let names: Vec<(&str, bool)> = record["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["name"].as_str().unwrap(), h["private"] == true))
        .collect();
    assert_eq!(names, [("lab-1", false), ("private-1", true)]);
    for h in record["hosts"].as_array().unwrap() {
        assert_eq!(h["port"], 22);
        assert!(h["host_key"].as_str().unwrap().starts_with("ssh-ed25519 "));
        assert!(h["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    }
    let client_key = record["client_key"].as_str().unwrap();
    assert!(Path::new(client_key).is_file(), "{client_key}");
    let log = up.log();
    assert!(
        log.contains("lab.json") && log.contains("lab.auto.hcl"),
        "{log}"
    );

    // The files it wrote reach the private host through the jump host.
    let ssh_config = Path::new(record["ssh_config"].as_str().unwrap());
    let out = ssh_via(ssh_config, &["private-1", "--", "hostname"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "private-1");

    // lab.auto.hcl is the same lab as lab.json, as a fleet's `var.lab`, formatted as
    // `fleetform fmt` would.
    let hcl = std::fs::read_to_string(fleet.join("lab.auto.hcl")).unwrap();
    assert_eq!(
        fleetform_planner::config::format_source(&hcl).unwrap(),
        hcl,
        "lab.auto.hcl is not formatted"
    );
    let mut expected_hosts = serde_json::Map::new();
    for h in record["hosts"].as_array().unwrap() {
        expected_hosts.insert(
            h["name"].as_str().unwrap().to_owned(),
            json!({
                "address": h["address"],
                "port": h["port"],
                "host_key": h["host_key"],
                "private": h["private"],
            }),
        );
    }
    assert_eq!(
        lab_variable(&fleet),
        json!({
            "client_key": client_key,
            "hosts": expected_hosts,
            "jump": "lab-1",
        })
    );

    // A second `up` for the same directory is refused, and leaves the first alone.
    let second = lab_bin()
        .args(["up", "--hosts", "1", "--dir"])
        .arg(&fleet)
        .output()
        .unwrap();
    assert!(!second.status.success(), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already up"),
        "{}",
        text(&second)
    );
    assert!(fleet.join("lab.json").exists());

    let out = down(&fleet);
    assert!(out.status.success(), "down: {}", text(&out));
    // `down` returns only once `up` has exited, cleanly.
    let status = up
        .child
        .try_wait()
        .unwrap()
        .expect("up still running after down");
    assert!(status.success(), "up exited with {status}:\n{}", up.log());
    assert!(up.log().contains("lab stopped"), "{}", up.log());
    for f in ["lab.json", "lab.auto.hcl", "lab.pid"] {
        assert!(!fleet.join(f).exists(), "{f} left");
    }
    assert_record_gone(&record);

    let out = down(&fleet);
    assert!(!out.status.success(), "down without a lab: {}", text(&out));
}

#[test]
fn lab_binary_down_cleans_up_after_a_killed_up() {
    let mut up = Up::start(1, 1);
    let fleet = up.fleet();
    let record = up.record();
    up.child.kill().unwrap();
    up.child.wait().unwrap();
    // What SIGKILL leaves: sshd still running in the namespaces, the private route.
    let (_, private_addr, netns) = recorded_hosts(&record).pop().unwrap();
    assert!(Path::new("/run/netns").join(&netns).exists());
    assert!(root_route(private_addr).contains("unreachable"));

    let out = down(&fleet);
    assert!(out.status.success(), "down: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("left running"),
        "{}",
        text(&out)
    );
    for f in ["lab.json", "lab.auto.hcl", "lab.pid"] {
        assert!(!fleet.join(f).exists(), "{f} left");
    }
    assert_record_gone(&record);
}
